// The REST client every page shares: the staff token, JSON requests with the
// API's error shape, sign-in checks, the page frame (header, language switch)
// and the formatting of times, money and vocabularies in the current language.
import { currentLanguage, onLanguageChange, setLanguage, t, translatePage } from "./i18n.js";

const TOKEN_KEY = "mediation.token";
const USER_KEY = "mediation.user";

export const $ = (id) => document.getElementById(id);

export function staffToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
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

/**
 * The signed-in account, or a redirect to the sign-in page when there is none
 * or its role may not use this page.
 */
export async function requireStaff(roles) {
  if (!staffToken()) return redirectToLogin();
  try {
    const me = await api("/me");
    sessionStorage.setItem(USER_KEY, JSON.stringify(me));
    if (roles && !roles.includes(me.role)) {
      location.replace(homeFor(me.role));
      return new Promise(() => {});
    }
    return me;
  } catch (error) {
    if (error.status === 401) return redirectToLogin();
    throw error;
  }
}

function redirectToLogin() {
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

const CHINA = "Asia/Shanghai";

function locale() {
  return currentLanguage() === "zh-CN" ? "zh-CN" : "en-GB";
}

export function formatDateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: CHINA, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(iso));
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(locale(), { timeZone: CHINA, hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(iso));
}

export function formatDay(iso) {
  return new Intl.DateTimeFormat(locale(), { timeZone: CHINA, month: "long", day: "numeric", weekday: "long" }).format(new Date(iso));
}

/** Today's date in China time, as YYYY-MM-DD. */
export function chinaDate(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: CHINA, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

/** A `datetime-local` value (China time) as an RFC 3339 instant. */
export function chinaLocalToIso(value) {
  return new Date(`${value}:00+08:00`).toISOString();
}

/** An instant as a `datetime-local` value in China time. */
export function isoToChinaLocal(date) {
  const shifted = new Date(date.getTime() + 8 * 3600 * 1000);
  return shifted.toISOString().slice(0, 16);
}

/** The label of a vocabulary value, e.g. label("category", "neighbour"). */
export function label(vocabulary, value) {
  return t(`${vocabulary}_${value}`);
}

/** Creates an element with attributes and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "muted") {
      // Only the parser turns the attribute into the property; a self-view must not play back its own microphone.
      element.muted = true;
      element.setAttribute(name, "");
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the children of `container`, skipping empty (null, false) ones. */
export function fill(container, ...children) {
  container.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
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
