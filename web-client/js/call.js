// One person's connection to a live session: the signaling WebSocket
// (docs/protocol.md), the publish peer connection that carries the local
// microphone and camera up, and the subscribe peer connection the server
// offers with everyone else's media. It reconnects by itself after a dropped
// socket (with the resume token, keeping the peer connections) and reports
// everything as events; it draws nothing.

const PROTOCOL_VERSION = 1;
/** Close codes after which reconnecting would be wrong (protocol section 7). */
const FINAL_CLOSE_CODES = new Set([1000, 1008, 1011, 4000, 4401, 4403, 4409, 4410]);
const RECONNECT_GIVE_UP_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STATS_INTERVAL_MS = 1000;

/** Resolves once the connection has gathered all its candidates (descriptions are sent complete). */
function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        clearTimeout(timer);
        resolve();
      }
    };
    // A host without any usable interface never completes; send what there is.
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, 5000);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/** The publisher's participant id from a forwarded track id (`audio-<id>` / `video-<id>`). */
function publisherOf(trackIdentifier) {
  const match = /^(audio|video)-(.+)$/.exec(trackIdentifier || "");
  return match ? { kind: match[1], participantId: match[2] } : null;
}

/**
 * Events (CustomEvent, details in `event.detail`):
 * - `state`: { state: "connecting"|"lobby"|"joined"|"reconnecting"|"ended", reason?, code? }
 * - `room`: the RoomView
 * - `message`: every server message (chat, agreement_pushed, muted_by, ...)
 * - `media`: { participantId } when a remote stream gained or lost a track
 * - `stats`: { quality, remote: { [participantId]: {...} }, speaking }
 */
export class Call extends EventTarget {
  constructor({ token, sessionId, localStream }) {
    super();
    this.token = token;
    this.sessionId = sessionId;
    this.localStream = localStream;
    this.participantId = null;
    this.role = null;
    this.resumeToken = null;
    this.iceServers = [];
    this.room = null;
    this.state = "connecting";
    this.remoteStreams = new Map();
    this.pending = new Map();
    this.nextRequest = 1;
    this.publishPc = null;
    this.subscribePc = null;
    this.subscribeQueue = Promise.resolve();
    this.lastInbound = new Map();
    this.quality = "unknown";
    this.remoteStats = {};
    this.closedByUs = false;
    this.lostSince = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit("state", { state, ...extra });
  }

  start() {
    this.connect();
    this.statsTimer = setInterval(() => this.collectStats(), STATS_INTERVAL_MS);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/api/v1/rtc?access_token=${encodeURIComponent(this.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const join = { type: "join", request_id: "join", protocol_version: PROTOCOL_VERSION, session_id: this.sessionId };
      if (this.resumeToken) join.resume_token = this.resumeToken;
      ws.send(JSON.stringify(join));
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(message);
    });
    ws.addEventListener("close", (event) => this.onSocketClosed(ws, event));
  }

  onSocketClosed(ws, event) {
    if (ws !== this.ws || this.state === "ended") return;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(Object.assign(new Error("connection lost"), { code: "connection_lost" }));
    }
    this.pending.clear();
    if (this.closedByUs || FINAL_CLOSE_CODES.has(event.code)) {
      this.finish(this.finalReason || event.reason || "closed", this.finalCode || `close_${event.code}`);
      return;
    }
    this.lostSince ??= Date.now();
    if (Date.now() - this.lostSince > RECONNECT_GIVE_UP_MS) {
      this.finish("connection lost", "connection_lost");
      return;
    }
    this.setState("reconnecting");
    const attempt = (this.reconnectAttempt = (this.reconnectAttempt || 0) + 1);
    const delay = Math.min(500 * 2 ** (attempt - 1), 4000);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  finish(reason, code) {
    this.setState("ended", { reason, code });
    this.teardown();
  }

  teardown() {
    clearInterval(this.statsTimer);
    clearTimeout(this.reconnectTimer);
    this.publishPc?.close();
    this.subscribePc?.close();
    this.publishPc = null;
    this.subscribePc = null;
  }

  /** Leaves for good (the place is given up at once). */
  async leave() {
    this.closedByUs = true;
    try {
      await this.request({ type: "leave" });
    } catch {
      // Leaving anyway.
    }
    this.ws?.close(1000);
    this.finish("left", "left");
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Sends a request and resolves with its direct reply, or rejects with the error's code. */
  request(message) {
    const requestId = `r${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      if (this.ws?.readyState !== WebSocket.OPEN) {
        reject(Object.assign(new Error("not connected"), { code: "connection_lost" }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(Object.assign(new Error("no answer"), { code: "timeout" }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...message, request_id: requestId }));
    });
  }

  settle(message) {
    const waiting = message.request_id && this.pending.get(message.request_id);
    if (!waiting) return false;
    this.pending.delete(message.request_id);
    clearTimeout(waiting.timer);
    if (message.type === "error") {
      waiting.reject(Object.assign(new Error(message.message), { code: message.code }));
    } else {
      waiting.resolve(message);
    }
    return true;
  }

  handle(message) {
    this.settle(message);
    switch (message.type) {
      case "waiting":
        this.participantId = message.participant_id;
        this.resumeToken = message.resume_token;
        this.lostSince = null;
        this.reconnectAttempt = 0;
        // Back in the lobby (a place lost after the grace period): the server closed our peers.
        this.publishPc?.close();
        this.subscribePc?.close();
        this.publishPc = null;
        this.subscribePc = null;
        this.setState("lobby");
        break;
      case "joined":
        this.participantId = message.participant_id;
        this.role = message.role;
        this.resumeToken = message.resume_token;
        this.iceServers = message.ice_servers || [];
        this.lostSince = null;
        this.reconnectAttempt = 0;
        this.room = message.room;
        this.setState("joined");
        this.emit("room", this.room);
        this.ensurePublishing();
        break;
      case "room":
        this.room = message.room;
        this.emit("room", this.room);
        break;
      case "sdp":
        this.onDescription(message).catch((error) => this.emit("message", { type: "media_error", message: String(error) }));
        break;
      case "refused":
      case "removed":
        this.finalReason = message.reason || message.type;
        this.finalCode = message.type;
        break;
      case "session_ended":
        this.finalReason = message.reason;
        this.finalCode = "session_ended";
        break;
      case "error":
        if (message.request_id === "join" || !message.request_id) {
          this.finalReason = message.message;
          this.finalCode = message.code;
        }
        break;
      default:
        break;
    }
    this.emit("message", message);
  }

  /** Starts (or restarts, after a failed connection) the publish connection. */
  async ensurePublishing() {
    const usable = this.publishPc && !["failed", "closed"].includes(this.publishPc.connectionState);
    if (usable) return;
    this.publishPc?.close();
    // A new publish connection means a new server-side peer: start the subscribe side afresh too.
    this.subscribePc?.close();
    this.subscribePc = null;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.publishPc = pc;
    const stream = this.localStream || new MediaStream();
    for (const kind of ["audio", "video"]) {
      const track = stream.getTracks().find((candidate) => candidate.kind === kind);
      if (track) {
        pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      } else {
        pc.addTransceiver(kind, { direction: "sendonly" });
      }
    }
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" && this.state === "joined" && pc === this.publishPc) {
        this.ensurePublishing();
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    if (pc !== this.publishPc) return;
    await this.request({ type: "sdp", target: "publish", description: { type: "offer", sdp: pc.localDescription.sdp } });
  }

  async onDescription(message) {
    const { target, description } = message;
    if (target === "publish" && description.type === "answer" && this.publishPc) {
      await this.publishPc.setRemoteDescription(description);
      return;
    }
    if (target === "subscribe" && description.type === "offer") {
      // One offer at a time, in order.
      this.subscribeQueue = this.subscribeQueue.then(() => this.answerSubscribe(description)).catch((error) => {
        this.emit("message", { type: "media_error", message: String(error) });
      });
    }
  }

  async answerSubscribe(offer) {
    if (!this.subscribePc) {
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      pc.addEventListener("track", (event) => this.onRemoteTrack(event));
      this.subscribePc = pc;
    }
    const pc = this.subscribePc;
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    this.send({ type: "sdp", target: "subscribe", description: { type: "answer", sdp: pc.localDescription.sdp } });
    this.pruneEndedTracks();
  }

  onRemoteTrack(event) {
    const owner = event.streams[0]?.id || publisherOf(event.track.id)?.participantId;
    if (!owner) return;
    let stream = this.remoteStreams.get(owner);
    if (!stream) {
      stream = new MediaStream();
      this.remoteStreams.set(owner, stream);
    }
    for (const old of stream.getTracks().filter((track) => track.kind === event.track.kind)) stream.removeTrack(old);
    stream.addTrack(event.track);
    event.track.addEventListener("ended", () => this.pruneEndedTracks());
    this.emit("media", { participantId: owner });
  }

  /** Drops tracks whose m-line the server stopped (the publisher left). */
  pruneEndedTracks() {
    if (!this.subscribePc) return;
    const live = new Set(
      this.subscribePc.getTransceivers().filter((tr) => !tr.stopped && tr.currentDirection !== "inactive").map((tr) => tr.receiver.track),
    );
    for (const [owner, stream] of this.remoteStreams) {
      const before = stream.getTracks().length;
      for (const track of stream.getTracks()) if (!live.has(track)) stream.removeTrack(track);
      if (stream.getTracks().length !== before) this.emit("media", { participantId: owner });
      if (stream.getTracks().length === 0) this.remoteStreams.delete(owner);
    }
  }

  /** Switches the own microphone or camera on or off, locally and in the room. */
  async setDevice(kind, enabled) {
    for (const track of this.localStream?.getTracks() || []) if (track.kind === kind) track.enabled = enabled;
    await this.request({ type: "set_media", kind, enabled });
  }

  /** Reads both peer connections' statistics: link quality, who is heard, frames per publisher. */
  async collectStats() {
    if (this.state !== "joined") {
      if (this.state === "reconnecting") this.emit("stats", { quality: "offline", remote: this.remoteStats, speaking: null });
      return;
    }
    const remote = {};
    let lost = 0;
    let received = 0;
    let roundTrip = null;
    const now = Date.now();
    if (this.subscribePc) {
      const report = await this.subscribePc.getStats();
      report.forEach((entry) => {
        if (entry.type === "candidate-pair" && entry.nominated && entry.currentRoundTripTime !== undefined) {
          roundTrip = entry.currentRoundTripTime;
        }
        if (entry.type !== "inbound-rtp") return;
        const owner = publisherOf(entry.trackIdentifier);
        if (!owner) return;
        const item = (remote[owner.participantId] ||= {});
        if (owner.kind === "video") {
          item.framesDecoded = entry.framesDecoded || 0;
          item.frameWidth = entry.frameWidth || 0;
        } else {
          item.audioLevel = entry.audioLevel || 0;
          item.totalAudioEnergy = entry.totalAudioEnergy || 0;
        }
        const previous = this.lastInbound.get(entry.id);
        if (previous) {
          lost += Math.max(0, (entry.packetsLost || 0) - previous.packetsLost);
          received += Math.max(0, (entry.packetsReceived || 0) - previous.packetsReceived);
        }
        this.lastInbound.set(entry.id, { packetsLost: entry.packetsLost || 0, packetsReceived: entry.packetsReceived || 0, at: now });
      });
    }
    if (this.publishPc && roundTrip === null) {
      const report = await this.publishPc.getStats();
      report.forEach((entry) => {
        if (entry.type === "candidate-pair" && entry.nominated && entry.currentRoundTripTime !== undefined) {
          roundTrip = entry.currentRoundTripTime;
        }
      });
    }
    const connected = this.publishPc?.connectionState === "connected";
    const lossRate = received + lost > 0 ? lost / (received + lost) : 0;
    let quality;
    if (!connected) quality = this.publishPc?.connectionState === "failed" ? "offline" : "unknown";
    else if (lossRate > 0.08 || (roundTrip ?? 0) > 0.6) quality = "poor";
    else if (lossRate > 0.02 || (roundTrip ?? 0) > 0.3) quality = "fair";
    else quality = "good";
    let speaking = null;
    let loudest = 0.02;
    for (const [participantId, item] of Object.entries(remote)) {
      if ((item.audioLevel || 0) > loudest) {
        loudest = item.audioLevel;
        speaking = participantId;
      }
    }
    this.quality = quality;
    this.remoteStats = remote;
    this.emit("stats", { quality, remote, speaking, lossRate, roundTrip });
  }
}
