// The case file's judicial confirmation section: the 30-day deadline the
// server computes and the application to the court with its result.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { chinaDate } from "../format.js";
import { actionForm, field, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { JUDICIAL_RESULTS } from "../vocabularies.js";

export function judicialSection(file, manage, reload) {
  const id = file.case.id;
  const current = file.judicial_confirmation;
  const form = manage ? actionForm({ id: "judicial-form" }, [
    field("applied_on", { name: "applied_on", type: "date", required: true, value: current?.applied_on || chinaDate() }),
    field("court", { name: "court", required: true, value: current?.court || "" }),
    field("judicial_result", vocabularySelect("result", "judicial_result", JUDICIAL_RESULTS, { selected: current?.result || "pending" })),
    field("result_on", { name: "result_on", type: "date", value: current?.result_on || "" }),
  ], "save", async (element) => {
    await api(`/cases/${id}/judicial-confirmation`, {
      method: "PUT",
      body: { applied_on: valueOf(element, "applied_on"), court: valueOf(element, "court") || "", result: valueOf(element, "result"), result_on: valueOf(element, "result_on") },
    });
    announce(t("saved"));
    reload();
  }) : null;
  return h("section", { class: "panel", id: "judicial", "aria-labelledby": "judicial-title" },
    h("h2", { id: "judicial-title" }, t("judicial_title")),
    file.judicial_confirmation_deadline ? h("p", { class: "deadline" }, t("judicial_deadline", { date: file.judicial_confirmation_deadline })) : null,
    form);
}
