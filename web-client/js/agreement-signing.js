// The written agreement's requests that the case file and the room share:
// the mediator signing the text they see.
import { api } from "./api.js";

/**
 * Signs the case's agreement as its mediator, for the text whose SHA-256 is
 * `textSha256` (the current text's when not given).
 */
export async function signAgreementAsMediator(caseId, textSha256) {
  const hash = textSha256 ?? (await api(`/cases/${caseId}/agreement`)).text_sha256;
  await api(`/cases/${caseId}/agreement/confirmations`, {
    method: "POST",
    body: { signer: "mediator", method: "video_room", text_sha256: hash },
  });
}
