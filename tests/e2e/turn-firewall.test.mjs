// A village station behind a strict firewall, through TURN as shipped: the
// station's Chromium runs in a network namespace whose firewall lets out
// only the signaling port and coturn; the server and coturn sit on a
// private address (10.77.7.1), as on a government intranet, so coturn
// relays to a private media address only because deploy/coturn.conf allows
// exactly that address (allowed-peer-ip; its private ranges are denied).
// The site is HTTPS with the town authority imported into both browsers'
// certificate stores, and coturn's TURNS listener on 443 uses the same
// certificate. Three firewalls in turn: TURN's UDP port only, its TCP port
// only, 443 only. Each time the station reloads and gets media both ways,
// its selected candidate pairs are relayed, over UDP, TCP and TLS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoturn, turnserver } from "./coturn.mjs";
import { eventually, launchBrowser, personPage, scheduleVideoSession, screenshot, seesAndHears, selectedCandidates, signInThroughPage, startServer } from "./harness.mjs";
import { VillageLink, linksAvailable } from "./link.mjs";

const HOST_IP = "10.77.7.1";
const STATION_IP = "10.77.7.2";
const TURNS_PORT = 443;

const missing = [
  ...(linksAvailable() ? [] : ["root with ip, tc, nft and iptables-legacy (network namespaces)"]),
  ...(existsSync(turnserver) ? [] : [`${turnserver} (Debian's coturn; tests/run.sh installs it)`]),
];
// Skipped only on a developer's machine without them; under CI their absence fails the test.
const skip = missing.length && !process.env.CI ? `needs ${missing.join(" and ")}` : false;

let link;
let coturn;
let server;
let browsers = [];
let tlsDir;

before(async () => {
  if (skip) return;
  assert.deepEqual(missing, [], `missing: ${missing.join(", ")}`);
  link = new VillageLink("mtf0", { hostIp: HOST_IP, nsIp: STATION_IP }).up();
  // The server makes the town authority and its certificate for 10.77.7.1
  // here (E2E_TLS_DIR); coturn's TURNS listener takes the same files.
  tlsDir = mkdtempSync(join(tmpdir(), "mediation-turn-tls-"));
  const certificate = { cert: join(tlsDir, "server.crt"), key: join(tlsDir, "server.key") };
  // coturn first (the server is told its ports), on a certificate made by
  // the server's own `tls init` code.
  coturn = await startCoturnWhenCertified(certificate);
  const turnUrls = [
    `turn:${HOST_IP}:${coturn.port}?transport=udp`,
    `turn:${HOST_IP}:${coturn.port}?transport=tcp`,
    `turns:${HOST_IP}:${TURNS_PORT}?transport=tcp`,
  ].join(",");
  server = await startServer({
    https: true,
    env: {
      E2E_HOST: HOST_IP, E2E_RTC_IP: HOST_IP, E2E_TLS_DIR: tlsDir,
      MEDIATION_TURN_URLS: turnUrls, MEDIATION_TURN_SECRET: coturn.secret,
    },
  });
  const office = await launchBrowser({ trust: server.authority });
  const village = await launchBrowser({ executablePath: link.chromium, trust: server.authority });
  browsers = [office, village];
});

after(async () => {
  for (const browser of browsers) await browser.close().catch(() => {});
  await server?.stop();
  await coturn?.stop();
  link?.dispose();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

/**
 * coturn needs its certificate before it starts, and the certificate is
 * made by the server's `tls init` code: the authority is made first by a
 * short-lived server in the same directory, then coturn starts on it.
 */
async function startCoturnWhenCertified(certificate) {
  const maker = await startServer({ https: true, env: { E2E_HOST: HOST_IP, E2E_TLS_DIR: tlsDir } });
  await maker.stop();
  return startCoturn({ address: HOST_IP, mediaAddress: HOST_IP, tls: { port: TURNS_PORT, ...certificate } });
}

/** The station's firewall: out only to the signaling port and `allowed` ({ protocol: "udp"|"tcp", port }). */
function firewall(signalingPort, allowed) {
  const table = "station_firewall";
  try {
    link.inNs("nft", "delete", "table", "inet", table);
  } catch {
    // none yet
  }
  const rules = [
    `table inet ${table} {`,
    "  chain out {",
    "    type filter hook output priority 0; policy drop;",
    "    oif lo accept",
    "    ct state established,related accept",
    `    ip daddr ${HOST_IP} tcp dport ${signalingPort} accept`,
    ...allowed.map(({ protocol, port }) => `    ip daddr ${HOST_IP} ${protocol} dport ${port} accept`),
    "  }",
    "}",
    "",
  ].join("\n");
  const file = join(link.dir, "station-firewall.nft");
  writeFileSync(file, rules);
  link.inNs("nft", "-f", file);
}

test("a station whose firewall lets out only signaling and TURN gets media through coturn over UDP, TCP and TLS on 443", { skip, timeout: 420_000 }, async () => {
  const [office, village] = browsers;
  const signalingPort = Number(new URL(server.url).port);
  const session = await scheduleVideoSession(server.url, { stations: ["station-dongping"] });

  const mediator = await personPage(office, server.url);
  const station = await personPage(village, server.url);
  firewall(signalingPort, [{ protocol: "udp", port: coturn.port }]);
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await signInThroughPage(station, "station-dongping", /station\.html/);
  await station.goto(`/join.html?session=${session.id}`);
  await station.locator("#device-join:not([disabled])").click();
  await station.locator("#lobby").waitFor();
  await mediator.goto(`/join.html?session=${session.id}`);
  await mediator.locator("#device-join:not([disabled])").click();
  const waiting = mediator.locator("#lobby-panel li[data-participant-id]");
  await eventually("the station in the mediator's lobby", async () => (await waiting.count()) === 1);
  await waiting.first().locator("button.admit").click();

  for (const [label, allowed, relayProtocol] of [
    ["TURN over UDP", [{ protocol: "udp", port: coturn.port }], "udp"],
    ["TURN over TCP", [{ protocol: "tcp", port: coturn.port }], "tcp"],
    ["TURN over TLS on 443", [{ protocol: "tcp", port: TURNS_PORT }], "tls"],
  ]) {
    if (relayProtocol !== "udp") {
      // A new firewall, then the station's page reloads (a kiosk restarted):
      // it rejoins with new connections that find the one way out.
      firewall(signalingPort, allowed);
      await station.reload();
      await eventually(`the station back in the room (${label})`, () => station.evaluate(() => window.mediationCall?.state === "joined"), 30_000);
    }
    await seesAndHears(station, ["mediator"], `the station, ${label}`);
    await seesAndHears(mediator, ["station"], `the mediator, ${label}`);
    const locals = await eventually(`the station's connections relayed (${label})`, async () => {
      const now = await selectedCandidates(station);
      return now.publish?.candidateType === "relay" && now.subscribe?.candidateType === "relay" ? now : null;
    }, 30_000);
    for (const connection of ["publish", "subscribe"]) {
      assert.equal(locals[connection].relayProtocol, relayProtocol, `the station's ${connection} connection, ${label}: ${JSON.stringify(locals[connection])}`);
      assert.equal(locals[connection].address, HOST_IP, "relayed by coturn on the private address");
    }
    console.log(`${label}: the station's connections relayed over ${relayProtocol} (${JSON.stringify(locals)})`);
  }
  await screenshot(station, "turn-firewall-station");
  assert.deepEqual(mediator.problems, [], "console errors on the mediator's pages");
});
