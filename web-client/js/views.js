// View pieces several pages share: the alert for a request that failed, a
// table head of translated column names, a list of facts, a case state badge.
import { t } from "./i18n.js";
import { describeError } from "./api.js";
import { h } from "./dom.js";
import { label } from "./format.js";

/** The failure of `error` as an alert in place of what could not be drawn. */
export function errorAlert(error) {
  return h("p", { class: "error", role: "alert" }, describeError(error));
}

/** A table head with one column header per translation key. */
export function tableHead(keys) {
  return h("thead", {}, h("tr", {}, ...keys.map((key) => h("th", { scope: "col" }, t(key)))));
}

/** A definition list of [translation key, value] pairs, leaving out empty values. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, ...pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
    .flatMap(([term, value]) => [h("dt", {}, t(term)), h("dd", {}, value)]));
}

export function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, label("case_state", state));
}
