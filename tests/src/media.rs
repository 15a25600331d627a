//! A WebRTC test participant built on webrtc-rs: publishes synthetic Opus
//! and VP8 whose payloads carry the sender's id and a sequence number, and
//! counts what it receives on its subscribe connection, per sender and kind.
//! It negotiates through the real signaling (`MediaDriver`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mediation_server::sfu::keyframes;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::Registry;
use rtc::interceptor::Slot;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceTransportPolicy};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCIceCandidateInit, RTCIceServer};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use signaling_proto::{ClientMessage, MediaKind, PeerTarget, ServerMessage, SessionDescription};
use tokio::sync::mpsc;
use uuid::Uuid;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::signal::SignalClient;

/// What one participant received from one sender, for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub packets: u64,
    pub last_seq: u32,
    /// Packets whose marker sequence went backwards.
    pub out_of_order: u64,
    /// The RTP sequence number of the last packet received.
    pub last_rtp_seq: u16,
    /// RTP sequence numbers skipped over (what a receiver would count as
    /// lost and NACK): the sum of the gaps between consecutive packets.
    pub rtp_gaps: u64,
    /// The SSRC the packets came with (the subscriber's view of the stream).
    pub ssrc: u32,
    /// Packets whose RTP sequence number arrived before (resends), among
    /// the last `RECENT` numbers received.
    pub repeats: u64,
    recent: [u16; RECENT],
    recent_next: usize,
}

/// How many recent sequence numbers a `Flow` remembers to spot resends.
const RECENT: usize = 128;

impl Default for Flow {
    fn default() -> Self {
        Flow {
            packets: 0,
            last_seq: 0,
            out_of_order: 0,
            last_rtp_seq: 0,
            rtp_gaps: 0,
            ssrc: 0,
            repeats: 0,
            recent: [0; RECENT],
            recent_next: 0,
        }
    }
}

impl Flow {
    /// How often `rtp_seq` arrived among the recent packets.
    pub fn arrivals_of(&self, rtp_seq: u16) -> usize {
        let remembered = (self.packets as usize).min(RECENT);
        self.recent[..remembered].iter().filter(|seq| **seq == rtp_seq).count()
    }

    fn note(&mut self, rtp_seq: u16, ssrc: u32) {
        if self.arrivals_of(rtp_seq) > 0 {
            self.repeats += 1;
        }
        self.recent[self.recent_next] = rtp_seq;
        self.recent_next = (self.recent_next + 1) % RECENT;
        self.ssrc = ssrc;
    }
}

pub type Received = Arc<Mutex<HashMap<(Uuid, MediaKind), Flow>>>;

struct Handler {
    gathered: mpsc::Sender<()>,
    received: Option<Received>,
    /// When set, the receiver stops reading its tracks (a stuck client).
    paused: Arc<AtomicBool>,
    delays: Delays,
    tracks: RemoteTracks,
}

/// The tracks a participant receives, to send feedback (PLI) on them.
pub type RemoteTracks = Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>;

/// One-way delays of received packets, in microseconds (same-process clock).
pub type Delays = Arc<Mutex<Vec<u64>>>;

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(received) = self.received.clone() else { return };
        self.tracks.lock().unwrap().push(track.clone());
        let paused = self.paused.clone();
        let delays = self.delays.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if paused.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                if let Some((sender, kind, seq, sent_us)) = parse_marker(&packet.payload) {
                    let delay = (epoch().elapsed().as_micros() as u64).saturating_sub(sent_us);
                    delays.lock().unwrap().push(delay);
                    let mut received = received.lock().unwrap();
                    let flow = received.entry((sender, kind)).or_default();
                    if flow.packets > 0 && seq <= flow.last_seq {
                        flow.out_of_order += 1;
                    }
                    let rtp_seq = packet.header.sequence_number;
                    flow.note(rtp_seq, packet.header.ssrc);
                    let step = rtp_seq.wrapping_sub(flow.last_rtp_seq);
                    if flow.packets > 0 && step > 1 && step < 0x8000 {
                        flow.rtp_gaps += u64::from(step - 1);
                    }
                    flow.last_rtp_seq = rtp_seq;
                    flow.packets += 1;
                    flow.last_seq = seq;
                }
            }
        });
    }
}

/// Splits a description into one without candidates and the candidates
/// as trickle ICE sends them (with the mid and index of their section).
fn trickled(sdp: &str) -> (String, Vec<signaling_proto::IceCandidate>) {
    let (mut kept, mut candidates) = (Vec::new(), Vec::new());
    let mut index: Option<u16> = None;
    for line in sdp.split("\r\n") {
        if line.starts_with("m=") {
            index = Some(index.map_or(0, |i| i + 1));
        }
        match line.strip_prefix("a=") {
            Some(candidate) if candidate.starts_with("candidate:") => {
                candidates.push((candidate.to_owned(), index));
            }
            Some("end-of-candidates") => {}
            _ => kept.push(line),
        }
    }
    let mids: Vec<String> = sdp.split("\r\n").filter_map(|l| l.strip_prefix("a=mid:").map(str::to_owned)).collect();
    let candidates = candidates
        .into_iter()
        .map(|(candidate, index)| signaling_proto::IceCandidate {
            candidate,
            sdp_mid: index.and_then(|i| mids.get(usize::from(i)).cloned()),
            sdp_m_line_index: index,
        })
        .collect();
    (kept.join("\r\n"), candidates)
}

const MAGIC: &[u8; 4] = b"MDTN";

/// The clock that send times in markers count from (one process).
pub fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// MAGIC, kind byte, 16-byte sender id, 4-byte sequence number, 8-byte
/// send time (microseconds since `epoch`), then padding to `size`.
fn marker(sender: Uuid, kind: MediaKind, seq: u32, size: usize) -> Vec<u8> {
    let mut data = MAGIC.to_vec();
    data.push(if kind == MediaKind::Audio { b'a' } else { b'v' });
    data.extend_from_slice(sender.as_bytes());
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(&(epoch().elapsed().as_micros() as u64).to_be_bytes());
    data.resize(size.max(data.len()), 0x5a);
    data
}

/// Finds the marker (after any payload descriptor the packetizer added).
fn parse_marker(payload: &[u8]) -> Option<(Uuid, MediaKind, u32, u64)> {
    let start = payload.windows(4).position(|w| w == MAGIC)?;
    let rest = payload.get(start + 4..start + 4 + 1 + 16 + 4 + 8)?;
    let kind = if rest[0] == b'a' { MediaKind::Audio } else { MediaKind::Video };
    let sender = Uuid::from_slice(&rest[1..17]).ok()?;
    let seq = u32::from_be_bytes(rest[17..21].try_into().ok()?);
    let sent_us = u64::from_be_bytes(rest[21..29].try_into().ok()?);
    Some((sender, kind, seq, sent_us))
}

/// How a test participant reaches the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Udp,
    /// ICE over TCP only, as behind a firewall that lets no UDP through.
    TcpOnly,
    /// Relay candidates only, through these TURN servers (from `joined`).
    Relay(Vec<signaling_proto::IceServer>),
}

async fn connection(
    transport: &Transport,
    received: Option<Received>,
    paused: Arc<AtomicBool>,
    delays: Delays,
    tracks: RemoteTracks,
) -> (Arc<dyn PeerConnection>, mpsc::Receiver<()>) {
    let mut media_engine = MediaEngine::default();
    media_engine.register_default_codecs().unwrap();
    // Each audio packet carries the microphone's level, as browsers send it.
    let level = RTCRtpHeaderExtensionCapability { uri: mediation_server::sfu::speech::AUDIO_LEVEL_URI.into() };
    media_engine.register_header_extension(level, RtpCodecKind::Audio, None).unwrap();
    // The publisher learns of keyframe requests the way the server does.
    let registry = register_default_interceptors(Registry::new(), &mut media_engine)
        .unwrap()
        .with(Slot::from(keyframes::SLOT), keyframes::KeyframeRequests::default());
    let (gathered, gathered_rx) = mpsc::channel(4);
    let configuration = match transport {
        Transport::Relay(servers) => RTCConfigurationBuilder::new()
            .with_ice_servers(
                servers
                    .iter()
                    .map(|server| RTCIceServer {
                        urls: server.urls.clone(),
                        username: server.username.clone().unwrap_or_default(),
                        credential: server.credential.clone().unwrap_or_default(),
                    })
                    .collect(),
            )
            .with_ice_transport_policy(RTCIceTransportPolicy::Relay),
        _ => RTCConfigurationBuilder::new(),
    };
    let builder = PeerConnectionBuilder::new()
        .with_configuration(configuration.build())
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler { gathered, received, paused, delays, tracks }));
    let builder = match transport {
        Transport::Udp | Transport::Relay(_) => builder.with_udp_addrs(vec!["127.0.0.1:0".to_owned()]),
        Transport::TcpOnly => builder
            .with_setting_engine(SettingEngineBuilder::new().with_network_types(vec![NetworkType::Tcp4]).build())
            .with_udp_addrs(Vec::<String>::new())
            .with_tcp_addrs(vec!["127.0.0.1:0".to_owned()]),
    };
    let connection = builder.build().await.expect("a test peer connection");
    (Arc::new(connection), gathered_rx)
}

/// webrtc-rs 0.21 opens ICE-TCP connections only to passive candidates
/// given through `add_ice_candidate`, not to those inside a description
/// (browsers do both): a TCP-only test participant hands them over again.
async fn connect_to_passive_tcp(connection: &Arc<dyn PeerConnection>, sdp: &str, transport: &Transport) {
    if *transport != Transport::TcpOnly {
        return;
    }
    let passive = sdp
        .lines()
        .filter_map(|line| line.strip_prefix("a="))
        .filter(|line| line.starts_with("candidate:") && line.contains(" tcp ") && line.contains("tcptype passive"));
    for candidate in passive {
        let init =
            RTCIceCandidateInit { candidate: candidate.to_owned(), sdp_mid: Some("0".into()), ..Default::default() };
        connection.add_ice_candidate(init).await.expect("a passive TCP candidate of the server");
    }
}

async fn local_sdp(connection: &Arc<dyn PeerConnection>, gathered: &mut mpsc::Receiver<()>) -> String {
    let _ = tokio::time::timeout(Duration::from_secs(5), gathered.recv()).await;
    connection.local_description().await.expect("a local description").sdp
}

struct Source {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    kind: MediaKind,
    mime: &'static str,
}

async fn source(connection: &Arc<dyn PeerConnection>, kind: MediaKind) -> Source {
    let (mime, clock_rate, channels, codec_kind) = match kind {
        MediaKind::Audio => (MIME_TYPE_OPUS, 48_000, 2, RtpCodecKind::Audio),
        MediaKind::Video => (MIME_TYPE_VP8, 90_000, 0, RtpCodecKind::Video),
    };
    let ssrc = uuid::Uuid::new_v4().as_u128() as u32;
    let codec = RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: if kind == MediaKind::Audio { "minptime=10;useinbandfec=1".into() } else { String::new() },
        rtcp_feedback: vec![],
    };
    let track = Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "test-stream".into(),
                format!("{mime}-{ssrc}"),
                format!("{mime}-{ssrc}"),
                codec_kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .expect("a sample track"),
    );
    let sender = connection.add_track(track.clone() as Arc<dyn TrackLocal>).await.expect("add_track");
    Source { track, sender, ssrc, kind, mime }
}

/// A participant's media: publishes, and answers the server's subscribe offers.
pub struct MediaPeer {
    pub participant_id: Uuid,
    pub received: Received,
    pub paused: Arc<AtomicBool>,
    pub delays: Delays,
    /// Bytes of one video frame and one audio packet.
    pub sizes: (usize, usize),
    /// Samples written, all tracks.
    pub sent: Arc<std::sync::atomic::AtomicU64>,
    /// Keyframe requests (PLI/FIR) that reached this publisher.
    pub keyframe_requests: Arc<std::sync::atomic::AtomicU64>,
    /// The level each audio packet carries, in -dBov (127, silence, until set).
    pub voice_level: Arc<AtomicU8>,
    pub tracks: RemoteTracks,
    /// Send descriptions without candidates and trickle them after.
    pub trickle: bool,
    transport: Transport,
    publish: Arc<dyn PeerConnection>,
    publish_gathered: mpsc::Receiver<()>,
    subscribe: Option<(Arc<dyn PeerConnection>, mpsc::Receiver<()>)>,
    sources: Vec<Source>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl MediaPeer {
    pub async fn new(participant_id: Uuid) -> MediaPeer {
        MediaPeer::over(participant_id, Transport::Udp).await
    }

    pub async fn over(participant_id: Uuid, transport: Transport) -> MediaPeer {
        let paused = Arc::new(AtomicBool::new(false));
        let delays = Delays::default();
        let tracks = RemoteTracks::default();
        let (publish, publish_gathered) =
            connection(&transport, None, paused.clone(), delays.clone(), tracks.clone()).await;
        let mut sources = Vec::new();
        for kind in [MediaKind::Audio, MediaKind::Video] {
            sources.push(source(&publish, kind).await);
        }
        MediaPeer {
            participant_id,
            received: Arc::default(),
            paused,
            delays,
            sizes: (0, 0),
            sent: Arc::default(),
            keyframe_requests: Arc::default(),
            voice_level: Arc::new(AtomicU8::new(127)),
            tracks,
            trickle: false,
            transport,
            publish,
            publish_gathered,
            subscribe: None,
            sources,
            senders: Vec::new(),
        }
    }

    /// The publish offer to send.
    /// The publish offer, and with `trickle` its candidates as separate
    /// `ice_candidate` messages after it.
    pub async fn offer(&mut self) -> Vec<ClientMessage> {
        let offer = self.publish.create_offer(None).await.expect("offer");
        self.publish.set_local_description(offer).await.expect("set local offer");
        let sdp = local_sdp(&self.publish, &mut self.publish_gathered).await;
        self.described(PeerTarget::Publish, "offer", sdp)
    }

    /// A description to send, whole or (with `trickle`) without its
    /// candidates, which follow as `ice_candidate` messages.
    fn described(&self, target: PeerTarget, kind: &str, sdp: String) -> Vec<ClientMessage> {
        let (sdp, candidates) = if self.trickle { trickled(&sdp) } else { (sdp, Vec::new()) };
        let description = SessionDescription { kind: kind.into(), sdp };
        let mut messages = vec![ClientMessage::Sdp { request_id: None, target, description }];
        messages.extend(
            candidates.into_iter().map(|candidate| ClientMessage::IceCandidate { target, candidate: Some(candidate) }),
        );
        messages
    }

    /// Handles the server's SDP; returns the answer to send, if any.
    pub async fn on_sdp(&mut self, target: PeerTarget, description: SessionDescription) -> Vec<ClientMessage> {
        match (target, description.kind.as_str()) {
            (PeerTarget::Publish, "answer") => {
                let answer = RTCSessionDescription::answer(description.sdp.clone()).expect("an answer");
                self.publish.set_remote_description(answer).await.expect("set remote answer");
                connect_to_passive_tcp(&self.publish, &description.sdp, &self.transport).await;
                self.start_sending().await;
                Vec::new()
            }
            (PeerTarget::Subscribe, "offer") => {
                if self.subscribe.is_none() {
                    let (received, paused, delays) = (self.received.clone(), self.paused.clone(), self.delays.clone());
                    self.subscribe =
                        Some(connection(&self.transport, Some(received), paused, delays, self.tracks.clone()).await);
                }
                let (subscribe, gathered) = self.subscribe.as_mut().unwrap();
                let offer = RTCSessionDescription::offer(description.sdp.clone()).expect("an offer");
                subscribe.set_remote_description(offer).await.expect("set remote offer");
                connect_to_passive_tcp(subscribe, &description.sdp, &self.transport).await;
                let answer = subscribe.create_answer(None).await.expect("answer");
                while gathered.try_recv().is_ok() {}
                subscribe.set_local_description(answer).await.expect("set local answer");
                let sdp = local_sdp(subscribe, gathered).await;
                self.described(PeerTarget::Subscribe, "answer", sdp)
            }
            _ => Vec::new(),
        }
    }

    /// Opus every 20 ms and VP8 every 33 ms, each payload marked; counts the
    /// keyframe requests that come back.
    async fn start_sending(&mut self) {
        for source in &self.sources {
            let (track, requests) = (source.track.clone(), self.keyframe_requests.clone());
            // Set by a keyframe request; the next video frame is then a key frame.
            let keyframe_wanted = Arc::new(AtomicBool::new(true));
            let wanted = keyframe_wanted.clone();
            self.senders.push(tokio::spawn(async move {
                while let Some(event) = track.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event
                        && packets.iter().any(|p| keyframes::asks_for_keyframe(p.as_ref()))
                    {
                        requests.fetch_add(1, Ordering::Relaxed);
                        wanted.store(true, Ordering::Relaxed);
                    }
                }
            }));
            let parameters = source.sender.get_parameters().await.expect("sender parameters");
            let payload_type = parameters
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(source.mime))
                .map(|c| c.payload_type)
                .expect("a negotiated payload type");
            let (track, ssrc, kind, me) = (source.track.clone(), source.ssrc, source.kind, self.participant_id);
            let interval = if kind == MediaKind::Audio { 20 } else { 33 };
            let size = if kind == MediaKind::Audio { self.sizes.1 } else { self.sizes.0 };
            let sent = self.sent.clone();
            let voice_level = self.voice_level.clone();
            self.senders.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_millis(interval));
                for seq in 1u32.. {
                    ticker.tick().await;
                    let mut data = marker(me, kind, seq, size);
                    if kind == MediaKind::Video {
                        // The VP8 frame tag's lowest bit: 0 for a key frame.
                        let key = keyframe_wanted.swap(false, Ordering::Relaxed);
                        data.insert(0, if key { 0x00 } else { 0x01 });
                    }
                    let sample = Sample {
                        data: bytes::Bytes::from(data),
                        duration: Duration::from_millis(interval),
                        ..Sample::new(Instant::now())
                    };
                    let mut writer = track.sample_writer(ssrc, payload_type);
                    if kind == MediaKind::Audio {
                        let level = voice_level.load(Ordering::Relaxed);
                        writer = writer.with_audio_level(AudioLevelExtension { level, voice: level < 127 });
                    }
                    if writer.write_sample(&sample).await.is_err() {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }

    /// What has arrived from `sender` of `kind` so far.
    pub fn flow(&self, sender: Uuid, kind: MediaKind) -> Flow {
        self.received.lock().unwrap().get(&(sender, kind)).copied().unwrap_or_default()
    }

    pub async fn close(&mut self) {
        for task in self.senders.drain(..) {
            task.abort();
        }
        let _ = self.publish.close().await;
        if let Some((subscribe, _)) = self.subscribe.take() {
            let _ = subscribe.close().await;
        }
    }
}

/// Runs a participant: forwards commands to the server, answers SDP through
/// its `MediaPeer`, and passes every other message on.
pub struct MediaDriver {
    pub commands: mpsc::Sender<ClientMessage>,
    pub events: mpsc::Receiver<ServerMessage>,
    pub received: Received,
    /// Set it to make this participant stop reading what it receives.
    pub paused: Arc<AtomicBool>,
    pub delays: Delays,
    pub keyframe_requests: Arc<std::sync::atomic::AtomicU64>,
    pub tracks: RemoteTracks,
    /// The level this participant's audio packets carry (`MediaPeer::voice_level`).
    pub voice_level: Arc<AtomicU8>,
    task: tokio::task::JoinHandle<()>,
}

impl MediaDriver {
    /// `client` must already have joined and been admitted.
    pub async fn start(mut client: SignalClient, mut peer: MediaPeer) -> MediaDriver {
        let (commands, mut command_rx) = mpsc::channel::<ClientMessage>(64);
        let (event_tx, events) = mpsc::channel::<ServerMessage>(1024);
        let received = peer.received.clone();
        let paused = peer.paused.clone();
        let delays = peer.delays.clone();
        let keyframe_requests = peer.keyframe_requests.clone();
        let tracks = peer.tracks.clone();
        let voice_level = peer.voice_level.clone();
        for message in peer.offer().await {
            client.send(&message).await;
        }
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = command_rx.recv() => match command {
                        Some(command) => client.send(&command).await,
                        None => break,
                    },
                    message = client.next(Duration::from_secs(3600)) => match message {
                        Some(ServerMessage::Sdp { target, description }) => {
                            for reply in peer.on_sdp(target, description).await {
                                client.send(&reply).await;
                            }
                        }
                        Some(other) => {
                            let _ = event_tx.try_send(other);
                        }
                        None => break,
                    },
                }
            }
            peer.close().await;
        });
        MediaDriver { commands, events, received, paused, delays, keyframe_requests, tracks, voice_level, task }
    }

    pub fn flow(&self, sender: Uuid, kind: MediaKind) -> Flow {
        self.received.lock().unwrap().get(&(sender, kind)).copied().unwrap_or_default()
    }

    /// Sends a PLI for every video track received, as a decoder that lost
    /// its picture would.
    pub async fn request_keyframes(&self) {
        let tracks: Vec<Arc<dyn TrackRemote>> = self.tracks.lock().unwrap().clone();
        for track in tracks {
            if !track.kind().await.to_string().to_ascii_lowercase().contains("video") {
                continue;
            }
            for ssrc in track.ssrcs().await {
                let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
                let _ = track.write_rtcp(vec![Box::new(pli)]).await;
            }
        }
    }

    /// Asks for the packets `sequences` of the stream `media_ssrc` again,
    /// `times` times over in one RTCP packet, as a receiver whose requests
    /// pile up within one round trip would.
    pub async fn nack(&self, media_ssrc: u32, sequences: &[u16], times: usize) {
        let pairs: Vec<NackPair> = sequences.iter().map(|seq| NackPair { packet_id: *seq, lost_packets: 0 }).collect();
        let nacks: Vec<Box<dyn rtc::rtcp::Packet>> = (0..times)
            .map(|_| {
                Box::new(TransportLayerNack { sender_ssrc: 0, media_ssrc, nacks: pairs.clone() })
                    as Box<dyn rtc::rtcp::Packet>
            })
            .collect();
        let track = self.tracks.lock().unwrap().first().cloned().expect("a received track");
        track.write_rtcp(nacks).await.expect("the NACKs sent");
    }

    pub async fn send(&self, message: ClientMessage) {
        self.commands.send(message).await.expect("driver running");
    }

    /// Stops the participant: closes its peer connections and its socket.
    pub async fn stop(self) {
        drop(self.commands);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}
