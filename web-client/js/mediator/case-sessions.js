// The case file's sessions section: the case's sessions and the form that
// schedules one (time, mode, stations, advisers, co-mediators, and parties
// joining on their own devices).
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { chinaLocalToIso, formatDateTime, isoToChinaLocal, label } from "../format.js";
import { actionForm, checkboxes, checkedValues, field, valueOf, vocabularySelect } from "../forms.js";
import { announce } from "../frame.js";
import { tableHead } from "../views.js";
import { SESSION_MODES } from "../vocabularies.js";
import { workspace } from "./workspace.js";

export function caseSessionsSection(file, manage) {
  const c = file.case;
  const rows = file.sessions.map((s) => h("tr", {},
    h("td", {}, h("a", { href: `#session/${s.id}` }, formatDateTime(s.planned_start))),
    h("td", {}, label("mode", s.mode)), h("td", {}, label("session_state", s.state))));
  const form = manage && !file.outcome ? actionForm({ id: "schedule-form", class: "subpanel", "aria-labelledby": "schedule-title" }, [
    h("h3", { id: "schedule-title" }, t("schedule_session")),
    field("planned_start", { name: "planned_start", type: "datetime-local", required: true, value: isoToChinaLocal(new Date(Date.now() + 10 * 60_000)) }, "china_time_hint"),
    field("planned_minutes", { name: "planned_minutes", type: "number", min: 5, max: 480, value: 60, required: true }),
    field("mode", vocabularySelect("mode", "mode", SESSION_MODES, { selected: "video" })),
    checkboxes("station_ids", "choose_stations", workspace.stations, {
      text: (a) => a.display_name, checked: (a) => a.unit_id === c.village_id,
    }),
    checkboxes("adviser_ids", "choose_advisers", workspace.advisers, { text: (a) => a.display_name }),
    checkboxes("mediator_ids", "choose_mediators", workspace.mediators, { text: (a) => a.display_name, checked: (a) => a.id === workspace.me.id }),
    checkboxes("party_ids", "choose_parties_own_device", file.parties, { text: (p) => p.name }),
  ], "schedule", async (element) => {
    const created = await api(`/cases/${c.id}/sessions`, {
      method: "POST",
      body: {
        planned_start: chinaLocalToIso(valueOf(element, "planned_start")),
        planned_minutes: Number(valueOf(element, "planned_minutes")),
        mode: valueOf(element, "mode"),
        station_ids: checkedValues(element, "station_ids"),
        adviser_ids: checkedValues(element, "adviser_ids"),
        mediator_ids: checkedValues(element, "mediator_ids"),
        party_ids: checkedValues(element, "party_ids"),
      },
    });
    announce(t("session_scheduled"));
    location.hash = `#session/${created.id}`;
  }) : null;
  return h("section", { class: "panel", id: "sessions", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, t("sessions")),
    rows.length ? h("table", { class: "grid" },
      tableHead(["planned_time", "mode", "state"]),
      h("tbody", {}, ...rows)) : h("p", { class: "hint" }, t("sessions_none")),
    form);
}
