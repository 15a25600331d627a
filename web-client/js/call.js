// One person's connection to a live session: the signaling WebSocket
// (docs/protocol.md), the publish peer connection that carries the local
// microphone and camera up, and the subscribe peer connection the server
// offers with everyone else's media. It reconnects by itself after a dropped
// socket (with the resume token, keeping the peer connections) and reports
// everything as events; it draws nothing.

/** A peer connection still connecting after this long is made anew (see `renewWhenFailed`). */
const CONNECTING_GIVE_UP_MS = 15_000;
const PROTOCOL_VERSION = 1;
/** Close codes after which reconnecting would be wrong (protocol section 7). */
const FINAL_CLOSE_CODES = new Set([1000, 1008, 1011, 4000, 4401, 4403, 4409, 4410]);
const RECONNECT_GIVE_UP_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STATS_INTERVAL_MS = 1000;
/** Application pings (protocol 1.7): a socket the network silently lost is found within ~15 s. */
const PING_INTERVAL_MS = 5000;
const PING_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Errors after which the server closes the connection (protocol section 6). */
const CLOSING_ERRORS = new Set([
  "unauthorized", "invitation_not_yet_valid", "not_on_session", "session_closed", "unsupported_version",
  "join_first", "room_full", "room_locked", "rate_limited",
]);
/** Messages after which the server closes with 1000: never reconnect after them. */
const FINAL_MESSAGES = new Set(["refused", "removed", "session_ended"]);

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
 * - `links`: Map participantId -> { quality, down_kbps?, paused_video_from? } (protocol: link_quality)
 * The room's speaker, as the server hears it (protocol: speaker), is `call.speaker`.
 */
/** Where a session's resume token is kept, so that a reloaded page (F5 at a
 * village station) takes its place back instead of waiting in the lobby. */
export function resumeKey(sessionId) {
  return `mediation.resume.${sessionId}`;
}

/** Whether this tab holds a place in the session (a reload can resume it). */
export function hasStoredPlace(sessionId) {
  return Boolean(sessionStorage.getItem(resumeKey(sessionId)));
}

export class Call extends EventTarget {
  constructor({ token, sessionId, localStream }) {
    super();
    this.token = token;
    this.sessionId = sessionId;
    this.localStream = localStream;
    this.participantId = null;
    this.role = null;
    // A token kept by this tab from before a reload, if any.
    this.resumeToken = sessionStorage.getItem(resumeKey(sessionId));
    this.iceServers = [];
    this.room = null;
    this.state = "connecting";
    this.remoteStreams = new Map();
    /** Received track id -> { kind, participantId }. */
    this.trackOwners = new Map();
    this.pending = new Map();
    this.nextRequest = 1;
    this.publishPc = null;
    this.subscribePc = null;
    this.subscribeQueue = Promise.resolve();
    this.lastInbound = new Map();
    this.quality = "unknown";
    this.remoteStats = {};
    /** The server's view of each link in our space (link_quality). */
    this.links = new Map();
    /** Who the server hears speaking in our space (speaker); their video goes first on a weak link. */
    this.speaker = null;
    /** What the server asks of our camera (publish_target). */
    this.publishTarget = null;
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
    this.sentResume = this.resumeToken;
    const connectTimer = setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) this.abandon(ws);
    }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      clearTimeout(connectTimer);
      const join = { type: "join", request_id: "join", protocol_version: PROTOCOL_VERSION, session_id: this.sessionId };
      if (this.resumeToken) join.resume_token = this.resumeToken;
      // Connections that failed while the socket was down are made anew.
      if ([this.publishPc, this.subscribePc].some((pc) => pc?.connectionState === "failed")) this.dropPeers();
      // Resuming without peer connections (the page was reloaded, or they
      // failed): the server replaces its side instead of resending the old offer.
      if (this.resumeToken && !this.publishPc && !this.subscribePc) join.new_peer_connections = true;
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

  /** Gives up a socket that stopped answering and reconnects, as if the network had closed it. */
  abandon(ws) {
    try {
      ws.close();
    } catch {
      // Already closing.
    }
    this.onSocketClosed(ws, { code: 1006, reason: "" });
  }

  /** Pings while connected; a ping left unanswered means the socket is dead. */
  startHeartbeat() {
    clearInterval(this.heartbeat);
    const ws = this.ws;
    this.heartbeat = setInterval(() => {
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
      this.request({ type: "ping" }, PING_TIMEOUT_MS).catch((error) => {
        if (error.code === "timeout" && ws === this.ws) this.abandon(ws);
      });
    }, PING_INTERVAL_MS);
  }

  onSocketClosed(ws, event) {
    if (ws !== this.ws || ws.handled || this.state === "ended") return;
    ws.handled = true;
    clearInterval(this.heartbeat);
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(Object.assign(new Error("connection lost"), { code: "connection_lost" }));
    }
    this.pending.clear();
    if (this.closedByUs || FINAL_CLOSE_CODES.has(event.code) || FINAL_MESSAGES.has(this.finalCode)) {
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
    // The place is gone for good: a reload starts afresh.
    sessionStorage.removeItem(resumeKey(this.sessionId));
    this.setState("ended", { reason, code });
    this.teardown();
  }

  teardown() {
    clearInterval(this.statsTimer);
    clearInterval(this.heartbeat);
    clearTimeout(this.reconnectTimer);
    this.publishPc?.close();
    this.subscribePc?.close();
    this.publishPc = null;
    this.subscribePc = null;
  }

  keepResumeToken(token) {
    this.resumeToken = token;
    sessionStorage.setItem(resumeKey(this.sessionId), token);
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
  request(message, timeoutMs = REQUEST_TIMEOUT_MS) {
    const requestId = `r${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      if (this.ws?.readyState !== WebSocket.OPEN) {
        reject(Object.assign(new Error("not connected"), { code: "connection_lost" }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(Object.assign(new Error("no answer"), { code: "timeout" }));
      }, timeoutMs);
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
        this.keepResumeToken(message.resume_token);
        this.lostSince = null;
        this.reconnectAttempt = 0;
        // Back in the lobby (a place lost after the grace period): the server closed our peers.
        this.dropPeers();
        this.startHeartbeat();
        this.setState("lobby");
        break;
      case "joined":
        // A new place (the old one was lost after the grace period): the server's peers are gone.
        if (this.sentResume && message.resume_token !== this.sentResume) this.dropPeers();
        this.sentResume = message.resume_token;
        this.participantId = message.participant_id;
        this.role = message.role;
        this.keepResumeToken(message.resume_token);
        this.iceServers = message.ice_servers || [];
        this.lostSince = null;
        this.reconnectAttempt = 0;
        this.room = message.room;
        this.startHeartbeat();
        this.setState("joined");
        this.emit("room", this.room);
        this.reportDevices(message);
        this.ensurePublishing();
        break;
      case "room":
        this.room = message.room;
        this.emit("room", this.room);
        break;
      case "link_quality":
        this.links = new Map(message.links.map((link) => [link.participant_id, link]));
        this.emit("links", this.links);
        break;
      case "camera_viewed":
        // A mediator checks our ID card through the camera: publish from the lobby.
        if (message.viewing && this.state === "lobby") {
          if (message.ice_servers?.length) this.iceServers = message.ice_servers;
          this.ensurePublishing();
        }
        break;
      case "speaker":
        this.speaker = message.participant_id ?? null;
        break;
      case "publish_target":
        this.publishTarget = { active: message.video_active, maxKbps: message.video_max_kbps ?? null };
        this.applyPublishTarget();
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
        if (message.request_id === "join" || CLOSING_ERRORS.has(message.code)) {
          this.finalReason = message.message;
          this.finalCode = message.code;
        }
        break;
      default:
        break;
    }
    this.emit("message", message);
  }

  /** The server starts every place with microphone and camera on: tell it what is really on. */
  reportDevices(joined) {
    const me = joined.room.participants.find((p) => p.participant_id === joined.participant_id);
    if (!me) return;
    for (const kind of ["audio", "video"]) {
      const on = Boolean(this.localStream?.getTracks().some((track) => track.kind === kind && track.enabled));
      if (me[`${kind}_enabled`] !== on) this.request({ type: "set_media", kind, enabled: on }).catch(() => {});
    }
  }

  /** Closes both peer connections (the server's side of them is gone). */
  dropPeers() {
    this.publishPc?.close();
    this.subscribePc?.close();
    this.publishPc = null;
    this.subscribePc = null;
    this.subscribeQueue = Promise.resolve();
    for (const participantId of [...this.remoteStreams.keys()]) {
      this.remoteStreams.delete(participantId);
      this.emit("media", { participantId });
    }
  }

  /**
   * Makes sure the publish connection is negotiated: creates it the first
   * time, and sends the offer again when its answer was lost with a dropped
   * socket (the server does not replay it). One run at a time.
   */
  ensurePublishing() {
    this.publishing ??= this.negotiatePublish()
      .catch((error) => this.emit("message", { type: "media_error", message: String(error) }))
      .finally(() => {
        this.publishing = null;
      });
    return this.publishing;
  }

  async negotiatePublish() {
    let pc = this.publishPc;
    if (!pc || pc.connectionState === "closed") pc = this.newPublishConnection();
    if (pc.signalingState === "stable" && pc.remoteDescription) return;
    // Sent at once: candidates follow as ice_candidate messages (trickle ICE).
    if (pc.signalingState !== "have-local-offer") await pc.setLocalDescription(await pc.createOffer());
    if (pc !== this.publishPc) return;
    await this.request({ type: "sdp", target: "publish", description: { type: "offer", sdp: pc.localDescription.sdp } });
  }

  newPublishConnection() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.publishPc = pc;
    this.trickle(pc, "publish");
    const stream = this.localStream || new MediaStream();
    for (const kind of ["audio", "video"]) {
      const track = stream.getTracks().find((candidate) => candidate.kind === kind);
      const transceiver = track
        ? pc.addTransceiver(track, { direction: "sendonly", streams: [stream] })
        : pc.addTransceiver(kind, { direction: "sendonly" });
      if (kind === "audio") preferRedundantAudio(transceiver);
    }
    this.renewWhenFailed(pc);
    return pc;
  }

  /**
   * A connection that failed (its consent checks unanswered for about 30 s:
   * the line was down), or that has been connecting for longer than
   * CONNECTING_GIVE_UP_MS (a DTLS handshake whose packets a full village
   * line kept losing waits out ever longer retransmission timers, and the
   * browser never calls it failed), is not coming back: both are made anew,
   * as after a reload, and the server recognises them by their new DTLS
   * fingerprint. Both, because the subscribe side, offered by the server,
   * cannot be restarted from here; and one path, so that an ICE restart's
   * answer in flight is never applied to a new connection.
   */
  renewWhenFailed(pc) {
    let connectingTimer = null;
    const renew = async () => {
      if (this.state !== "joined" || (pc !== this.publishPc && pc !== this.subscribePc)) return;
      this.dropPeers();
      await this.publishing?.catch(() => {});
      if (this.state === "joined") this.ensurePublishing();
    };
    pc.addEventListener("connectionstatechange", () => {
      clearTimeout(connectingTimer);
      if (pc.connectionState === "failed") renew();
      if (pc.connectionState === "connecting") {
        connectingTimer = setTimeout(() => pc.connectionState === "connecting" && renew(), CONNECTING_GIVE_UP_MS);
      }
    });
  }

  /** Sends the connection's candidates as they are found (trickle ICE). */
  trickle(pc, target) {
    pc.addEventListener("icecandidate", (event) => {
      if (!event.candidate?.candidate || pc.connectionState === "closed") return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      this.send({ type: "ice_candidate", target, candidate: { candidate, sdp_mid: sdpMid, sdp_m_line_index: sdpMLineIndex } });
    });
  }

  async onDescription(message) {
    const { target, description } = message;
    if (target === "publish" && description.type === "answer" && this.publishPc) {
      await this.publishPc.setRemoteDescription(description);
      await this.applyPublishTarget();
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
      this.trickle(pc, "subscribe");
      this.renewWhenFailed(pc);
      this.subscribePc = pc;
    }
    const pc = this.subscribePc;
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
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
    this.trackOwners.set(event.track.id, { kind: event.track.kind, participantId: owner });
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

  /**
   * Sends the camera as the server asks (protocol: publish_target): no more
   * than its receivers' links carry, or not at all while nobody receives it.
   * Applied again when the publish connection is new.
   */
  async applyPublishTarget() {
    const target = this.publishTarget;
    const sender = this.publishPc?.getSenders().find((candidate) => candidate.track?.kind === "video");
    if (!target || !sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length) return;
    const encoding = parameters.encodings[0];
    encoding.active = target.active;
    if (target.maxKbps) encoding.maxBitrate = target.maxKbps * 1000;
    else delete encoding.maxBitrate;
    try {
      await sender.setParameters(parameters);
    } catch (error) {
      // A negotiation under way: the next target, or the next connection, applies it.
      this.emit("message", { type: "media_error", message: String(error) });
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
        // Browsers that renumber received track ids are covered by the map kept in onRemoteTrack.
        const owner = this.trackOwners.get(entry.trackIdentifier) || publisherOf(entry.trackIdentifier);
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
    const states = [this.publishPc?.connectionState, this.subscribePc?.connectionState].filter(Boolean);
    const connected = states.length > 0 && states.every((state) => state === "connected");
    const lossRate = received + lost > 0 ? lost / (received + lost) : 0;
    let quality;
    if (!connected) quality = states.includes("failed") ? "offline" : "unknown";
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

/**
 * Sends sound as RED (RFC 2198) where the browser can: each packet also
 * carries the one before, so a packet lost on a village line is still heard.
 * Browsers send RED only when it comes first in the negotiated list.
 */
function preferRedundantAudio(transceiver) {
  const codecs = globalThis.RTCRtpSender?.getCapabilities?.("audio")?.codecs ?? [];
  const isRed = (codec) => codec.mimeType.toLowerCase() === "audio/red";
  if (!codecs.some(isRed) || typeof transceiver.setCodecPreferences !== "function") return;
  try {
    transceiver.setCodecPreferences([...codecs.filter(isRed), ...codecs.filter((codec) => !isRed(codec))]);
  } catch {
    // A browser that refuses the order sends plain Opus, which works too.
  }
}
