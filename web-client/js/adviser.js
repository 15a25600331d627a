// The legal adviser's workspace: the sessions they are invited to (with a
// join button) and the legal consultations they answer and record.
import { t } from "./i18n.js";
import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { chinaDate, formatDateTime, label } from "./format.js";
import { bootWorkspace } from "./frame.js";
import { consultationsPage } from "./consultations.js";
import { sessionIsOpen } from "./vocabularies.js";

let villages = [];

async function sessionsPage(view) {
  const sessions = await api(`/sessions?from=${chinaDate()}`);
  const open = sessions.filter(sessionIsOpen);
  fill(view,
    h("h1", {}, t("nav_my_sessions")),
    open.length === 0 ? h("p", { class: "hint" }, t("adviser_no_sessions")) : h("ul", { class: "session-cards" },
      ...open.map((s) => h("li", { class: "card", dataset: { sessionId: s.id } },
        h("p", { class: "card-time" }, formatDateTime(s.planned_start)),
        h("p", {}, `${s.case_number} · ${s.village_name} · ${label("category", s.category)}`),
        s.state === "live" ? h("p", { class: "kiosk-live" }, t("kiosk_live")) : null,
        h("a", { class: "button primary", href: `/join.html?session=${s.id}` }, t("enter_lobby"))))),
  );
}

bootWorkspace({
  roles: ["adviser"],
  async load() {
    villages = await api("/villages?active=true");
  },
  routes: {
    sessions: sessionsPage,
    consultations: (view) => consultationsPage(view, { villages, advisers: null }),
  },
  fallback: "sessions",
});
