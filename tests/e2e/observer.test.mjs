// An observer (People's Mediation Law Art 20): the mediator invites a village
// elder from the session page; the elder opens the link (no consent notice:
// they decide nothing), waits, is admitted, sees and hears the mediator and
// is told they are observing; the mediator sees them named with their
// relation, receives none of their media, and lets them speak: then sees and
// hears them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually, personPage, registerCase, restAs, screenshot, seesAndHears, serverAndBrowserForFile, signInThroughPage } from "./harness.mjs";

const running = serverAndBrowserForFile();

/** Frames the page has decoded from `role`'s tile (0 without one). */
async function framesFrom(page, role) {
  return page.evaluate((wanted) => {
    const tile = document.querySelector(`.tile[data-role="${wanted}"] video`);
    return tile?.getVideoPlaybackQuality?.().totalVideoFrames || 0;
  }, role);
}

test("an invited village elder observes, then speaks when the mediator lets them", async () => {
  const rest = await restAs(running.server.url, "mediator1");
  const caseId = (await registerCase(rest, {
    village: "东平村", category: "neighbour", source: "party_application", summary: "院墙滴水",
    parties: [{ name: "赵大哥", side: "applicant" }, { name: "钱二嫂", side: "respondent" }],
  })).id;
  const session = await rest.post(`/cases/${caseId}/sessions`, {
    planned_start: new Date(Date.now() + 5 * 60_000).toISOString(), planned_minutes: 30, mode: "video",
  });

  const mediator = await personPage(running.browser, running.server.url);
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await mediator.goto(`/mediator.html#session/${session.id}`);
  const form = mediator.locator("#observer-form");
  await form.locator("input[name=name]").fill("孙村长");
  await form.locator("input[name=relation]").fill("村老");
  await form.locator("button[type=submit]").click();
  const row = mediator.locator("#participants tr", { hasText: "孙村长（村老）" });
  await row.waitFor();
  const link = await row.locator(".link-field").inputValue();

  const elder = await personPage(running.browser, running.server.url, { phone: true });
  await elder.goto(link);
  await elder.locator(".summary", { hasText: "旁听" }).waitFor();
  assert.equal(await elder.locator("#party-notice").count(), 0, "an observer has no decision to make");
  await elder.locator("#device-join:not([disabled])").click();
  await elder.locator("#lobby").waitFor();

  await mediator.locator("#enter-room").click();
  await mediator.locator("#device-join:not([disabled])").click();
  const waiting = mediator.locator("#lobby-panel li[data-participant-id]");
  await waiting.first().waitFor();
  await waiting.first().locator("button.admit").click();

  await seesAndHears(elder, ["mediator"], "the observer");
  await elder.locator("#room-banner", { hasText: "您在旁听" }).waitFor();
  const tile = mediator.locator('.tile[data-role="observer"]');
  await tile.locator(".tile-flags", { hasText: "村老·旁听（未发言）" }).waitFor();
  assert.equal(await framesFrom(mediator, "observer"), 0, "the mediator receives no video from a silent observer");

  await mediator.locator('[id^="allow-speak-"]').click();
  await elder.locator("#room-banner", { hasText: "允许您发言" }).waitFor();
  await seesAndHears(mediator, ["observer"], "the mediator once the observer may speak");
  await screenshot(mediator, "observer-speaking");
  await eventually("the tile says they may speak", async () => (await tile.locator(".tile-flags").textContent()).includes("可发言"));

  // On record: the observer with their relation, and their attendance (written by the room's queue).
  await eventually("the observer's attendance on record", async () => {
    const detail = await rest.get(`/sessions/${session.id}`);
    const observer = detail.participants.find((p) => p.kind === "observer");
    return observer.relation === "村老" && detail.attendance.some((a) => a.participant_id === observer.id);
  });
  for (const [who, page] of [["mediator", mediator], ["observer", elder]]) {
    assert.deepEqual(page.problems, [], `console errors on the ${who}'s pages`);
  }
});
