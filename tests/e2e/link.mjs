// An emulated village link for browser tests and benchmarks: a network
// namespace for one participant's browser, joined to the host by a veth
// pair (198.18.77.0/30, the range set aside for benchmarking), with a rate
// limit each way (`tc ... tbf` on each end's egress) and random loss of UDP
// each way (nftables `numgen random` on each end's input). The server listens on the host end; the
// browser runs inside the namespace through a wrapper script used as
// Playwright's executable. Needs root (tests/run.sh runs as root); creates
// and removes everything it makes.
//
// Propagation delay: the netem qdisc is not in this kernel, nor nftables'
// queue expression, so iptables (legacy backend) NFQUEUE rules in the
// namespace hand every packet leaving or entering it to a small program
// (tests/src/bin/link_delay.rs) that holds it for half the round trip. It
// delays everything on the link, signaling included, as a long line does;
// Chromium's fake-network field trials would have delayed only its media.
import { execFileSync, spawn } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const run = (...args) => execFileSync(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] }).toString();
const quiet = (...args) => {
  try {
    return run(...args);
  } catch {
    return "";
  }
};

/** Whether this process may build links (root, with ip, tc, nft and iptables-legacy). */
export function linksAvailable() {
  if (process.getuid?.() !== 0) return false;
  return ["ip", "tc", "nft", "iptables-legacy"].every((tool) => quiet("sh", "-c", `command -v ${tool}`).trim() !== "");
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DELAY_QUEUE = "7";
/** The server estimator's window of least one-way delays (`BASE_DELAY_WINDOW` in server/src/sfu/estimate.rs), and a second more. */
const BASE_DELAY_WINDOW_MS = 11_000;

export class VillageLink {
  /**
   * `name` prefixes the namespace and the devices; `hostIp` and `nsIp` are
   * the two ends of the /30 (the benchmarking range by default; a private
   * range where a test needs the server on a private address).
   */
  constructor(name = "mvl0", { hostIp = "198.18.77.1", nsIp = "198.18.77.2" } = {}) {
    this.ns = `${name}ns`;
    this.hostDevice = `${name}h`;
    this.nsDevice = `${name}c`;
    this.hostIp = hostIp;
    this.nsIp = nsIp;
    this.dir = mkdtempSync(join(tmpdir(), "mediation-link-"));
  }

  /** Builds the namespace and the veth pair; the link starts unshaped. */
  up() {
    this.down();
    run("ip", "netns", "add", this.ns);
    run("ip", "link", "add", this.hostDevice, "type", "veth", "peer", "name", this.nsDevice);
    run("ip", "link", "set", this.nsDevice, "netns", this.ns);
    run("ip", "addr", "add", `${this.hostIp}/30`, "dev", this.hostDevice);
    run("ip", "link", "set", this.hostDevice, "up");
    this.inNs("ip", "addr", "add", `${this.nsIp}/30`, "dev", this.nsDevice);
    this.inNs("ip", "link", "set", this.nsDevice, "up");
    this.inNs("ip", "link", "set", "lo", "up");
    this.inNs("ip", "route", "add", "default", "via", this.hostIp);
    const wrapper = join(this.dir, "chromium-in-netns");
    const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${this.ns} ${chromium} "$@"\n`);
    chmodSync(wrapper, 0o755);
    this.chromium = wrapper;
    return this;
  }

  inNs(...args) {
    return run("ip", "netns", "exec", this.ns, ...args);
  }

  /**
   * Shapes both directions: `rateKbit` (none: unlimited) down to the
   * namespace and `upKbit` (the same unless given; null: unlimited) up from
   * it, `lossPercent` of UDP packets dropped at random each way, and `rttMs`
   * of propagation delay (half each way). Resolves once the shaping is in
   * place.
   */
  async shape({ rateKbit = null, upKbit = rateKbit, lossPercent = 0, rttMs = 0 } = {}) {
    // A village line's round trip does not change when it narrows. Set in
    // the same instant as a rate, a longer delay reads to the server's
    // estimator as a queue until its window of least delays (10 s) forgets
    // the shorter one: on 512 kbit/s the mediator's video paused for it
    // (a step in the path's delay is a limit of the estimator, noted in
    // docs/architecture.md). So a longer delay comes first, and the rate
    // once the line has had that delay for the window: a condition set up,
    // not an event awaited.
    const longer = (rttMs || 0) > (this.delayMs || 0);
    await this.delay(rttMs);
    if (longer && (rateKbit || upKbit)) await new Promise((resolve) => setTimeout(resolve, BASE_DELAY_WINDOW_MS));
    for (const [device, inNs] of [[this.hostDevice, false], [this.nsDevice, true]]) {
      const tc = (...args) => (inNs ? this.inNs("tc", ...args) : run("tc", ...args));
      (inNs ? () => quiet("ip", "netns", "exec", this.ns, "tc", "qdisc", "del", "dev", device, "root") : () => quiet("tc", "qdisc", "del", "dev", device, "root"))();
      const rate = inNs ? upKbit : rateKbit;
      if (rate) {
        // A queue of about 300 ms at the rate, as a village router holds.
        // The bucket holds 20 ms at the rate but never less than two full
        // packets: a bucket smaller than a packet drops that packet every
        // time (it was 640 bytes at 256 kbit/s, so every full-size TCP
        // segment and most video packets were lost on that link).
        const burstBytes = Math.max(3000, Math.round((rate * 1000) / 8 / 50));
        tc("qdisc", "add", "dev", device, "root", "tbf", "rate", `${rate}kbit`, "burst", String(burstBytes), "latency", "300ms");
      }
    }
    // Loss is applied where packets arrive (an input hook), as on a wire:
    // a drop on the sending side would fail the send itself. The host side
    // also counts what the server offers the link, on its output hook,
    // which comes before the qdisc and so sees what tbf may drop.
    for (const inNs of [false, true]) {
      const nft = (...args) => (inNs ? this.inNs("nft", ...args) : run("nft", ...args));
      const table = `mediation_${this.ns}`;
      if (inNs) quiet("ip", "netns", "exec", this.ns, "nft", "delete", "table", "inet", table);
      else quiet("nft", "delete", "table", "inet", table);
      if (inNs && lossPercent === 0) continue;
      const device = inNs ? this.nsDevice : this.hostDevice;
      nft("add", "table", "inet", table);
      if (!inNs) {
        nft("add", "chain", "inet", table, "out", "{ type filter hook output priority 0; }");
        nft("add", "rule", "inet", table, "out", "oifname", device, "counter");
      }
      if (lossPercent > 0) {
        nft("add", "chain", "inet", table, "in", "{ type filter hook input priority 0; }");
        // All of it (a line that carries no media) is a plain drop: numgen's range ends at 99.
        const sample = lossPercent >= 100 ? [] : ["numgen", "random", "mod", "100", "<", String(lossPercent)];
        nft("add", "rule", "inet", table, "in", "iifname", device, "meta", "l4proto", "udp", ...sample, "drop");
      }
    }
  }

  /** Holds every packet in and out of the namespace for `rttMs / 2` (none: no delay). */
  async delay(rttMs) {
    if ((this.delayMs || 0) === (rttMs || 0)) return;
    // The namespace is this link's own: its mangle chains hold only the delay rules.
    for (const chain of ["OUTPUT", "INPUT"]) quiet("ip", "netns", "exec", this.ns, "iptables-legacy", "-t", "mangle", "-F", chain);
    await this.stopDelayer();
    this.delayMs = rttMs || 0;
    if (!rttMs) return;
    const binary = process.env.LINK_DELAY || join(repoRoot, "target", "debug", "link_delay");
    const delayer = spawn("ip", ["netns", "exec", this.ns, binary, "--queue", DELAY_QUEUE, "--delay-ms", String(Math.round(rttMs / 2))], { stdio: ["ignore", "pipe", "inherit"] });
    this.delayer = delayer;
    delayer.exited = new Promise((resolve) => delayer.once("exit", resolve));
    await new Promise((resolve, reject) => {
      delayer.exited.then((code) => reject(new Error(`link_delay exited with ${code}`)));
      delayer.stdout.once("data", resolve);
    });
    for (const chain of ["OUTPUT", "INPUT"]) {
      this.inNs("iptables-legacy", "-t", "mangle", "-A", chain, "-j", "NFQUEUE", "--queue-num", DELAY_QUEUE, "--queue-bypass");
    }
  }

  /** Stops the delay program and waits for it to let go of its queue. */
  async stopDelayer() {
    const delayer = this.delayer;
    this.delayer = null;
    if (!delayer) return;
    delayer.kill();
    await delayer.exited;
  }

  /** Bytes the server has offered the link towards the browser (before shaping and loss). */
  bytesOffered() {
    const listing = JSON.parse(run("nft", "-j", "list", "table", "inet", `mediation_${this.ns}`));
    const counter = listing.nftables.map((item) => item.rule?.expr?.find((e) => e.counter)?.counter).find(Boolean);
    return counter?.bytes ?? 0;
  }

  /** Bytes the host has sent into the link (what the server sent the browser). */
  bytesToBrowser() {
    const stats = JSON.parse(run("ip", "-s", "-j", "link", "show", "dev", this.hostDevice));
    return stats[0].stats64?.tx?.bytes ?? stats[0].stats?.tx?.bytes ?? 0;
  }

  down() {
    this.delayer?.kill();
    this.delayer = null;
    this.delayMs = 0;
    quiet("nft", "delete", "table", "inet", `mediation_${this.ns}`);
    quiet("ip", "netns", "del", this.ns);
    quiet("ip", "link", "del", this.hostDevice);
  }

  dispose() {
    this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
