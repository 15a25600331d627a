// A throwaway coturn (Debian's `turnserver`) configured from
// deploy/coturn.conf with only the test's own values changed: its port, its
// relay port range, a fresh shared secret, its log, the address it listens
// and relays on (127.0.0.1 unless given), the media server's address it may
// relay to, and for TURN over TLS its certificate and port. Used by
// tests/e2e/turn-relay.test.mjs, tests/e2e/turn-firewall.test.mjs and by
// both first-picture benchmarks.
//
// Run as a program (`node coturn.mjs`), it starts one, prints
// {"port":…,"secret":…} on one line, and stops it when its standard input
// closes: the webrtc-rs benchmark (tests/src/bin/bench_first_frame.rs)
// starts it this way.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { eventually, repoRoot } from "./harness.mjs";

export const turnserver = "/usr/bin/turnserver";

/** A free port on `address` for both TCP and UDP (coturn listens on both). */
async function freePort(address) {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer().once("error", reject).listen(0, address, () => {
        const { port: found } = server.address();
        server.close(() => resolve(found));
      });
    });
    if (await udpFree(port, address)) return port;
  }
}

function udpFree(port, address) {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, address, () => socket.close(() => resolve(true)));
  });
}

/** `count` consecutive UDP ports on `address`, all free now, outside the kernel's ephemeral range. */
async function freeUdpRange(count, address) {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const first = 20_000 + 2 * Math.floor(Math.random() * 5_000);
    const ports = Array.from({ length: count }, (_, i) => first + i);
    const free = await Promise.all(ports.map((port) => udpFree(port, address)));
    if (free.every(Boolean)) return { min: first, max: first + count - 1 };
  }
  throw new Error(`no ${count} free consecutive UDP ports found`);
}

/** Resolves once a STUN binding request to address:port gets a success response. */
function stunAnswers(port, address) {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request, no attributes
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    randomBytes(12).copy(request, 8);
    const done = (answered) => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), 300);
    socket.once("error", () => done(false));
    socket.on("message", (message) => {
      if (message.length >= 20 && message.readUInt16BE(0) === 0x0101 && message.subarray(8, 20).equals(request.subarray(8, 20))) done(true);
    });
    socket.send(request, port, address);
  });
}

/**
 * coturn's configuration for this test: deploy/coturn.conf line by line, with
 * only the test's own values changed.
 */
function coturnConfig({ port, relay, secret, dir, address, mediaAddress, tls }) {
  const replaced = {
    "static-auth-secret": `static-auth-secret=${secret}`,
    "listening-port": `listening-port=${port}`,
    "min-port": `min-port=${relay.min}`,
    "max-port": `max-port=${relay.max}`,
    "log-file": `log-file=${join(dir, "turnserver.log")}`,
    // The one private address coturn may relay to: the media server's.
    "allowed-peer-ip": `allowed-peer-ip=${mediaAddress}`,
    ...(tls ? { "tls-listening-port": `tls-listening-port=${tls.port}`, cert: `cert=${tls.cert}`, pkey: `pkey=${tls.key}` } : {}),
  };
  const lines = [];
  for (const line of readFileSync(join(repoRoot, "deploy", "coturn.conf"), "utf8").split("\n")) {
    const key = line.trim().split("=")[0];
    // Without TLS: no certificate, no TLS port (and not their comment either).
    if (!tls && ["tls-listening-port", "cert", "pkey"].includes(key)) {
      while (lines.length && lines[lines.length - 1].startsWith("#")) lines.pop();
      continue;
    }
    lines.push(replaced[key] ?? line);
  }
  const loopback = address === "127.0.0.1";
  lines.push(
    "",
    "# --- for the test only ---",
    `# Everything here is on ${address}: coturn listens and relays there.`,
    `listening-ip=${address}`,
    `relay-ip=${address}`,
    ...(loopback
      ? [
          "# Loopback peers are allowed only because everything in this test is on",
          "# loopback, the media server too. A real deployment keeps loopback denied.",
          "allow-loopback-peers",
        ]
      : []),
    ...(tls ? [] : ["# No TLS listener (there is no certificate).", "no-tls"]),
    "no-dtls",
    "# Logs each allocation with its username, the peers of its channels and",
    "# permissions, and its traffic when it closes: the test reads them.",
    "verbose",
    "# Its own pid file and (unused) user database, not the system's.",
    `pidfile=${join(dir, "turnserver.pid")}`,
    `userdb=${join(dir, "turndb")}`,
    "",
  );
  return lines.join("\n");
}

/**
 * A throwaway coturn listening and relaying on `address`, allowed to relay
 * to `mediaAddress` (the media server's), with TURN over TLS when `tls`
 * names { port, cert, key }; resolves once it answers STUN on its port.
 */
export async function startCoturn({ address = "127.0.0.1", mediaAddress = address, tls = null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "mediation-coturn-"));
  const port = await freePort(address);
  const relay = await freeUdpRange(40, address);
  const secret = randomBytes(24).toString("base64url");
  const config = join(dir, "turnserver.conf");
  writeFileSync(config, coturnConfig({ port, relay, secret, dir, address, mediaAddress, tls }));
  const log = join(dir, "turnserver.log");
  const output = [];
  // --no-stdout-log: everything goes to the log file only.
  const child = spawn(turnserver, ["-c", config, "--no-stdout-log"], { stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on("line", (line) => output.push(line));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const readLog = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
  let exit = null;
  exited.then((value) => { exit = value; });
  await eventually("coturn answering STUN on its port", async () => {
    if (exit) throw new Error(`coturn exited (${JSON.stringify(exit)}): ${output.join(" | ")}\n${readLog().slice(-2000)}`);
    return stunAnswers(port, address);
  }, 20_000).catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });
  return {
    port, relay, secret, dir, readLog,
    async stop() {
      if (exit === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const coturn = await startCoturn();
  console.log(JSON.stringify({ port: coturn.port, secret: coturn.secret }));
  process.stdin.resume();
  process.stdin.once("end", async () => {
    await coturn.stop();
    process.exit(0);
  });
}
