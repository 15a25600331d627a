// The case file's outcome section: the outcome once recorded, and before it
// one form per kind of outcome the People's Mediation Law knows (written
// agreement, oral agreement, failed with the routes told, referred,
// withdrawn), as tabs.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDateTime, label } from "../format.js";
import { actionForm, checkboxes, checkedValues, field, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { facts } from "../views.js";
import { CHANNELS, OUTCOME_KINDS, ROUTES } from "../vocabularies.js";
import { agreementBlock } from "./agreement.js";

/** Tabs after the ARIA tab pattern (arrow keys move between them); `entries` are [outcome kind, panel]. */
function tabs(id, entries) {
  const list = h("div", { class: "tab-list", role: "tablist", "aria-label": t("outcome_kind") });
  const panels = [];
  entries.forEach(([key, panel], index) => {
    const tab = h("button", { type: "button", role: "tab", id: `${id}-tab-${key}`, "aria-controls": `${id}-${key}`, "aria-selected": String(index === 0), tabindex: index === 0 ? "0" : "-1" }, t(`outcome_${key}`));
    const wrapper = h("div", { role: "tabpanel", id: `${id}-${key}`, "aria-labelledby": tab.id, hidden: index !== 0 }, panel);
    tab.addEventListener("click", () => {
      for (const other of list.children) other.setAttribute("aria-selected", String(other === tab));
      for (const other of list.children) other.tabIndex = other === tab ? 0 : -1;
      for (const other of panels) other.hidden = other !== wrapper;
    });
    tab.addEventListener("keydown", (event) => {
      const tabsNow = [...list.children];
      const at = tabsNow.indexOf(tab);
      const next = event.key === "ArrowRight" ? tabsNow[(at + 1) % tabsNow.length] : event.key === "ArrowLeft" ? tabsNow[(at - 1 + tabsNow.length) % tabsNow.length] : null;
      if (next) {
        next.focus();
        next.click();
      }
    });
    list.append(tab);
    panels.push(wrapper);
  });
  return h("div", { class: "tabs-box" }, list, ...panels);
}

function describeOutcome(outcome) {
  return facts([
    ["outcome_kind", label("outcome", outcome.kind)],
    ["reached_via", outcome.reached_via ? label("channel", outcome.reached_via) : null],
    ["terms", outcome.terms],
    ["reason", outcome.reason],
    ["routes_told", outcome.routes_told?.map((r) => label("route", r)).join("、")],
    ["referred_to", outcome.referred_to],
    ["reference_number", outcome.reference_number],
    ["effective_at", formatDateTime(outcome.effective_at)],
  ]);
}

/** The forms that record each kind of outcome, by kind. */
function outcomeForms(file, agreement, manage, reload) {
  const id = file.case.id;
  const record = async (body) => {
    await api(`/cases/${id}/outcome`, { method: "POST", body });
    announce(t("outcome_recorded"));
    reload();
  };
  return {
    written: agreementBlock(file, agreement, manage, reload),
    oral: actionForm({ id: "oral-form" }, [
      field("oral_terms", h("textarea", { name: "terms", rows: 3, required: true })),
      field("reached_via", vocabularySelect("reached_via", "channel", CHANNELS)),
    ], "record_outcome", (element) => record({ kind: "oral", terms: valueOf(element, "terms") || "", reached_via: valueOf(element, "reached_via") })),
    failed: actionForm({ id: "failed-form" }, [
      field("reason", h("textarea", { name: "reason", rows: 2, required: true })),
      checkboxes("routes_told", "routes_told", ROUTES.map((r) => ({ id: r, name: label("route", r) }))),
    ], "record_outcome", (element) => record({ kind: "failed", reason: valueOf(element, "reason") || "", routes_told: checkedValues(element, "routes_told") })),
    referred: actionForm({ id: "referred-form" }, [
      field("referred_to", { name: "referred_to", required: true }),
      field("reference_number", { name: "reference_number" }),
      field("reason", h("textarea", { name: "reason", rows: 2 })),
    ], "record_outcome", (element) => record({ kind: "referred", referred_to: valueOf(element, "referred_to") || "", reference_number: valueOf(element, "reference_number"), reason: valueOf(element, "reason") })),
    withdrawn: actionForm({ id: "withdraw-form" }, [
      field("withdraw_reason", h("textarea", { name: "reason", rows: 2, required: true })),
    ], "withdraw_case", async (element) => {
      await api(`/cases/${id}/withdraw`, { method: "POST", body: { reason: valueOf(element, "reason") || "" } });
      announce(t("case_withdrawn"));
      reload();
    }),
  };
}

export function outcomeSection(file, agreement, manage, reload) {
  const body = [h("h2", { id: "outcome-title" }, t("outcome_title"))];
  if (file.outcome) body.push(describeOutcome(file.outcome));
  if (file.outcome?.kind === "written" || (agreement && file.outcome)) body.push(agreementBlock(file, agreement, manage, reload));
  if (!file.outcome && manage) {
    const forms = outcomeForms(file, agreement, manage, reload);
    body.push(tabs("outcome", OUTCOME_KINDS.map((kind) => [kind, forms[kind]])));
  }
  return h("section", { class: "panel", id: "outcome", "aria-labelledby": "outcome-title" }, ...body);
}
