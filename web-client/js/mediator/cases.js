// The cases page: what is due (cases to follow up, written agreements whose
// 30 days for judicial confirmation run) and the case list with its search
// by state, village, category and words.
import { t } from "../i18n.js";
import { api, describeError } from "../api.js";
import { fill, h } from "../dom.js";
import { chinaDate, formatDateTime, label } from "../format.js";
import { actionForm, field, objectSelect, valueOf, vocabularySelect } from "../forms.js";
import { stateBadge, tableHead } from "../views.js";
import { CASE_STATES, CATEGORIES, FOLLOW_UP_STATES } from "../vocabularies.js";
import { workspace } from "./workspace.js";

const FILTER_NAMES = ["state", "village_id", "category", "q"];

export async function casesPage(view) {
  const params = new URLSearchParams(location.search);
  const filters = actionForm({ class: "filters", id: "case-filters", role: "search" }, [
    field("state", vocabularySelect("state", "case_state", CASE_STATES, { any: true, selected: params.get("state") })),
    field("village", objectSelect("village_id", workspace.villages, { any: true, selected: params.get("village_id") })),
    field("category", vocabularySelect("category", "category", CATEGORIES, { any: true, selected: params.get("category") })),
    field("search_text", { name: "q", type: "search", value: params.get("q") || "" }),
  ], "search", async (form) => {
    const query = new URLSearchParams();
    for (const name of FILTER_NAMES) {
      const value = valueOf(form, name);
      if (value) query.set(name, value);
    }
    history.replaceState(null, "", `?${query}#cases`);
    await showList(query);
  });
  const results = h("div", { id: "case-results" });
  const todo = h("section", { class: "panel", id: "todo", "aria-labelledby": "todo-title" }, h("h2", { id: "todo-title" }, t("todo_title")));
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, t("nav_cases")), h("a", { class: "button primary", href: "#new-case" }, t("nav_new_case"))),
    todo,
    filters,
    results,
  );
  showTodo(todo).catch((error) => todo.append(h("p", { class: "error" }, describeError(error))));
  async function showList(query) {
    const cases = await api(`/cases?${query}`);
    fill(results, cases.length === 0 ? h("p", { class: "hint" }, t("cases_none")) : h("table", { class: "grid" },
      h("caption", {}, t("cases_found", { n: cases.length })),
      tableHead(["case_number", "village", "category", "state", "registered_at", "summary"]),
      h("tbody", {}, ...cases.map((c) => h("tr", {},
        h("td", {}, h("a", { href: `#case/${c.id}` }, c.case_number)),
        h("td", {}, c.village_name), h("td", {}, label("category", c.category)), h("td", {}, stateBadge(c.state)),
        h("td", {}, formatDateTime(c.registered_at)), h("td", { class: "summary-cell" }, c.summary))))));
  }
  await showList(new URLSearchParams([...params].filter(([name]) => FILTER_NAMES.includes(name))));
}

/** Days from today (China time) to a YYYY-MM-DD date. */
function daysUntil(date) {
  return Math.round((Date.parse(`${date}T00:00:00+08:00`) - Date.parse(`${chinaDate()}T00:00:00+08:00`)) / 86400_000);
}

/**
 * What is due: cases with an outcome still to be followed up, and written
 * agreements whose 30 days for judicial confirmation are running (the
 * deadline as the server computes it, in each case file).
 */
async function showTodo(box) {
  const lists = await Promise.all(FOLLOW_UP_STATES.map((state) => api(`/cases?state=${state}&limit=100`)));
  const followUps = lists.flat().sort((a, b) => (a.outcome_at || "").localeCompare(b.outcome_at || ""));
  const writtenAgreements = lists[FOLLOW_UP_STATES.indexOf("agreed_written")];
  const written = await Promise.all(writtenAgreements.slice(0, 30).map((c) => api(`/cases/${c.id}`)));
  const deadlines = written
    .filter((file) => file.judicial_confirmation_deadline && !file.judicial_confirmation && daysUntil(file.judicial_confirmation_deadline) >= 0)
    .sort((a, b) => a.judicial_confirmation_deadline.localeCompare(b.judicial_confirmation_deadline));
  const link = (c) => h("a", { href: `#case/${c.id}` }, c.case_number);
  box.append(
    h("h3", {}, t("todo_judicial", { n: deadlines.length })),
    deadlines.length === 0 ? h("p", { class: "hint" }, t("todo_none")) : h("ul", { class: "plain", id: "todo-judicial" },
      ...deadlines.map((file) => {
        const left = daysUntil(file.judicial_confirmation_deadline);
        return h("li", { class: left <= 7 ? "urgent" : "" }, link(file.case), ` · ${file.case.village_name} · `,
          t("todo_deadline", { date: file.judicial_confirmation_deadline, days: left }));
      })),
    h("h3", {}, t("todo_follow_up", { n: followUps.length })),
    followUps.length === 0 ? h("p", { class: "hint" }, t("todo_none")) : h("ul", { class: "plain", id: "todo-follow-up" },
      ...followUps.map((c) => h("li", {}, link(c), ` · ${c.village_name} · ${label("case_state", c.state)} · ${formatDateTime(c.outcome_at)}`))),
  );
}
