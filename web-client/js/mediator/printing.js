// Printing from the mediator's workspace through a hidden frame: the written
// agreement as the server lays it out, a party's invitation letter with its
// link and QR code, and the transcript of a hearing.
import { t } from "../i18n.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDateTime } from "../format.js";
import { withErrorAnnounced } from "../frame.js";

/** Prints an HTML document through a hidden frame. */
function printHtml(html) {
  const frame = h("iframe", { class: "print-frame", title: t("print"), "aria-hidden": "true" });
  document.body.append(frame);
  frame.srcdoc = html;
  frame.addEventListener("load", () => {
    frame.contentWindow.focus();
    frame.contentWindow.print();
    setTimeout(() => frame.remove(), 60_000);
  });
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export const printAgreement = withErrorAnnounced(async (caseId) => {
  printHtml(await api(`/cases/${caseId}/agreement/document`, { accept: "text/html" }));
});

/** The invitation letter of `participant` (a party) to the session `detail`. */
export function printInvitation(detail, participant) {
  const link = participant.invitation.link;
  printHtml(`<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>${escapeHtml(t("invitation"))}</title>
<body style="font-family:sans-serif;font-size:16pt;max-width:170mm;margin:20mm auto">
<h1>${escapeHtml(t("invitation_print_title"))}</h1>
<p>${escapeHtml(t("hello_name", { name: participant.display_name }))}</p>
<p>${escapeHtml(t("invitation_print_text", { number: detail.case.case_number, time: formatDateTime(detail.planned_start) }))}</p>
<div style="width:70mm">${participant.invitation.qr_svg}</div>
<p style="word-break:break-all;font-size:10pt">${escapeHtml(link)}</p>
<p>${escapeHtml(t("invitation_print_note"))}</p></body></html>`);
}

/** The transcript of a hearing as its text reads, with who confirmed it. */
export function printTranscript(transcript, confirmedBy) {
  printHtml(`<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>${escapeHtml(t("transcript_title"))}</title>
<body style="font-family:sans-serif;font-size:13pt;max-width:170mm;margin:20mm auto">
<pre style="white-space:pre-wrap;font-family:inherit">${escapeHtml(transcript.text)}</pre>
<p>${escapeHtml(t("transcript_confirmed_by_print", { names: confirmedBy.join("、") || "—" }))}</p>
<p style="font-size:9pt">SHA-256: ${escapeHtml(transcript.text_sha256)}</p></body></html>`);
}
