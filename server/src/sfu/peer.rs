//! One participant's two peer connections and the forwarding tasks that
//! serve them. Event handlers hold only channel senders and weak references,
//! never the peer connection itself (webrtc-rs issue 906: a cycle through a
//! handler keeps a closed connection alive).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::{CongestionControlBuilder, Registry, Slot, TwccSenderBuilder};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability,
    RTCRtpRtxParameters, RtpCodecKind, TYPE_RTCP_FB_GOOG_REMB, TYPE_RTCP_FB_TRANSPORT_CC,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sdp::extmap::TRANSPORT_CC_URI;
use signaling_proto::{ErrorCode, MediaKind, PeerTarget};
use tokio::sync::{Mutex, broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
    SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use super::MediaRules;
use super::codecs;
use super::continuity::{Continuity, Verdict};
use super::estimate::{LinkEstimate, LinkEstimator, Unpaced};
use super::fec::{DownstreamLoss, ReportWorstLoss};
use super::keyframes;
use super::ports::PortPool;
use super::retransmit::{ResendCounters, Retransmitter};
use super::rtx_feedback::WithRtxStreams;
use super::speech::{AUDIO_LEVEL_URI, LevelCounter, audio_level_id};
use super::{Sfu, SfuMetrics, SignalSink, kind_of, sdp_message};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media negotiation failed: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    #[error("{0}")]
    Protocol(String),
    #[error("no media ports are free on the server; try again later")]
    PortsExhausted,
    #[error("the participant is gone")]
    Gone,
    /// A publish offer whose audio or video offers no codec of the policy.
    #[error("the {0} in this offer uses no codec the server forwards; offer {accepted}", accepted = super::codecs::ACCEPTED)]
    UnsupportedCodec(String),
}

impl MediaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MediaError::Protocol(_) => ErrorCode::InvalidField,
            MediaError::PortsExhausted => ErrorCode::MediaPortsExhausted,
            MediaError::UnsupportedCodec(_) => ErrorCode::UnsupportedCodec,
            _ => ErrorCode::Internal,
        }
    }
}

/// One published track, read once and fanned out to every subscriber.
pub struct Publication {
    pub from: Uuid,
    pub kind: MediaKind,
    codec: RTCRtpCodec,
    packets: broadcast::Sender<rtp::Packet>,
    track: Arc<dyn TrackRemote>,
    media_ssrc: u32,
    /// When a keyframe was last asked for, and whether a request waits for
    /// the interval to pass. A std Mutex: never held across an await.
    keyframe_clock: std::sync::Mutex<KeyframeClock>,
    /// What the publisher has sent, headers counted (`PACKET_OVERHEAD`).
    pub(super) received_bytes: AtomicU64,
    /// The loss its subscribers report, told to an audio publisher (fec.rs).
    downstream_loss: Arc<DownstreamLoss>,
    /// A microphone's packets and the loud ones (speech.rs).
    pub(super) levels: LevelCounter,
}

/// What a packet costs on the wire beyond its payload: IP, UDP, RTP with
/// its extensions, and the SRTP tag.
pub(super) const PACKET_OVERHEAD: u64 = 60;

/// Keyframe requests reach a publisher at most once per interval; one made
/// sooner is not dropped but deferred to the end of the interval, and all
/// made meanwhile share it.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
struct KeyframeClock {
    last_sent: Option<Instant>,
    deferred: bool,
}

impl Publication {
    /// A subscriber reported losing `fraction_lost` (of 256) of this stream
    /// on its way to them: an audio publisher hears of the worst (fec.rs).
    fn note_downstream_loss(&self, fraction_lost: u8) {
        if self.kind == MediaKind::Audio {
            self.downstream_loss.note(self.media_ssrc, fraction_lost, Instant::now());
        }
    }

    /// Asks the publisher for a keyframe now, or at the end of the interval
    /// when one was asked for less than an interval ago.
    fn request_keyframe(self: &Arc<Self>) {
        if self.kind != MediaKind::Video {
            return;
        }
        let wait = {
            let mut clock = self.keyframe_clock.lock().expect("keyframe clock poisoned");
            let now = Instant::now();
            match clock.last_sent.map(|at| at + KEYFRAME_INTERVAL) {
                Some(next) if next > now && clock.deferred => return,
                Some(next) if next > now => {
                    clock.deferred = true;
                    next - now
                }
                _ => {
                    clock.last_sent = Some(now);
                    Duration::ZERO
                }
            }
        };
        let publication = self.clone();
        tokio::spawn(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                let mut clock = publication.keyframe_clock.lock().expect("keyframe clock poisoned");
                clock.deferred = false;
                clock.last_sent = Some(Instant::now());
            }
            tracing::debug!(from = %publication.from, deferred = !wait.is_zero(), "keyframe request");
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: publication.media_ssrc };
            let _ = publication.track.write_rtcp(vec![Box::new(pli)]).await;
        });
    }
}

/// One (subscriber, publication) pair.
struct Writer {
    from: Uuid,
    publication: Arc<Publication>,
    sender: Arc<dyn RtpSender>,
    /// What this subscriber negotiated for it.
    negotiated: Arc<Negotiated>,
    /// Set while this subscriber's link cannot carry this video (the allocator).
    network_paused: Arc<AtomicBool>,
    task: JoinHandle<()>,
    feedback: JoinHandle<()>,
}

/// What a subscriber's answer chose for one forwarded stream.
#[derive(Debug, Default)]
struct Negotiated {
    /// The payload type; 0 until the answer is in.
    payload_type: AtomicU8,
    /// The publisher sends RED and this subscriber takes plain Opus only:
    /// each packet goes with its primary block alone.
    unwrap_red: AtomicBool,
}

impl Negotiated {
    /// Learns the payload type for `sent` (a MIME type) from the codecs a
    /// subscriber negotiated; Opus stands in for RED where it has no RED.
    fn learn(&self, sent: &str, codecs: &[(String, u8)]) {
        let find = |mime: &str| codecs.iter().find(|(chosen, _)| chosen.eq_ignore_ascii_case(mime)).map(|c| c.1);
        let (payload_type, unwrap_red) = match find(sent) {
            Some(payload_type) => (payload_type, false),
            None if sent.eq_ignore_ascii_case(codecs::MIME_TYPE_RED) => {
                let Some(opus) = find(MIME_TYPE_OPUS) else { return };
                (opus, true)
            }
            None => return,
        };
        self.unwrap_red.store(unwrap_red, Ordering::Release);
        // The writer asks for a keyframe itself once the connection is up.
        self.payload_type.store(payload_type, Ordering::Release);
    }
}

/// One forwarded stream as the allocation loop sees it.
pub(super) struct ForwardedStream {
    pub from: Uuid,
    pub kind: MediaKind,
    pub network_paused: Arc<AtomicBool>,
}

impl Writer {
    fn stop(&self) {
        self.task.abort();
        self.feedback.abort();
    }
}

#[derive(Default)]
struct Negotiation {
    in_flight: bool,
    pending: bool,
}

pub struct Peer {
    pub participant_id: Uuid,
    publish: Arc<dyn PeerConnection>,
    subscribe: Arc<dyn PeerConnection>,
    /// Signals "ICE gathering complete" for each connection. Async locks,
    /// held across the wait for that signal (one waiter at a time).
    publish_gathered: Mutex<mpsc::Receiver<()>>,
    subscribe_gathered: Mutex<mpsc::Receiver<()>>,
    /// Whether a subscribe offer is out and whether another is queued.
    /// Async lock, held only to read or flip the flags (no await under it).
    negotiation: Mutex<Negotiation>,
    /// One writer per forwarded track. Async lock, held across the sender
    /// queries of an answer (`get_parameters`), so a track added meanwhile
    /// waits for the answer to be read.
    writers: Mutex<Vec<Writer>>,
    rules: watch::Receiver<MediaRules>,
    signal: SignalSink,
    sfu: Weak<Sfu>,
    room_metrics: Arc<SfuMetrics>,
    /// Whether the subscribe connection is up (DTLS done): nothing is
    /// forwarded before, since it would be lost, keyframes first of all.
    subscribe_connected: Arc<AtomicBool>,
    /// Trickled candidates that came before their connection's remote
    /// description; added once it is set. Async lock, held across the add.
    early_candidates: Mutex<Vec<(PeerTarget, RTCIceCandidateInit)>>,
    /// What was forwarded to this subscriber, and its resends.
    forwarded: Arc<SfuMetrics>,
    resends: Arc<ResendCounters>,
    /// What this participant's downlink carries (the subscribe connection's estimate).
    pub(super) estimate: Arc<LinkEstimate>,
    /// The audio level extension's id on the publish connection (0: not
    /// negotiated), read by the microphone track's reader.
    audio_level_id: Arc<AtomicU8>,
    /// The media ports this participant holds, returned on close.
    ports: [u16; 2],
}

/// The subscribe side: gathering, and whether the connection is up.
struct SubscribeHandler {
    gathered: mpsc::Sender<()>,
    connected: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for SubscribeHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(?state, "subscribe connection");
        match state {
            RTCPeerConnectionState::Connected => self.connected.store(true, Ordering::Release),
            // Maybe only a missed consent check: keep forwarding until it fails.
            RTCPeerConnectionState::Disconnected => {}
            _ => self.connected.store(false, Ordering::Release),
        }
    }
}

/// The publish side also receives tracks.
struct PublishHandler {
    gathered: mpsc::Sender<()>,
    participant_id: Uuid,
    session_id: Uuid,
    sfu: Weak<Sfu>,
    /// One microphone and one camera per participant: further tracks are
    /// ignored, so one client cannot multiply the load on every subscriber.
    /// A std Mutex, never held across an await.
    kinds_published: std::sync::Mutex<Vec<MediaKind>>,
    downstream_loss: Arc<DownstreamLoss>,
    audio_level_id: Arc<AtomicU8>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PublishHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let ssrcs = track.ssrcs().await;
        let codec = match ssrcs.first() {
            Some(&ssrc) => track.codec(ssrc).await.map(|codec| (ssrc, codec)),
            None => None,
        };
        let Some((media_ssrc, codec)) = codec else {
            tracing::warn!(participant = %self.participant_id, ssrcs = ssrcs.len(), "a published track without SSRC or codec is ignored");
            return;
        };
        let kind = kind_of(&codec.mime_type);
        tracing::debug!(participant = %self.participant_id, ?kind, "track published");
        {
            let mut published = self.kinds_published.lock().expect("publish kinds poisoned");
            if published.contains(&kind) {
                tracing::info!(participant = %self.participant_id, "a second track of one kind is ignored");
                return;
            }
            published.push(kind);
        }
        let (packets, _) = broadcast::channel(512);
        let publication = Arc::new(Publication {
            from: self.participant_id,
            kind,
            codec,
            packets: packets.clone(),
            track: track.clone(),
            media_ssrc,
            keyframe_clock: std::sync::Mutex::default(),
            received_bytes: AtomicU64::new(0),
            downstream_loss: self.downstream_loss.clone(),
            levels: LevelCounter::default(),
        });
        if let Some(sfu) = self.sfu.upgrade() {
            let session_id = self.session_id;
            let published = publication.clone();
            tokio::spawn(async move { sfu.published(session_id, published).await });
        }
        // The one reader of this track: never waits for a subscriber.
        let counted = publication.clone();
        let audio_level_id = (kind == MediaKind::Audio).then(|| self.audio_level_id.clone());
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(mut packet) => {
                        let level_id = audio_level_id.as_ref().map_or(0, |id| id.load(Ordering::Relaxed));
                        if let Some(level) = packet.header.extensions.iter().find(|e| level_id != 0 && e.id == level_id)
                        {
                            counted.levels.hear(&level.payload);
                        }
                        // Header extension ids differ per connection: strip them
                        // once here, so no subscriber copies them.
                        // (The padding goes too: an extension the subscribe
                        // side adds, transport-wide CC, is laid out afresh.)
                        packet.header.extension = false;
                        packet.header.extensions.clear();
                        packet.header.extensions_padding = 0;
                        counted
                            .received_bytes
                            .fetch_add(packet.payload.len() as u64 + PACKET_OVERHEAD, Ordering::Relaxed);
                        let _ = packets.send(packet);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

/// Without a consent check from the client for this long a connection is
/// disconnected (media still flows meanwhile)...
const ICE_DISCONNECTED_AFTER: Duration = Duration::from_secs(12);
/// ...and failed this long after that.
const ICE_FAILED_AFTER: Duration = Duration::from_secs(25);

/// Which of a participant's two connections is built.
enum Side {
    Publish { downstream_loss: Arc<DownstreamLoss> },
    Subscribe { resends: Arc<ResendCounters>, estimate: Arc<LinkEstimate> },
}

/// Builds a peer connection on the first free port of the pool; returns it
/// with the port it holds (0 when the system chose).
async fn build_connection(
    bind_ip: IpAddr,
    ports: &PortPool,
    ice_tcp: bool,
    handler: Arc<dyn PeerConnectionEventHandler>,
    side: &Side,
) -> Result<(Arc<dyn PeerConnection>, u16), MediaError> {
    for port in ports.candidates() {
        if !ports.take(port) {
            continue;
        }
        let mut media_engine = MediaEngine::default();
        super::codecs::register(&mut media_engine)?;
        let mut registry = register_default_interceptors(Registry::new(), &mut media_engine)?
            .with(Slot::from(keyframes::SLOT), keyframes::KeyframeRequests::default());
        if let Side::Publish { downstream_loss } = side {
            registry = registry.with(Slot::from(super::fec::SLOT), ReportWorstLoss::new(downstream_loss.clone()));
            // Each microphone's level on its packets, to find the speaker.
            media_engine.register_header_extension(
                RTCRtpHeaderExtensionCapability { uri: AUDIO_LEVEL_URI.into() },
                RtpCodecKind::Audio,
                None,
            )?;
        }
        if let Side::Subscribe { resends, estimate } = side {
            // The subscribe side answers NACKs with a budget (retransmit.rs),
            // and estimates the subscriber's downlink from transport-wide
            // feedback (estimate.rs), or from REMB where that is all a client
            // sends. No pacer (`Unpaced`): the allocator keeps the sum
            // within the estimate.
            // Transport-wide feedback is registered here rather than through
            // the crate's `configure_congestion_control`, so that its sender
            // and send history count RTX packets too (`WithRtxStreams`):
            // resends and probe padding are part of what the link carries.
            for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
                media_engine.register_feedback(
                    RTCPFeedback { typ: TYPE_RTCP_FB_TRANSPORT_CC.into(), parameter: String::new() },
                    kind,
                );
                media_engine.register_header_extension(
                    RTCRtpHeaderExtensionCapability { uri: TRANSPORT_CC_URI.into() },
                    kind,
                    None,
                )?;
            }
            let estimator = CongestionControlBuilder::new(LinkEstimator::new(estimate.clone())).build();
            registry = registry
                .with(Slot::NackResponder, Retransmitter::new(resends.clone(), estimate.clone()))
                .with(Slot::CongestionControl, WithRtxStreams(estimator))
                .with(Slot::TwccSender, WithRtxStreams(TwccSenderBuilder::new().build()))
                .with(Slot::Pacer, Unpaced::default());
            media_engine.register_feedback(
                RTCPFeedback { typ: TYPE_RTCP_FB_GOOG_REMB.into(), parameter: String::new() },
                RtpCodecKind::Video,
            );
        }
        // No mDNS: it would open one more socket per connection, and the
        // server announces a real address anyway.
        // ICE lite (RFC 8445 2.5): the server answers checks and never starts
        // them, so the client controls and nominates at once; a full agent
        // here, controlling the subscribe side, took 1-2 s more to connect.
        //
        // An ICE-lite server learns a connection is alive from the client's
        // consent checks (RFC 7675: one every ~5 s from a browser). The
        // crate's default, disconnected after 5 s without one, turned a
        // single check lost or held up on a lossy village line into a
        // disconnected connection; two missed checks are needed here.
        let mut settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_lite(true)
            .with_ice_timeouts(Some(ICE_DISCONNECTED_AFTER), Some(ICE_FAILED_AFTER), None);
        // With ICE over TCP each connection listens on an ephemeral loopback
        // port; the mux (ice_tcp.rs) brings the public port's connections there.
        let tcp_addrs = if ice_tcp {
            settings = settings.with_network_types(vec![NetworkType::Udp4, NetworkType::Udp6, NetworkType::Tcp4]);
            vec![format!("{}:0", super::ice_tcp::LOOPBACK)]
        } else {
            Vec::new()
        };
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler.clone())
            .with_udp_addrs(vec![format!("{bind_ip}:{port}")])
            .with_tcp_addrs(tcp_addrs)
            .build()
            .await;
        match built {
            Ok(connection) => return Ok((Arc::new(connection), port)),
            Err(error) if port != 0 => {
                tracing::debug!(port, %error, "media port not usable; trying the next");
                ports.release(port);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(MediaError::PortsExhausted)
}

/// Forgets a gathering-complete signal left from an earlier negotiation
/// (it fires after every local description).
async fn forget_gathered(signal: &Mutex<mpsc::Receiver<()>>) {
    while signal.lock().await.try_recv().is_ok() {}
}

/// Waits for ICE gathering to complete after a local description was set,
/// so the description sent carries every candidate (no trickle needed).
async fn gathered(signal: &Mutex<mpsc::Receiver<()>>) {
    let _ = tokio::time::timeout(Duration::from_secs(5), signal.lock().await.recv()).await;
}

impl Peer {
    pub async fn new(
        participant_id: Uuid,
        bind_ip: IpAddr,
        sfu: Arc<Sfu>,
        session_id: Uuid,
        rules: watch::Receiver<MediaRules>,
        signal: SignalSink,
        room_metrics: Arc<SfuMetrics>,
    ) -> Result<Arc<Self>, MediaError> {
        let (publish_tx, publish_rx) = mpsc::channel(1);
        let (subscribe_tx, subscribe_rx) = mpsc::channel(1);
        let weak = Arc::downgrade(&sfu);
        let downstream_loss = Arc::new(DownstreamLoss::default());
        let audio_level_id = Arc::new(AtomicU8::new(0));
        let publish_handler = Arc::new(PublishHandler {
            gathered: publish_tx,
            participant_id,
            session_id,
            sfu: weak.clone(),
            kinds_published: std::sync::Mutex::default(),
            downstream_loss: downstream_loss.clone(),
            audio_level_id: audio_level_id.clone(),
        });
        let ice_tcp = sfu.ice_tcp.is_some();
        let (publish, publish_port) =
            build_connection(bind_ip, &sfu.ports, ice_tcp, publish_handler, &Side::Publish { downstream_loss }).await?;
        let resends = Arc::new(ResendCounters::default());
        let estimate = Arc::new(LinkEstimate::default());
        let side = Side::Subscribe { resends: resends.clone(), estimate: estimate.clone() };
        let subscribe_connected = Arc::new(AtomicBool::new(false));
        let subscribe_handler =
            Arc::new(SubscribeHandler { gathered: subscribe_tx, connected: subscribe_connected.clone() });
        let (subscribe, subscribe_port) =
            match build_connection(bind_ip, &sfu.ports, ice_tcp, subscribe_handler, &side).await {
                Ok(built) => built,
                Err(error) => {
                    let _ = publish.close().await;
                    sfu.ports.release(publish_port);
                    return Err(error);
                }
            };
        Ok(Arc::new(Peer {
            participant_id,
            publish,
            subscribe,
            publish_gathered: Mutex::new(publish_rx),
            subscribe_gathered: Mutex::new(subscribe_rx),
            negotiation: Mutex::default(),
            writers: Mutex::default(),
            rules,
            signal,
            sfu: weak,
            room_metrics,
            early_candidates: Mutex::default(),
            subscribe_connected,
            forwarded: Arc::default(),
            resends,
            estimate,
            audio_level_id,
            ports: [publish_port, subscribe_port],
        }))
    }

    fn connection(&self, target: PeerTarget) -> &Arc<dyn PeerConnection> {
        match target {
            PeerTarget::Publish => &self.publish,
            PeerTarget::Subscribe => &self.subscribe,
        }
    }

    /// A candidate the client trickled: added to its connection, or kept
    /// until that connection's remote description is set. One that names
    /// another ICE username fragment than the connection's (a reloaded page's
    /// new connection, whose offer is on its way) is handed back.
    pub async fn add_remote_candidate(
        &self,
        target: PeerTarget,
        candidate: RTCIceCandidateInit,
    ) -> Result<(), RTCIceCandidateInit> {
        let mut early = self.early_candidates.lock().await;
        let Some(remote) = self.connection(target).remote_description().await else {
            early.push((target, candidate));
            return Ok(());
        };
        let named = super::sdp::candidate_ufrag(&candidate.candidate);
        if named.is_some() && named != super::sdp::ice_ufrag(&remote.sdp).as_deref() {
            return Err(candidate);
        }
        self.add_trickled(target, candidate).await;
        Ok(())
    }

    async fn add_trickled(&self, target: PeerTarget, candidate: RTCIceCandidateInit) {
        match self.connection(target).add_ice_candidate(candidate).await {
            Ok(()) => {
                self.resends.trickled_candidates.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::debug!(%error, "a trickled candidate was not usable"),
        }
    }

    async fn add_early_candidates(&self, target: PeerTarget) {
        let mut early = self.early_candidates.lock().await;
        let (now, later): (Vec<_>, Vec<_>) = early.drain(..).partition(|(to, _)| *to == target);
        *early = later;
        for (_, candidate) in now {
            self.add_trickled(target, candidate).await;
        }
    }

    /// The streams forwarded to this subscriber.
    pub(super) async fn forwarded_streams(&self) -> Vec<ForwardedStream> {
        self.writers
            .lock()
            .await
            .iter()
            .map(|writer| ForwardedStream {
                from: writer.from,
                kind: writer.publication.kind,
                network_paused: writer.network_paused.clone(),
            })
            .collect()
    }

    /// Bytes resent to this subscriber so far.
    pub(super) fn resent_bytes(&self) -> u64 {
        self.resends.resent_bytes.load(Ordering::Relaxed)
    }

    /// What was forwarded to this subscriber and how their NACKs went.
    pub fn figures(&self) -> super::SubscriberFigures {
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        super::SubscriberFigures {
            participant_id: self.participant_id,
            forwarded_packets: load(&self.forwarded.forwarded_packets),
            forwarded_bytes: load(&self.forwarded.forwarded_bytes),
            nacks: load(&self.resends.nacks),
            resent_packets: load(&self.resends.resent_packets),
            resent_bytes: load(&self.resends.resent_bytes),
            refused_resends: load(&self.resends.refused),
            probe_padding_bytes: load(&self.resends.padding_bytes),
            trickled_candidates: load(&self.resends.trickled_candidates),
        }
    }

    /// Whether a publish offer comes from the client connection this peer
    /// already talks to (same DTLS fingerprint; an ICE restart keeps it), or
    /// from new peer connections after a reload.
    pub async fn offer_is_from_same_client(&self, offer: &str) -> bool {
        let Some(current) = self.publish.remote_description().await else { return true };
        match (super::sdp::fingerprint(&current.sdp), super::sdp::fingerprint(offer)) {
            (Some(current), Some(offered)) => current.eq_ignore_ascii_case(&offered),
            _ => true,
        }
    }

    /// Answers the client's publish offer; returns the answer SDP.
    pub async fn answer_publish(&self, offer: String) -> Result<String, MediaError> {
        if let Some(kind) = super::codecs::unsupported_kind(&offer) {
            return Err(MediaError::UnsupportedCodec(kind));
        }
        self.publish.set_remote_description(RTCSessionDescription::offer(offer)?).await?;
        self.add_early_candidates(PeerTarget::Publish).await;
        let answer = self.publish.create_answer(None).await?;
        forget_gathered(&self.publish_gathered).await;
        self.publish.set_local_description(answer).await?;
        gathered(&self.publish_gathered).await;
        let local = self.publish.local_description().await.ok_or(MediaError::Gone)?;
        self.audio_level_id.store(audio_level_id(&local.sdp).unwrap_or(0), Ordering::Relaxed);
        Ok(local.sdp)
    }

    /// Adds a send-only track for `publication` and starts its writer.
    pub async fn subscribe_to(&self, publication: Arc<Publication>) -> Result<(), MediaError> {
        let ssrc = rand::random::<u32>();
        let kind = match publication.kind {
            MediaKind::Audio => RtpCodecKind::Audio,
            MediaKind::Video => RtpCodecKind::Video,
        };
        let from = publication.from;
        // RED goes where the subscriber takes it, else the Opus inside it:
        // the track is Opus, and RED is offered first beside it.
        let sends_red = publication.codec.mime_type.eq_ignore_ascii_case(codecs::MIME_TYPE_RED);
        let track_codec = if sends_red { codecs::opus().rtp_codec } else { publication.codec.clone() };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            from.to_string(),
            format!("{}-{from}", kind_label(publication.kind)),
            format!("{}-{from}", kind_label(publication.kind)),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    // Resends go as RTX where the subscriber negotiates it.
                    rtx: (publication.kind == MediaKind::Video)
                        .then(|| RTCRtpRtxParameters { ssrc: rand::random::<u32>() }),
                    ..Default::default()
                },
                codec: track_codec.clone(),
                ..Default::default()
            }],
        )));
        let transceiver = self
            .subscribe
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendonly, ..Default::default() }),
            )
            .await?;
        if sends_red && transceiver.set_codec_preferences(vec![codecs::red(), codecs::opus()]).await.is_err() {
            // This subscriber's first answer left RED out: it gets Opus.
            tracing::debug!(participant = %self.participant_id, "a subscriber without RED gets plain Opus");
        }
        let sender = transceiver.sender().await?.ok_or(MediaError::Gone)?;
        let negotiated = Arc::new(Negotiated::default());
        let network_paused = Arc::new(AtomicBool::new(false));
        // The subscriber's own keyframe requests go up to the publisher.
        let feedback = tokio::spawn(read_feedback(track.clone(), ssrc, publication.clone(), self.estimate.clone()));
        let task = tokio::spawn(forward(
            publication.clone(),
            self.participant_id,
            track,
            ssrc,
            negotiated.clone(),
            [self.subscribe_connected.clone(), network_paused.clone()],
            self.rules.clone(),
            [
                self.sfu.upgrade().map(|sfu| sfu.metrics.clone()),
                Some(self.room_metrics.clone()),
                Some(self.forwarded.clone()),
            ],
        ));
        self.writers.lock().await.push(Writer {
            from,
            publication,
            sender,
            negotiated,
            network_paused,
            task,
            feedback,
        });
        Ok(())
    }

    /// Stops forwarding `from`'s tracks to this subscriber.
    pub async fn unsubscribe_from(&self, from: Uuid) {
        let gone: Vec<Writer> = {
            let mut writers = self.writers.lock().await;
            let (gone, kept): (Vec<Writer>, Vec<Writer>) = writers.drain(..).partition(|w| w.from == from);
            *writers = kept;
            gone
        };
        if gone.is_empty() {
            return;
        }
        for writer in gone {
            writer.stop();
            let _ = self.subscribe.remove_track(&writer.sender).await;
        }
        if let Err(error) = self.renegotiate().await {
            tracing::debug!(%error, "renegotiation after a departure failed");
        }
    }

    /// Sends a new subscribe offer, unless one is in flight (then once it is
    /// answered): one offer at a time, so no glare.
    pub async fn renegotiate(&self) -> Result<(), MediaError> {
        {
            let mut negotiation = self.negotiation.lock().await;
            if negotiation.in_flight {
                negotiation.pending = true;
                return Ok(());
            }
            if self.writers.lock().await.is_empty() {
                return Ok(());
            }
            negotiation.in_flight = true;
            negotiation.pending = false;
        }
        let tracks = self.writers.lock().await.len();
        tracing::debug!(participant = %self.participant_id, tracks, "sending a subscribe offer");
        let sent = async {
            let offer = self.subscribe.create_offer(None).await?;
            forget_gathered(&self.subscribe_gathered).await;
            self.subscribe.set_local_description(offer).await?;
            gathered(&self.subscribe_gathered).await;
            self.send_local_offer().await
        }
        .await;
        if sent.is_err() {
            // Not left "in flight" forever: the next change tries again.
            self.negotiation.lock().await.in_flight = false;
        }
        sent
    }

    async fn send_local_offer(&self) -> Result<(), MediaError> {
        let local = self.subscribe.local_description().await.ok_or(MediaError::Gone)?;
        let sdp = match self.sfu.upgrade() {
            Some(sfu) => sfu.announce(local.sdp),
            None => local.sdp,
        };
        self.signal
            .send((self.participant_id, sdp_message(PeerTarget::Subscribe, "offer", sdp)))
            .await
            .map_err(|_| MediaError::Gone)
    }

    /// After a reconnection: the offer in flight may have been lost with the
    /// old connection, so it is sent again.
    pub async fn resend_pending_offer(&self) -> Result<(), MediaError> {
        if self.negotiation.lock().await.in_flight {
            self.send_local_offer().await?;
        }
        Ok(())
    }

    /// Applies the client's subscribe answer, learns the payload types it
    /// chose, asks publishers for keyframes, and sends any queued offer.
    pub async fn accept_subscribe_answer(&self, answer: String) -> Result<(), MediaError> {
        if !self.negotiation.lock().await.in_flight {
            return Err(MediaError::Protocol("no subscribe offer is outstanding".into()));
        }
        self.subscribe.set_remote_description(RTCSessionDescription::answer(answer)?).await?;
        self.add_early_candidates(PeerTarget::Subscribe).await;
        for writer in self.writers.lock().await.iter() {
            if writer.negotiated.payload_type.load(Ordering::Acquire) != 0 {
                continue;
            }
            let parameters = writer.sender.get_parameters().await?;
            let chosen: Vec<(String, u8)> = parameters
                .rtp_parameters
                .codecs
                .iter()
                .map(|codec| (codec.rtp_codec.mime_type.clone(), codec.payload_type))
                .collect();
            writer.negotiated.learn(&writer.publication.codec.mime_type, &chosen);
        }
        let pending = {
            let mut negotiation = self.negotiation.lock().await;
            negotiation.in_flight = false;
            std::mem::take(&mut negotiation.pending)
        };
        if pending { self.renegotiate().await } else { Ok(()) }
    }

    pub async fn close(&self) {
        let writers: Vec<Writer> = self.writers.lock().await.drain(..).collect();
        for writer in writers {
            writer.stop();
            let _ = self.subscribe.remove_track(&writer.sender).await;
        }
        let sfu = self.sfu.upgrade();
        if let Some(mux) = sfu.as_ref().and_then(|sfu| sfu.ice_tcp.as_ref()) {
            for connection in [&self.publish, &self.subscribe] {
                if let Some(local) = connection.local_description().await {
                    mux.forget(&local.sdp);
                }
            }
        }
        let _ = self.publish.close().await;
        let _ = self.subscribe.close().await;
        if let Some(sfu) = sfu {
            for port in self.ports {
                sfu.ports.release(port);
            }
        }
    }
}

fn kind_label(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}

/// Reads what a subscriber says about this track (sent to it as `ssrc`): a
/// PLI/FIR goes up to the publisher (at most once per interval per track,
/// see `Publication::request_keyframe`); the loss in its receiver reports
/// goes to an audio publisher (fec.rs) and to the link estimate; a REMB is
/// the subscriber's estimate of its downlink, for clients that do not send
/// transport-wide feedback.
async fn read_feedback(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    publication: Arc<Publication>,
    estimate: Arc<LinkEstimate>,
) {
    while let Some(event) = track.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = event else { continue };
        if packets.iter().any(|packet| keyframes::asks_for_keyframe(packet.as_ref())) {
            publication.request_keyframe();
        }
        for packet in &packets {
            let any = packet.as_any();
            if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                estimate.record_remb(f64::from(remb.bitrate), Instant::now());
            } else if let Some(report) = any.downcast_ref::<ReceiverReport>() {
                for block in report.reports.iter().filter(|block| block.ssrc == ssrc) {
                    publication.note_downstream_loss(block.fraction_lost);
                    estimate.record_receiver_loss(block.fraction_lost, Instant::now());
                }
            }
        }
    }
}

/// The writer of one (subscriber, publication) pair: takes packets from the
/// publication's broadcast (a slow subscriber lags and loses packets; the
/// publisher never waits), applies the room's rules, keeps the stream
/// continuous across pauses (`Continuity`), rewrites SSRC and payload type
/// (header extensions were stripped by the reader).
async fn forward(
    publication: Arc<Publication>,
    to: Uuid,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    negotiated: Arc<Negotiated>,
    [connected, network_paused]: [Arc<AtomicBool>; 2],
    rules: watch::Receiver<MediaRules>,
    metrics: [Option<Arc<SfuMetrics>>; 3],
) {
    let mut packets = publication.packets.subscribe();
    let is_video = publication.kind == MediaKind::Video;
    let mut stream = Continuity::new(publication.codec.clock_rate, is_video);
    let mut was_allowed = false;
    let mut last_request: Option<Instant> = None;
    loop {
        let mut packet = match packets.recv().await {
            Ok(packet) => packet,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // Packets that never reached this subscriber: a pause, not a loss it could NACK.
                metrics.iter().flatten().for_each(|m| m.dropped(missed));
                stream.skip();
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let pt = negotiated.payload_type.load(Ordering::Acquire);
        let allowed = pt != 0
            && connected.load(Ordering::Acquire)
            && !network_paused.load(Ordering::Acquire)
            && rules.borrow().may_flow(publication.from, to, publication.kind);
        let resumed = allowed && !was_allowed;
        was_allowed = allowed;
        if !allowed {
            stream.skip();
            continue;
        }
        let now = Instant::now();
        // Media resumes (a caucus closed, a camera came back, the link
        // carries this video again), or video still
        // waits for its keyframe: ask the publisher, again after a second.
        let asked_long_ago = last_request.is_none_or(|at| now - at > Duration::from_secs(1));
        if resumed || (stream.awaiting_keyframe() && asked_long_ago) {
            publication.request_keyframe();
            last_request = Some(now);
        }
        let keyframe = is_video && codecs::starts_keyframe(&publication.codec.mime_type, &packet.payload);
        if stream.forward(&mut packet.header, keyframe, now) != Verdict::Send {
            continue;
        }
        packet.header.ssrc = ssrc;
        packet.header.payload_type = pt;
        if negotiated.unwrap_red.load(Ordering::Acquire) {
            let Some(primary) = codecs::red_primary(&packet.payload) else { continue };
            packet.payload = packet.payload.slice(primary);
        }
        let bytes = packet.payload.len() as u64;
        if track.write_rtp(packet).await.is_err() {
            break;
        }
        metrics.iter().flatten().for_each(|m| m.forwarded(bytes));
    }
}
