// Formatting for people in the current language: instants and days in China
// time, the conversions between `datetime-local` fields and RFC 3339, and the
// labels of the API's vocabulary values.
import { currentLanguage, t } from "./i18n.js";

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
