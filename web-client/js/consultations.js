// Legal consultations (法律咨询): the list in the caller's reach and the form
// to record one. Advisers record their own; mediators record for an adviser.
import { t } from "./i18n.js";
import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { chinaDate, formatDateTime, label } from "./format.js";
import { actionForm, field, objectSelect, valueOf, vocabularySelect } from "./forms.js";
import { announce } from "./frame.js";
import { tableHead } from "./views.js";
import { CATEGORIES, CHANNELS } from "./vocabularies.js";

/**
 * Draws the consultations page into `container`.
 * @param options { villages, advisers (null for an adviser recording their own), cases }
 */
export async function consultationsPage(container, { villages, advisers }) {
  const from = new Date(Date.now() - 90 * 86400_000);
  const list = await api(`/consultations?from=${chinaDate(from)}`);
  const villageName = (id) => villages.find((v) => v.id === id)?.name || "—";
  const form = actionForm({ class: "panel", id: "consultation-form", "aria-labelledby": "consultation-form-title" }, [
    h("h2", { id: "consultation-form-title" }, t("consultation_record")),
    field("village", objectSelect("village_id", villages, { required: true })),
    advisers ? field("adviser", objectSelect("adviser_id", advisers, { required: true, text: (a) => a.display_name })) : null,
    field("topic", vocabularySelect("topic", "category", CATEGORIES, { required: true })),
    field("question", h("textarea", { name: "question", rows: 3, required: true })),
    field("answer_summary", h("textarea", { name: "answer_summary", rows: 3, required: true })),
    field("minutes_taken", { name: "minutes_taken", type: "number", min: 1, max: 600, value: 15, required: true }),
    field("via", vocabularySelect("via", "channel", CHANNELS, { required: true })),
  ], "save", async (element) => {
    const body = {
      village_id: valueOf(element, "village_id"),
      topic: valueOf(element, "topic"),
      question: valueOf(element, "question") || "",
      answer_summary: valueOf(element, "answer_summary") || "",
      minutes_taken: Number(valueOf(element, "minutes_taken")),
      via: valueOf(element, "via"),
    };
    if (advisers) body.adviser_id = valueOf(element, "adviser_id");
    await api("/consultations", { method: "POST", body });
    announce(t("saved"));
    await consultationsPage(container, { villages, advisers });
  });
  fill(container,
    h("h1", {}, t("nav_consultations")),
    h("section", { class: "panel" },
      h("h2", {}, t("consultations_recent")),
      list.length === 0 ? h("p", { class: "hint" }, t("consultations_none")) : h("table", { class: "grid" },
        tableHead(["asked_at", "village", "topic", "question", "answer_summary", "minutes_taken"]),
        h("tbody", {}, ...list.map((c) => h("tr", {},
          h("td", {}, formatDateTime(c.asked_at)), h("td", {}, villageName(c.village_id)), h("td", {}, label("category", c.topic)),
          h("td", {}, c.question), h("td", {}, c.answer_summary), h("td", {}, String(c.minutes_taken)))))),
    ),
    form,
  );
}
