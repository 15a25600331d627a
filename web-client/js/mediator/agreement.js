// The written agreement in the case file: its draft form (saved as a new
// version once saved before), its state, confirmations and text, signing
// as the mediator and printing.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { chinaDate, label } from "../format.js";
import { actionForm, field, valueOf } from "../forms.js";
import { announce, withErrorAnnounced } from "../frame.js";
import { signAgreementAsMediator } from "../agreement-signing.js";
import { facts } from "../views.js";
import { printAgreement } from "./printing.js";

const DRAFT_FIELDS = ["facts", "responsibilities", "terms", "performance_manner", "performance_deadline"];

export function agreementBlock(file, agreement, manage, reload) {
  const id = file.case.id;
  const draft = agreement || {};
  const form = manage && !file.outcome ? actionForm({ id: "agreement-form" }, [
    field("agreement_facts", h("textarea", { name: "facts", rows: 3, required: true }, draft.facts || "")),
    field("agreement_responsibilities", h("textarea", { name: "responsibilities", rows: 3, required: true }, draft.responsibilities || "")),
    field("agreement_terms", h("textarea", { name: "terms", rows: 4, required: true }, draft.terms || "")),
    field("performance_manner", h("textarea", { name: "performance_manner", rows: 2, required: true }, draft.performance_manner || "")),
    field("performance_deadline", { name: "performance_deadline", type: "date", required: true, value: draft.performance_deadline || chinaDate(new Date(Date.now() + 30 * 86400_000)) }),
  ], agreement ? "save_agreement_new_version" : "save_agreement", async (element) => {
    await api(`/cases/${id}/agreement`, {
      method: "PUT",
      body: Object.fromEntries(DRAFT_FIELDS.map((name) => [name, valueOf(element, name) || ""])),
    });
    announce(t("saved"));
    reload();
  }) : null;
  const signerName = (signer, name) => (signer === "mediator" ? t("signer_mediator") : name);
  const status = agreement ? h("div", { class: "agreement-status", id: "agreement-status" },
    facts([
      ["agreement_state", label("agreement_state", agreement.state)],
      ["version", String(agreement.version)],
      ["confirmed_by_label", agreement.confirmations.filter((c) => !c.voided_at)
        .map((c) => signerName(c.signer, file.parties.find((p) => p.id === c.party_id)?.name)).join("、") || "—"],
      ["awaiting", (agreement.awaiting || []).map((a) => signerName(a.signer, a.name)).join("、") || "—"],
    ]),
    h("pre", { class: "agreement-text" }, agreement.text),
    h("div", { class: "button-row" },
      manage && (agreement.awaiting || []).some((a) => a.signer === "mediator") ? h("button", { type: "button", id: "sign-agreement", onclick: withErrorAnnounced(async () => {
        await signAgreementAsMediator(id, agreement.text_sha256);
        announce(t("signed_note"));
        reload();
      }) }, t("sign_as_mediator")) : null,
      h("button", { type: "button", id: "print-agreement", onclick: () => printAgreement(id) }, t("print_agreement")),
    )) : null;
  return h("div", {}, h("p", { class: "hint" }, t("written_hint")), status, form);
}
