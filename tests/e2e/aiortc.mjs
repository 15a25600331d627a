// The aiortc participant (tests/aiortc/participant.py) as the browser tests
// drive it: a child process from the virtual environment tests/run.sh
// makes, its events (JSON lines on stdout), its latest statistics, and
// commands on its standard input.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { eventually, repoRoot } from "./harness.mjs";

export const venvPython = join(repoRoot, "tests", "aiortc", ".venv", "bin", "python");
const participantScript = join(repoRoot, "tests", "aiortc", "participant.py");
export const venvMissing = !existsSync(venvPython);

export /** The aiortc participant as a child process: its events (JSON lines on stdout), its latest statistics, commands on stdin. */
class AiortcParticipant {
  constructor({ base, token, session, options = [] }) {
    this.events = [];
    this.stats = { video_frames: {}, audio_frames: {}, rtp_gaps: {}, rtp_gaps_across_pauses: {}, rtp_pauses: {} };
    this.log = [];
    this.child = spawn(venvPython, [participantScript, "--base", base, "--token", token, "--session", session, ...options], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        this.keepLog(`stdout: ${line}`);
        return;
      }
      if (event.event === "stats") this.stats = event;
      else this.events.push({ ...event, seenAt: Date.now() });
    });
    createInterface({ input: this.child.stderr }).on("line", (line) => this.keepLog(`stderr: ${line}`));
  }

  keepLog(line) {
    this.log.push(line);
    if (this.log.length > 200) this.log.shift();
  }

  command(command) {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The first event from index `from` on that matches. */
  event(what, match, { from = 0, ms = 30_000 } = {}) {
    return eventually(`the aiortc participant: ${what}`, () => this.events.slice(from).find(match), ms);
  }

  videoFrom(id) {
    return this.stats.video_frames[id] || 0;
  }

  audioFrom(id) {
    return this.stats.audio_frames[id] || 0;
  }

  /** Waits until video and audio from `id` are decoded and their counts rise. */
  async decodes(id, who) {
    const start = await eventually(`the aiortc participant decoding video and audio from the ${who}`,
      () => (this.videoFrom(id) > 0 && this.audioFrom(id) > 0 ? { video: this.videoFrom(id), audio: this.audioFrom(id) } : null), 30_000);
    await eventually(`the aiortc participant's frame counts from the ${who} rising`,
      () => this.videoFrom(id) > start.video + 5 && this.audioFrom(id) > start.audio + 10, 20_000);
  }

  /** For failure messages: the last events and the process's own output. */
  describe() {
    const events = this.events.slice(-15).map(({ seenAt, ...event }) => JSON.stringify(event));
    return `aiortc events:\n${events.join("\n")}\nstats: ${JSON.stringify(this.stats)}\nprocess output:\n${this.log.slice(-30).join("\n")}`;
  }

  /** Asks it to quit; resolves with its exit; kills it if it does not exit within 15 s. */
  async quit() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.command({ cmd: "quit" });
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
