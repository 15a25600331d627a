// Registering a case: village, category, source, summary, amount, public
// session, and its parties (applicant and respondent, third parties added).
import { t } from "../i18n.js";
import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { actionForm, field, objectSelect, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { CASE_SOURCES, CATEGORIES, PARTY_SIDES } from "../vocabularies.js";
import { workspace } from "./workspace.js";

function partyRow(side) {
  return h("fieldset", { class: "party-row" }, h("legend", {}, t("party")),
    field("party_name", { name: "party_name", required: true }),
    field("party_side", vocabularySelect("party_side", "side", PARTY_SIDES, { selected: side })),
    field("phone", { name: "party_phone", type: "tel", inputmode: "tel" }),
    field("id_number", { name: "party_id_number", maxlength: 18, autocomplete: "off" }, "id_number_hint"),
  );
}

export function newCasePage(view) {
  const parties = h("div", { id: "parties" }, partyRow("applicant"), partyRow("respondent"));
  const form = actionForm({ class: "panel", id: "new-case-form" }, [
    field("village", objectSelect("village_id", workspace.villages, { required: true })),
    field("category", vocabularySelect("category", "category", CATEGORIES, { required: true })),
    field("source", vocabularySelect("source", "source", CASE_SOURCES, { required: true })),
    field("summary", h("textarea", { name: "summary", rows: 4, required: true })),
    field("amount_yuan", { name: "amount_yuan", inputmode: "decimal" }, "amount_hint"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "public_session" }), t("public_session")),
    h("h2", {}, t("parties")),
    parties,
    h("button", { type: "button", onclick: () => parties.append(partyRow("third_party")) }, t("add_party")),
  ], "register_case", async (element) => {
    const rows = [...element.querySelectorAll(".party-row")].map((row) => ({
      name: row.querySelector("[name=party_name]").value.trim(),
      side: row.querySelector("[name=party_side]").value,
      phone: row.querySelector("[name=party_phone]").value.trim() || null,
      id_number: row.querySelector("[name=party_id_number]").value.trim() || null,
    })).filter((party) => party.name);
    const created = await api("/cases", {
      method: "POST",
      body: {
        village_id: valueOf(element, "village_id"),
        category: valueOf(element, "category"),
        source: valueOf(element, "source"),
        summary: valueOf(element, "summary") || "",
        amount_yuan: valueOf(element, "amount_yuan"),
        public_session: element.elements.namedItem("public_session").checked,
        parties: rows,
      },
    });
    announce(t("case_registered", { number: (created.case || created).case_number }));
    location.hash = `#case/${(created.case || created).id}`;
  });
  fill(view, h("h1", {}, t("nav_new_case")), form);
}
