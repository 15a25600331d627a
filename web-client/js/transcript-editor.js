// The mediator's form for the transcript of a hearing (调解笔录): each party's
// statement, the facts both sides accept, the mediator's notes and an oral
// agreement's terms; saved through the API as a new version (the version it
// started from travels with it, so two editors cannot overwrite each other),
// then shown in the room for the parties to confirm.
import { t } from "./i18n.js";
import { api, describeError } from "./api.js";
import { $, fill, h } from "./dom.js";
import { announce } from "./frame.js";

/** The saved transcript, or null before the first save (the session says which). */
export async function loadTranscript(sessionId, detail) {
  const session = detail ?? await api(`/sessions/${sessionId}`);
  return session.transcript_version ? api(`/sessions/${sessionId}/transcript`) : null;
}

function field(id, label, value, rows = 3) {
  return h("div", { class: "field" }, h("label", { for: id }, label), h("textarea", { id, rows, maxlength: 5000 }, value || ""));
}

/**
 * Opens the editor in `dialog` for the session's transcript; `parties` are
 * the case's parties ({ party_id, name }); `onSaved(transcript)` after a save.
 */
export async function openTranscriptEditor(dialog, { sessionId, parties, onSaved }) {
  let saved;
  try {
    saved = await loadTranscript(sessionId);
  } catch (error) {
    announce(describeError(error), "error");
    return;
  }
  const statementOf = (partyId) => saved?.statements.find((s) => s.party_id === partyId)?.statement;
  const problem = h("p", { class: "device-problem", role: "alert", hidden: true });
  const form = h("form", { id: "transcript-form", onsubmit: async (event) => {
    event.preventDefault();
    const statements = parties
      .map((party) => ({ party_id: party.party_id, statement: $(`statement-${party.party_id}`).value.trim() }))
      .filter((s) => s.statement);
    const oral = $("transcript-oral").value.trim();
    try {
      saved = await api(`/sessions/${sessionId}/transcript`, { method: "PUT", body: {
        expected_version: saved?.version ?? null,
        statements,
        agreed_facts: $("transcript-facts").value,
        mediator_notes: $("transcript-notes").value,
        ...(oral ? { oral_terms: oral } : {}),
      } });
      dialog.close();
      announce(t("transcript_saved", { version: saved.version }));
      onSaved?.(saved);
    } catch (error) {
      problem.textContent = describeError(error);
      problem.hidden = false;
    }
  } },
    ...parties.map((party) => field(`statement-${party.party_id}`, t("transcript_statement_of", { name: party.name }), statementOf(party.party_id))),
    field("transcript-facts", t("transcript_facts"), saved?.agreed_facts),
    field("transcript-notes", t("transcript_notes"), saved?.mediator_notes),
    field("transcript-oral", t("transcript_oral_terms"), saved?.oral_terms, 2),
    problem,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "submit", class: "primary", id: "transcript-save" }, t("save")),
      h("button", { type: "button", id: "transcript-editor-close", onclick: () => dialog.close() }, t("close"))),
  );
  fill(dialog,
    h("h2", { id: "transcript-editor-title" }, t("transcript_editor_title")),
    h("p", { class: "hint" }, saved ? t("transcript_editing_version", { version: saved.version, awaiting: saved.awaiting.length }) : t("transcript_first_save")),
    form);
  if (!dialog.open) dialog.showModal();
}
