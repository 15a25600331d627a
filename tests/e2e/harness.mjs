// Shared parts of the browser tests: the real server (tests/src/bin/e2e_server.rs
// on a fresh PostgreSQL database), Debian's Chromium driven by playwright-core
// with a fake camera and microphone, pages that record every console error,
// sign-in, REST calls for set-up, and screenshots.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, "..", "..");
export const screenshotDir = join(repoRoot, "target", "e2e-screenshots");
export const DEMO_PASSWORD = "demo-password-for-tests";

/** Where HTTPS test servers keep the town authority they share. */
const testAuthorityDir = join(repoRoot, "target", "e2e-tls");

/** Authorities (PEM) the harness's own REST calls trust, as servers name them. */
const trustedAuthorities = [];

/**
 * Starts the server; resolves with { url, stop }. With `https`, it serves
 * HTTPS with a certificate of the town authority made as `tls init` makes
 * it; `authority` is then that authority's certificate file, which
 * `launchBrowser({ trust })` puts into the browser's certificate store.
 */
export function startServer({ env = {}, https = false } = {}) {
  const binary = process.env.E2E_SERVER || join(repoRoot, "target", "debug", "e2e_server");
  const tls = https ? { E2E_TLS_DIR: testAuthorityDir } : {};
  const child = spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, ...tls, ...env } });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("the server did not start within 60 s")), 60_000);
    child.on("exit", (code) => reject(new Error(`the server exited with ${code} before serving`)));
    let url;
    let setupCode;
    lines.on("line", (line) => {
      const listening = /^listening (\S+)/.exec(line);
      if (listening) url = listening[1];
      setupCode ??= /^setup-code (\S+)/.exec(line)?.[1];
      if (env.E2E_EMPTY === "1" && url && !setupCode) return;
      const authority = https ? /^authority (\S+)/.exec(line)?.[1] : undefined;
      if (!url || (https && !authority)) return;
      if (authority) trustedAuthorities.push(readFileSync(authority));
      clearTimeout(timer);
      resolve({
        url,
        authority,
        setupCode,
        stop: () => new Promise((done) => {
          child.once("exit", done);
          child.stdin.end();
          setTimeout(() => child.kill("SIGKILL"), 5000).unref();
        }),
      });
    });
  });
}

/**
 * A server and a browser for the test file: started before its tests,
 * stopped after them. Resolves nothing itself; the returned object's
 * `server` and `browser` are set once `before` has run.
 */
export function serverAndBrowserForFile(serverOptions = {}) {
  const running = {};
  before(async () => {
    running.server = await startServer(serverOptions);
    running.browser = await launchBrowser(serverOptions.https ? { trust: running.server.authority } : {});
  });
  after(async () => {
    await running.browser?.close();
    await running.server?.stop();
  });
  return running;
}

/**
 * Chromium with a fake camera and microphone. With `refuseDevices`, the
 * browser asks instead of granting, and headless asking means refusing.
 */
export async function launchBrowser(options = {}) {
  // Chromium now and then dies of SIGSEGV while starting on this machine,
  // before it opens a page (seen once in a full run): that is no test's
  // failure, so it is launched again, twice at most. Any other error, or a
  // third crash, fails the test.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(options);
    } catch (error) {
      const diedStarting = /has been closed|signal=SIGSEGV/.test(String(error?.message));
      if (!diedStarting || attempt === 3) throw error;
      console.log(`Chromium died while starting (attempt ${attempt}); launching it again`);
    }
  }
}

async function launchOnce({ refuseDevices = false, executablePath, extraArgs = [], trust }) {
  const deviceFlags = ["--use-fake-device-for-media-stream", ...(refuseDevices ? [] : ["--use-fake-ui-for-media-stream"])];
  return chromium.launch({
    executablePath: executablePath || process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    env: trust ? { ...process.env, HOME: homeTrusting(trust) } : undefined,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      ...deviceFlags,
      "--autoplay-policy=no-user-gesture-required",
      ...extraArgs,
    ],
  });
}

/**
 * A home directory whose NSS certificate store (where Chromium on Linux
 * looks for the roots a user installed) trusts the authority in
 * `authorityFile`, as a kiosk does after its certificate is installed
 * (Debian's libnss3-tools `certutil`; never --ignore-certificate-errors).
 */
function homeTrusting(authorityFile) {
  const home = mkdtempSync(join(tmpdir(), "mediation-browser-home-"));
  const store = `sql:${join(home, ".pki", "nssdb")}`;
  mkdirSync(join(home, ".pki", "nssdb"), { recursive: true });
  execFileSync("certutil", ["-N", "-d", store, "--empty-password"]);
  execFileSync("certutil", ["-A", "-d", store, "-t", "C,,", "-n", "town mediation authority (test)", "-i", authorityFile]);
  process.once("exit", () => rmSync(home, { recursive: true, force: true }));
  return home;
}

/**
 * A page in its own browser context (its own session storage, as a separate
 * person's browser), whose console errors and uncaught exceptions are kept
 * in `page.problems`.
 */
export async function personPage(browser, base, { lang, phone = false } = {}) {
  const screen = phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1366, height: 900 } };
  const context = await browser.newContext({ baseURL: base, ...screen, locale: "zh-CN" });
  await context.grantPermissions(["camera", "microphone", "clipboard-read", "clipboard-write"], { origin: base });
  if (lang) {
    await context.addInitScript((language) => {
      // about:blank has no storage; every page of the site does.
      if (location.protocol.startsWith("http")) localStorage.setItem("mediation.lang", language);
    }, lang);
  }
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => page.problems.push(`exception: ${error.message}`));
  page.setDefaultTimeout(20_000);
  return page;
}

/** Signs in through the sign-in page and waits for the workspace it leads to. */
export async function signInThroughPage(page, username, landing) {
  await page.goto("/index.html");
  await page.fill("#username", username);
  await page.fill("#password", DEMO_PASSWORD);
  await page.click("#login-button");
  await page.waitForURL(landing);
}

/**
 * An HTTP or HTTPS request from the harness itself; HTTPS trusts only the
 * authorities of the servers started here. Resolves with { ok, status, json() }.
 */
export function httpCall(url, { method = "GET", headers = {}, body } = {}) {
  const https = url.startsWith("https:");
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, { method, headers, ...(https ? { ca: trustedAuthorities } : {}) }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ ok: response.statusCode < 300, status: response.statusCode, json: async () => JSON.parse(text), text: async () => text });
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** A staff token for `username` (the demo password). */
export async function loginToken(base, username) {
  const login = await httpCall(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: DEMO_PASSWORD }),
  });
  if (!login.ok) throw new Error(`login as ${username}: ${login.status}`);
  return (await login.json()).token;
}

/** Frames the page has played from one participant's tile (0 without one). */
export function tileFrames(page, participantId) {
  return page.evaluate((id) => {
    const video = document.querySelector(`.tile[data-participant-id="${id}"] video`);
    return video ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
  }, participantId);
}

/** A REST client for set-up and checks, signed in as `username`. */
export async function restAs(base, username) {
  const token = await loginToken(base, username);
  const call = async (method, path, body) => {
    const response = await httpCall(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const payload = await response.json().catch(() => null);
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(payload)}`);
    return payload;
  };
  return { get: (path) => call("GET", path), post: (path, body) => call("POST", path, body), put: (path, body) => call("PUT", path, body) };
}

/**
 * A dispute registered over REST by `rest` (a client from restAs) at the
 * demo village `village`; resolves with the case. The defaults make a
 * neighbours' dispute at 东平村 between 王大爷 and 李婶.
 */
export async function registerCase(rest, {
  village = "东平村", category = "neighbour", source = "party_application", summary = "院墙滴水",
  parties = [{ name: "王大爷", side: "applicant" }, { name: "李婶", side: "respondent" }],
} = {}) {
  const villages = await rest.get("/villages");
  const created = await rest.post("/cases", {
    village_id: villages.find((unit) => unit.name === village).id, category, source, summary, public_session: false, parties,
  });
  return created.case || created;
}

/**
 * A neighbours' dispute at 东平村 registered by mediator1 over REST, with a
 * video session in five minutes for the demo accounts named in `stations`
 * and `advisers` (usernames); resolves with the session.
 */
export async function scheduleVideoSession(base, { stations = [], advisers = [] } = {}) {
  const rest = await restAs(base, "mediator1");
  const caseId = (await registerCase(rest)).id;
  const ids = async (role, usernames) => {
    const accounts = await rest.get(`/accounts?role=${role}`);
    return usernames.map((username) => accounts.find((account) => account.username === username).id);
  };
  return rest.post(`/cases/${caseId}/sessions`, {
    planned_start: new Date(Date.now() + 5 * 60_000).toISOString(), planned_minutes: 60, mode: "video",
    station_ids: await ids("station", stations), adviser_ids: await ids("adviser", advisers),
  });
}

export async function screenshot(page, name, { keepScroll = false } = {}) {
  mkdirSync(screenshotDir, { recursive: true });
  if (!keepScroll) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: false });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `ms` pass; throws with `what`. */
export async function eventually(what, check, ms = 20_000, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** The remote tiles of a page with their video size and decoded frame count. */
function remoteTiles(page) {
  return page.evaluate(() => [...document.querySelectorAll(".tile:not(.own)")].map((tile) => {
    const video = tile.querySelector("video");
    return {
      id: tile.dataset.participantId,
      role: tile.dataset.role,
      width: video.videoWidth,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
    };
  }));
}

/** Waits until the page plays video from exactly the given roles, with frames advancing, and hears them. */
export async function seesAndHears(page, roles, who) {
  const tiles = await eventually(`${who} to show ${roles.join(" and ")} with video`, async () => {
    const now = await remoteTiles(page);
    const playing = now.filter((tile) => tile.width > 0 && tile.frames > 0).map((tile) => tile.role).sort();
    return JSON.stringify(playing) === JSON.stringify([...roles].sort()) ? now : null;
  }, 30_000).catch(async (error) => {
    throw new Error(`${error.message}; tiles ${JSON.stringify(await remoteTiles(page))}; media ${JSON.stringify(await mediaState(page))}`);
  });
  // Advancing: each tile decodes new frames (waited for, not timed: on a
  // busy machine a publisher adapting to a new receiver may pause a second).
  let later = [];
  await eventually(`${who}: video from ${roles.join(" and ")} advancing`, async () => {
    later = await remoteTiles(page);
    return tiles.every((tile) => later.find((other) => other.id === tile.id)?.frames > tile.frames);
  }, 15_000).catch(() => {
    const stuck = tiles.filter((tile) => !(later.find((other) => other.id === tile.id)?.frames > tile.frames));
    const [tile] = stuck;
    const again = later.find((other) => other.id === tile.id);
    assert.fail(`${who}: video from the ${tile.role} is not advancing (${tile.frames} → ${again?.frames})`);
  });
  await eventually(`${who} to hear ${roles.join(" and ")}`, () => page.evaluate((ids) => {
    const stats = window.mediationCall.remoteStats;
    return ids.every((id) => (stats[id]?.totalAudioEnergy || 0) > 0 || (stats[id]?.audioLevel || 0) > 0);
  }, tiles.map((tile) => tile.id)), 20_000).catch(async (error) => {
    const audio = await page.evaluate(() => [...document.querySelectorAll("audio")].map((a) => `${a.paused}:${a.readyState}:${a.srcObject?.getTracks().map((t) => t.readyState + t.muted)}`));
    throw new Error(`${error.message}; audio ${JSON.stringify(audio)}; media ${JSON.stringify(await mediaState(page))}`);
  });
  return tiles;
}

/** What the page's connections look like, for a failure message. */
export function mediaState(page) {
  return page.evaluate(() => {
    const call = window.mediationCall;
    return {
      state: call.state,
      publish: call.publishPc?.connectionState,
      subscribe: call.subscribePc?.connectionState,
      transceivers: call.subscribePc?.getTransceivers().map((tr) => `${tr.mid}:${tr.currentDirection}:${tr.receiver.track.kind}:${tr.receiver.track.readyState}`),
      streams: [...call.remoteStreams.entries()].map(([id, stream]) => `${id}:${stream.getTracks().map((tr) => tr.kind).join("+")}`),
      stats: call.remoteStats,
      sending: call.publishPc?.getSenders().map((sender) => `${sender.track?.kind}:${sender.track?.readyState}:${sender.track?.enabled}`),
      local: call.localStream?.getTracks().map((track) => `${track.kind}:${track.readyState}`),
    };
  });
}

/** The local candidate type of the selected pair of each of the page's connections. */
export async function candidateTypes(page) {
  const pairs = await selectedCandidates(page);
  return Object.fromEntries(Object.entries(pairs).map(([name, local]) => [name, local?.candidateType ?? null]));
}

/**
 * The local candidate of the selected pair of each of the page's
 * connections: { candidateType, relayProtocol ("udp", "tcp", "tls" for a
 * relay), protocol, address, port }.
 */
export function selectedCandidates(page) {
  return page.evaluate(async () => {
    const call = window.mediationCall;
    const locals = {};
    for (const [name, pc] of [["publish", call.publishPc], ["subscribe", call.subscribePc]]) {
      if (!pc) continue;
      const stats = [...(await pc.getStats()).values()];
      const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
      const pair = transport && stats.find((s) => s.id === transport.selectedCandidatePairId);
      const local = pair && stats.find((s) => s.id === pair.localCandidateId);
      locals[name] = local
        ? { candidateType: local.candidateType, relayProtocol: local.relayProtocol ?? null, protocol: local.protocol, address: local.address, port: local.port }
        : null;
    }
    return locals;
  });
}
