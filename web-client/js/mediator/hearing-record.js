// The session page's record of the hearing: each party's decisions on
// mediation by video and the checks of their identity, in order; and the
// transcript (调解笔录) with its confirmations, to edit while the session is
// live or after it, and to print.
import { t } from "../i18n.js";
import { h } from "../dom.js";
import { formatDateTime } from "../format.js";
import { consentWords } from "../hearing.js";
import { loadTranscript, openTranscriptEditor } from "../transcript-editor.js";
import { tableHead } from "../views.js";
import { printTranscript } from "./printing.js";

/** Decisions and checks, oldest first, as rows: when, who, what, how. */
function standingRows(detail, partyName) {
  const rows = [
    ...detail.consents.map((c) => ({ at: c.recorded_at, party: c.party_id, what: consentWords(c.decision, c.publicity), how: t(`consent_method_${c.method}`) })),
    ...detail.identity_checks.map((c) => ({ at: c.checked_at, party: c.party_id, what: t(`identity_${c.method}`), how: "" })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return rows.map((row) => h("tr", {}, h("td", {}, formatDateTime(row.at)), h("td", {}, partyName(row.party)), h("td", {}, row.what), h("td", {}, row.how)));
}

/** The sections of the record; `parties` are the case's ({ id, name }). */
export async function hearingRecord(detail, parties, reload) {
  const partyName = (id) => parties.find((p) => p.id === id)?.name || t("a_party");
  const transcript = await loadTranscript(detail.id, detail);
  const editable = ["live", "ended"].includes(detail.state);
  const editor = h("dialog", { id: "transcript-editor", "aria-labelledby": "transcript-editor-title" });
  const edit = () => openTranscriptEditor(editor, {
    sessionId: detail.id, parties: parties.map((p) => ({ party_id: p.id, name: p.name })), onSaved: reload,
  });
  const current = transcript?.confirmations.filter((c) => c.version === transcript.version && !c.voided_at) || [];
  const confirmedBy = current.map((c) => partyName(c.party_id));
  const standings = standingRows(detail, partyName);
  return [
    h("section", { class: "panel", "aria-labelledby": "standing-title", id: "standing-record" },
      h("h2", { id: "standing-title" }, t("standing_record")),
      standings.length ? h("table", { class: "grid" }, tableHead(["time", "party", "decision_or_check", "how"]), h("tbody", {}, ...standings))
        : h("p", { class: "hint" }, t("standing_none"))),
    h("section", { class: "panel", "aria-labelledby": "transcript-title", id: "transcript-record" },
      h("h2", { id: "transcript-title" }, t("transcript_title")),
      transcript ? [
        h("p", { class: "hint" }, t("transcript_version_line", { version: transcript.version, time: formatDateTime(transcript.saved_at) })),
        h("pre", { class: "agreement-text", tabindex: "0" }, transcript.text),
        h("p", { class: confirmedBy.length ? "ok" : "hint" }, t("transcript_confirmed_by_print", { names: confirmedBy.join("、") || "—" })),
        transcript.awaiting.length ? h("p", { class: "hint", id: "transcript-awaiting" }, t("transcript_awaiting", { names: transcript.awaiting.map(partyName).join("、") })) : null,
      ] : h("p", { class: "hint" }, t("transcript_first_save")),
      h("div", { class: "button-row" },
        editable ? h("button", { type: "button", id: "edit-transcript", onclick: edit }, t("edit_transcript")) : null,
        transcript ? h("button", { type: "button", id: "print-transcript", onclick: () => printTranscript(transcript, confirmedBy) }, t("print")) : null),
      editor),
  ];
}
