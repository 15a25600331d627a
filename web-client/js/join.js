// The join page: a party's invitation link (join.html#t=<token>) or a staff
// member's session link (join.html?session=<id>, signed in). It says what the
// session is in plain words, asks a party for their decision on mediation by
// video (the consent notice), runs the device check, waits in the lobby and
// then shows the room; at the end it says why, and takes a mediator to the
// outcome form.
import { t } from "./i18n.js";
import { ApiError, api, describeError, staffToken } from "./api.js";
import { $, fill, h } from "./dom.js";
import { formatDateTime, label } from "./format.js";
import { requireStaff, setUpFrame } from "./frame.js";
import { deviceCheck, openDevices } from "./devices.js";
import { Call, hasStoredPlace } from "./call.js";
import { RoomScreen } from "./room.js";
import { consentForm, consentWords, loadNotice } from "./hearing.js";

const invitationToken = new URLSearchParams(location.hash.slice(1)).get("t");
const sessionParam = new URLSearchParams(location.search).get("session");

const page = { view: "loading", summary: null, problem: null, stream: null, call: null, screen: null, ended: null };

function main() {
  return $("main");
}

/** What the page shows, redrawn on every step and language switch. */
function render() {
  switch (page.view) {
    case "problem":
      return renderProblem();
    case "summary":
      return renderSummary();
    case "lobby":
      return renderLobby();
    case "room":
      return page.screen?.relabel();
    case "connecting":
      return fill(main(), h("p", { class: "big-text", role: "status" }, t("joining")));
    case "ended":
      return renderEnded();
    default:
      return undefined;
  }
}

function problemText(error) {
  if (typeof error === "string") return t(error);
  if (error instanceof ApiError) {
    switch (error.code) {
      case "invitation_not_yet_valid":
        return t("invitation_not_yet_valid");
      case "invitation_expired":
      case "invitation_revoked":
      case "invitation_invalid":
      case "unauthorized":
        return t("invitation_dead");
      case "session_closed":
        return t("session_closed");
      case "not_found":
      case "forbidden":
        return t("session_not_yours");
      default:
        return describeError(error);
    }
  }
  return t("error_unexpected");
}

function renderProblem() {
  fill(main(),
    h("section", { class: "panel", role: "alert" },
      h("h1", {}, t("join_problem_title")),
      h("p", { class: "big-text" }, problemText(page.problem)),
      h("button", { type: "button", onclick: () => location.reload() }, t("try_again")),
    ),
  );
}

/** The session in plain words for whoever opened the link. */
function summaryLines() {
  const s = page.summary;
  return [
    [t("case_number"), s.caseNumber],
    [t("dispute_kind"), label("category", s.category)],
    [t("village"), s.village],
    [t("office"), s.office],
    [t("planned_time"), `${formatDateTime(s.plannedStart)}（${t("minutes", { n: s.plannedMinutes })}）`],
    [t("taking_part"), s.takingPart.join("、")],
  ];
}

/** A party's decision before the device check: the notice, or what they decided. */
function decisionPanel() {
  const s = page.summary;
  if (s.consent === "consent") {
    return h("section", { class: "panel", id: "consent-given" },
      h("p", { class: "ok" }, t("consent_given_note", { words: consentWords(s.consent, s.publicity) })),
      h("button", { type: "button", class: "link-button", id: "withdraw-before", onclick: () => decide({ decision: "withdraw" }) }, t("withdraw_consent")),
    );
  }
  if (s.consent === "refuse" && !page.reconsidering) {
    return h("section", { class: "panel", id: "consent-refused", role: "status" },
      h("h2", {}, t("consent_refused_title")),
      h("p", { class: "big-text" }, t("consent_refused_text")),
      h("button", { type: "button", id: "reconsider", onclick: () => { page.reconsidering = true; render(); } }, t("consent_change_mind")),
    );
  }
  return consentForm(page.notice, { idPrefix: "party", onDecide: decide });
}

/** Records the party's own decision, then shows what follows from it. */
async function decide(decision) {
  try {
    const body = decision.decision === "withdraw" ? { ...decision, notice_version: page.notice.version } : decision;
    const recorded = await api("/invitation/consent", { method: "POST", token: invitationToken, body });
    page.summary.consent = recorded.decision;
    page.summary.publicity = recorded.publicity;
    page.reconsidering = false;
    render();
  } catch (error) {
    alert(describeError(error));
  }
}

function renderSummary() {
  const s = page.summary;
  if (s.decides && s.consent !== "consent") {
    fill(main(), summarySection(), decisionPanel());
    return;
  }
  // Kept across language switches: the devices stay open, the check is not restarted.
  const fresh = !page.deviceBox;
  page.deviceBox ??= h("div", { id: "device-box" });
  const deviceBox = page.deviceBox;
  fill(main(), summarySection(), s.decides ? decisionPanel() : null, deviceBox);
  if (!fresh) return;
  if (hasStoredPlace(s.sessionId)) {
    // The page was reloaded during the session (F5 at a station): the
    // devices were checked before; take the place back at once.
    openDevices().then(({ stream }) => startCall(stream));
    return;
  }
  const joinLabel = s.role === "mediator" ? t("enter_room") : t("enter_lobby");
  deviceCheck(deviceBox, { joinLabel }).then((stream) => startCall(stream));
}

function summarySection() {
  const s = page.summary;
  return h("section", { class: "panel summary", "aria-labelledby": "summary-title" },
    h("h1", { id: "summary-title" }, t("hello_name", { name: s.name })),
    h("p", { class: "big-text" }, s.role === "observer" ? t("observer_invited", { office: s.office }) : s.isParty ? t("party_invited", { office: s.office }) : t("staff_invited")),
    h("dl", { class: "facts" }, ...summaryLines().flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    s.isParty ? h("p", { class: "hint" }, t("party_privacy_note")) : null,
  );
}

async function load() {
  try {
    if (invitationToken) {
      const [invitation, notice] = await Promise.all([api("/invitation", { token: invitationToken }), loadNotice()]);
      page.notice = notice;
      page.summary = {
        isParty: true,
        role: invitation.your_part,
        decides: invitation.your_part === "party",
        token: invitationToken,
        sessionId: invitation.session_id,
        name: invitation.your_name,
        caseNumber: invitation.case_number,
        category: invitation.category,
        village: invitation.village_name,
        office: invitation.office_name,
        plannedStart: invitation.planned_start,
        plannedMinutes: invitation.planned_minutes,
        takingPart: invitation.taking_part,
        consent: invitation.consent,
        publicity: invitation.publicity,
      };
    } else if (sessionParam) {
      const me = await requireStaff(["mediator", "station", "adviser", "district_admin", "admin"]);
      const detail = await api(`/sessions/${encodeURIComponent(sessionParam)}`);
      const mine = detail.participants.find((p) => p.account_id === me.id);
      if (!mine) throw new ApiError(403, "forbidden", "not on this session");
      const caseFile = ["mediator", "station"].includes(mine.kind) ? await api(`/cases/${detail.case.id}`) : null;
      page.summary = {
        isParty: false,
        role: mine.kind,
        token: staffToken(),
        sessionId: detail.id,
        caseId: detail.case.id,
        parties: caseFile?.parties.map((party) => ({ id: party.id, name: party.name })),
        name: me.display_name,
        caseNumber: detail.case.case_number,
        category: detail.case.category,
        village: detail.case.village_name,
        office: caseFile?.case.office_name || "",
        plannedStart: detail.planned_start,
        plannedMinutes: detail.planned_minutes,
        takingPart: detail.participants.map((p) => p.display_name),
      };
      if (detail.state === "ended" || detail.state === "cancelled") throw new ApiError(410, "session_closed", detail.state);
    } else {
      throw "join_no_link";
    }
    page.view = "summary";
  } catch (error) {
    page.problem = error;
    page.view = "problem";
  }
  render();
}

function startCall(stream) {
  page.stream = stream;
  page.view = "connecting";
  fill(main(), h("p", { class: "big-text", role: "status" }, t("joining")));
  const call = new Call({ token: page.summary.token, sessionId: page.summary.sessionId, localStream: stream });
  page.call = call;
  window.mediationCall = call;
  call.addEventListener("message", (event) => {
    if (event.detail.type !== "camera_viewed") return;
    page.viewedBy = event.detail.viewing ? event.detail.by : null;
    if (page.view === "lobby") renderLobby();
  });
  call.addEventListener("state", (event) => {
    const { state } = event.detail;
    if (state === "lobby") {
      page.screen?.dispose();
      page.screen = null;
      page.view = "lobby";
      renderLobby();
    } else if (state === "joined" && page.view !== "room") {
      page.view = "room";
      fill(main());
      page.screen = new RoomScreen(main(), call, {
        caseId: page.summary.caseId,
        caseNumber: page.summary.caseNumber,
        parties: page.summary.parties,
      });
      window.mediationRoom = page.screen;
    } else if (state === "ended") {
      page.screen?.dispose();
      page.ended = event.detail;
      page.view = "ended";
      stream?.getTracks().forEach((track) => track.stop());
      renderEnded();
    } else if (state === "reconnecting" && page.view === "lobby") {
      renderLobby();
    }
  });
  call.start();
}

function renderLobby() {
  const preview = h("video", { class: "preview", autoplay: true, muted: true, playsinline: true, "aria-label": t("camera_preview") });
  preview.srcObject = page.stream;
  const reconnecting = page.call?.state === "reconnecting";
  fill(main(),
    h("section", { class: "panel lobby", id: "lobby", "aria-live": "polite" },
      h("h1", {}, t("lobby_wait_title")),
      h("p", { class: "big-text" }, reconnecting ? t("banner_reconnecting") : t("lobby_wait_text")),
      page.summary.decides ? h("p", { class: page.viewedBy ? "ok big-text" : "hint", id: "lobby-id-check", role: "status" },
        page.viewedBy ? t("lobby_camera_viewed", { name: page.viewedBy }) : t("lobby_id_card_ready")) : null,
      preview,
      h("button", { type: "button", onclick: () => page.call.leave() }, t("leave_lobby")),
    ),
  );
}

const ENDED_TEXT = {
  session_ended: "ended_session",
  refused: "ended_refused",
  removed: "ended_removed",
  left: "ended_left",
  close_4000: "ended_replaced",
  room_full: "ended_room_full",
  room_locked: "ended_room_locked",
  session_closed: "session_closed",
  unauthorized: "invitation_dead",
  invitation_not_yet_valid: "invitation_not_yet_valid",
  not_on_session: "session_not_yours",
  connection_lost: "ended_connection_lost",
};

/** The server's fixed reasons for sending someone out (protocol 5.9), as translation keys. */
const SERVER_REASONS = {
  "the invitation was withdrawn": "reason_invitation_withdrawn",
  "the session was moved; open the new invitation link": "reason_session_moved",
  "the account was deactivated": "reason_account_deactivated",
  "the account's password was reset; sign in again": "reason_password_reset",
  "you withdrew your consent: the mediation has stopped for you": "reason_consent_withdrawn",
};

function renderEnded() {
  const { code } = page.ended || {};
  const withdrawn = SERVER_REASONS[page.ended?.reason] === "reason_consent_withdrawn";
  const key = withdrawn ? "ended_consent_withdrawn" : ENDED_TEXT[code] || "ended_other";
  // A mediator's own words are shown as written; the server's fixed ones are translated.
  const reason = SERVER_REASONS[page.ended?.reason] ? t(SERVER_REASONS[page.ended.reason]) : page.ended?.reason;
  const showReason = ["refused", "removed"].includes(code) && reason && reason !== code;
  const mediatorAfterEnd = page.summary.role === "mediator" && page.summary.caseId;
  fill(main(),
    h("section", { class: "panel", id: "ended", role: "status" },
      h("h1", {}, t(key)),
      showReason ? h("p", { class: "big-text" }, t("reason_was", { reason })) : null,
      ["left", "connection_lost", "close_4000", "room_locked", "room_full", "refused", "removed"].includes(code)
        ? h("button", { type: "button", class: "primary", onclick: () => location.reload() }, t("join_again")) : null,
      mediatorAfterEnd ? h("a", { class: "button primary", id: "to-outcome", href: `/mediator.html#case/${page.summary.caseId}/outcome` }, t("record_outcome")) : null,
      !page.summary.isParty ? h("a", { class: "button", href: "/index.html" }, t("back_to_work")) : null,
    ),
  );
  if (mediatorAfterEnd && code === "session_ended") location.assign(`/mediator.html#case/${page.summary.caseId}/outcome`);
}

setUpFrame(render);
load();
// Another link pasted into the same tab: start over with it.
window.addEventListener("hashchange", () => location.reload());
