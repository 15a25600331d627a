// The independent stack through a TURN relay: a throwaway coturn (Debian's
// `turnserver`, configured from deploy/coturn.conf with only the test's own
// values changed) and the server handing out its time-limited credentials
// (MEDIATION_TURN_URLS, MEDIATION_TURN_SECRET). The mediator is in Chromium,
// connected directly; the adviser is the aiortc participant
// (tests/aiortc/participant.py) with --relay-only, so each of its candidate
// pairs goes through coturn, and --candidates-from-last-section, so it takes
// the server's candidates from the last m-section of each description
// instead of the first. Media flows both ways; the relay is proven by the
// aiortc participant's selected pairs, by nftables counters on the relayed
// ports of its two allocations (the peer leg, between coturn and the media
// server) and by coturn's own log of the adviser's allocations and traffic.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { AiortcParticipant, venvPython } from "./aiortc.mjs";
import { startCoturn, turnserver } from "./coturn.mjs";
import { candidateTypes, eventually, launchBrowser, loginToken, personPage, scheduleVideoSession, screenshot, seesAndHears, signInThroughPage, startServer, tileFrames } from "./harness.mjs";

const missing = [
  ...(existsSync(turnserver) ? [] : [`${turnserver} (Debian's coturn; tests/run.sh installs it)`]),
  ...(existsSync(venvPython) ? [] : [`the aiortc virtual environment ${venvPython} (tests/run.sh creates it)`]),
];
// Skipped only on a developer's machine without them; under CI their absence fails the test.
const skip = missing.length && !process.env.CI ? `needs ${missing.join(" and ")}` : false;

/** Whether nftables counters can be used here (root with nft, as tests/run.sh runs). */
function nftUsable() {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("nft", ["list", "tables"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** nftables byte counters on the loopback output hook, for the relayed ports of coturn's allocations. */
class RelayCounters {
  constructor() {
    this.table = `mediation_turn_${process.pid}`;
    execFileSync("nft", ["add", "table", "inet", this.table]);
    // Output only: each packet over loopback is counted once, as it is sent.
    execFileSync("nft", ["add", "chain", "inet", this.table, "out", "{ type filter hook output priority 0; policy accept; }"]);
  }

  /** Counts UDP leaving relayed port `port` (towards the peer) and arriving at it (from the peer). */
  watch(port) {
    execFileSync("nft", ["add", "rule", "inet", this.table, "out", "ip", "saddr", "127.0.0.1", "udp", "sport", String(port), "counter", "comment", `"from-${port}"`]);
    execFileSync("nft", ["add", "rule", "inet", this.table, "out", "ip", "daddr", "127.0.0.1", "udp", "dport", String(port), "counter", "comment", `"to-${port}"`]);
  }

  /** { "from-<port>": { packets, bytes }, "to-<port>": ... } */
  read() {
    const listing = JSON.parse(execFileSync("nft", ["-j", "list", "table", "inet", this.table]).toString());
    const counts = {};
    for (const item of listing.nftables) {
      const counter = item.rule?.expr?.find((expr) => expr.counter)?.counter;
      if (counter && item.rule.comment) counts[item.rule.comment] = { packets: counter.packets, bytes: counter.bytes };
    }
    return counts;
  }

  remove() {
    try {
      execFileSync("nft", ["delete", "table", "inet", this.table], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

let coturn;
let counters;
let server;
let browser;
let adviser;

before(async () => {
  if (skip) return;
  assert.deepEqual(missing, [], `missing: ${missing.join(", ")}`);
  coturn = await startCoturn();
  if (nftUsable()) counters = new RelayCounters();
  server = await startServer({
    env: { MEDIATION_TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp`, MEDIATION_TURN_SECRET: coturn.secret },
  });
  browser = await launchBrowser();
});

after(async () => {
  await adviser?.quit();
  await browser?.close();
  await server?.stop();
  counters?.remove();
  await coturn?.stop();
});

test("the aiortc participant exchanges media with Chromium through a coturn relay, with candidates from the last m-section", { skip, timeout: 300_000 }, async () => {
  const base = server.url;
  const session = await scheduleVideoSession(base, { advisers: ["adviser1"] });

  const mediator = await personPage(browser, base);
  try {
    await throughTheRelay(base, session.id, mediator);
  } catch (error) {
    await screenshot(mediator, "failure-turn-relay-mediator").catch(() => {});
    const details = `${adviser ? `\n${adviser.describe()}` : ""}\ncoturn log (end):\n${coturn.readLog().split("\n").slice(-40).join("\n")}`;
    // The reporter prints the stack, made when the error was.
    error.message += details;
    error.stack += details;
    throw error;
  }
});

async function throughTheRelay(base, sessionId, mediator) {
  // The mediator enters the room in Chromium, connected directly.
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await mediator.goto(`/join.html?session=${sessionId}`);
  await mediator.locator("#device-join:not([disabled])").click();
  await mediator.locator("#lobby-panel").waitFor();
  const mediatorId = await mediator.evaluate(() => window.mediationCall.participantId);

  // The adviser joins on aiortc, relay only, and is admitted.
  adviser = new AiortcParticipant({
    base, token: await loginToken(base, "adviser1"), session: sessionId, options: ["--relay-only", "--candidates-from-last-section"],
  });
  const waiting = await adviser.event("waiting in the lobby", (event) => event.event === "waiting");
  const adviserId = waiting.participant_id;
  const admittedAt = Date.now();
  await mediator.locator(`#lobby-panel li[data-participant-id="${adviserId}"] button.admit`).click();
  await adviser.event("admitted", (event) => event.event === "joined" && event.participant_id === adviserId);

  // Media both ways; the time from the admission to the first frame each way.
  const firstFrame = {};
  await eventually("video and sound both ways through the relay", async () => {
    if (!firstFrame.adviserDecodes && adviser.videoFrom(mediatorId) > 0 && adviser.audioFrom(mediatorId) > 0) {
      firstFrame.adviserDecodes = Date.now() - admittedAt;
    }
    if (!firstFrame.mediatorPlays && (await tileFrames(mediator, adviserId)) > 0) firstFrame.mediatorPlays = Date.now() - admittedAt;
    return firstFrame.adviserDecodes && firstFrame.mediatorPlays;
  }, 60_000);
  const start = { video: adviser.videoFrom(mediatorId), audio: adviser.audioFrom(mediatorId) };
  await eventually("the aiortc participant's frame counts from the mediator rising", () =>
    adviser.videoFrom(mediatorId) > start.video + 5 && adviser.audioFrom(mediatorId) > start.audio + 10, 20_000);
  await seesAndHears(mediator, ["adviser"], "the mediator");

  // Both of the adviser's connections went through TURN, having taken the
  // server's candidates from the last of several m-sections.
  const transports = {};
  for (const connection of ["publish", "subscribe"]) {
    transports[connection] = await adviser.event(`the ${connection} connection's selected pair`,
      (event) => event.event === "transport" && event.connection === connection);
    assert.equal(transports[connection].local_candidate_type, "relay", `the adviser's ${connection} connection is not relayed`);
    const [host, port] = transports[connection].local_address.split(":");
    assert.equal(host, "127.0.0.1");
    assert.ok(Number(port) >= coturn.relay.min && Number(port) <= coturn.relay.max, `relayed port ${port} outside coturn's range`);
    const moved = adviser.events.filter((event) => event.event === "remote_candidates" && event.connection === connection);
    assert.ok(moved.length > 0, `no description of the server seen on the ${connection} connection`);
    for (const description of moved) {
      assert.ok(description.sections >= 2 && description.removed > 0 && description.kept > 0,
        `the ${connection} description did not have candidates in more than the last m-section: ${JSON.stringify(description)}`);
    }
  }
  const mediatorTypes = await candidateTypes(mediator);
  assert.deepEqual(mediatorTypes, { publish: "host", subscribe: "host" }, "the mediator's connections are not direct");

  // coturn really relays: nftables counters on the two relayed ports, on
  // the peer leg between coturn and the media server.
  const publishPort = Number(transports.publish.local_address.split(":")[1]);
  const subscribePort = Number(transports.subscribe.local_address.split(":")[1]);
  let relayed = "nftables not usable here (needs root and nft)";
  if (counters) {
    counters.watch(publishPort);
    counters.watch(subscribePort);
    const watchedAt = Date.now();
    const enough = 100_000; // bytes each way: seconds of video
    const counts = await eventually("100 kB of media each way through coturn's relayed ports", () => {
      const now = counters.read();
      const up = now[`from-${publishPort}`]?.bytes || 0; // coturn → media server: the adviser's media
      const down = now[`to-${subscribePort}`]?.bytes || 0; // media server → coturn: the mediator's media for the adviser
      return up > enough && down > enough ? { now, up, down, ms: Date.now() - watchedAt } : null;
    }, 60_000);
    relayed = `nftables: ${counts.up} bytes relayed from port ${publishPort} to the media server, ${counts.down} bytes from the media server `
      + `to port ${subscribePort} in ${counts.ms} ms (${Math.round((counts.up * 8) / counts.ms)} and ${Math.round((counts.down * 8) / counts.ms)} kbit/s); `
      + `all: ${JSON.stringify(counts.now)}`;
  } else {
    assert.ok(!process.env.CI, "under CI the relay must be measured with nftables (root and nft)");
  }

  // coturn's own log: the adviser's allocations (their TURN username ends
  // with the participant id) and the channels they bound to the media
  // server's two ports, the remote ends of the adviser's selected pairs.
  const adviserSessions = () => {
    const sessions = new Map(); // coturn session id -> { peers, usage, closed }
    const lines = coturn.readLog().split("\n");
    for (const line of lines) {
      const allocated = / session (\d+): new, realm=<[^>]*>, username=<\d+:([0-9a-f-]+)>/.exec(line);
      if (allocated && allocated[2] === adviserId) sessions.set(allocated[1], { peers: new Set(), usage: [], closed: false });
    }
    for (const line of lines) {
      const [, id, rest] = / session (\d+): (.*)$/.exec(line) || [];
      const session = sessions.get(id);
      if (!session) continue;
      const peer = /^peer (\S+) lifetime updated/.exec(rest);
      if (peer) session.peers.add(peer[1]);
      if (/^(peer )?usage: /.test(rest)) session.usage.push(rest);
      if (/^closed \(2nd stage\)/.test(rest)) session.closed = true;
    }
    return [...sessions.values()];
  };
  const remoteEnds = [transports.publish.remote_address, transports.subscribe.remote_address];
  await eventually("coturn's log of the adviser's allocations and their channels to the media server", () => {
    const peers = adviserSessions().flatMap((session) => [...session.peers]);
    return remoteEnds.every((end) => peers.includes(end));
  }, 20_000);
  await screenshot(mediator, "turn-relay-room");

  // The adviser leaves (aioice deallocates: a refresh with lifetime 0):
  // coturn closes the allocations and logs what each relayed, before "closed".
  const exit = await adviser.quit();
  assert.deepEqual(exit, { code: 0, signal: null }, "the aiortc participant exits cleanly on quit");
  const usage = await eventually("coturn's traffic report for the adviser's allocations", () => {
    const sessions = adviserSessions().filter((session) => remoteEnds.some((end) => session.peers.has(end)));
    return sessions.length >= 2 && sessions.every((session) => session.closed) ? sessions.flatMap((session) => session.usage) : null;
  }, 30_000);
  // "peer usage": rb received from the peers (the media server), sb sent to them.
  const peerBytes = { received: 0, sent: 0 };
  for (const line of usage) {
    const peer = /^peer usage: .*, rb=(\d+), .*, sb=(\d+)/.exec(line);
    if (peer) {
      peerBytes.received += Number(peer[1]);
      peerBytes.sent += Number(peer[2]);
    }
  }
  assert.ok(peerBytes.sent > 100_000 && peerBytes.received > 100_000,
    `coturn relayed too little between the adviser and the media server: ${JSON.stringify(peerBytes)}`);

  console.log(`through TURN: admitted → aiortc decodes the mediator's video and sound ${firstFrame.adviserDecodes} ms, `
    + `→ the mediator plays the adviser's video ${firstFrame.mediatorPlays} ms; adviser pairs ${transports.publish.local_address} → `
    + `${transports.publish.remote_address} (publish), ${transports.subscribe.local_address} → ${transports.subscribe.remote_address} `
    + `(subscribe); ${relayed}\ncoturn: ${usage.join("\n        ")}`);

  assert.deepEqual(adviser.events.filter((event) => event.event === "error" || event.event === "client_error"), [], "errors at the aiortc participant");
  assert.deepEqual(mediator.problems, [], "console errors on the mediator's page");
}
