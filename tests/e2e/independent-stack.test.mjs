// An independent WebRTC stack in the suite: the adviser takes part on aiortc
// (tests/aiortc/participant.py, in the virtual environment tests/run.sh makes),
// beside the mediator and the 东平 station in Chromium. It waits in the lobby,
// is admitted, exchanges video and sound with the mediator, stays outside a
// caucus of the mediator and the station (their video stops reaching it and
// comes back without RTP gaps), and takes its place back after a dropped
// connection, with new peer connections and without being admitted again.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AiortcParticipant, venvMissing, venvPython } from "./aiortc.mjs";
import { eventually, launchBrowser, loginToken, personPage, scheduleVideoSession, screenshot, seesAndHears, signInThroughPage, sleep, startServer, tileFrames } from "./harness.mjs";

// Skipped only on a developer's machine without the environment; under CI its absence fails the test.
const skip = venvMissing && !process.env.CI ? `needs the aiortc virtual environment ${venvPython} (tests/run.sh creates it)` : false;

let server;
let browser;
let adviser;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await adviser?.quit();
  await browser?.close();
  await server?.stop();
});

test("an aiortc participant exchanges media with Chromium, stays outside a caucus and comes back after a drop", { skip, timeout: 600_000 }, async () => {
  assert.ok(!venvMissing, `the aiortc virtual environment is missing: ${venvPython} (tests/run.sh creates it)`);
  const base = server.url;
  const session = await scheduleVideoSession(base, { stations: ["station-dongping"], advisers: ["adviser1"] });

  const mediator = await personPage(browser, base);
  const station = await personPage(browser, base);
  try {
    await independentStack(base, session.id, mediator, station);
  } catch (error) {
    for (const [who, page] of [["mediator", mediator], ["station", station]]) {
      await screenshot(page, `failure-independent-${who}`).catch(() => {});
    }
    if (adviser) error.message += `\n${adviser.describe()}`;
    throw error;
  }
});

async function independentStack(base, sessionId, mediator, station) {
  // The mediator enters the room in Chromium.
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await mediator.goto(`/join.html?session=${sessionId}`);
  await mediator.locator("#device-join:not([disabled])").click();
  await mediator.locator("#lobby-panel").waitFor();
  const mediatorId = await mediator.evaluate(() => window.mediationCall.participantId);

  // The adviser joins on aiortc and waits in the lobby until the mediator admits them.
  adviser = new AiortcParticipant({ base, token: await loginToken(base, "adviser1"), session: sessionId });
  const waiting = await adviser.event("waiting in the lobby", (event) => event.event === "waiting");
  const adviserId = waiting.participant_id;
  await mediator.locator(`#lobby-panel li[data-participant-id="${adviserId}"] button.admit`).click();
  await adviser.event("admitted", (event) => event.event === "joined" && event.participant_id === adviserId);

  // Media both ways between Chromium and aiortc.
  await adviser.decodes(mediatorId, "mediator");
  await seesAndHears(mediator, ["adviser"], "the mediator");

  // The 东平 station joins in Chromium and is admitted; everyone gets everyone.
  await signInThroughPage(station, "station-dongping", /station\.html/);
  await station.goto(`/join.html?session=${sessionId}`);
  await station.locator("#device-join:not([disabled])").click();
  await station.locator("#lobby").waitFor();
  const stationEntry = mediator.locator("#lobby-panel li[data-participant-id]");
  await stationEntry.first().waitFor();
  const stationId = await stationEntry.first().getAttribute("data-participant-id");
  await stationEntry.first().locator("button.admit").click();
  await adviser.decodes(stationId, "station");
  await seesAndHears(mediator, ["station", "adviser"], "the mediator");
  await seesAndHears(station, ["mediator", "adviser"], "the station");
  await screenshot(mediator, "independent-stack-room");

  // A caucus of the mediator and the station: their video stops reaching the adviser.
  const roomEvents = adviser.events.length;
  await mediator.locator(`#caucus-members input[value="${stationId}"]`).check();
  await mediator.locator("#open-caucus").click();
  await adviser.event("told a private session is underway", (event) => event.event === "room" && event.private_session_underway, { from: roomEvents });
  await sleep(1500); // frames already on their way are decoded
  const frozen = { mediator: adviser.videoFrom(mediatorId), station: adviser.videoFrom(stationId) };
  for (const check of [1, 2]) {
    await sleep(2000);
    assert.equal(adviser.videoFrom(mediatorId), frozen.mediator, `check ${check}: the adviser still decodes the mediator's video during the caucus`);
    assert.equal(adviser.videoFrom(stationId), frozen.station, `check ${check}: the adviser still decodes the station's video during the caucus`);
  }
  const gapsBefore = { ...adviser.stats.rtp_gaps };
  const pauseGapsBefore = { ...adviser.stats.rtp_gaps_across_pauses };
  const pausesBefore = { ...adviser.stats.rtp_pauses };

  // The caucus closes: video from both reaches the adviser again, continuing its sequence numbers.
  const closedAt = Date.now();
  await mediator.locator("#close-caucus").click();
  const resumed = {};
  for (const [who, id] of [["mediator", mediatorId], ["station", stationId]]) {
    const event = await adviser.event(`the ${who}'s video resumed after the caucus`,
      (e) => e.event === "video_resumed" && e.publisher === id && e.at_ms >= closedAt, { ms: 20_000 });
    resumed[who] = event.at_ms - closedAt;
  }
  await eventually("the adviser's frame counts rising again", () =>
    adviser.videoFrom(mediatorId) > frozen.mediator + 15 && adviser.videoFrom(stationId) > frozen.station + 15, 20_000);
  const increase = (id, counts, before) => (counts[id] || 0) - (before[id] || 0);
  const gapsAfter = adviser.stats;
  console.log(`aiortc after the caucus: first new frame ${resumed.mediator} ms (mediator), ${resumed.station} ms (station) after the close was clicked; `
    + `new RTP gaps ${increase(mediatorId, gapsAfter.rtp_gaps, gapsBefore)} (mediator), ${increase(stationId, gapsAfter.rtp_gaps, gapsBefore)} (station), `
    + `of them across the pause ${increase(mediatorId, gapsAfter.rtp_gaps_across_pauses, pauseGapsBefore)}, ${increase(stationId, gapsAfter.rtp_gaps_across_pauses, pauseGapsBefore)}; `
    + `all gaps so far ${JSON.stringify(gapsAfter.rtp_gaps)}`);
  for (const [who, id] of [["mediator", mediatorId], ["station", stationId]]) {
    assert.ok(increase(id, gapsAfter.rtp_pauses, pausesBefore) >= 1, `no pause seen in the ${who}'s RTP packets during the caucus`);
    assert.equal(increase(id, gapsAfter.rtp_gaps_across_pauses, pauseGapsBefore), 0, `the ${who}'s video resumed with a gap in its RTP sequence numbers`);
  }
  await seesAndHears(mediator, ["station", "adviser"], "the mediator after the caucus");

  // The adviser's connection drops like a reload (socket and peer connections gone) and comes back.
  let from = adviser.events.length;
  adviser.command({ cmd: "drop" });
  await adviser.event("dropped", (event) => event.event === "dropped", { from });
  await mediator.locator(`.tile.reconnecting[data-participant-id="${adviserId}"]`).waitFor({ timeout: 20_000 });
  const beforeRejoin = adviser.videoFrom(mediatorId);
  let lastSeen = await tileFrames(mediator, adviserId);
  from = adviser.events.length;
  const rejoinedAt = Date.now();
  adviser.command({ cmd: "rejoin" });
  const back = await adviser.event("back in the room", (event) => event.event === "joined" || event.event === "waiting", { from });
  const joinedAfter = back.seenAt - rejoinedAt;
  assert.equal(back.event, "joined", "the adviser was put back in the lobby instead of taking their place back");
  assert.equal(back.participant_id, adviserId);
  await eventually("media both ways after the adviser's rejoin", async () => {
    const adviserSees = adviser.videoFrom(mediatorId) > beforeRejoin + 2;
    const now = await tileFrames(mediator, adviserId);
    const mediatorSees = now > lastSeen + 2 && !(await mediator.locator(`.tile.reconnecting[data-participant-id="${adviserId}"]`).count());
    lastSeen = now;
    return adviserSees && mediatorSees;
  }, 30_000);
  const mediaAfter = Date.now() - rejoinedAt;
  console.log(`aiortc rejoin with new peer connections: joined after ${joinedAfter} ms, media both ways after ${mediaAfter} ms`);
  assert.equal(await mediator.locator("#lobby-panel li[data-participant-id]").count(), 0, "nobody waits in the lobby: the adviser was not admitted again");
  await adviser.decodes(mediatorId, "mediator after the rejoin");
  await adviser.decodes(stationId, "station after the rejoin");
  await seesAndHears(mediator, ["station", "adviser"], "the mediator after the adviser's rejoin");
  assert.deepEqual(adviser.events.filter((event) => event.event === "error" || event.event === "client_error"), [], "errors at the aiortc participant");

  const exit = await adviser.quit();
  assert.deepEqual(exit, { code: 0, signal: null }, "the aiortc participant exits cleanly on quit");
  for (const [who, page] of [["mediator", mediator], ["station", station]]) {
    assert.deepEqual(page.problems, [], `console errors on the ${who}'s pages`);
  }
}
