// The case file's follow-ups section: the visits after an outcome (how the
// agreement is performed, how satisfied the parties are) and the form that
// records one.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { chinaDate, label } from "../format.js";
import { actionForm, field, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { PERFORMANCES, SATISFACTIONS } from "../vocabularies.js";
import { workspace } from "./workspace.js";

export function followUpSection(file, manage, reload) {
  const id = file.case.id;
  const form = manage && file.case.state !== "closed" ? actionForm({ id: "follow-up-form" }, [
    field("visited_on", { name: "visited_on", type: "date", required: true, value: chinaDate() }),
    field("visited_by", { name: "visited_by", required: true, value: workspace.me.display_name }),
    field("performance", vocabularySelect("performance", "performance", PERFORMANCES)),
    field("satisfaction", vocabularySelect("satisfaction", "satisfaction", SATISFACTIONS)),
    field("remaining_risk", { name: "remaining_risk" }),
    field("next_step", { name: "next_step" }),
  ], "save_follow_up", async (element) => {
    await api(`/cases/${id}/follow-ups`, {
      method: "POST",
      body: {
        visited_on: valueOf(element, "visited_on"), visited_by: valueOf(element, "visited_by") || "",
        performance: valueOf(element, "performance"), satisfaction: valueOf(element, "satisfaction"),
        remaining_risk: valueOf(element, "remaining_risk"), next_step: valueOf(element, "next_step"),
      },
    });
    announce(t("saved"));
    reload();
  }) : null;
  return h("section", { class: "panel", id: "follow-ups", "aria-labelledby": "follow-title" },
    h("h2", { id: "follow-title" }, t("follow_ups")),
    file.follow_ups.length === 0 ? h("p", { class: "hint" }, t("follow_ups_none")) : h("ul", { class: "plain" },
      ...file.follow_ups.map((f) => h("li", {}, `${f.visited_on} · ${f.visited_by} · ${label("performance", f.performance)} · ${label("satisfaction", f.satisfaction)}`))),
    form);
}
