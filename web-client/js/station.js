// The village station's kiosk: today's and upcoming sessions of this village
// in very large type, one big join button each, readable from two metres.
// Nothing else to get lost in; it refreshes itself.
import { t } from "./i18n.js";
import { api, describeError } from "./api.js";
import { $, fill, h } from "./dom.js";
import { chinaDate, formatDay, formatTime, label } from "./format.js";
import { bootWorkspace, redirectToSignIn } from "./frame.js";
import { sessionIsOpen } from "./vocabularies.js";

const REFRESH_MS = 30_000;
let me = null;
let sessions = [];
let problem = null;

function render() {
  $("station-name").textContent = me?.display_name || t("role_station");
  const box = $("sessions");
  if (problem) {
    fill(box, h("p", { class: "device-problem big-text", role: "alert" }, problem));
    return;
  }
  const open = sessions.filter(sessionIsOpen);
  if (open.length === 0) {
    fill(box, h("p", { class: "kiosk-empty" }, t("kiosk_none")));
    return;
  }
  const today = chinaDate();
  const groups = [
    [t("kiosk_today"), open.filter((s) => chinaDate(new Date(s.planned_start)) === today)],
    [t("kiosk_later"), open.filter((s) => chinaDate(new Date(s.planned_start)) !== today)],
  ].filter(([, list]) => list.length);
  fill(box, ...groups.map(([title, list]) => h("section", { class: "kiosk-group" },
    h("h2", {}, title),
    h("ul", { class: "kiosk-list" }, ...list.map((s) => h("li", { class: `kiosk-card ${s.state}`, dataset: { sessionId: s.id } },
      h("p", { class: "kiosk-time" }, formatTime(s.planned_start)),
      h("p", { class: "kiosk-day" }, formatDay(s.planned_start)),
      h("p", { class: "kiosk-case" }, `${label("category", s.category)} · ${s.case_number}`),
      s.state === "live" ? h("p", { class: "kiosk-live" }, t("kiosk_live")) : null,
      h("a", { class: "button primary huge", href: `/join.html?session=${s.id}`, "aria-label": t("kiosk_join_label", { time: formatTime(s.planned_start) }) }, t("kiosk_join")),
    ))),
  )));
}

async function fetchSessions() {
  try {
    sessions = await api("/sessions");
    problem = null;
  } catch (error) {
    // The sign-in ran out (12 h): back to the sign-in page, which returns here.
    if (error.status === 401) return redirectToSignIn();
    problem = describeError(error);
  }
}

function tick() {
  $("clock").textContent = formatTime(new Date().toISOString());
}

bootWorkspace({
  roles: ["station"],
  async load(signedIn) {
    me = signedIn;
    tick();
    setInterval(tick, 10_000);
    await fetchSessions();
    setInterval(() => fetchSessions().then(render), REFRESH_MS);
  },
  render,
});
