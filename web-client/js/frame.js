// The page frame every page shares: the translated page with its language
// switch and sign-out button, the status line, the sign-in check (and each
// role's home page), and the one boot sequence of the staff workspaces.
import { currentLanguage, onLanguageChange, setLanguage, translatePage } from "./i18n.js";
import { api, describeError, rememberUser, signOut, staffToken } from "./api.js";
import { $, fill, h } from "./dom.js";
import { hashRouter } from "./router.js";
import { errorAlert } from "./views.js";

/**
 * Wires the shared page frame: the language button re-renders the page via
 * `render`, the sign-out button (if any) returns to the sign-in page.
 */
export function setUpFrame(render) {
  translatePage();
  const lang = $("lang");
  if (lang) {
    lang.addEventListener("click", () => setLanguage(currentLanguage() === "zh-CN" ? "en" : "zh-CN"));
  }
  onLanguageChange(() => {
    translatePage();
    render?.();
  });
  const logout = $("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      signOut();
      location.replace("/index.html");
    });
  }
}

/**
 * The signed-in account, or a redirect to the sign-in page when there is none
 * or its role may not use this page.
 */
export async function requireStaff(roles) {
  if (!staffToken()) return redirectToSignIn();
  try {
    const me = await api("/me");
    rememberUser(me);
    if (roles && !roles.includes(me.role)) {
      location.replace(homeFor(me.role));
      return new Promise(() => {});
    }
    return me;
  } catch (error) {
    if (error.status === 401) return redirectToSignIn();
    throw error;
  }
}

/** Leaves for the sign-in page, which comes back here; never resolves. */
export function redirectToSignIn() {
  const back = encodeURIComponent(location.pathname + location.search + location.hash);
  location.replace(`/index.html?next=${back}`);
  return new Promise(() => {});
}

/** Where each role works. */
export function homeFor(role) {
  switch (role) {
    case "station":
      return "/station.html";
    case "adviser":
      return "/adviser.html";
    default:
      return "/mediator.html";
  }
}

/** Shows a transient message in the page's status line (read by screen readers). */
export function announce(message, kind = "info") {
  let box = $("status-line");
  if (!box) {
    box = h("div", { id: "status-line", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = message;
  box.className = `status-line ${kind}`;
  box.hidden = !message;
  clearTimeout(announce.timer);
  if (message) announce.timer = setTimeout(() => (box.hidden = true), kind === "error" ? 10000 : 4000);
}

/** `action` as an event handler whose failure is announced in the status line. */
export function withErrorAnnounced(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      announce(describeError(error), "error");
    }
  };
}

/**
 * Starts a staff workspace; every workspace page boots this way:
 * 1. translates the page and wires the frame (language switch, sign-out);
 * 2. makes sure someone with one of `roles` is signed in (else off to the
 *    sign-in page, or to the workspace of their own role);
 * 3. shows their name in #who, where the page has one;
 * 4. runs `load(me)` for what the pages need first;
 * 5. draws: with `routes`, the page of the current hash route (`fallback`
 *    when there is none) and again on every change of the hash; else `render()`;
 * 6. draws again when the language changes.
 * A failure on the way is shown in place of the page.
 */
export function bootWorkspace({ roles, load = async () => {}, render, routes, fallback }) {
  const draw = routes ? hashRouter(routes, fallback) : render;
  const ready = (async () => {
    const me = await requireStaff(roles);
    const who = $("who");
    if (who) who.textContent = me.display_name;
    await load(me);
  })();
  // Listening before the data is in, so no change of route or language is missed meanwhile.
  const started = ready.then(() => true, () => false);
  const redraw = () => started.then((ok) => ok && draw());
  setUpFrame(redraw);
  if (routes) window.addEventListener("hashchange", redraw);
  ready.then(draw).catch((error) => fill($("main"), errorAlert(error)));
}
