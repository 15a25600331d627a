// The statistics page: the period (and town or village) chosen, the key
// numbers, bar charts by outcome, month, village and category, and the CSV
// download.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { chinaDate, label } from "../format.js";
import { actionForm, field, objectSelect, valueOf } from "../forms.js";
import { withErrorAnnounced } from "../frame.js";
import { workspace } from "./workspace.js";

/** The towns an administrator may narrow to (none for a mediator), fetched on the first visit. */
let towns = null;

function barChart(id, titleKey, rows) {
  const max = Math.max(1, ...rows.map((row) => row.value));
  return h("figure", { class: "chart", id },
    h("figcaption", {}, t(titleKey)),
    rows.length === 0 ? h("p", { class: "hint" }, t("no_data")) : h("table", { class: "bars-table" },
      h("tbody", {}, ...rows.map((row) => h("tr", {},
        h("th", { scope: "row" }, row.label),
        h("td", {}, h("span", { class: "chart-bar", style: `width:${(row.value / max) * 100}%` }), h("span", { class: "bar-value" }, String(row.value))))))));
}

/** Downloads the statistics of `query` as CSV (with a BOM, so spreadsheet programs read the Chinese). */
async function downloadCsv(query, from, to) {
  const text = await api(`/stats?${query}&format=csv`, { accept: "text/csv" });
  const url = URL.createObjectURL(new Blob(["\ufeff", text], { type: "text/csv;charset=utf-8" }));
  const link = h("a", { href: url, download: `mediation-stats-${from}-${to}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function statisticsPage(view) {
  const params = new URLSearchParams(location.search);
  const year = chinaDate().slice(0, 4);
  const from = params.get("from") || `${year}-01-01`;
  const to = params.get("to") || chinaDate();
  const village = params.get("village") || "";
  const town = params.get("town") || "";
  const query = new URLSearchParams({ from, to });
  if (village) query.set("village", village);
  if (town) query.set("town", town);
  // Administrators reach several towns: they may narrow to one.
  towns ??= workspace.me.role === "mediator" ? [] : await api("/towns?active=true");
  const stats = await api(`/stats?${query}`);
  const form = actionForm({ class: "filters", id: "stats-filters" }, [
    field("from", { name: "from", type: "date", value: from }),
    field("to", { name: "to", type: "date", value: to }),
    towns.length > 1 ? field("town", objectSelect("town", towns, { any: true, selected: town })) : null,
    field("village", objectSelect("village", workspace.villages, { any: true, selected: village })),
  ], "show", async (element) => {
    const next = new URLSearchParams();
    for (const name of ["from", "to", "town", "village"]) if (valueOf(element, name)) next.set(name, valueOf(element, name));
    history.replaceState(null, "", `?${next}#stats`);
    await statisticsPage(view);
  });
  const numbers = [
    ["cases_registered", stats.cases_registered], ["mediated_successfully", stats.mediated_successfully],
    ["written_agreements", stats.written_agreements], ["oral_agreements", stats.oral_agreements],
    ["cases_with_video_session", stats.cases_with_video_session], ["legal_consultations", stats.legal_consultations],
    ["pending", stats.pending], ["open_over_one_month", stats.open_over_one_month],
  ];
  const csv = h("button", { type: "button", id: "stats-csv", onclick: withErrorAnnounced(() => downloadCsv(query, from, to)) }, t("download_csv"));
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, t("nav_stats")), csv),
    form,
    h("ul", { class: "numbers", id: "stats-numbers" }, ...numbers.map(([key, value]) => h("li", { dataset: { metric: key } },
      h("span", { class: "number" }, String(value)), h("span", { class: "number-label" }, t(`stat_${key}`))))),
    stats.average_days_to_outcome !== null && stats.average_days_to_outcome !== undefined
      ? h("p", {}, t("average_days", { days: stats.average_days_to_outcome.toFixed(1) })) : null,
    h("div", { class: "charts" },
      barChart("chart-outcome", "chart_by_outcome", [
        ["written_agreements", stats.written_agreements], ["oral_in_person", stats.oral_in_person], ["oral_phone", stats.oral_phone],
        ["oral_video", stats.oral_video], ["failed", stats.failed], ["referred", stats.referred], ["withdrawn", stats.withdrawn], ["pending", stats.pending],
      ].map(([key, value]) => ({ label: t(`stat_${key}`), value }))),
      barChart("chart-month", "chart_by_month", stats.by_month.map((row) => ({ label: row.key, value: row.count }))),
      barChart("chart-village", "chart_by_village", stats.by_village.map((row) => ({ label: row.village_name, value: row.count }))),
      barChart("chart-category", "chart_by_category", stats.by_category.map((row) => ({ label: label("category", row.key), value: row.count }))),
    ),
  );
}
