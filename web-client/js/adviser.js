// The legal adviser's workspace: the sessions they are invited to (with a
// join button) and the legal consultations they answer and record.
import { t } from "./i18n.js";
import { $, api, chinaDate, describeError, formatDateTime, h, label, requireStaff, setUpFrame, fill } from "./api.js";
import { consultationsPage } from "./consultations.js";

const workspace = { me: null, villages: [], view: null };

/** The current route's view: a page still loading for an earlier route draws into a detached one. */
function main() {
  return workspace.view || $("main");
}

async function sessionsPage() {
  const view = main();
  const sessions = await api(`/sessions?from=${chinaDate()}`);
  const open = sessions.filter((s) => s.state === "planned" || s.state === "live");
  fill(view,
    h("h1", {}, t("nav_my_sessions")),
    open.length === 0 ? h("p", { class: "hint" }, t("adviser_no_sessions")) : h("ul", { class: "session-cards" },
      ...open.map((s) => h("li", { class: "card", dataset: { sessionId: s.id } },
        h("p", { class: "card-time" }, formatDateTime(s.planned_start)),
        h("p", {}, `${s.case_number} · ${s.village_name} · ${label("category", s.category)}`),
        s.state === "live" ? h("p", { class: "kiosk-live" }, t("kiosk_live")) : null,
        h("a", { class: "button primary", href: `/join.html?session=${s.id}` }, t("enter_lobby"))))),
  );
}

async function route() {
  const view = h("div", { class: "view" });
  workspace.view = view;
  fill($("main"), view);
  const name = location.hash.replace(/^#/, "").split("/")[0] || "sessions";
  for (const link of document.querySelectorAll(".tabs a")) link.toggleAttribute("aria-current", link.getAttribute("href") === `#${name}`);
  try {
    if (name === "consultations") await consultationsPage(main(), { villages: workspace.villages, advisers: null });
    else await sessionsPage();
  } catch (error) {
    fill(view, h("p", { class: "error", role: "alert" }, describeError(error)));
  }
}

async function loadWorkspace() {
  workspace.me = await requireStaff(["adviser"]);
  $("who").textContent = workspace.me.display_name;
  workspace.villages = await api("/villages?active=true");
}

// Listening before the data is in, so no change of route is missed meanwhile.
const ready = loadWorkspace();
window.addEventListener("hashchange", () => ready.then(route));

async function start() {
  await ready;
  await route();
}

setUpFrame(() => route());
start().catch((error) => fill(main(), h("p", { class: "error", role: "alert" }, describeError(error))));
