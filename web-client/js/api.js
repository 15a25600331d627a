// The REST client: the signed-in staff member's token and account in session
// storage, JSON requests to /api/v1 with the API's error shape (ApiError),
// and the message for people that a failed request stands for.
import { t } from "./i18n.js";

const TOKEN_KEY = "mediation.token";
const USER_KEY = "mediation.user";

export function staffToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps the signed-in account as the server last described it. */
export function rememberUser(user) {
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function signIn(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  rememberUser(user);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

/** An API failure with the server's stable code and its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/**
 * Calls the API. `token` defaults to the signed-in staff token. Resolves with
 * the parsed body (or text for non-JSON answers); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, token = staffToken(), accept } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  if (accept) headers.accept = accept;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", t("error_network"));
  }
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json().catch(() => ({})) : await response.text();
  if (!response.ok) {
    const error = typeof payload === "object" ? payload : {};
    if (response.status === 401 && token && token === staffToken()) {
      signOut();
    }
    const failure = new ApiError(response.status, error.error || "http_" + response.status, error.message || response.statusText, error.field);
    failure.retryAfter = response.headers.get("retry-after");
    throw failure;
  }
  return payload;
}

/** A message for people: the translated code when there is one, else the server's text. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return t("error_unexpected");
  if (error.code === "network") return t("error_network");
  const key = `api_${error.code}`;
  const known = t.has(key) ? t(key) : t("error_request_failed");
  return error.field ? `${known}（${error.field}：${error.message}）` : `${known}（${error.message}）`;
}
