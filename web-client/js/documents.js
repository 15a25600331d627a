// The documents a mediator shows in the room for the parties to confirm:
// the written agreement (人民调解协议书) and the transcript (调解笔录). Each
// has its dialog with the exact text and its hash; a party confirms for
// themself, a station for each party it seats; everyone sees who has
// confirmed. The room screen passes the messages on and asks for the dialogs.
import { t } from "./i18n.js";
import { h, fill } from "./dom.js";
import { announce } from "./frame.js";

/** What differs between the two documents: message types, ids and texts. */
const KINDS = {
  agreement: {
    confirmType: "confirm_agreement",
    title: "agreement_dialog_title",
    hint: "agreement_dialog_hint",
    confirmSelf: "confirm_agreement_self",
    confirmFor: "confirm_for",
    youConfirmed: "you_confirmed",
  },
  transcript: {
    confirmType: "confirm_transcript",
    title: "transcript_dialog_title",
    hint: "transcript_dialog_hint",
    confirmSelf: "confirm_transcript_self",
    confirmFor: "confirm_transcript_for",
    youConfirmed: "you_confirmed_transcript",
  },
};

export class DocumentDialogs {
  /**
   * @param screen the room screen: `call`, `partiesPresent` (a Set) and
   *   `partyName(id)`; `errorText(error)` words a refused request.
   */
  constructor(screen, errorText) {
    this.screen = screen;
    this.errorText = errorText;
    this.shown = {};
    this.dialogs = Object.fromEntries(Object.keys(KINDS).map((kind) => [kind, h("dialog", { id: `${kind}-dialog`, "aria-labelledby": `${kind}-title` })]));
  }

  elements() {
    return Object.values(this.dialogs);
  }

  /** The kinds pushed so far, for the buttons that show them again. */
  kinds() {
    return Object.keys(this.shown);
  }

  pushed(kind, message) {
    this.shown[kind] = { ...message, confirmed: new Set(), selfConfirmed: false };
    this.show(kind);
  }

  confirmed(kind, partyId, effective = false) {
    const document = this.shown[kind];
    if (!document) return;
    document.confirmed.add(partyId);
    document.effective = effective;
    this.show(kind);
  }

  /** Redraws the open dialogs (a language switch). */
  relabel() {
    for (const kind of this.kinds()) if (this.dialogs[kind].open) this.show(kind);
  }

  show(kind) {
    const document = this.shown[kind];
    const texts = KINDS[kind];
    const dialog = this.dialogs[kind];
    const { call, partiesPresent } = this.screen;
    const name = (partyId) => this.screen.partyName(partyId);
    const confirm = (partyId) => async () => {
      try {
        await call.request({ type: texts.confirmType, text_sha256: document.text_sha256, ...(partyId ? { party_id: partyId } : {}) });
        if (!partyId) {
          document.selfConfirmed = true;
          this.show(kind);
        }
      } catch (error) {
        announce(this.errorText(error), "error");
      }
    };
    const buttons = [];
    if (call.role === "party" && !document.selfConfirmed && !document.effective) {
      buttons.push(h("button", { type: "button", class: "primary big", id: `confirm-${kind}`, onclick: confirm(null) }, t(texts.confirmSelf)));
    }
    if (call.role === "station") {
      for (const partyId of partiesPresent) {
        const done = document.confirmed.has(partyId);
        buttons.push(h("button", {
          type: "button", class: "primary big confirm-for", dataset: { partyId }, disabled: done, onclick: confirm(partyId),
        }, done ? t("confirmed_for", { name: name(partyId) }) : t(texts.confirmFor, { name: name(partyId) })));
      }
      if (partiesPresent.size === 0) buttons.push(h("p", { class: "device-problem" }, t("present_first")));
    }
    const confirmedNames = [...document.confirmed].map(name);
    fill(dialog,
      h("h2", { id: `${kind}-title` }, t(texts.title, { number: document.case_number, version: document.version })),
      h("p", { class: "hint" }, t(texts.hint)),
      h("pre", { class: "agreement-text", tabindex: "0" }, document.text),
      h("p", { class: "hash" }, `SHA-256: ${document.text_sha256}`),
      document.selfConfirmed ? h("p", { class: "ok big-text", id: `${kind}-self-confirmed` }, t(texts.youConfirmed)) : null,
      confirmedNames.length ? h("p", { class: "ok", id: `${kind}-confirmations` }, t("confirmed_by", { names: confirmedNames.join("、") })) : null,
      document.effective ? h("p", { class: "ok big-text" }, t("agreement_effective")) : null,
      h("div", { class: "dialog-buttons" }, ...buttons,
        h("button", { type: "button", id: `${kind}-close`, onclick: () => dialog.close() }, t("close"))),
    );
    if (!dialog.open) dialog.showModal();
  }
}
