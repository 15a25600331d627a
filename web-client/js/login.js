// The sign-in page: staff sign in against /api/v1/auth/login and go on to
// their workspace (or back to the page that sent them here).
import { t } from "./i18n.js";
import { ApiError, api, signIn, staffToken } from "./api.js";
import { $ } from "./dom.js";
import { homeFor, setUpFrame } from "./frame.js";

function showError(message) {
  const box = $("login-error");
  box.textContent = message;
  box.hidden = !message;
}

/** Only pages of this site are followed after sign-in (no open redirect). */
function nextPage(role) {
  const next = new URLSearchParams(location.search).get("next");
  if (next) {
    try {
      const url = new URL(next, location.origin);
      if (url.origin === location.origin) return url.pathname + url.search + url.hash;
    } catch {
      // Not a URL: go home.
    }
  }
  return homeFor(role);
}

async function login(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) return showError(t("error_missing"));
  const button = $("login-button");
  button.disabled = true;
  button.textContent = t("logging_in");
  showError("");
  try {
    const reply = await api("/auth/login", { method: "POST", body: { username, password }, token: null });
    signIn(reply.token, reply.user);
    $("password").value = "";
    location.assign(nextPage(reply.user.role));
  } catch (error) {
    if (error instanceof ApiError && error.status === 429) showError(t("error_throttled", { seconds: error.retryAfter || 60 }));
    else if (error instanceof ApiError && error.status === 401) showError(t("error_credentials"));
    else showError(t("error_network"));
  } finally {
    button.disabled = false;
    button.textContent = t("login");
  }
}

async function skipIfSignedIn() {
  if (!staffToken()) return;
  try {
    const me = await api("/me");
    location.replace(nextPage(me.role));
  } catch {
    // Signed out by the failed call; stay here.
  }
}

/** A server with no administrator yet sends people to the first-run page. */
async function offerSetUp() {
  try {
    const { needed } = await api("/setup", { token: null });
    if (needed) location.replace("/setup.html");
  } catch {
    // Offline or an older server: sign-in as usual.
  }
}

$("login-form").addEventListener("submit", login);
setUpFrame();
offerSetUp();
skipIfSignedIn();
