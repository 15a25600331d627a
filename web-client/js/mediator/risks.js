// Risk flags (People's Mediation Law Art 25): the case file's section (the
// flags with whom each was reported to and when; flagging, adding a report,
// closing a flag with a note) and the workspace page listing the flags of
// the caller's reach, open ones first (the district's view of its towns).
import { t } from "../i18n.js";
import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { chinaLocalToIso, formatDateTime, isoToChinaLocal, label } from "../format.js";
import { actionForm, field, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { tableHead } from "../views.js";
import { REPORTED_TO, RISK_KINDS } from "../vocabularies.js";

/** One report as a line: to whom, when, and what was noted. */
function reportLine(report) {
  return h("li", { dataset: { reportId: report.id } },
    `${label("reported_to", report.reported_to)} · ${formatDateTime(report.reported_at)}`,
    report.detail ? ` · ${report.detail}` : "");
}

/** The fields of a report: required on its own, optional inside a new flag's form. */
function reportFields(required) {
  const to = vocabularySelect("reported_to", "reported_to", REPORTED_TO, { required });
  if (!required) to.prepend(h("option", { value: "", selected: true }, t("risk_not_yet_reported")));
  return [
    field("reported_to", to),
    field("reported_at", { name: "reported_at", type: "datetime-local", value: isoToChinaLocal(new Date()), required }),
    field("report_detail", { name: "report_detail", maxlength: 2000 }, "report_detail_hint"),
  ];
}

function reportFrom(form) {
  const to = valueOf(form, "reported_to");
  if (!to) return null;
  return { reported_to: to, reported_at: chinaLocalToIso(valueOf(form, "reported_at")), detail: valueOf(form, "report_detail") };
}

function flagItem(caseId, flag, manage, reload) {
  const open = !flag.closed_at;
  const actions = manage && open ? [
    actionForm({ class: "risk-report-form" }, reportFields(true), "add_report", async (form) => {
      await api(`/cases/${caseId}/risk-flags/${flag.id}/reports`, { method: "POST", body: reportFrom(form) });
      announce(t("saved"));
      reload();
    }),
    actionForm({ class: "risk-close-form" }, [field("closing_note", { name: "note", required: true, maxlength: 2000 })], "close_risk", async (form) => {
      await api(`/cases/${caseId}/risk-flags/${flag.id}/close`, { method: "POST", body: { note: valueOf(form, "note") || "" } });
      announce(t("risk_closed"));
      reload();
    }),
  ] : [];
  return h("li", { class: open ? "risk open" : "risk closed", dataset: { flagId: flag.id } },
    h("p", {}, h("strong", {}, label("risk", flag.risk)), ` · ${formatDateTime(flag.flagged_at)} · `,
      h("span", { class: open ? "badge warn" : "badge" }, t(open ? "risk_open" : "risk_closed_state"))),
    h("p", {}, flag.description),
    flag.reports.length ? h("ul", { class: "plain reports" }, ...flag.reports.map(reportLine)) : h("p", { class: "hint" }, t("risk_not_reported")),
    open ? null : h("p", { class: "hint" }, `${t("closing_note")}：${flag.closing_note} · ${formatDateTime(flag.closed_at)}`),
    actions.length ? h("details", { class: "risk-actions" }, h("summary", {}, t("risk_actions")), ...actions) : null);
}

/** The case file's section; shown to those who manage the case. */
export function riskSection(file, manage, reload) {
  const id = file.case.id;
  const form = manage ? actionForm({ id: "risk-flag-form" }, [
    field("risk", vocabularySelect("risk", "risk", RISK_KINDS, { required: true })),
    field("risk_description", h("textarea", { name: "description", rows: 3, required: true, maxlength: 2000 }), "risk_description_hint"),
    h("p", { class: "hint" }, t("risk_first_report")),
    ...reportFields(false),
  ], "flag_risk", async (element) => {
    const report = reportFrom(element);
    await api(`/cases/${id}/risk-flags`, {
      method: "POST",
      body: { risk: valueOf(element, "risk"), description: valueOf(element, "description") || "", reports: report ? [report] : [] },
    });
    announce(t("risk_flagged"));
    reload();
  }) : null;
  return h("section", { class: "panel", id: "risks", "aria-labelledby": "risks-title" },
    h("h2", { id: "risks-title" }, t("risk_flags")),
    h("p", { class: "hint" }, t("risk_intro")),
    file.risk_flags.length ? h("ul", { class: "plain risk-list" }, ...file.risk_flags.map((flag) => flagItem(id, flag, manage, reload))) : null,
    form ? h("details", {}, h("summary", {}, t("flag_risk")), form) : null);
}

const LIST_STATES = ["open", "closed", "all"];

/** The workspace page (`#risks/<state>`): the flags of the caller's reach, open by default. */
export async function risksPage(view, wanted) {
  const state = LIST_STATES.includes(wanted) ? wanted : "open";
  const flags = await api(`/risk-flags?state=${state}`);
  const filter = h("p", { class: "button-row" }, ...LIST_STATES.map((value) =>
    h("a", { class: value === state ? "button primary" : "button", href: `#risks/${value}`, "aria-current": value === state ? "true" : undefined }, t(`risk_list_${value}`))));
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, t("risk_flags"))),
    h("p", { class: "hint" }, t("risk_list_intro")),
    filter,
    flags.length === 0 ? h("p", { class: "hint", id: "risks-none" }, t("risk_list_none")) : h("table", { class: "list", id: "risk-table" },
      tableHead(["case_number", "village", "risk", "flagged_at", "reported_to", "state"]),
      h("tbody", {}, ...flags.map((flag) => h("tr", { dataset: { flagId: flag.id } },
        h("td", {}, h("a", { href: `#case/${flag.case_id}/risks` }, flag.case_number)),
        h("td", {}, `${flag.town_name} ${flag.village_name}`),
        h("td", {}, label("risk", flag.risk)),
        h("td", {}, formatDateTime(flag.flagged_at)),
        h("td", {}, flag.reports.length ? flag.reports.map((r) => `${label("reported_to", r.reported_to)} ${formatDateTime(r.reported_at)}`).join("；") : t("risk_not_reported")),
        h("td", {}, t(flag.closed_at ? "risk_closed_state" : "risk_open")))))));
}
