// A party on their own phone (a phone-sized screen): the invitation link from the session page,
// the plain-words summary with their name, the consent notice (refused, then
// agreed to), the device check, the lobby, admission, two-way video and sound
// with the mediator, the ID card checked on camera, the transcript written,
// shown and confirmed, the agreement shown and confirmed by the party
// themself ("video_room"), the party stopping the mediation for themself, and
// the record on the session page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually, personPage, registerCase, restAs, screenshot, seesAndHears, serverAndBrowserForFile, signInThroughPage } from "./harness.mjs";

// Over HTTPS, as a party's phone opens the invitation link: the phone trusts the
// town authority through its certificate store.
const running = serverAndBrowserForFile({ https: true });

test("a party joins from the invitation link and confirms the agreement", async () => {
  const rest = await restAs(running.server.url, "mediator1");
  const caseId = (await registerCase(rest, {
    village: "哈喇村", category: "damages", source: "own_initiative", summary: "羊群啃食麦苗",
    parties: [{ name: "孙大娘", side: "applicant", phone: "13800000011" }, { name: "周老汉", side: "respondent" }],
  })).id;
  const file = await rest.get(`/cases/${caseId}`);
  const party = file.parties.find((p) => p.name === "孙大娘");
  await rest.put(`/cases/${caseId}/agreement`, {
    facts: "周家羊群进入孙家麦田", responsibilities: "周家看管不严", terms: "周家赔偿麦苗损失三百元", performance_manner: "现金当面交付",
    performance_deadline: new Date(Date.now() + 10 * 86400_000).toISOString().slice(0, 10),
  });
  const session = await rest.post(`/cases/${caseId}/sessions`, {
    planned_start: new Date(Date.now() + 5 * 60_000).toISOString(), planned_minutes: 30, mode: "video", party_ids: [party.id],
  });

  // The mediator reads the link off the session page, as they would to send it.
  const mediator = await personPage(running.browser, running.server.url);
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await mediator.goto(`/mediator.html#session/${session.id}`);
  const link = await mediator.locator("#participants .link-field:not(.staff-link)").inputValue();
  assert.match(link, /\/join\.html#t=/);
  assert.equal(await mediator.locator("#participants img.qr").count(), 1, "the link comes with a QR code");

  // The party opens it: their name and the case in plain words, then the device check.
  const phone = await personPage(running.browser, running.server.url, { phone: true });
  await phone.goto(link);
  await phone.locator("h1", { hasText: "您好，孙大娘" }).waitFor();
  assert.ok((await phone.locator(".facts").textContent()).includes("损害赔偿"), "the kind of dispute is named");
  // The notice first: voluntary, what is done with their data. They say no,
  // change their mind, and agree to public mediation.
  await phone.locator("#party-notice", { hasText: "自愿" }).waitFor();
  await phone.locator("#party-notice").evaluate((notice) => notice.scrollIntoView({ block: "start" }));
  await screenshot(phone, "party-consent", { keepScroll: true });
  assert.equal(await phone.locator("#device-join").count(), 0, "no device check before the decision");
  await phone.locator("#party-refuse").click();
  await phone.locator("#consent-refused").waitFor();
  await phone.locator("#reconsider").click();
  await phone.locator("#party-publicity-public").check();
  await phone.locator("#party-consent").click();
  await phone.locator("#consent-given", { hasText: "公开调解" }).waitFor();
  await phone.locator("#device-join:not([disabled])").click();
  await phone.locator("#lobby").waitFor();

  await mediator.locator("#enter-room").click();
  await mediator.locator("#device-join:not([disabled])").click();
  const waiting = mediator.locator("#lobby-panel li[data-participant-id]");
  await waiting.first().waitFor();
  assert.ok((await waiting.first().textContent()).includes("孙大娘"));
  assert.ok((await waiting.first().textContent()).includes("已同意在线调解（公开调解）"), "the mediator sees the party's decision");
  assert.equal(await waiting.first().locator("button.admit").isDisabled(), true, "not admitted before the ID card is checked");

  // In the lobby the mediator views the party's camera; the party is told to
  // hold up their ID card; the mediator compares it with the registered name
  // and masked number, records the check, and admits them.
  const entryId = await waiting.first().getAttribute("data-participant-id");
  await mediator.locator(`#view-camera-${entryId}`).click();
  await phone.locator("#lobby-id-check", { hasText: "正在查看您的摄像头" }).waitFor();
  await eventually("the party's camera in the mediator's lobby", () => mediator.evaluate((id) => {
    const video = document.getElementById(`lobby-video-${id}`);
    return (video?.getVideoPlaybackQuality().totalVideoFrames || 0) > 3;
  }, entryId), 20_000);
  await screenshot(mediator, "lobby-id-check");
  mediator.on("dialog", (question) => question.accept());
  await mediator.locator(`#lobby-check-${party.id}`).click();
  await mediator.locator(`#parties-panel li[data-party-id="${party.id}"] .standing[data-identity=id_card_on_camera]`).waitFor();
  await waiting.first().locator("button.admit:not([disabled])").click();

  await seesAndHears(phone, ["mediator"], "the party");
  await seesAndHears(mediator, ["party"], "the mediator");
  await screenshot(phone, "party-phone");

  // The mediator writes the transcript as the party speaks, and shows it; the party confirms it.
  await mediator.locator("#edit-transcript").click();
  await mediator.locator(`#statement-${party.id}`).fill("羊群把我家麦苗啃了一大片。");
  await mediator.locator("#transcript-facts").fill("周家羊群进入孙家麦田。");
  await mediator.locator("#transcript-notes").fill("双方同意按三百元赔偿。");
  await mediator.locator("#transcript-save").click();
  await mediator.locator("#status-line", { hasText: "第 1 版" }).waitFor();
  await mediator.locator("#push-transcript").click();
  await phone.locator("#transcript-dialog .agreement-text", { hasText: "孙大娘：羊群把我家麦苗啃了一大片" }).waitFor();
  await phone.locator("#confirm-transcript").click();
  await phone.locator("#transcript-self-confirmed").waitFor();
  await mediator.locator("#transcript-dialog #transcript-confirmations", { hasText: "孙大娘" }).waitFor();
  await mediator.locator("#transcript-close").click();
  await phone.locator("#transcript-close").click();

  await mediator.locator("#push-agreement").click();
  await phone.locator("#agreement-dialog .agreement-text", { hasText: "三百元" }).waitFor();
  await phone.locator("#confirm-agreement").click();
  await phone.locator("#agreement-self-confirmed").waitFor();
  assert.equal(await phone.locator("#confirm-agreement").count(), 0, "confirmed once, the button is gone");
  const agreement = await rest.get(`/cases/${caseId}/agreement`);
  const confirmation = agreement.confirmations.find((c) => c.party_id === party.id && !c.voided_at);
  assert.ok(confirmation, "the party's confirmation is recorded");
  assert.equal(confirmation.method, "video_room");
  assert.equal(confirmation.text_sha256, agreement.text_sha256);
  assert.deepEqual(agreement.awaiting.map((a) => a.signer).sort(), ["mediator", "party"], "the other party and the mediator are still to confirm");

  // The party stops the mediation for themself: they leave, the mediator sees it.
  phone.on("dialog", (question) => question.accept());
  await phone.locator("#agreement-close").click();
  await phone.locator("#withdraw-consent").click();
  await phone.locator("#ended", { hasText: "调解已按您的意愿停止" }).waitFor();
  await mediator.locator(`#parties-panel li[data-party-id="${party.id}"] .standing[data-consent=withdraw]`).waitFor();
  const detail = await rest.get(`/sessions/${session.id}`);
  assert.deepEqual(detail.consents.map((c) => c.decision), ["refuse", "consent", "withdraw"]);
  assert.deepEqual(detail.identity_checks.map((c) => c.method), ["id_card_on_camera"]);

  await mediator.locator("#agreement-close").click();
  await mediator.locator("#end-session").click();
  await mediator.locator("#end-confirm").click();
  // The session page keeps the record: decisions and check in order, the transcript and who confirmed it.
  await mediator.waitForURL(/#case\/.*\/outcome/); // the mediator is taken to the outcome form first
  await mediator.goto(`/mediator.html#session/${session.id}`);
  await mediator.locator("#transcript-record", { hasText: "确认无误的当事人：孙大娘" }).waitFor();
  assert.equal(await mediator.locator("#standing-record tbody tr").count(), 4, "refusal, consent, identity check, withdrawal");
  for (const [who, page] of [["mediator", mediator], ["party", phone]]) {
    assert.deepEqual(page.problems, [], `console errors on the ${who}'s pages`);
  }
});
