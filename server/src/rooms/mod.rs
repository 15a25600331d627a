//! Live rooms: one task per session owns its room's state (lobby,
//! admissions, caucuses, mutes, reconnect places) and changes it only
//! through messages; the registry maps sessions to those tasks. The media
//! plane reads each room's `MediaRules` from a watch channel. Knows nothing
//! of HTTP or WebSockets: connections are channels of `Outgoing`.

mod recorder;
mod room;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signaling_proto::{ClientMessage, ErrorCode, RequestId, Role, ServerMessage};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

pub use recorder::Recorder;

use crate::cases::changes::Actor;
use crate::cases::error::RuleError;
use crate::cases::{Participant, Session};
use crate::sfu::MediaRules;
use crate::store::{DynStore, StoreError};

/// What a room sends down one connection.
#[derive(Debug)]
pub enum Outgoing {
    Message(ServerMessage),
    /// A request that was not carried out; the signaling edge words it as
    /// an `error` message with the protocol's code.
    Failure {
        request_id: Option<RequestId>,
        failure: Failure,
    },
    /// Close the WebSocket with this code and reason.
    Close {
        code: u16,
        reason: &'static str,
    },
}

/// Why a participant's request was not carried out.
#[derive(Debug)]
pub enum Failure {
    /// Refused by the room itself, already in the protocol's words (not
    /// admitted, only the mediator may, no such participant, ...).
    Room(ErrorCode, String),
    /// Refused by a rule of the case records (a stale agreement, ...).
    Rule(RuleError),
    /// The records could not be read or written.
    Store(StoreError),
}

impl Failure {
    pub fn room(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::Room(code, message.into())
    }
}

impl From<RuleError> for Failure {
    fn from(error: RuleError) -> Self {
        Failure::Rule(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// One WebSocket connection as the room sees it. Sends never wait: a
/// connection whose queue is full is too slow; the room then `kick`s it,
/// and the connection task closes the socket.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: u64,
    pub tx: mpsc::Sender<Outgoing>,
    pub kick: Arc<tokio::sync::Notify>,
}

/// Who is joining, established by the signaling edge from the token.
#[derive(Debug, Clone)]
pub struct JoinTicket {
    pub participant: Participant,
    pub role: Role,
    pub actor: Actor,
    pub resume_token: Option<String>,
    /// Resuming with new peer connections (a reloaded page): the old
    /// connection's outstanding offer is not resent.
    pub new_peer_connections: bool,
    pub request_id: Option<RequestId>,
}

/// Why a join was refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

/// Whom to send out of a room when their right to be there ends elsewhere.
#[derive(Debug, Clone, Copy)]
pub enum Expel {
    /// A party whose invitation was revoked.
    Participant(Uuid),
    /// A staff account that was deactivated or had its password reset.
    Account(Uuid),
}

pub enum RoomCommand {
    /// The right to be here ended (revoked invitation, deactivated account).
    Expel {
        who: Expel,
        reason: &'static str,
    },
    /// A party's consent or identity check was recorded through the REST API.
    HearingChanged,
    /// The session was ended or cancelled through the REST API.
    Close {
        reason: &'static str,
    },
    Join {
        ticket: Box<JoinTicket>,
        connection: Connection,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    Message {
        participant_id: Uuid,
        connection_id: u64,
        message: ClientMessage,
    },
    /// The socket closed or went silent: keep the place for the grace period.
    Disconnected {
        participant_id: Uuid,
        connection_id: u64,
    },
}

/// Settings every room shares.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub max_participants: usize,
    pub reconnect_grace: Duration,
    pub empty_room_timeout: Duration,
    pub ice_servers: Vec<signaling_proto::IceServer>,
    /// TURN with per-participant credentials, when configured.
    pub turn: Option<crate::sfu::turn::TurnConfig>,
}

impl RoomSettings {
    /// The STUN and TURN servers handed to `participant` when they join.
    pub fn ice_servers_for(&self, participant: Uuid) -> Vec<signaling_proto::IceServer> {
        let mut servers = self.ice_servers.clone();
        if let Some(turn) = &self.turn {
            servers.push(turn.ice_server(participant, chrono::Utc::now().timestamp()));
        }
        servers
    }
}

struct RoomEntry {
    commands: mpsc::Sender<RoomCommand>,
    rules: watch::Receiver<MediaRules>,
}

/// The live rooms, by session id.
#[derive(Clone)]
pub struct RoomRegistry {
    /// Held only to look up or insert a handle; never across an await.
    rooms: Arc<Mutex<HashMap<Uuid, RoomEntry>>>,
    settings: Arc<RoomSettings>,
    store: DynStore,
    recorder: Recorder,
    sfu: Arc<crate::sfu::Sfu>,
}

impl RoomRegistry {
    pub fn new(settings: RoomSettings, store: DynStore, recorder: Recorder, sfu: Arc<crate::sfu::Sfu>) -> Self {
        Self { rooms: Arc::default(), settings: Arc::new(settings), store, recorder, sfu }
    }

    pub fn settings(&self) -> &RoomSettings {
        &self.settings
    }

    /// The number of rooms running now.
    pub fn live_rooms(&self) -> usize {
        self.rooms.lock().expect("room registry poisoned").len()
    }

    /// The media rules of a session's room, if it is running.
    pub fn media_rules(&self, session_id: Uuid) -> Option<watch::Receiver<MediaRules>> {
        self.rooms.lock().expect("room registry poisoned").get(&session_id).map(|entry| entry.rules.clone())
    }

    /// Room records that wait to be written (tests wait for zero; /readyz
    /// and /metrics show it).
    pub fn pending_records(&self) -> usize {
        self.recorder.pending()
    }

    /// Stops writing room records (at shutdown; the rest wait in the spool).
    pub fn stop_recording(&self) {
        self.recorder.stop();
    }

    /// Attempts to write room records that found the database away.
    pub fn record_retries(&self) -> u64 {
        self.recorder.retries()
    }

    /// The command channel of the session's room, starting the room if needed.
    fn room(&self, session: &Session) -> mpsc::Sender<RoomCommand> {
        let mut rooms = self.rooms.lock().expect("room registry poisoned");
        if let Some(entry) = rooms.get(&session.id)
            && !entry.commands.is_closed()
        {
            return entry.commands.clone();
        }
        let (commands, inbox) = mpsc::channel(1024);
        let (rules_tx, rules_rx) = watch::channel(MediaRules::default());
        rooms.insert(session.id, RoomEntry { commands: commands.clone(), rules: rules_rx });
        let context = room::RoomContext {
            session: session.clone(),
            settings: self.settings.clone(),
            store: self.store.clone(),
            recorder: self.recorder.clone(),
            sfu: self.sfu.clone(),
            rules: rules_tx,
            registry: self.clone(),
        };
        tokio::spawn(room::run(context, inbox));
        commands
    }

    /// Called by a room task as it stops; a newer room of the same session
    /// (told apart by its rules channel) stays registered.
    fn forget(&self, session_id: Uuid, rules: &watch::Sender<MediaRules>) {
        let mine = rules.subscribe();
        let mut rooms = self.rooms.lock().expect("room registry poisoned");
        if rooms.get(&session_id).is_some_and(|entry| entry.rules.same_channel(&mine)) {
            rooms.remove(&session_id);
        }
    }

    /// Sends someone out of a session's room, if it is running.
    pub async fn expel(&self, session_id: Uuid, who: Expel, reason: &'static str) {
        if let Some(commands) = self.commands_of(session_id) {
            let _ = commands.send(RoomCommand::Expel { who, reason }).await;
        }
    }

    /// Sends an account out of every running room (deactivation, password reset).
    pub async fn expel_everywhere(&self, account_id: Uuid, reason: &'static str) {
        let rooms: Vec<mpsc::Sender<RoomCommand>> =
            self.rooms.lock().expect("room registry poisoned").values().map(|entry| entry.commands.clone()).collect();
        for commands in rooms {
            let _ = commands.send(RoomCommand::Expel { who: Expel::Account(account_id), reason }).await;
        }
    }

    /// Tells a running room that a party's standing changed elsewhere.
    pub async fn hearing_changed(&self, session_id: Uuid) {
        if let Some(commands) = self.commands_of(session_id) {
            let _ = commands.send(RoomCommand::HearingChanged).await;
        }
    }

    /// Ends a running room whose session was ended or cancelled elsewhere.
    pub async fn close(&self, session_id: Uuid, reason: &'static str) {
        if let Some(commands) = self.commands_of(session_id) {
            let _ = commands.send(RoomCommand::Close { reason }).await;
        }
    }

    fn commands_of(&self, session_id: Uuid) -> Option<mpsc::Sender<RoomCommand>> {
        self.rooms.lock().expect("room registry poisoned").get(&session_id).map(|entry| entry.commands.clone())
    }

    /// Hands a joining connection to its room; the room answers on the
    /// connection (`joined` or `waiting`) or refuses here.
    pub async fn join(
        &self,
        session: &Session,
        ticket: JoinTicket,
        connection: Connection,
    ) -> Result<mpsc::Sender<RoomCommand>, Refusal> {
        // A room that is just stopping drops the command; the second try
        // starts a fresh room.
        for _ in 0..2 {
            let commands = self.room(session);
            let (reply, answer) = oneshot::channel();
            let command = RoomCommand::Join { ticket: Box::new(ticket.clone()), connection: connection.clone(), reply };
            if commands.send(command).await.is_err() {
                continue;
            }
            if let Ok(result) = answer.await {
                return result.map(|()| commands);
            }
        }
        Err(Refusal { code: ErrorCode::Internal, message: "the room could not be started".into() })
    }
}
