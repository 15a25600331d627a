#!/usr/bin/env python3
"""A session participant on aiortc, a third WebRTC stack beside Chromium and webrtc-rs.

Owned here: the command-line client that tests/e2e/independent-stack.test.mjs
drives. It speaks the signaling protocol (docs/protocol.md) over the
WebSocket, publishes a synthetic Opus tone and a synthetic VP8 picture on the
publish connection, answers the server's offers on the subscribe connection,
decodes everything it receives, and reports on stdout, one JSON object a line:

  {"event": "waiting" | "joined", "participant_id": ..., "resume_token": ...}
  {"event": "room", "participants": [{"participant_id", "role"}...], ...}
  {"event": "stats", "video_frames": {publisher: decoded frames},
   "audio_frames": {...}, "rtp_gaps": {publisher: video sequence numbers
   skipped on arrival}, "rtp_gaps_across_pauses": {publisher: the part of
   those skipped right after a pause of over a second}, "rtp_pauses":
   {publisher: such pauses}, ...}   every 500 ms
  {"event": "video_resumed", "publisher": ..., "paused_ms": ..., "at_ms": ...}
  {"event": "transport", "connection": "publish" | "subscribe", "local_candidate_type":
   "host" | "srflx" | "relay" | ..., "local_address", "remote_candidate_type",
   "remote_address"}   the selected ICE pair, once the connection is connected
  {"event": "remote_candidates", "connection": ..., "sections": m-sections,
   "removed": candidate lines taken out, "kept": left in the last section}
                                                            with --candidates-from-last-section
  {"event": "error", "code": ..., "message": ...}           an error from the server
  {"event": "client_error", "message": ...}                 a failure in this client
  and the server's other messages as {"event": <their type>, ...}.

Commands on stdin, one JSON object a line:
  {"cmd": "drop"}     the WebSocket and both peer connections go, abruptly (a reload)
  {"cmd": "rejoin"}   back with the kept resume token, new_peer_connections and new connections
  {"cmd": "send", "message": {...}}   a raw client message
  {"cmd": "quit"}     (or end of stdin) closes everything and exits

Options for the TURN test (tests/e2e/turn-relay.test.mjs):
  --relay-only        both connections use the TURN servers of `joined.ice_servers`
                      with iceTransportPolicy "relay": every candidate pair goes
                      through TURN (aioice speaks TURN over UDP and TCP).
  --candidates-from-last-section
                      the a=candidate and a=end-of-candidates lines of every
                      m-section but the last are removed from each description
                      of the server before it is applied, so the candidates must
                      be taken from a section other than the first (the server
                      repeats them in every section).
"""

import argparse
import array
import asyncio
import fractions
import json
import math
import sys
import threading
import time

import aioice.ice
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

VIDEO_WIDTH, VIDEO_HEIGHT, VIDEO_FPS = 320, 240, 15
VIDEO_CLOCK_RATE = 90_000
AUDIO_RATE, AUDIO_FRAME_SAMPLES = 48_000, 960  # 20 ms frames
TONE_HZ = 440
PAUSE_SECONDS = 1.0  # a silence this long in a received video stream is a pause
STATS_INTERVAL = 0.5


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def use_only_host_addresses(addresses):
    """aioice leaves 127.0.0.1 out of its host candidates; the test server listens on it."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(addresses)


def keep_candidates_only_in_last_section(sdp):
    """The description without candidate lines in any m-section but the last.

    Returns (sdp, m-sections, candidate lines removed, candidate lines kept).
    """
    lines = sdp.splitlines()
    sections = [i for i, line in enumerate(lines) if line.startswith("m=")]
    if not sections:
        return sdp, 0, 0, 0
    last = sections[-1]

    def candidate_line(line):
        return line.startswith("a=candidate:") or line == "a=end-of-candidates"

    kept_lines = [line for i, line in enumerate(lines) if not (sections[0] < i < last and candidate_line(line))]
    removed = len(lines) - len(kept_lines)
    kept = sum(1 for line in lines[last:] if line.startswith("a=candidate:"))
    return "\r\n".join(kept_lines) + "\r\n", len(sections), removed, kept


def selected_pair(pc):
    """The ICE candidate pair a connection uses: aioice's nominated pair of component 1.

    With max-bundle every transceiver shares one RTCDtlsTransport, whose
    RTCIceTransport wraps an aioice Connection; aiortc exposes no selected
    pair, so this reads the Connection's `_nominated` (component -> pair),
    which aioice fills when a pair is nominated and sends all media on.
    """
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport or transceiver.receiver.transport
        pair = dtls.transport._connection._nominated.get(1) if dtls is not None else None
        if pair is not None:
            return pair
    return None


class MovingBarVideoTrack(VideoStreamTrack):
    """A grey picture with a white bar moving across it, VIDEO_FPS frames a second."""

    def __init__(self):
        super().__init__()
        self.frame_count = 0
        self.started_at = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self.started_at is None:
            self.started_at = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self.started_at + self.frame_count / VIDEO_FPS - time.monotonic()))
        frame = VideoFrame(width=VIDEO_WIDTH, height=VIDEO_HEIGHT, format="yuv420p")
        luma, *chroma = frame.planes
        bar_left = (self.frame_count * 8) % VIDEO_WIDTH
        row = bytearray([90]) * luma.line_size
        row[bar_left : min(bar_left + 24, VIDEO_WIDTH)] = bytes([235]) * min(24, VIDEO_WIDTH - bar_left)
        luma.update(bytes(row) * VIDEO_HEIGHT)
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = self.frame_count * VIDEO_CLOCK_RATE // VIDEO_FPS
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self.frame_count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A steady 440 Hz tone (a silent track would not register as heard in a browser)."""

    kind = "audio"
    one_second = array.array(
        "h", (int(6000 * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE)) for n in range(AUDIO_RATE))
    ).tobytes()

    def __init__(self):
        super().__init__()
        self.frame_count = 0
        self.started_at = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self.started_at is None:
            self.started_at = time.monotonic()
        else:
            due = self.started_at + self.frame_count * AUDIO_FRAME_SAMPLES / AUDIO_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        offset = (self.frame_count * AUDIO_FRAME_SAMPLES) % AUDIO_RATE * 2
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(self.one_second[offset : offset + AUDIO_FRAME_SAMPLES * 2])
        frame.pts = self.frame_count * AUDIO_FRAME_SAMPLES
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frame_count += 1
        return frame


class ReceivedCounts:
    """What this participant received, per publisher, over all its connections."""

    def __init__(self):
        self.video_frames = {}
        self.audio_frames = {}
        self.rtp_gaps = {}
        self.rtp_gaps_across_pauses = {}
        self.rtp_pauses = {}
        self.last_video_frame_at = {}

    def frame(self, kind, publisher):
        counts = self.video_frames if kind == "video" else self.audio_frames
        counts[publisher] = counts.get(publisher, 0) + 1
        if kind != "video":
            return
        now = time.monotonic()
        last = self.last_video_frame_at.get(publisher)
        if last is not None and now - last > PAUSE_SECONDS:
            emit("video_resumed", publisher=publisher, paused_ms=round((now - last) * 1000), at_ms=round(time.time() * 1000))
        self.last_video_frame_at[publisher] = now

    def video_packet(self, publisher, missing, after_pause):
        """A received video packet that came `missing` sequence numbers after the previous one."""
        self.rtp_gaps[publisher] = self.rtp_gaps.get(publisher, 0) + missing
        self.rtp_gaps_across_pauses.setdefault(publisher, 0)
        self.rtp_pauses.setdefault(publisher, 0)
        if after_pause:
            self.rtp_gaps_across_pauses[publisher] += missing
            self.rtp_pauses[publisher] += 1

    def report(self, **extra):
        emit(
            "stats",
            video_frames=self.video_frames,
            audio_frames=self.audio_frames,
            rtp_gaps=self.rtp_gaps,
            rtp_gaps_across_pauses=self.rtp_gaps_across_pauses,
            rtp_pauses=self.rtp_pauses,
            **extra,
        )


def watch_sequence_numbers(transceiver, publisher, counts):
    """Counts the RTP sequence numbers missing on arrival in a received video stream.

    Wraps the receiver's packet handler (called by aiortc's DTLS transport for
    every RTP packet of this receiver). Retransmissions (RTX) are left out:
    a gap counts even when a resend repairs it later.
    """
    counts.video_packet(publisher, 0, after_pause=False)  # listed from the start, with no gap yet
    receiver = transceiver.receiver
    handle_packet = receiver._handle_rtp_packet
    last_seen = {}  # ssrc -> (sequence number, monotonic time)

    async def counting_handler(packet, arrival_time_ms):
        codec = next((c for c in transceiver._codecs if c.payloadType == packet.payload_type), None)
        if codec is not None and codec.mimeType.lower() != "video/rtx":
            now = time.monotonic()
            previous = last_seen.get(packet.ssrc)
            if previous is None:
                last_seen[packet.ssrc] = (packet.sequence_number, now)
            else:
                step = (packet.sequence_number - previous[0]) & 0xFFFF
                if 0 < step < 0x8000:  # newer; older ones are reordered or duplicates
                    counts.video_packet(publisher, step - 1, now - previous[1] > PAUSE_SECONDS)
                    last_seen[packet.ssrc] = (packet.sequence_number, now)
        await handle_packet(packet, arrival_time_ms)

    receiver._handle_rtp_packet = counting_handler


class Participant:
    def __init__(self, args):
        self.args = args
        self.resume_token = args.resume_token
        self.ice_servers = []  # the server's STUN and TURN entries, from `joined`
        self.ws = None
        self.reader_task = None
        self.publish_pc = None
        self.subscribe_pc = None
        self.media_tasks = set()
        self.counts = ReceivedCounts()
        self.finished = asyncio.Event()

    # --- signaling ---

    async def connect(self, new_peer_connections=False):
        base = self.args.base.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.ws = await websockets.connect(f"{base}/api/v1/rtc?access_token={self.args.token}", ping_interval=None, max_size=2**20)
        join = {"type": "join", "request_id": "join", "protocol_version": 1, "session_id": self.args.session}
        if self.resume_token:
            join["resume_token"] = self.resume_token
            join["new_peer_connections"] = new_peer_connections
        await self.send(join)
        self.reader_task = asyncio.ensure_future(self.read_messages(self.ws))

    async def send(self, message):
        await self.ws.send(json.dumps(message, ensure_ascii=False))

    async def read_messages(self, ws):
        try:
            async for text in ws:
                try:
                    await self.handle(json.loads(text))
                except Exception as error:  # keep reading: report and go on
                    emit("client_error", message=f"{type(error).__name__}: {error}")
        except websockets.ConnectionClosed:
            pass
        emit("closed", code=ws.close_code, reason=ws.close_reason, dropped=getattr(ws, "dropped_by_client", False))

    async def handle(self, message):
        kind = message.get("type")
        if kind in ("waiting", "joined"):
            self.resume_token = message["resume_token"]
            emit(kind, **{k: message[k] for k in ("participant_id", "resume_token", "role") if k in message})
            if kind == "joined":
                self.ice_servers = message.get("ice_servers") or []
                self.report_room(message["room"])
                if self.publish_pc is None:
                    await self.publish()
        elif kind == "room":
            self.report_room(message["room"])
        elif kind == "sdp":
            await self.negotiate(message["target"], message["description"])
        elif kind == "error":
            emit("error", **{k: v for k, v in message.items() if k != "type"})
        elif kind not in ("ack", "pong"):
            emit(kind, **{k: v for k, v in message.items() if k != "type"})

    def report_room(self, room):
        emit(
            "room",
            participants=[{"participant_id": p["participant_id"], "role": p["role"], "reconnecting": p["reconnecting"]} for p in room["participants"]],
            caucus_id=room.get("caucus_id"),
            private_session_underway=room["private_session_underway"],
        )

    # --- media ---

    def new_peer_connection(self, target):
        if self.args.relay_only:
            # Only TURN: the server's TURN entries with their credentials, and
            # the relay policy (aioice then gathers no host candidates at all).
            turn = [RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
                    for server in self.ice_servers
                    if any(url.startswith(("turn:", "turns:")) for url in ([server["urls"]] if isinstance(server["urls"], str) else server["urls"]))]
            if not turn:
                emit("client_error", message="--relay-only: the server handed out no TURN server")
            configuration = RTCConfiguration(iceServers=turn, iceTransportPolicy=RTCIceTransportPolicy.RELAY,
                                             bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        else:
            configuration = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        pc = RTCPeerConnection(configuration)

        @pc.on("connectionstatechange")
        def report_state():
            emit("connection_state", target=target, state=pc.connectionState)
            if pc.connectionState == "connected":
                self.report_transport(pc, target)

        return pc

    def report_transport(self, pc, target):
        pair = selected_pair(pc)
        if pair is None:
            emit("client_error", message=f"{target}: connected without a nominated ICE pair")
            return
        local, remote = pair.local_candidate, pair.remote_candidate
        emit("transport", connection=target, local_candidate_type=local.type, local_address=f"{local.host}:{local.port}",
             remote_candidate_type=remote.type, remote_address=f"{remote.host}:{remote.port}")

    def remote_description(self, target, description):
        sdp = description["sdp"]
        if self.args.candidates_from_last_section:
            sdp, sections, removed, kept = keep_candidates_only_in_last_section(sdp)
            emit("remote_candidates", connection=target, sections=sections, removed=removed, kept=kept)
        return RTCSessionDescription(sdp=sdp, type=description["type"])

    async def publish(self):
        pc = self.publish_pc = self.new_peer_connection("publish")
        for track, codecs in ((ToneAudioTrack(), ("audio/opus",)), (MovingBarVideoTrack(), ("video/vp8", "video/rtx"))):
            transceiver = pc.addTransceiver(track, direction="sendonly")
            capabilities = RTCRtpSender.getCapabilities(track.kind).codecs
            transceiver.setCodecPreferences([c for c in capabilities if c.mimeType.lower() in codecs])
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers here: a complete offer
        await self.send({"type": "sdp", "request_id": "publish", "target": "publish",
                         "description": {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}})

    async def negotiate(self, target, description):
        remote = self.remote_description(target, description)
        if target == "publish":
            if self.publish_pc is not None:
                await self.publish_pc.setRemoteDescription(remote)
            return
        if self.subscribe_pc is None:
            self.subscribe_pc = self.new_peer_connection("subscribe")
            self.subscribe_pc.on("track", lambda track, pc=self.subscribe_pc: self.receive(pc, track))
        pc = self.subscribe_pc
        await pc.setRemoteDescription(remote)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send({"type": "sdp", "request_id": "subscribe", "target": "subscribe",
                         "description": {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}})

    def receive(self, pc, track):
        """A forwarded track: its id is `<kind>-<publisher's participant id>`."""
        publisher = track.id.split("-", 1)[1] if track.id.startswith(("audio-", "video-")) else track.id
        if track.kind == "video":
            transceiver = next((t for t in pc.getTransceivers() if t.receiver.track is track), None)
            if transceiver is not None:
                watch_sequence_numbers(transceiver, publisher, self.counts)
        task = asyncio.ensure_future(self.decode(track, publisher))
        self.media_tasks.add(task)
        task.add_done_callback(self.media_tasks.discard)

    async def decode(self, track, publisher):
        try:
            while True:
                await track.recv()
                self.counts.frame(track.kind, publisher)
        except MediaStreamError:
            pass  # the track ended

    async def close_peer_connections(self):
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        self.publish_pc = self.subscribe_pc = None

    # --- commands ---

    async def drop(self):
        """Like a reload: no close handshake, and the peer connections are gone."""
        if self.ws is not None:
            self.ws.dropped_by_client = True
            self.ws.transport.abort()
            await asyncio.gather(self.reader_task, return_exceptions=True)
        await self.close_peer_connections()
        emit("dropped")

    async def rejoin(self):
        if self.ws is not None and not getattr(self.ws, "dropped_by_client", False):
            await self.drop()
        await self.connect(new_peer_connections=True)

    async def run_command(self, line):
        command = json.loads(line)
        name = command.get("cmd")
        if name == "drop":
            await self.drop()
        elif name == "rejoin":
            await self.rejoin()
        elif name == "send":
            await self.send(command["message"])
        elif name == "quit":
            self.finished.set()
        else:
            emit("client_error", message=f"unknown command {name!r}")

    async def read_commands(self):
        # A daemon thread reads stdin: it works for pipes, files and /dev/null
        # alike (the event loop cannot watch the last two), and does not hold
        # up the exit.
        loop = asyncio.get_running_loop()
        lines = asyncio.Queue()

        def read_stdin():
            try:
                for line in sys.stdin:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                loop.call_soon_threadsafe(lines.put_nowait, None)
            except RuntimeError:
                pass  # the loop has closed: the participant is quitting anyway

        threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
        while not self.finished.is_set():
            line = await lines.get()
            if line is None:
                break  # end of stdin
            if line.strip():
                try:
                    await self.run_command(line)
                except Exception as error:
                    emit("client_error", message=f"{type(error).__name__}: {error}")
        self.finished.set()

    async def report_stats(self):
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            self.counts.report(
                publish=self.publish_pc.connectionState if self.publish_pc else None,
                subscribe=self.subscribe_pc.connectionState if self.subscribe_pc else None,
            )

    async def run(self):
        """Runs until quit or the end of stdin; returns the exit status."""
        commands = asyncio.ensure_future(self.read_commands())
        stats = asyncio.ensure_future(self.report_stats())
        try:
            await self.connect(new_peer_connections=self.args.new_peer_connections)
            await self.finished.wait()
            return 0
        except (OSError, websockets.InvalidHandshake) as error:
            emit("client_error", message=f"cannot connect: {error}")
            return 1
        finally:
            stats.cancel()
            commands.cancel()
            await self.close_peer_connections()
            if self.ws is not None:
                await self.ws.close()
            if self.reader_task is not None:
                await asyncio.gather(self.reader_task, return_exceptions=True)
            for task in list(self.media_tasks):
                task.cancel()
            await asyncio.gather(*self.media_tasks, stats, commands, return_exceptions=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the server's http(s) URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--token", required=True, help="a staff login token or an invitation token")
    parser.add_argument("--session", required=True, help="the session id")
    parser.add_argument("--resume-token", help="join with this resume token")
    parser.add_argument("--new-peer-connections", action="store_true", help="with --resume-token: the old peer connections are gone")
    parser.add_argument("--host-address", action="append", default=None,
                        help="local address for ICE host candidates (repeatable; default 127.0.0.1, where the test server is)")
    parser.add_argument("--relay-only", action="store_true",
                        help="use only the TURN servers of the joined message (ICE transport policy relay)")
    parser.add_argument("--candidates-from-last-section", action="store_true",
                        help="drop the server's candidates from every m-section but the last before applying its descriptions")
    args = parser.parse_args()
    use_only_host_addresses(args.host_address or ["127.0.0.1"])
    sys.exit(asyncio.run(Participant(args).run()))


if __name__ == "__main__":
    main()
