//! The signaling protocol between a client (browser, village kiosk, test
//! client) and the mediation server, carried as JSON text frames over the
//! WebSocket at `/api/v1/rtc`.
//!
//! Every message is an object with a `type` tag. Requests a client sends may
//! carry a `request_id`; the reply to it (`ack`, `joined`, `waiting`,
//! `caucus_opened`, `error`, ...) echoes it. Tags are never renamed or
//! reused; new fields are optional. See docs/protocol.md.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The protocol version a client sends in `join`. A server refuses versions
/// it does not speak with `unsupported_version`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest text frame a server accepts; larger ones get `message_too_large`.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// A client-chosen id that the reply to a request echoes.
pub type RequestId = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the session: admits, mutes, removes, locks, opens caucuses, ends.
    Mediator,
    /// A village talk-it-out room, with the parties sitting in it.
    Station,
    /// A legal adviser.
    Adviser,
    /// A party on their own device, with an invitation link.
    Party,
    /// Someone a mediator invited by link (a relative, a village elder, an
    /// interpreter): sees and hears the joint session; is neither seen nor
    /// heard until the mediator lets them speak; never in a private session;
    /// confirms nothing.
    Observer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

/// A party's decision on mediating online (People's Mediation Law Art 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    Consent,
    Refuse,
    /// A consent given earlier is taken back: the mediation stops for them.
    Withdraw,
}

/// Whether a consenting party agrees to the mediation being held in public (Art 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Publicity {
    Public,
    NonPublic,
}

/// How a party's identity was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// A station's attendant saw the ID card in person.
    IdCardAtStation,
    /// The party held the ID card to the camera and the mediator compared it.
    IdCardOnCamera,
}

/// Which of a participant's two peer connections a media message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerTarget {
    /// The connection the client offers, carrying its own microphone and camera.
    Publish,
    /// The connection the server offers, carrying everyone else's media.
    Subscribe,
}

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a connection: which session, and optionally the
    /// resume token from a previous connection.
    Join {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        protocol_version: u32,
        session_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
        /// With `resume_token`: the client comes back with new peer
        /// connections (the page was reloaded), so the server does not resend
        /// the old connection's outstanding offer; the client's next publish
        /// offer replaces the server's side of both connections.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        new_peer_connections: bool,
    },
    /// Mediator: let someone in from the lobby.
    Admit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
    },
    /// Mediator: turn someone away from the lobby.
    Refuse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Mediator: switch off someone's microphone or camera.
    Mute {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        kind: MediaKind,
    },
    /// Anyone admitted: switch their own microphone or camera on or off.
    SetMedia {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        kind: MediaKind,
        enabled: bool,
    },
    /// Mediator: send someone out of the room.
    Remove {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Mediator: lock or unlock the room to newcomers.
    Lock {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        locked: bool,
    },
    /// Mediator: move the chosen participants (and themself) into a private caucus.
    OpenCaucus {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_ids: Vec<Uuid>,
    },
    /// Mediator: close a caucus; its members return to the joint session.
    CloseCaucus {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        caucus_id: Uuid,
    },
    /// Text chat to everyone in the same space, or to one person in it.
    Chat {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Uuid>,
        text: String,
    },
    /// Station: which of the case's parties sit in the station room.
    PartiesPresent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        party_ids: Vec<Uuid>,
    },
    /// Mediator: see (and hear) a party waiting in the lobby through their
    /// camera, to compare the ID card they hold up; or stop.
    ViewCamera {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        viewing: bool,
    },
    /// Mediator: let an observer speak (be seen and heard), or not.
    AllowSpeaking {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        allowed: bool,
    },
    /// A party's decision on mediating online, after reading the notice
    /// whose version it names (`GET /api/v1/consent-notice`). A party on their
    /// own device decides for themself (also from the lobby; `party_id`
    /// absent); a station records the decision of a party of the case given
    /// in person (`party_id` required).
    RecordConsent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        party_id: Option<Uuid>,
        decision: ConsentDecision,
        /// With `consent` only: public or non-public mediation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        publicity: Option<Publicity>,
        notice_version: String,
    },
    /// Mediator: the party held their ID card to the camera and it matches
    /// the registered name and masked number. Station: the attendant checked
    /// the party's ID card in person.
    CheckIdentity {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        party_id: Uuid,
    },
    /// Mediator: show the current agreement text to the parties for confirmation.
    PushAgreement {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Party or station: confirm the pushed agreement text, naming its hash.
    ConfirmAgreement {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        text_sha256: String,
        /// Station: which party present in the room confirms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        party_id: Option<Uuid>,
    },
    /// Mediator: show the session's saved transcript (调解笔录) to the parties for confirmation.
    PushTranscript {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Party or station: confirm the pushed transcript, naming its hash.
    ConfirmTranscript {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        text_sha256: String,
        /// Station: which party present in the room confirms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        party_id: Option<Uuid>,
    },
    /// Subscriber: receive audio only (a weak village link), or video again.
    SetAudioOnly {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        /// Mediator may set it for someone else; absent means oneself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<Uuid>,
        audio_only: bool,
    },
    /// Media: an SDP offer (publish) or answer (subscribe).
    Sdp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        target: PeerTarget,
        description: SessionDescription,
    },
    /// Media: a trickled ICE candidate; `null` candidate ends gathering.
    IceCandidate {
        target: PeerTarget,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        candidate: Option<IceCandidate>,
    },
    /// Mediator: end the session for everyone.
    EndSession {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Leave for good (no grace period).
    Leave {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Application-level keep-alive; answered with `pong`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
}

impl ClientMessage {
    pub fn request_id(&self) -> Option<&RequestId> {
        use ClientMessage::*;
        match self {
            Join { request_id, .. }
            | Admit { request_id, .. }
            | Refuse { request_id, .. }
            | Mute { request_id, .. }
            | SetMedia { request_id, .. }
            | Remove { request_id, .. }
            | Lock { request_id, .. }
            | OpenCaucus { request_id, .. }
            | CloseCaucus { request_id, .. }
            | Chat { request_id, .. }
            | PartiesPresent { request_id, .. }
            | AllowSpeaking { request_id, .. }
            | ViewCamera { request_id, .. }
            | RecordConsent { request_id, .. }
            | CheckIdentity { request_id, .. }
            | PushAgreement { request_id, .. }
            | ConfirmAgreement { request_id, .. }
            | PushTranscript { request_id, .. }
            | ConfirmTranscript { request_id, .. }
            | SetAudioOnly { request_id, .. }
            | Sdp { request_id, .. }
            | EndSession { request_id, .. }
            | Leave { request_id, .. }
            | Ping { request_id, .. } => request_id.as_ref(),
            IceCandidate { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// "offer" or "answer".
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
}

/// A STUN or TURN server for the client's peer connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Someone in the room, as another participant sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    pub participant_id: Uuid,
    pub display_name: String,
    pub role: Role,
    pub audio_enabled: bool,
    pub video_enabled: bool,
    /// Connection lost; their place is kept for the grace period.
    pub reconnecting: bool,
    /// Station: names of the parties present in the station room.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties_present: Vec<String>,
    /// Observer: their relation to the dispute (亲属, 村老, 翻译, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Observer: whether the mediator lets them speak (be seen and heard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_speak: Option<bool>,
}

/// A party of the case as mediators and stations see them in this session:
/// their latest decision on mediating online, whether their identity was
/// checked, and where they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyStanding {
    pub party_id: Uuid,
    pub name: String,
    /// The registered ID number with most digits hidden, to compare with the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number_masked: Option<String>,
    /// Absent: not asked yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentDecision>,
    /// With a consent: public or non-public mediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicity: Option<Publicity>,
    /// Absent: not checked in this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_checked: Option<IdentityMethod>,
    /// The participant they take part through: their own device (in the
    /// lobby or the room), or the station that named them present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_with: Option<Uuid>,
}

/// Someone waiting in the lobby, shown to mediators only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LobbyEntry {
    pub participant_id: Uuid,
    pub display_name: String,
    pub role: Role,
}

/// The room as one participant is entitled to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub session_id: Uuid,
    pub locked: bool,
    /// The caucus the viewer is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caucus_id: Option<Uuid>,
    /// Those in the same space as the viewer (the joint session, or their caucus).
    pub participants: Vec<ParticipantInfo>,
    /// A private session is under way that the viewer is not in.
    pub private_session_underway: bool,
    /// Mediators only: who waits in the lobby.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lobby: Vec<LobbyEntry>,
    /// Mediators and stations: the case's parties, with their consent and
    /// identity check in this session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<PartyStanding>,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Admitted: you are in the room.
    Joined {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        role: Role,
        /// Send it in `join` after a dropped connection to come back to your place.
        resume_token: String,
        room: RoomView,
        ice_servers: Vec<IceServer>,
    },
    /// You wait in the lobby until a mediator admits you.
    Waiting {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        participant_id: Uuid,
        resume_token: String,
    },
    /// A mediator turned you away; the connection closes.
    Refused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The room as you may see it changed (joins, leaves, mutes, caucus, lock, lobby).
    Room { room: RoomView },
    /// A mediator switched off your microphone or camera.
    MutedBy { kind: MediaKind, by: String },
    /// A mediator removed you; the connection closes.
    Removed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// You were moved into a private caucus with these people.
    CaucusOpened {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        caucus_id: Uuid,
        participant_ids: Vec<Uuid>,
    },
    /// Your caucus closed; you are back in the joint session.
    CaucusClosed { caucus_id: Uuid },
    Chat {
        from: Uuid,
        from_name: String,
        /// Set when the message was for you alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Uuid>,
        text: String,
        /// Milliseconds since the Unix epoch.
        sent_at_ms: i64,
    },
    /// The mediator asks the parties to confirm this exact agreement text.
    AgreementPushed { case_number: String, version: i32, text: String, text_sha256: String },
    /// A confirmation was recorded; `effective` once all have confirmed and the mediator signed.
    AgreementConfirmed { party_id: Uuid, effective: bool },
    /// To a party in the lobby: a mediator (`by`) now sees your camera, to
    /// check the ID card you hold up (`viewing`), or no longer. While viewed,
    /// publish your camera and microphone (`sdp` from the lobby), through
    /// `ice_servers`.
    CameraViewed {
        viewing: bool,
        by: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// The mediator asks the parties to confirm this exact transcript text.
    TranscriptPushed { case_number: String, version: i32, text: String, text_sha256: String },
    /// A party's confirmation of the transcript was recorded.
    TranscriptConfirmed { party_id: Uuid },
    /// Whether you receive audio only.
    AudioOnly { audio_only: bool },
    /// Media: an SDP answer (publish) or offer (subscribe).
    Sdp { target: PeerTarget, description: SessionDescription },
    IceCandidate {
        target: PeerTarget,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        candidate: Option<IceCandidate>,
    },
    /// How each person's downlink is doing, for those in your space (the
    /// joint session or your caucus). Sent when a quality or a paused video
    /// changes, and otherwise at most every few seconds.
    LinkQuality { links: Vec<ParticipantLink> },
    /// How the server asks you to send your camera: no more than
    /// `video_max_kbps` (absent: no limit), or not at all while
    /// `video_active` is false (nobody receives it). Sent when it changes.
    PublishTarget {
        video_active: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        video_max_kbps: Option<u32>,
    },
    /// Who is speaking in your space (the joint session or your caucus),
    /// from the level of each microphone; sent when it changes. The last
    /// speaker stays the speaker through silence; absent when nobody in
    /// your space has spoken yet, or the speaker left it. Their video goes
    /// first on a narrow link.
    Speaker {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<Uuid>,
    },
    /// The mediator ended the session (or it stayed empty); the connection closes.
    SessionEnded { reason: String },
    /// A request succeeded.
    Ack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// A request failed, or the connection is refused. `code` is stable.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        code: ErrorCode,
        message: String,
    },
}

/// One participant's downlink, as the server's bandwidth estimate sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantLink {
    pub participant_id: Uuid,
    pub quality: LinkQualityLevel,
    /// The estimate of what their downlink carries, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_kbps: Option<u32>,
    /// Whose video is paused for them because their link cannot carry it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused_video_from: Vec<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkQualityLevel {
    /// Every video reaches them with room to spare.
    Good,
    /// Every video reaches them, squeezed, or packets are being lost.
    Fair,
    /// Some video is paused for them: their link carries only part of the room.
    Poor,
}

/// Stable error codes; see docs/protocol.md for when each is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The token is missing, malformed, expired, tampered or revoked.
    Unauthorized,
    /// The invitation is not valid yet (it opens 30 minutes before the start).
    InvitationNotYetValid,
    /// The token is for another session, or the account is not on this session.
    NotOnSession,
    /// The session was cancelled or has ended.
    SessionClosed,
    /// The client's protocol version is not spoken here.
    UnsupportedVersion,
    /// The first message must be `join`.
    JoinFirst,
    /// `join` was sent twice on one connection.
    AlreadyJoined,
    /// The room holds as many people as it may.
    RoomFull,
    /// The room is locked to newcomers.
    RoomLocked,
    /// The frame was larger than 64 KiB.
    MessageTooLarge,
    /// The frame was not JSON, or not a known message.
    InvalidMessage,
    /// The message is well-formed but a field is wrong.
    InvalidField,
    /// Your role may not do this.
    Forbidden,
    /// You must be admitted first.
    NotAdmitted,
    /// No such participant, caucus or agreement here.
    NotFound,
    /// The agreement text changed since it was pushed.
    StaleAgreement,
    /// Too many messages: the connection will close (1008).
    RateLimited,
    /// No media ports are free on the server.
    MediaPortsExhausted,
    /// A publish offer's audio or video uses no codec the server forwards
    /// (Opus; VP8 or H.264 constrained baseline).
    UnsupportedCodec,
    /// The server cannot reach its records just now: nothing was done; try
    /// again in a few seconds (at connection: close 4503, reconnect).
    Unavailable,
    /// The party has not consented to mediating online (or withdrew):
    /// they cannot be admitted, named present or confirm anything.
    ConsentRequired,
    /// The party's identity has not been checked in this session: they
    /// cannot confirm anything yet.
    IdentityCheckRequired,
    /// The transcript changed since it was pushed: push it again.
    StaleTranscript,
    /// The consent notice changed since the client fetched it: show the
    /// current one (`GET /api/v1/consent-notice`) before deciding.
    NoticeChanged,
    /// Something failed on the server.
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn join_wire_format_is_pinned() {
        let join = ClientMessage::Join {
            request_id: Some("r1".into()),
            protocol_version: 1,
            session_id: id(7),
            resume_token: None,
            new_peer_connections: false,
        };
        assert_eq!(
            serde_json::to_value(&join).unwrap(),
            json!({ "type": "join", "request_id": "r1", "protocol_version": 1, "session_id": "00000000-0000-0000-0000-000000000007" })
        );
        let parsed: ClientMessage = serde_json::from_value(json!({
            "type": "join", "protocol_version": 1, "session_id": "00000000-0000-0000-0000-000000000007", "resume_token": "abc"
        }))
        .unwrap();
        assert_eq!(
            parsed,
            ClientMessage::Join {
                request_id: None,
                protocol_version: 1,
                session_id: id(7),
                resume_token: Some("abc".into()),
                new_peer_connections: false,
            }
        );
        let reloaded: ClientMessage = serde_json::from_value(json!({
            "type": "join", "protocol_version": 1, "session_id": "00000000-0000-0000-0000-000000000007",
            "resume_token": "abc", "new_peer_connections": true
        }))
        .unwrap();
        assert!(matches!(reloaded, ClientMessage::Join { new_peer_connections: true, .. }));
        assert_eq!(
            serde_json::to_value(&reloaded).unwrap()["new_peer_connections"],
            json!(true),
            "written only when true"
        );
    }

    #[test]
    fn client_messages_are_pinned() {
        let cases = [
            (
                ClientMessage::Admit { request_id: None, participant_id: id(1) },
                json!({ "type": "admit", "participant_id": id(1) }),
            ),
            (
                ClientMessage::Mute { request_id: Some("m".into()), participant_id: id(2), kind: MediaKind::Audio },
                json!({ "type": "mute", "request_id": "m", "participant_id": id(2), "kind": "audio" }),
            ),
            (
                ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![id(3)] },
                json!({ "type": "open_caucus", "participant_ids": [id(3)] }),
            ),
            (
                ClientMessage::Chat { request_id: None, to: Some(id(4)), text: "你好".into() },
                json!({ "type": "chat", "to": id(4), "text": "你好" }),
            ),
            (
                ClientMessage::Sdp {
                    request_id: None,
                    target: PeerTarget::Publish,
                    description: SessionDescription { kind: "offer".into(), sdp: "v=0".into() },
                },
                json!({ "type": "sdp", "target": "publish", "description": { "type": "offer", "sdp": "v=0" } }),
            ),
            (
                ClientMessage::IceCandidate { target: PeerTarget::Subscribe, candidate: None },
                json!({ "type": "ice_candidate", "target": "subscribe" }),
            ),
            (ClientMessage::EndSession { request_id: None }, json!({ "type": "end_session" })),
            (
                ClientMessage::RecordConsent {
                    request_id: None,
                    party_id: Some(id(5)),
                    decision: ConsentDecision::Consent,
                    publicity: Some(Publicity::NonPublic),
                    notice_version: "2026-11-30".into(),
                },
                json!({ "type": "record_consent", "party_id": id(5), "decision": "consent",
                        "publicity": "non_public", "notice_version": "2026-11-30" }),
            ),
            (
                ClientMessage::CheckIdentity { request_id: Some("c".into()), party_id: id(6) },
                json!({ "type": "check_identity", "request_id": "c", "party_id": id(6) }),
            ),
        ];
        for (message, wire) in cases {
            assert_eq!(serde_json::to_value(&message).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ClientMessage>(wire).unwrap(), message);
        }
    }

    #[test]
    fn server_messages_are_pinned() {
        let room = RoomView {
            session_id: id(9),
            locked: false,
            caucus_id: None,
            participants: vec![ParticipantInfo {
                participant_id: id(1),
                display_name: "张敏".into(),
                role: Role::Mediator,
                audio_enabled: true,
                video_enabled: false,
                reconnecting: false,
                parties_present: vec![],
                relation: None,
                may_speak: None,
            }],
            private_session_underway: true,
            lobby: vec![],
            parties: vec![],
        };
        assert_eq!(
            serde_json::to_value(ServerMessage::Room { room }).unwrap(),
            json!({ "type": "room", "room": { "session_id": id(9), "locked": false, "private_session_underway": true,
                    "participants": [{ "participant_id": id(1), "display_name": "张敏", "role": "mediator",
                                       "audio_enabled": true, "video_enabled": false, "reconnecting": false }] } })
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::Error {
                request_id: Some("x".into()),
                code: ErrorCode::RoomFull,
                message: "full".into()
            })
            .unwrap(),
            json!({ "type": "error", "request_id": "x", "code": "room_full", "message": "full" })
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::Waiting {
                request_id: None,
                participant_id: id(2),
                resume_token: "t".into()
            })
            .unwrap(),
            json!({ "type": "waiting", "participant_id": id(2), "resume_token": "t" })
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::CaucusClosed { caucus_id: id(5) }).unwrap(),
            json!({ "type": "caucus_closed", "caucus_id": id(5) })
        );
        let links = ServerMessage::LinkQuality {
            links: vec![
                ParticipantLink {
                    participant_id: id(3),
                    quality: LinkQualityLevel::Poor,
                    down_kbps: Some(240),
                    paused_video_from: vec![id(1)],
                },
                ParticipantLink {
                    participant_id: id(1),
                    quality: LinkQualityLevel::Good,
                    down_kbps: None,
                    paused_video_from: vec![],
                },
            ],
        };
        let wire = json!({ "type": "link_quality", "links": [
            { "participant_id": id(3), "quality": "poor", "down_kbps": 240, "paused_video_from": [id(1)] },
            { "participant_id": id(1), "quality": "good" } ] });
        assert_eq!(serde_json::to_value(&links).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ServerMessage>(wire).unwrap(), links);
        assert_eq!(
            serde_json::to_value(ServerMessage::PublishTarget { video_active: true, video_max_kbps: Some(180) })
                .unwrap(),
            json!({ "type": "publish_target", "video_active": true, "video_max_kbps": 180 })
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::PublishTarget { video_active: false, video_max_kbps: None }).unwrap(),
            json!({ "type": "publish_target", "video_active": false })
        );
        let speaker = ServerMessage::Speaker { participant_id: Some(id(2)) };
        assert_eq!(serde_json::to_value(&speaker).unwrap(), json!({ "type": "speaker", "participant_id": id(2) }));
        assert_eq!(
            serde_json::from_value::<ServerMessage>(json!({ "type": "speaker" })).unwrap(),
            ServerMessage::Speaker { participant_id: None }
        );
    }

    #[test]
    fn unknown_types_are_refused() {
        assert!(serde_json::from_value::<ClientMessage>(json!({ "type": "fly" })).is_err());
        assert!(serde_json::from_value::<ClientMessage>(json!({ "type": "admit" })).is_err(), "missing participant_id");
    }
}
