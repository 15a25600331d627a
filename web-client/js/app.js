// The landing page: staff sign-in against /api/v1/auth/login, the signed-in
// account from /api/v1/me, and the language switch.
import { currentLanguage, setLanguage, t, translatePage } from "./i18n.js";

const TOKEN_KEY = "mediation.token";
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, headers: response.headers, body };
}

function showError(message) {
  const box = $("login-error");
  box.textContent = message;
  box.hidden = !message;
}

function showAccount(user) {
  $("who-name").textContent = user.display_name;
  $("who-role").textContent = t(`role_${user.role}`);
  $("who-unit").textContent = user.unit_name || t("no_unit");
  $("login-panel").hidden = true;
  $("signed-in").hidden = false;
}

function showLogin() {
  $("signed-in").hidden = true;
  $("login-panel").hidden = false;
}

async function restoreSession() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  const reply = await api("/api/v1/me").catch(() => null);
  if (reply && reply.status === 200) return showAccount(reply.body);
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
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
    const reply = await api("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ username, password }),
    });
    if (reply.status === 200) {
      sessionStorage.setItem(TOKEN_KEY, reply.body.token);
      $("password").value = "";
      showAccount(reply.body.user);
    } else if (reply.status === 429) {
      showError(t("error_throttled", { seconds: reply.headers.get("retry-after") || "60" }));
    } else {
      showError(t("error_credentials"));
    }
  } catch {
    showError(t("error_network"));
  } finally {
    button.disabled = false;
    button.textContent = t("login");
  }
}

function switchLanguage() {
  setLanguage(currentLanguage() === "zh-CN" ? "en" : "zh-CN");
  translatePage();
  restoreSession();
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
  $("username").focus();
});
$("lang").addEventListener("click", switchLanguage);
translatePage();
restoreSession();
