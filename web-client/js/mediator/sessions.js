// Sessions in the mediator's workspace: the list from a week ago on, and the
// session page (invitation links to copy, print or withdraw, staff links,
// attendance, the record of the hearing, moving and cancelling).
import { t } from "../i18n.js";
import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { chinaDate, chinaLocalToIso, formatDateTime, isoToChinaLocal, label } from "../format.js";
import { actionForm, field, valueOf } from "../forms.js";
import { announce, withErrorAnnounced } from "../frame.js";
import { facts, tableHead } from "../views.js";
import { sessionIsOpen } from "../vocabularies.js";
import { printInvitation } from "./printing.js";
import { hearingRecord } from "./hearing-record.js";

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t("copied"));
  } catch {
    announce(t("copy_failed"), "error");
  }
}

/** How one participant joins: a party's invitation (link, QR code), or the staff link. */
function howToJoin(detail, p, staffLink, reload) {
  if (!["party", "observer"].includes(p.kind)) {
    return h("div", { class: "invitation" },
      h("input", { readonly: true, value: staffLink, class: "link-field staff-link", dataset: { participantKind: p.kind }, "aria-label": t("staff_link_for", { name: p.display_name }) }),
      h("button", { type: "button", class: "small", onclick: () => copy(staffLink) }, t("copy_link")),
      h("span", { class: "hint" }, t("staff_link_hint")));
  }
  if (!p.invitation) return h("span", { class: "hint" }, t("no_live_invitation"));
  return h("div", { class: "invitation" },
    h("input", { readonly: true, value: p.invitation.link, class: "link-field", "aria-label": t("invitation_link_for", { name: p.display_name }) }),
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "small", onclick: () => copy(p.invitation.link) }, t("copy_link")),
      h("button", { type: "button", class: "small", onclick: () => printInvitation(detail, p) }, t("print_invitation")),
      sessionIsOpen(detail) ? h("button", { type: "button", class: "small danger", onclick: withErrorAnnounced(async () => {
        if (!confirm(t("revoke_confirm", { name: p.display_name }))) return;
        await api(`/invitations/${p.invitation.id}/revoke`, { method: "POST" });
        announce(t("invitation_revoked_note"));
        reload();
      }) }, t("revoke_invitation")) : null),
    h("img", { class: "qr", alt: t("qr_for", { name: p.display_name }), src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.invitation.qr_svg)}` }),
  );
}

export async function sessionPage(view, id) {
  const detail = await api(`/sessions/${id}`);
  const caseFile = await api(`/cases/${detail.case.id}`);
  const reload = () => sessionPage(view, id);
  const record = await hearingRecord(detail, caseFile.parties, reload);
  const staffLink = `${location.origin}/join.html?session=${detail.id}`;
  const open = sessionIsOpen(detail);
  const people = detail.participants.map((p) => h("tr", { dataset: { participantId: p.id } },
    h("td", {}, p.relation ? `${p.display_name}（${p.relation}）` : p.display_name), h("td", {}, label("kind", p.kind)), h("td", {}, howToJoin(detail, p, staffLink, reload))));
  const inviteObserver = open ? actionForm({ id: "observer-form", class: "subpanel" }, [
    h("h3", {}, t("invite_observer")),
    h("p", { class: "hint" }, t("invite_observer_hint")),
    field("observer_name", { name: "name", required: true, maxlength: 100 }),
    field("observer_relation", { name: "relation", required: true, maxlength: 40, list: "relations" }),
    h("datalist", { id: "relations" }, ...["亲属", "邻居", "村老", "村干部", "翻译"].map((value) => h("option", { value }))),
  ], "invite_observer", async (element) => {
    await api(`/sessions/${id}/observers`, { method: "POST", body: { name: valueOf(element, "name"), relation: valueOf(element, "relation") } });
    announce(t("observer_invited_note"));
    reload();
  }) : null;
  const attendance = detail.attendance.map((a) => {
    const who = detail.participants.find((p) => p.id === a.participant_id)?.display_name || "—";
    return h("li", {}, `${who}：${formatDateTime(a.joined_at)} – ${a.left_at ? formatDateTime(a.left_at) : t("still_in_room")}`);
  });
  const reschedule = detail.state === "planned" ? actionForm({ id: "reschedule-form", class: "subpanel" }, [
    h("h3", {}, t("reschedule")),
    field("planned_start", { name: "planned_start", type: "datetime-local", required: true, value: isoToChinaLocal(new Date(detail.planned_start)) }, "china_time_hint"),
    field("planned_minutes", { name: "planned_minutes", type: "number", min: 5, max: 480, value: detail.planned_minutes }),
    field("reason", { name: "reason" }),
  ], "reschedule", async (element) => {
    await api(`/sessions/${id}`, { method: "PATCH", body: { planned_start: chinaLocalToIso(valueOf(element, "planned_start")), planned_minutes: Number(valueOf(element, "planned_minutes")), reason: valueOf(element, "reason") } });
    announce(t("saved"));
    reload();
  }) : null;
  const cancel = open ? actionForm({ id: "cancel-form", class: "subpanel" }, [
    h("h3", {}, t("cancel_session")),
    field("reason", { name: "reason", required: true }),
  ], "cancel_session", async (element) => {
    await api(`/sessions/${id}/cancel`, { method: "POST", body: { reason: valueOf(element, "reason") || "" } });
    announce(t("saved"));
    reload();
  }) : null;
  fill(view,
    h("div", { class: "page-head" },
      h("h1", {}, t("session_of", { number: detail.case.case_number })),
      open && detail.mode === "video" ? h("a", { class: "button primary big", id: "enter-room", href: `/join.html?session=${detail.id}` }, t("enter_room")) : null),
    h("section", { class: "panel" }, facts([
      ["case_number", h("a", { href: `#case/${detail.case.id}` }, detail.case.case_number)],
      ["village", detail.case.village_name],
      ["planned_time", `${formatDateTime(detail.planned_start)}（${t("minutes", { n: detail.planned_minutes })}）`],
      ["mode", label("mode", detail.mode)],
      ["state", label("session_state", detail.state)],
      ["actual_start", detail.actual_start ? formatDateTime(detail.actual_start) : null],
      ["actual_end", detail.actual_end ? formatDateTime(detail.actual_end) : null],
    ])),
    h("section", { class: "panel", "aria-labelledby": "participants-title" },
      h("h2", { id: "participants-title" }, t("participants_and_links")),
      h("table", { class: "grid", id: "participants" },
        tableHead(["name", "kind", "how_to_join"]),
        h("tbody", {}, ...people)),
      inviteObserver),
    h("section", { class: "panel", "aria-labelledby": "attendance-title" },
      h("h2", { id: "attendance-title" }, t("attendance")),
      attendance.length ? h("ul", { class: "plain" }, ...attendance) : h("p", { class: "hint" }, t("attendance_none"))),
    ...record,
    reschedule, cancel,
  );
}

export async function sessionsPage(view) {
  const sessions = await api(`/sessions?from=${chinaDate(new Date(Date.now() - 7 * 86400_000))}`);
  fill(view, h("h1", {}, t("nav_sessions")),
    sessions.length === 0 ? h("p", { class: "hint" }, t("sessions_none")) : h("table", { class: "grid" },
      tableHead(["planned_time", "case_number", "village", "category", "state"]),
      h("tbody", {}, ...sessions.map((s) => h("tr", {},
        h("td", {}, h("a", { href: `#session/${s.id}` }, formatDateTime(s.planned_start))), h("td", {}, s.case_number),
        h("td", {}, s.village_name), h("td", {}, label("category", s.category)), h("td", {}, label("session_state", s.state)))))));
}
