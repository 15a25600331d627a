// The case file page: its head, the case's details and parties (correctable
// before an outcome), and the sections that follow them in order (sessions,
// outcome, judicial confirmation, follow-ups, risk flags), then closing the
// case.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { formatDateTime, label } from "../format.js";
import { actionForm, field, valueOf, vocabularySelect } from "../forms.js";
import { announce, withErrorAnnounced } from "../frame.js";
import { facts, stateBadge } from "../views.js";
import { CATEGORIES } from "../vocabularies.js";
import { caseSessionsSection } from "./case-sessions.js";
import { followUpSection } from "./follow-ups.js";
import { judicialSection } from "./judicial.js";
import { outcomeSection } from "./outcome.js";
import { riskSection } from "./risks.js";

export async function casePage(view, id, part) {
  const file = await api(`/cases/${id}`);
  const c = file.case;
  const manage = file.access === "manage";
  const agreement = file.agreement ? await api(`/cases/${id}/agreement`) : null;
  const reload = () => casePage(view, id, part);
  const sections = [
    h("div", { class: "page-head" }, h("h1", {}, c.case_number), stateBadge(c.state)),
    h("section", { class: "panel" }, facts([
      ["village", c.village_name], ["office", c.office_name], ["category", label("category", c.category)],
      ["source", label("source", c.source)], ["summary", c.summary], ["amount_yuan", c.amount_yuan],
      ["public_session", t(c.public_session ? "yes" : "no")], ["registered_at", formatDateTime(c.registered_at)],
    ]), manage && !file.outcome ? editCaseForm(c, reload) : null),
    h("section", { class: "panel", "aria-labelledby": "parties-title" }, h("h2", { id: "parties-title" }, t("parties")),
      h("ul", { class: "plain" }, ...file.parties.map((p) => h("li", { dataset: { partyId: p.id } },
        `${label("side", p.side)}：${p.name}`, p.phone ? ` · ${p.phone}` : "", p.id_number || p.id_number_masked ? ` · ${p.id_number || p.id_number_masked}` : "",
        manage && !file.outcome ? editPartyForm(c.id, p, reload) : null)))),
    caseSessionsSection(file, manage),
    outcomeSection(file, agreement, manage, reload),
  ];
  if (agreement?.state === "effective" || file.judicial_confirmation) sections.push(judicialSection(file, manage, reload));
  if (file.outcome && (file.follow_ups.length || file.next_states.includes("followed_up") || c.state === "followed_up")) {
    sections.push(followUpSection(file, manage, reload));
  }
  if (manage) sections.push(riskSection(file, manage, reload));
  if (manage && (c.state === "followed_up" || c.state === "withdrawn")) {
    sections.push(h("section", { class: "panel" }, h("button", { type: "button", id: "close-case", onclick: withErrorAnnounced(async () => {
      await api(`/cases/${id}/close`, { method: "POST" });
      announce(t("case_closed"));
      reload();
    }) }, t("close_case"))));
  }
  fill(view, ...sections);
  if (part) document.getElementById(part)?.scrollIntoView();
}

/** Corrects the case's details before an outcome (the server refuses afterwards). */
function editCaseForm(c, reload) {
  const form = actionForm({ id: "edit-case-form" }, [
    field("category", vocabularySelect("category", "category", CATEGORIES, { selected: c.category })),
    field("summary", h("textarea", { name: "summary", rows: 3, required: true }, c.summary)),
    field("amount_yuan", { name: "amount_yuan", inputmode: "decimal", value: c.amount_yuan || "" }, "amount_hint"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "public_session", checked: c.public_session }), t("public_session")),
  ], "save", async (element) => {
    await api(`/cases/${c.id}`, {
      method: "PATCH",
      body: {
        category: valueOf(element, "category"),
        summary: valueOf(element, "summary") || "",
        amount_yuan: valueOf(element, "amount_yuan"),
        public_session: element.elements.namedItem("public_session").checked,
      },
    });
    announce(t("saved"));
    reload();
  });
  return h("details", { class: "subpanel" }, h("summary", {}, t("edit_case")), form);
}

/** Corrects one party's name, phone or ID number (a saved agreement must then be saved again). */
function editPartyForm(caseId, party, reload) {
  const form = actionForm({ class: "edit-party-form" }, [
    field("party_name", { name: "name", required: true, value: party.name }),
    field("phone", { name: "phone", type: "tel", value: party.phone || "" }),
    field("id_number", { name: "id_number", maxlength: 18, autocomplete: "off", placeholder: party.id_number_masked || "" }, "id_number_keep_hint"),
  ], "save", async (element) => {
    const body = { name: valueOf(element, "name") || "", phone: valueOf(element, "phone") };
    const idNumber = valueOf(element, "id_number");
    if (idNumber) body.id_number = idNumber;
    await api(`/cases/${caseId}/parties/${party.id}`, { method: "PATCH", body });
    announce(t("saved"));
    reload();
  });
  return h("details", {}, h("summary", {}, t("edit_party", { name: party.name })), form);
}
