// Before the hearing, in the browser: the consent notice (the server's text,
// whose version a decision names), the form in which a party, or a station's
// attendant for a party sitting with them, decides on mediation by video,
// and the panel of the parties' standing in the room (consent, identity
// check, where each takes part) with the mediator's and the station's
// actions on it.
import { currentLanguage, t } from "./i18n.js";
import { api } from "./api.js";
import { h } from "./dom.js";
import { PUBLICITIES } from "./vocabularies.js";

let noticeRequest = null;

/** The consent notice, fetched once per page. */
export function loadNotice() {
  noticeRequest ??= api("/consent-notice", { token: null });
  return noticeRequest;
}

/**
 * The notice and the choice: `onDecide({ decision, publicity?, notice_version })`
 * is called with the party's answer. `forName` names the party when an
 * attendant reads it to them.
 */
export function consentForm(notice, { idPrefix, forName, onDecide }) {
  const text = currentLanguage() === "en" ? notice.en : notice.zh_cn;
  const name = `${idPrefix}-publicity`;
  const choices = PUBLICITIES.map((value) => h("label", { class: "check big" },
    h("input", { type: "radio", name, id: `${name}-${value}`, value, checked: value === "non_public" }), t(`publicity_${value}`)));
  const form = h("section", { class: "panel consent", id: `${idPrefix}-notice`, "aria-labelledby": `${idPrefix}-notice-title` },
    h("h2", { id: `${idPrefix}-notice-title` }, text.title),
    forName ? h("p", { class: "big-text" }, t("consent_read_to", { name: forName })) : null,
    ...text.paragraphs.map((paragraph) => h("p", {}, paragraph)),
    h("fieldset", {}, h("legend", {}, text.publicity_question), ...choices),
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "primary big", id: `${idPrefix}-consent`, onclick: () => decide("consent") }, t("consent_yes")),
      h("button", { type: "button", class: "big", id: `${idPrefix}-refuse`, onclick: () => decide("refuse") }, t("consent_no")),
    ),
  );
  function decide(decision) {
    const publicity = form.querySelector(`input[name=${name}]:checked`)?.value;
    onDecide({ decision, notice_version: notice.version, ...(decision === "consent" ? { publicity } : {}) });
  }
  return form;
}

/** A party's decision in words: 已同意（不公开调解）, 不同意, 已撤回同意, 尚未表态. */
export function consentWords(consent, publicity) {
  if (!consent) return t("consent_state_none");
  const words = t(`consent_state_${consent}`);
  return publicity ? `${words}（${t(`publicity_${publicity}`)}）` : words;
}

function identityWords(party) {
  return party.identity_checked ? t(`identity_${party.identity_checked}`) : t("identity_unchecked");
}

/** Who a party takes part through, as the room knows them. */
function whereWords(party, room, me) {
  if (!party.present_with) return t("party_not_here");
  if (party.present_with === me) return t("party_here_with_you");
  const through = [...room.participants, ...(room.lobby || [])].find((p) => p.participant_id === party.present_with);
  if (!through) return t("party_not_here");
  return through.role === "party" ? t("party_own_device") : t("party_at", { name: through.display_name });
}

/**
 * The case's parties with their standing, for the mediator and the station.
 * `actions(party)` gives the buttons and boxes beside each party.
 */
export function partiesPanel(room, me, actions) {
  const parties = room.parties || [];
  return h("section", { class: "tool", id: "parties-panel", "aria-labelledby": "parties-title" },
    h("h3", { id: "parties-title" }, t("parties_title")),
    h("ul", { class: "people standings" }, ...parties.map((party) => h("li", { dataset: { partyId: party.party_id } },
      h("strong", {}, party.name),
      h("span", { class: "standing", dataset: { consent: party.consent || "none" } }, consentWords(party.consent, party.publicity)),
      h("span", { class: "standing", dataset: { identity: party.identity_checked || "none" } }, identityWords(party)),
      h("span", { class: "hint" }, whereWords(party, room, me)),
      h("span", { class: "actions" }, ...actions(party)),
    ))),
  );
}

/** The mediator's check of a party's ID card held to the camera, once confirmed. */
export function checkOnCamera(party) {
  const masked = party.id_number_masked || t("id_number_not_registered");
  return confirm(t("identity_check_confirm", { name: party.name, masked }));
}

/** The station attendant's word that they saw the party's ID card. */
export function attestAtStation(party) {
  const masked = party.id_number_masked || t("id_number_not_registered");
  return confirm(t("identity_attest_confirm", { name: party.name, masked }));
}
