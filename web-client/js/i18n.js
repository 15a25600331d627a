// Texts in the reader's language. One table per language lives in
// js/lang/<language>.js; zh-CN is the default. A key missing from the table
// is reported on the console as an error (the browser tests fail on it) and
// shown as the key itself.
import zhCN from "./lang/zh-CN.js";
import en from "./lang/en.js";

export const tables = { "zh-CN": zhCN, en };

const STORAGE_KEY = "mediation.lang";
const listeners = [];

export function currentLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && Object.hasOwn(tables, asked)) return asked;
  const saved = localStorage.getItem(STORAGE_KEY);
  return saved && Object.hasOwn(tables, saved) ? saved : "zh-CN";
}

/** Switches the language and tells every listener to re-render. */
export function setLanguage(lang) {
  localStorage.setItem(STORAGE_KEY, lang);
  const url = new URL(location.href);
  if (url.searchParams.has("lang")) {
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
  }
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** The text for `key` in the current language, with {name} placeholders filled. */
export function t(key, params = {}) {
  const text = t.has(key) ? tables[currentLanguage()][key] : undefined;
  if (text === undefined) {
    console.error(`missing translation: ${currentLanguage()}.${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** Whether the current language has a text for `key`. */
t.has = (key) => Object.hasOwn(tables[currentLanguage()], key);

/**
 * Fills every element under `root` in the current language: `data-i18n` sets
 * the text, `data-i18n-label` the aria-label, `data-i18n-placeholder` the
 * placeholder, `data-i18n-title` the title.
 */
export function translatePage(root = document) {
  document.documentElement.lang = currentLanguage();
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of root.querySelectorAll("[data-i18n-label]")) element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) element.placeholder = t(element.dataset.i18nPlaceholder);
  for (const element of root.querySelectorAll("[data-i18n-title]")) {
    element.title = t(element.dataset.i18nTitle);
    if (element.tagName === "TITLE") document.title = element.title;
  }
  const title = document.querySelector("meta[name=page-title]");
  if (title) document.title = `${t(title.content)} · ${t("app_name")}`;
}
