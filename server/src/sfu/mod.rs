//! The media plane: a selective forwarding unit on webrtc-rs. Each
//! participant has two peer connections: a publish connection the client
//! offers (its microphone and camera up) and a subscribe connection the
//! server offers (everyone else's tracks down). Each published track has one
//! reader; each (subscriber, track) pair one writer that rewrites SSRC and
//! payload type and drops packets instead of waiting when the subscriber is
//! slow. What flows is decided per packet by the room's `MediaRules`, and
//! by what each subscriber's link can carry (`links`, `allocator`,
//! `estimate`).
//! Knows nothing of HTTP or WebSockets: SDP goes in and out as strings.

pub mod allocator;
pub mod codecs;
pub mod continuity;
pub mod estimate;
pub mod fec;
pub mod ice_tcp;
pub mod keyframes;
mod links;
mod peer;
pub mod ports;
pub mod retransmit;
mod rtx_feedback;
mod rules;
pub mod sdp;
pub mod speech;
pub mod turn;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rtc::peer_connection::transport::RTCIceCandidateInit;
use signaling_proto::{IceCandidate, MediaKind, PeerTarget, ServerMessage, SessionDescription};
use tokio::sync::{Mutex, mpsc, watch};
use uuid::Uuid;

pub use rules::MediaRules;

pub use peer::MediaError;

/// Counters for `/metrics`, for the whole server and for each room.
#[derive(Debug, Default)]
pub struct SfuMetrics {
    pub peer_connections: AtomicU64,
    pub forwarded_packets: AtomicU64,
    pub forwarded_bytes: AtomicU64,
    pub dropped_packets: AtomicU64,
}

impl SfuMetrics {
    pub(crate) fn forwarded(&self, bytes: u64) {
        self.forwarded_packets.fetch_add(1, Ordering::Relaxed);
        self.forwarded_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, packets: u64) {
        self.dropped_packets.fetch_add(packets, Ordering::Relaxed);
    }
}

/// One subscriber's figures: what was forwarded to them, and how their
/// NACKs were answered.
#[derive(Debug, Clone)]
pub struct SubscriberFigures {
    pub participant_id: Uuid,
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    pub nacks: u64,
    pub resent_packets: u64,
    pub resent_bytes: u64,
    pub refused_resends: u64,
    /// Probe padding sent to find out whether their link carries more.
    pub probe_padding_bytes: u64,
    /// Candidates this participant trickled, added to their connections.
    pub trickled_candidates: u64,
}

/// One room's figures, as `/metrics` shows them.
#[derive(Debug, Clone)]
pub struct RoomFigures {
    pub session_id: Uuid,
    pub peer_connections: u64,
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    pub dropped_packets: u64,
    pub subscribers: Vec<SubscriberFigures>,
}

/// Where the SFU sends signaling for a participant (the room forwards it to
/// their current connection).
pub type SignalSink = mpsc::Sender<(Uuid, ServerMessage)>;

/// The media side of one live room.
struct MediaRoom {
    /// Set when the room leaves the SFU's map; a task that was waiting for
    /// its lock then starts over with a fresh room.
    closed: bool,
    metrics: Arc<SfuMetrics>,
    rules: watch::Receiver<MediaRules>,
    signal: SignalSink,
    peers: HashMap<Uuid, Arc<peer::Peer>>,
    publications: Vec<Arc<peer::Publication>>,
    /// Trickled candidates of participants whose connections do not exist yet.
    early_candidates: HashMap<Uuid, Vec<(PeerTarget, RTCIceCandidateInit)>>,
}

/// The SFU of the whole server.
pub struct Sfu {
    bind_ip: IpAddr,
    /// Announced instead of `bind_ip` behind a 1:1 NAT.
    public_ip: Option<IpAddr>,
    pub(crate) ports: ports::PortPool,
    /// ICE over TCP on one port, when configured.
    pub ice_tcp: Option<Arc<ice_tcp::IceTcpMux>>,
    /// The media rooms by session. The std Mutex guards only the map (find,
    /// insert, remove) and is never held across an await; each room has its
    /// own async lock, held across peer creation and subscription so that
    /// one room's joins are serialised without stalling other rooms.
    rooms: std::sync::Mutex<HashMap<Uuid, SharedRoom>>,
    pub metrics: Arc<SfuMetrics>,
}

type SharedRoom = Arc<Mutex<MediaRoom>>;

impl Sfu {
    pub fn new(
        bind_ip: IpAddr,
        public_ip: Option<IpAddr>,
        port_range: Option<std::ops::RangeInclusive<u16>>,
        ice_tcp: Option<Arc<ice_tcp::IceTcpMux>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            bind_ip,
            public_ip,
            ports: ports::PortPool::new(port_range),
            ice_tcp,
            rooms: std::sync::Mutex::default(),
            metrics: Arc::default(),
        })
    }

    /// Media ports of the configured range in use now.
    pub fn ports_in_use(&self) -> usize {
        self.ports.used()
    }

    /// A participant's SDP or candidate, handled off the room's task.
    pub fn signal(
        self: &Arc<Self>,
        session_id: Uuid,
        participant_id: Uuid,
        rules: watch::Receiver<MediaRules>,
        sink: SignalSink,
        target: PeerTarget,
        description: SessionDescription,
    ) {
        let sfu = self.clone();
        tokio::spawn(async move {
            let result = match (target, description.kind.as_str()) {
                (PeerTarget::Publish, "offer") => {
                    sfu.publish_offer(session_id, participant_id, rules, sink.clone(), description.sdp).await
                }
                (PeerTarget::Subscribe, "answer") => {
                    sfu.subscribe_answer(session_id, participant_id, description.sdp).await
                }
                _ => Err(MediaError::Protocol("send a publish offer or a subscribe answer".into())),
            };
            if let Err(error) = result {
                // The error text may quote SDP, which is never logged.
                tracing::warn!(session = %session_id, participant = %participant_id, code = ?error.code(), "media negotiation failed");
                let message = ServerMessage::Error { request_id: None, code: error.code(), message: error.to_string() };
                let _ = sink.send((participant_id, message)).await;
            }
        });
    }

    async fn publish_offer(
        self: &Arc<Self>,
        session_id: Uuid,
        participant_id: Uuid,
        rules: watch::Receiver<MediaRules>,
        sink: SignalSink,
        sdp: String,
    ) -> Result<(), MediaError> {
        let peer = loop {
            let shared = self.room_or_new(session_id, &rules, &sink);
            let mut room = shared.lock().await;
            if room.closed {
                continue;
            }
            if room.rules.has_changed().is_err() {
                // Left over from a room of this session that has ended.
                room.rules = rules.clone();
                room.signal = sink.clone();
            }
            // The room may have let them go (or ended) since the offer was sent.
            let present = room.rules.has_changed().is_ok() && room.rules.borrow().may_publish(participant_id);
            if !present {
                return Err(MediaError::Protocol("you are not in the room".into()));
            }
            let existing = room.peers.get(&participant_id).cloned();
            break match existing {
                Some(peer) if peer.offer_is_from_same_client(&sdp).await => peer,
                Some(old) => {
                    // New peer connections (a reloaded page): the old ones go.
                    self.drop_peer(participant_id, old, &mut room).await;
                    self.add_peer(session_id, participant_id, &mut room).await?
                }
                None => self.add_peer(session_id, participant_id, &mut room).await?,
            };
        };
        // The subscribe offer (everything already published) is made while
        // the publish offer is answered: both connections come up side by side.
        let subscribe = {
            let peer = peer.clone();
            tokio::spawn(async move { peer.renegotiate().await })
        };
        let answered = async {
            let answer = self.announce(peer.answer_publish(sdp).await?);
            self.add_waiting_candidates(session_id, participant_id, &peer).await;
            sink.send((participant_id, sdp_message(PeerTarget::Publish, "answer", answer)))
                .await
                .map_err(|_| MediaError::Gone)
        }
        .await;
        let offered = subscribe.await.unwrap_or(Err(MediaError::Gone));
        answered.and(offered)
    }

    /// The session's media room, made when it has none yet.
    fn room_or_new(&self, session_id: Uuid, rules: &watch::Receiver<MediaRules>, sink: &SignalSink) -> SharedRoom {
        let mut rooms = self.rooms.lock().expect("media rooms poisoned");
        let room = rooms.entry(session_id).or_insert_with(|| {
            let room = Arc::new(Mutex::new(MediaRoom {
                closed: false,
                metrics: Arc::default(),
                rules: rules.clone(),
                signal: sink.clone(),
                peers: HashMap::new(),
                publications: Vec::new(),
                early_candidates: HashMap::new(),
            }));
            // Each room's links are allocated by a loop of its own (links.rs).
            tokio::spawn(links::run(Arc::downgrade(&room)));
            room
        });
        room.clone()
    }

    fn room(&self, session_id: Uuid) -> Option<SharedRoom> {
        self.rooms.lock().expect("media rooms poisoned").get(&session_id).cloned()
    }

    /// Makes a participant's two connections, subscribed to everything
    /// already published, and puts them in the room (whose lock the caller holds).
    async fn add_peer(
        self: &Arc<Self>,
        session_id: Uuid,
        participant_id: Uuid,
        room: &mut MediaRoom,
    ) -> Result<Arc<peer::Peer>, MediaError> {
        let peer = peer::Peer::new(
            participant_id,
            self.bind_ip,
            self.clone(),
            session_id,
            room.rules.clone(),
            room.signal.clone(),
            room.metrics.clone(),
        )
        .await?;
        self.metrics.peer_connections.fetch_add(2, Ordering::Relaxed);
        for publication in room.publications.iter().filter(|p| p.from != participant_id) {
            if let Err(error) = peer.subscribe_to(publication.clone()).await {
                peer.close().await;
                self.metrics.peer_connections.fetch_sub(2, Ordering::Relaxed);
                return Err(error);
            }
        }
        for (target, candidate) in room.early_candidates.remove(&participant_id).unwrap_or_default() {
            // A fresh connection has no remote description yet: all are kept for it.
            let _ = peer.add_remote_candidate(target, candidate).await;
        }
        room.peers.insert(participant_id, peer.clone());
        Ok(peer)
    }

    /// Takes a participant's connections out of the room (whose lock the
    /// caller holds): their tracks leave everyone's subscribe connection,
    /// then both connections close.
    async fn drop_peer(&self, participant_id: Uuid, peer: Arc<peer::Peer>, room: &mut MediaRoom) {
        room.peers.remove(&participant_id);
        room.publications.retain(|p| p.from != participant_id);
        for other in room.peers.values() {
            other.unsubscribe_from(participant_id).await;
        }
        peer.close().await;
        self.metrics.peer_connections.fetch_sub(2, Ordering::Relaxed);
        tracing::info!(participant = %participant_id, "new peer connections replace the old ones");
    }

    async fn peer_of(&self, session_id: Uuid, participant_id: Uuid) -> Option<Arc<peer::Peer>> {
        let room = self.room(session_id)?;
        let room = room.lock().await;
        room.peers.get(&participant_id).cloned()
    }

    async fn subscribe_answer(&self, session_id: Uuid, participant_id: Uuid, sdp: String) -> Result<(), MediaError> {
        let peer = self
            .peer_of(session_id, participant_id)
            .await
            .ok_or_else(|| MediaError::Protocol("no subscribe offer is outstanding".into()))?;
        peer.accept_subscribe_answer(sdp).await
    }

    /// A candidate a client trickled for one of its connections. One that
    /// comes before the participant's publish offer made their connections
    /// waits in the room until it does.
    pub async fn add_candidate(
        &self,
        session_id: Uuid,
        participant_id: Uuid,
        target: PeerTarget,
        candidate: IceCandidate,
    ) {
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_m_line_index,
            ..Default::default()
        };
        let Some(shared) = self.room(session_id) else { return };
        let mut room = shared.lock().await;
        let init = match room.peers.get(&participant_id) {
            Some(peer) => match peer.add_remote_candidate(target, init).await {
                Ok(()) => return,
                Err(for_new_connections) => for_new_connections,
            },
            None => init,
        };
        room.early_candidates.entry(participant_id).or_default().push((target, init));
    }

    /// Candidates that came before the offer they belong to (an ICE restart's,
    /// or a reloaded page's) now find their connection.
    async fn add_waiting_candidates(&self, session_id: Uuid, participant_id: Uuid, peer: &peer::Peer) {
        let Some(shared) = self.room(session_id) else { return };
        let mut room = shared.lock().await;
        let waiting = room.early_candidates.remove(&participant_id).unwrap_or_default();
        let mut still_waiting = Vec::new();
        for (target, candidate) in waiting {
            if let Err(candidate) = peer.add_remote_candidate(target, candidate).await {
                still_waiting.push((target, candidate));
            }
        }
        if !still_waiting.is_empty() {
            room.early_candidates.insert(participant_id, still_waiting);
        }
    }

    /// A participant came back on a new connection: resend what was lost.
    pub async fn resume(&self, session_id: Uuid, participant_id: Uuid) {
        let peer = self.peer_of(session_id, participant_id).await;
        if let Some(peer) = peer
            && let Err(error) = peer.resend_pending_offer().await
        {
            tracing::debug!(%error, "could not resend a subscribe offer");
        }
    }

    /// A track arrived on someone's publish connection: every other peer
    /// in the room subscribes to it.
    async fn published(&self, session_id: Uuid, publication: Arc<peer::Publication>) {
        let Some(shared) = self.room(session_id) else { return };
        let peers: Vec<Arc<peer::Peer>> = {
            let mut room = shared.lock().await;
            room.publications.push(publication.clone());
            room.peers.values().filter(|p| p.participant_id != publication.from).cloned().collect()
        };
        tracing::debug!(from = %publication.from, subscribers = peers.len(), "forwarding a new track");
        for peer in peers {
            if let Err(error) = peer.subscribe_to(publication.clone()).await {
                tracing::warn!(%error, "could not add a track to a subscriber");
                continue;
            }
            if let Err(error) = peer.renegotiate().await {
                tracing::warn!(%error, "renegotiation failed");
            }
        }
    }

    /// Closes a participant's connections and ends their tracks everywhere.
    pub async fn remove(&self, session_id: Uuid, participant_id: Uuid) {
        let Some(shared) = self.room(session_id) else { return };
        let (peer, others) = {
            let mut room = shared.lock().await;
            let Some(peer) = room.peers.remove(&participant_id) else { return };
            room.publications.retain(|p| p.from != participant_id);
            let others: Vec<Arc<peer::Peer>> = room.peers.values().cloned().collect();
            if room.peers.is_empty() {
                room.closed = true;
                self.forget_room(session_id, &shared);
            }
            (peer, others)
        };
        for other in others {
            other.unsubscribe_from(participant_id).await;
        }
        peer.close().await;
        self.metrics.peer_connections.fetch_sub(2, Ordering::Relaxed);
    }

    /// Closes every connection of a room.
    pub async fn close_room(&self, session_id: Uuid) {
        let Some(shared) = self.room(session_id) else { return };
        let peers: Vec<Arc<peer::Peer>> = {
            let mut room = shared.lock().await;
            room.closed = true;
            self.forget_room(session_id, &shared);
            room.publications.clear();
            room.peers.drain().map(|(_, peer)| peer).collect()
        };
        for peer in peers {
            peer.close().await;
            self.metrics.peer_connections.fetch_sub(2, Ordering::Relaxed);
        }
    }

    /// Takes a room out of the map, unless a newer room of the session took its place.
    fn forget_room(&self, session_id: Uuid, room: &SharedRoom) {
        let mut rooms = self.rooms.lock().expect("media rooms poisoned");
        if rooms.get(&session_id).is_some_and(|current| Arc::ptr_eq(current, room)) {
            rooms.remove(&session_id);
        }
    }

    /// Each room's figures.
    pub async fn rooms(&self) -> Vec<RoomFigures> {
        let rooms: Vec<(Uuid, SharedRoom)> =
            self.rooms.lock().expect("media rooms poisoned").iter().map(|(id, room)| (*id, room.clone())).collect();
        let mut figures = Vec::with_capacity(rooms.len());
        for (session_id, shared) in rooms {
            let room = shared.lock().await;
            figures.push(RoomFigures {
                session_id,
                peer_connections: 2 * room.peers.len() as u64,
                forwarded_packets: room.metrics.forwarded_packets.load(Ordering::Relaxed),
                forwarded_bytes: room.metrics.forwarded_bytes.load(Ordering::Relaxed),
                dropped_packets: room.metrics.dropped_packets.load(Ordering::Relaxed),
                subscribers: room.peers.values().map(|peer| peer.figures()).collect(),
            });
        }
        figures
    }

    /// Live peer connections now.
    pub fn live_peer_connections(&self) -> u64 {
        self.metrics.peer_connections.load(Ordering::Relaxed)
    }
}

impl Sfu {
    /// The server's SDP as clients must see it: behind a 1:1 NAT the bound
    /// address in candidates and connection lines becomes the public one.
    /// (webrtc-rs 0.21.1 stores a NAT 1:1 setting but does not apply it.)
    /// With ICE over TCP, TCP candidates name the one public TCP port.
    /// Then the candidates are repeated in every section (`sdp::complete`).
    pub fn announce(&self, sdp: String) -> String {
        let sdp = match &self.ice_tcp {
            Some(mux) => mux.announce(&sdp, self.public_ip.unwrap_or(self.bind_ip)),
            None => sdp,
        };
        let sdp = match self.public_ip {
            Some(public) => sdp::announce_address(&sdp, self.bind_ip, public),
            None => sdp,
        };
        sdp::complete(&sdp)
    }
}

fn sdp_message(target: PeerTarget, kind: &str, sdp: String) -> ServerMessage {
    ServerMessage::Sdp { target, description: SessionDescription { kind: kind.to_owned(), sdp } }
}

/// Media kind of a codec MIME type.
fn kind_of(mime_type: &str) -> MediaKind {
    if mime_type.to_ascii_lowercase().starts_with("audio/") { MediaKind::Audio } else { MediaKind::Video }
}
