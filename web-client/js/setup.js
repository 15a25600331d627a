// The first-run page: with the set-up code the server printed, creates the
// system administrator and the district (POST /api/v1/setup), then signs
// the new administrator in. A server already set up sends people to the
// sign-in page.
import { t } from "./i18n.js";
import { ApiError, api, signIn } from "./api.js";
import { $ } from "./dom.js";
import { homeFor, setUpFrame } from "./frame.js";

function showError(message) {
  const box = $("setup-error");
  box.textContent = message;
  box.hidden = !message;
}

/** The message for a refused set-up, by the API's error code. */
function refusal(error) {
  if (!(error instanceof ApiError)) return t("error_network");
  switch (error.code) {
    case "setup_code_invalid":
      return t("setup_code_invalid");
    case "setup_code_expired":
      return t("setup_code_expired");
    case "conflict":
      return t("setup_already_done");
    case "validation_failed":
      return t.has(`setup_invalid_${error.field}`) ? t(`setup_invalid_${error.field}`) : error.message;
    default:
      return error.message || t("error_unexpected");
  }
}

async function submit(event) {
  event.preventDefault();
  const form = new FormData($("setup-form"));
  const body = Object.fromEntries(["code", "district_name", "display_name", "username", "password"].map((name) => [name, String(form.get(name) || "").trim()]));
  body.password = String(form.get("password") || "");
  if (Object.values(body).some((value) => !value)) return showError(t("setup_fill_all"));
  if (body.password !== $("setup-password-again").value) return showError(t("setup_passwords_differ"));
  const button = $("setup-button");
  button.disabled = true;
  showError("");
  try {
    await api("/setup", { method: "POST", body, token: null });
    const reply = await api("/auth/login", { method: "POST", body: { username: body.username, password: body.password }, token: null });
    signIn(reply.token, reply.user);
    $("setup-panel").hidden = true;
    $("setup-done").hidden = false;
    $("setup-done").querySelector("a").href = homeFor(reply.user.role);
  } catch (error) {
    showError(refusal(error));
  } finally {
    button.disabled = false;
  }
}

async function leaveIfDone() {
  try {
    const { needed } = await api("/setup", { token: null });
    if (!needed) location.replace("/index.html");
  } catch {
    // Offline: the form reports it on submit.
  }
}

$("setup-form").addEventListener("submit", submit);
setUpFrame();
leaveIfDone();
