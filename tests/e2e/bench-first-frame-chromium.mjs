// First-picture benchmark in Chromium (not part of the test suite): a
// mediator, the 东平 station and the adviser publish in one room; a second
// mediator joins 50 times from a fresh browser context and we time the join
// button's click to the first video frame played from the first of the
// three, and from all three. The floor, in the same run: two peer
// connections in one page, one sending the fake camera to the other, from
// their creation to the first frame decoded.
//
// Then the same again through a TURN relay: a throwaway coturn
// (tests/e2e/coturn.mjs), the server handing out its credentials, and the
// joining page (and both floor connections) allowed relay candidates only.
//
// Run: tests/bench-first-frame-chromium.sh
import { createHmac } from "node:crypto";
import { startCoturn } from "./coturn.mjs";
import { candidateTypes, eventually, launchBrowser, personPage, restAs, seesAndHears, signInThroughPage, startServer } from "./harness.mjs";

const JOINS = Number(process.env.JOINS || 50);
const percentile = (sorted, p) => sorted[Math.round((sorted.length - 1) * p)];

/** Makes every peer connection of the page's context use relay candidates only. */
async function relayOnly(page) {
  await page.context().addInitScript(() => {
    const Original = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Original {
      constructor(configuration = {}) {
        super({ ...configuration, iceTransportPolicy: "relay" });
      }
    };
  });
}

/** Time-limited credentials for coturn's shared secret (the TURN REST scheme the server uses too). */
function turnCredentials(coturn) {
  const username = `${Math.floor(Date.now() / 1000) + 3600}:bench`;
  const credential = createHmac("sha1", coturn.secret).update(username).digest("base64");
  return [{ urls: [`turn:127.0.0.1:${coturn.port}?transport=udp`], username, credential }];
}

async function floor(browser, base, coturn) {
  const page = await personPage(browser, base);
  if (coturn) await relayOnly(page);
  await page.goto("/index.html");
  const iceServers = coturn ? turnCredentials(coturn) : [];
  const times = [];
  for (let i = 0; i < JOINS; i += 1) {
    times.push(await page.evaluate(async (iceServers) => {
      const started = performance.now();
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      const sender = new RTCPeerConnection({ iceServers });
      const receiver = new RTCPeerConnection({ iceServers });
      sender.onicecandidate = (e) => e.candidate && receiver.addIceCandidate(e.candidate);
      receiver.onicecandidate = (e) => e.candidate && sender.addIceCandidate(e.candidate);
      stream.getTracks().forEach((track) => sender.addTrack(track, stream));
      const video = document.createElement("video");
      video.muted = true;
      const decoded = new Promise((resolve) => {
        receiver.ontrack = (e) => {
          if (e.track.kind !== "video") return;
          video.srcObject = new MediaStream([e.track]);
          video.play();
          video.requestVideoFrameCallback(() => resolve(performance.now()));
        };
      });
      await sender.setLocalDescription(await sender.createOffer());
      await receiver.setRemoteDescription(sender.localDescription);
      await receiver.setLocalDescription(await receiver.createAnswer());
      await sender.setRemoteDescription(receiver.localDescription);
      const at = await decoded;
      sender.close();
      receiver.close();
      stream.getTracks().forEach((track) => track.stop());
      return at - started;
    }, iceServers));
  }
  await page.context().close();
  return times.sort((a, b) => a - b);
}

async function throughTheServer(browser, base, relay) {
  const rest = await restAs(base, "mediator1");
  const villages = await rest.get("/villages");
  const created = await rest.post("/cases", {
    village_id: villages.find((v) => v.name === "东平村").id, category: "neighbour", source: "party_application",
    summary: "首帧基准", public_session: false, parties: [{ name: "甲", side: "applicant" }, { name: "乙", side: "respondent" }],
  });
  const caseId = (created.case || created).id;
  const accounts = (role) => rest.get(`/accounts?role=${role}`);
  const mediators = await accounts("mediator");
  const station = (await accounts("station")).find((a) => a.username === "station-dongping");
  const adviser = (await accounts("adviser")).find((a) => a.username === "adviser1");
  const session = await rest.post(`/cases/${caseId}/sessions`, {
    planned_start: new Date(Date.now() + 5 * 60_000).toISOString(), planned_minutes: 120, mode: "video",
    mediator_ids: mediators.map((m) => m.id), station_ids: [station.id], adviser_ids: [adviser.id],
  });
  const enter = async (username, landing) => {
    const page = await personPage(browser, base);
    await signInThroughPage(page, username, landing);
    await page.goto(`/join.html?session=${session.id}`);
    await page.locator("#device-join:not([disabled])").click();
    return page;
  };
  const host = await enter("mediator1", /mediator\.html/);
  const others = [await enter("station-dongping", /station\.html/), await enter("adviser1", /adviser\.html/)];
  const waiting = host.locator("#lobby-panel li[data-participant-id]");
  for (let admitted = 0; admitted < 2; admitted += 1) {
    await waiting.first().waitFor();
    await waiting.first().locator("button.admit").click();
    await eventually("the lobby to shrink", async () => (await waiting.count()) === 1 - admitted);
  }
  const publishers = (await seesAndHears(host, ["station", "adviser"], "the host")).map((tile) => tile.id);
  const first = [];
  const all = [];
  for (let i = 0; i < JOINS; i += 1) {
    const page = await personPage(browser, base);
    if (relay) await relayOnly(page);
    await signInThroughPage(page, "mediator2", /mediator\.html/);
    await page.goto(`/join.html?session=${session.id}`);
    const join = page.locator("#device-join:not([disabled])");
    await join.waitFor();
    const started = Date.now();
    await join.click();
    // Polled in the page every animation frame, so the times are not rounded to a poll interval.
    const { firstAt, allAt } = await page.evaluate(() => new Promise((resolve) => {
      let firstAt = null;
      const look = () => {
        const tiles = [...document.querySelectorAll(".tile:not(.own) video")];
        const playing = tiles.filter((video) => video.getVideoPlaybackQuality().totalVideoFrames > 0).length;
        if (playing > 0 && firstAt === null) firstAt = Date.now();
        if (playing >= 3) resolve({ firstAt, allAt: Date.now() });
        else requestAnimationFrame(look);
      };
      look();
    }));
    if (relay) {
      const types = await candidateTypes(page);
      if (types.publish !== "relay" || types.subscribe !== "relay") throw new Error(`the joiner's connections are not relayed: ${JSON.stringify(types)}`);
    }
    first.push(firstAt - started);
    all.push(allAt - started);
    await page.evaluate(() => window.mediationCall?.leave());
    await page.context().close();
  }
  for (const page of [host, ...others]) await page.context().close();
  return { first: first.sort((a, b) => a - b), all: all.sort((a, b) => a - b), publishers };
}

/** One row set: direct, or (with `coturn`) the joiner and the floor through the relay. */
async function measure(browser, coturn) {
  const env = coturn ? { MEDIATION_TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp`, MEDIATION_TURN_SECRET: coturn.secret } : {};
  const server = await startServer({ env });
  try {
    const bare = await floor(browser, server.url, coturn);
    const { first, all } = await throughTheServer(browser, server.url, Boolean(coturn));
    const path = coturn ? "through TURN" : "direct";
    const row = (label, times) => `| ${label} | ${percentile(times, 0.5).toFixed(0)} ms | ${percentile(times, 0.99).toFixed(0)} ms |`;
    console.log(`\n| ${JOINS} joins, Chromium, loopback, ${path} | p50 | p99 |`);
    console.log("|---|---|---|");
    console.log(row("join click → first video played (first of 3 publishers)", first));
    console.log(row("join click → video from all 3", all));
    console.log(row(`floor: two peer connections in one page, ${path}, first frame`, bare));
    console.log(`\nratio to the floor (p50): ${(percentile(first, 0.5) / percentile(bare, 0.5)).toFixed(2)}×`);
  } finally {
    await server.stop();
  }
}

const browser = await launchBrowser();
const coturn = await startCoturn();
try {
  await measure(browser, null);
  await measure(browser, coturn);
} finally {
  await browser.close();
  await coturn.stop();
}
