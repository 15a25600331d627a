//! The WebSocket edge of live sessions: `GET /api/v1/rtc?access_token=...`.
//! Authenticates the token (a staff login on the session, or a party's
//! invitation), waits for `join`, hands the connection to its room, then
//! pumps frames both ways with size limits, rate limiting and a ping/pong
//! heartbeat. Frames are never logged: they carry SDP and ICE candidates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use signaling_proto::{ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Role, ServerMessage};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AuthError, InvitationError, InvitationRefusal, authenticate_invitation};
use crate::cases::changes::Actor;
use crate::cases::error::RuleError;
use crate::cases::{ParticipantKind, SessionState};
use crate::error::AppError;
use crate::http::ClientAddr;
use crate::rooms::{Connection, Failure, JoinTicket, Outgoing, RoomCommand};
use crate::store::StoreError;

/// Frames above this are cut off by the WebSocket layer itself; between
/// this and `MAX_MESSAGE_BYTES` they get a `message_too_large` reply.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// How long a new connection may take to send `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Bad messages tolerated on one connection before it is closed with 1008.
const BAD_MESSAGE_LIMIT: u32 = 10;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

pub fn router() -> Router<AppState> {
    Router::new().route("/rtc", get(upgrade))
}

#[derive(Deserialize)]
struct RtcQuery {
    access_token: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Query(query): Query<RtcQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let Ok(place) = state.signaling.websockets.clone().try_acquire_owned() else {
        tracing::warn!("a WebSocket was refused: the server holds its maximum");
        return AppError::Unavailable {
            message: "the server holds as many live connections as it may; try again in a moment".into(),
            retry_after_secs: 5,
        }
        .into_response();
    };
    let token = query.access_token.unwrap_or_default();
    // Small buffers: a village kiosk's signaling is a few small messages a
    // minute, and thousands of idle connections should cost little memory.
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            connection(state, socket, token, address.to_string()).await;
            drop(place);
        })
}

/// Who the token says the caller is, before the session is known.
enum Caller {
    Staff(crate::tree::Account),
    Party(crate::auth::InvitedParty),
}

struct Closing {
    code: ErrorCode,
    message: String,
    close_code: u16,
}

impl Closing {
    fn new(code: ErrorCode, message: impl Into<String>, close_code: u16) -> Self {
        Closing { code, message: message.into(), close_code }
    }
}

async fn authenticate(state: &AppState, token: &str) -> Result<Caller, Closing> {
    if token.is_empty() {
        return Err(Closing::new(ErrorCode::Unauthorized, "pass the token as ?access_token=", 4401));
    }
    match state.tokens.authenticate(state.store.as_ref(), token).await {
        Ok(account) => return Ok(Caller::Staff(account)),
        Err(AuthError::Store(error)) => return Err(store_closing(error)),
        Err(AuthError::Refused) => {}
    }
    let refusal = match authenticate_invitation(state.store.as_ref(), &state.tokens, token).await {
        Ok(party) => return Ok(Caller::Party(party)),
        Err(InvitationError::Refused(refusal)) => refusal,
        Err(InvitationError::Store(error)) => return Err(store_closing(error)),
    };
    Err(match refusal {
        InvitationRefusal::NotYetValid => Closing::new(ErrorCode::InvitationNotYetValid, refusal.message(), 4401),
        InvitationRefusal::SessionClosed => Closing::new(ErrorCode::SessionClosed, refusal.message(), 4410),
        InvitationRefusal::Revoked | InvitationRefusal::Expired => {
            Closing::new(ErrorCode::Unauthorized, refusal.message(), 4401)
        }
        InvitationRefusal::Invalid => {
            Closing::new(ErrorCode::Unauthorized, "the token is invalid, expired or revoked", 4401)
        }
    })
}

/// The close for a connection or `join` the records could not be read for:
/// 4503 `unavailable` (retry) when the database cannot be reached, never a
/// refusal of the token; 1011 `internal` otherwise.
fn store_closing(error: StoreError) -> Closing {
    match error {
        StoreError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "the database cannot be reached at a connection");
            Closing::new(ErrorCode::Unavailable, UNAVAILABLE_MESSAGE, 4503)
        }
        other => {
            tracing::error!(error = %other, "reading the records for a connection");
            Closing::new(ErrorCode::Internal, "the session could not be loaded", 1011)
        }
    }
}

const UNAVAILABLE_MESSAGE: &str = "the records cannot be reached just now; try again in a few seconds";

/// The protocol's words for a request the room did not carry out.
fn failure_message(request_id: Option<String>, failure: Failure) -> ServerMessage {
    let (code, message) = match failure {
        Failure::Room(code, message) => (code, message),
        Failure::Rule(error) => {
            let code = match &error {
                RuleError::Stale(_) => ErrorCode::StaleAgreement,
                RuleError::Forbidden(_) => ErrorCode::Forbidden,
                RuleError::InvalidState(_) | RuleError::Conflict(_) | RuleError::Invalid(_) => ErrorCode::InvalidField,
            };
            (code, error.to_string())
        }
        Failure::Store(error) => store_failure(error),
    };
    ServerMessage::Error { request_id, code, message }
}

fn store_failure(error: StoreError) -> (ErrorCode, String) {
    match error {
        StoreError::NotFound => (ErrorCode::NotFound, "record not found".into()),
        StoreError::Stale(what) => {
            (ErrorCode::StaleAgreement, format!("{what} was changed by someone else meanwhile; reload and try again"))
        }
        StoreError::Conflict => (ErrorCode::InvalidField, "a record with the same name or key already exists".into()),
        StoreError::Constraint(detail) => {
            tracing::warn!(%detail, "room write refused by a schema constraint");
            (ErrorCode::InvalidField, "the request breaks a rule of the records".into())
        }
        StoreError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "the database cannot be reached for a room request");
            (ErrorCode::Unavailable, UNAVAILABLE_MESSAGE.into())
        }
        other => {
            tracing::error!(error = ?other, "room request failed");
            (ErrorCode::Internal, "internal error".into())
        }
    }
}

fn role_of(kind: ParticipantKind) -> Role {
    match kind {
        ParticipantKind::Mediator => Role::Mediator,
        ParticipantKind::Station => Role::Station,
        ParticipantKind::Adviser => Role::Adviser,
        ParticipantKind::Party => Role::Party,
        ParticipantKind::Observer => Role::Observer,
    }
}

/// Checks a `join` against the caller and the session, and makes the ticket.
async fn admit_to_session(
    state: &AppState,
    caller: &Caller,
    request: JoinRequest,
    address: &str,
) -> Result<(crate::cases::Session, JoinTicket), Closing> {
    let JoinRequest { request_id, session_id, resume_token, new_peer_connections } = request;
    let not_on_session = || Closing::new(ErrorCode::NotOnSession, "you are not on this session", 4403);
    let session = match caller {
        Caller::Party(party) if party.session.id == session_id => party.session.clone(),
        Caller::Party(_) => return Err(not_on_session()),
        Caller::Staff(_) => state.store.session(session_id).await.map_err(store_closing)?.ok_or_else(not_on_session)?,
    };
    if matches!(session.state, SessionState::Cancelled | SessionState::Ended) {
        return Err(Closing::new(ErrorCode::SessionClosed, "this session has ended or was cancelled", 4410));
    }
    let (participant, actor) = match caller {
        Caller::Staff(account) => {
            let participants = state.store.participants(session.id).await.map_err(store_closing)?;
            let participant =
                participants.into_iter().find(|p| p.account_id == Some(account.id)).ok_or_else(not_on_session)?;
            let actor = Actor::staff(account, Some(address.to_owned()));
            (participant, actor)
        }
        Caller::Party(party) => (party.participant.clone(), party.actor(Some(address.to_owned()))),
    };
    let role = role_of(participant.kind);
    let ticket = JoinTicket { role, participant, actor, resume_token, new_peer_connections, request_id };
    Ok((session, ticket))
}

/// Allows `per_second` messages on average, in bursts of twice that.
struct RateLimiter {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: Instant,
}

impl RateLimiter {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self { tokens: per_second * 2.0, capacity: per_second * 2.0, per_second, last: Instant::now() }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn error(request_id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Outgoing {
    Outgoing::Message(ServerMessage::Error { request_id, code, message: message.into() })
}

/// Writes queued messages to the socket and pings it; stops after a close.
async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Outgoing>,
    heartbeat: Duration,
    closed: tokio::sync::oneshot::Sender<()>,
) {
    let mut ping = tokio::time::interval(heartbeat);
    ping.tick().await;
    loop {
        tokio::select! {
            next = outgoing.recv() => match next {
                Some(Outgoing::Message(message)) => {
                    if !send_json(&mut sink, &message).await {
                        break;
                    }
                }
                Some(Outgoing::Failure { request_id, failure }) => {
                    if !send_json(&mut sink, &failure_message(request_id, failure)).await {
                        break;
                    }
                }
                Some(Outgoing::Close { code, reason }) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await;
                    break;
                }
                None => break,
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
    let _ = closed.send(());
}

/// Sends one message as a text frame; false when the socket is gone.
async fn send_json(sink: &mut futures::stream::SplitSink<WebSocket, Message>, message: &ServerMessage) -> bool {
    let text = serde_json::to_string(message).expect("server messages serialize");
    sink.send(Message::Text(Utf8Bytes::from(text))).await.is_ok()
}

type Incoming = futures::stream::SplitStream<WebSocket>;

/// After the server sent its close frame: reads (and ignores) what the
/// client still sends until its close reply, so that the client sees the
/// close code instead of a reset connection.
async fn drain(stream: &mut Incoming) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Sends the refusal, closes the socket and waits for the writer to finish.
async fn refuse(
    out_tx: mpsc::Sender<Outgoing>,
    writer: tokio::task::JoinHandle<()>,
    stream: &mut Incoming,
    request_id: Option<String>,
    closing: Closing,
) {
    let _ = out_tx.send(error(request_id, closing.code, closing.message)).await;
    let _ = out_tx.send(Outgoing::Close { code: closing.close_code, reason: "refused" }).await;
    drop(out_tx);
    drain(stream).await;
    let _ = writer.await;
}

async fn connection(state: AppState, socket: WebSocket, token: String, address: String) {
    let settings = state.signaling.clone();
    let (sink, mut stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(256);
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, out_rx, settings.heartbeat, closed_tx));
    let connection_id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let kick = std::sync::Arc::new(tokio::sync::Notify::new());

    let caller = match authenticate(&state, &token).await {
        Ok(caller) => caller,
        Err(closing) => return refuse(out_tx, writer, &mut stream, None, closing).await,
    };

    let joined = match read_join(&mut stream).await {
        Ok(request) => {
            let request_id = request.request_id.clone();
            let link = Connection { id: connection_id, tx: out_tx.clone(), kick: kick.clone() };
            let ticket = admit_to_session(&state, &caller, request, &address).await;
            match ticket {
                Ok((session, ticket)) => enter_room(&state, session, ticket, link).await,
                Err(closing) => Err(closing),
            }
            .map_err(|closing| (request_id, closing))
        }
        Err(refused) => Err(refused),
    };
    let (room, participant_id) = match joined {
        Ok(joined) => joined,
        Err((request_id, closing)) => return refuse(out_tx, writer, &mut stream, request_id, closing).await,
    };
    let link = Link { room: &room, participant_id, connection_id, out_tx: &out_tx, kick: &kick };
    let closing_sent = pump(&mut stream, link, &settings, &mut closed_rx).await;
    let _ = room.send(RoomCommand::Disconnected { participant_id, connection_id }).await;
    drop(out_tx);
    if closing_sent {
        drain(&mut stream).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// Waits for the first message, which must be a `join` in this server's
/// protocol version (control frames such as the pong to our heartbeat ping
/// do not count); returns its request id, session and resume token.
async fn read_join(stream: &mut Incoming) -> Result<JoinRequest, (Option<String>, Closing)> {
    let first = tokio::time::timeout(JOIN_TIMEOUT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    let join = match first {
        Ok(Some(Ok(Message::Text(text)))) if text.len() <= MAX_MESSAGE_BYTES => {
            serde_json::from_str::<ClientMessage>(&text).ok()
        }
        _ => None,
    };
    let Some(ClientMessage::Join { request_id, protocol_version, session_id, resume_token, new_peer_connections }) =
        join
    else {
        let closing = Closing::new(ErrorCode::JoinFirst, "the first message must be a join naming the session", 1008);
        return Err((None, closing));
    };
    if protocol_version != PROTOCOL_VERSION {
        let message = format!("this server speaks protocol version {PROTOCOL_VERSION}");
        return Err((request_id, Closing::new(ErrorCode::UnsupportedVersion, message, 1008)));
    }
    Ok(JoinRequest { request_id, session_id, resume_token, new_peer_connections })
}

/// What a `join` asks for.
struct JoinRequest {
    request_id: Option<String>,
    session_id: Uuid,
    resume_token: Option<String>,
    new_peer_connections: bool,
}

/// Hands the ticket to the session's room; a refusal gets its close code.
async fn enter_room(
    state: &AppState,
    session: crate::cases::Session,
    ticket: JoinTicket,
    link: Connection,
) -> Result<(mpsc::Sender<RoomCommand>, Uuid), Closing> {
    let participant_id = ticket.participant.id;
    state.rooms.join(&session, ticket, link).await.map(|room| (room, participant_id)).map_err(|refusal| {
        let close_code = match refusal.code {
            ErrorCode::RoomFull | ErrorCode::RoomLocked => 4409,
            ErrorCode::SessionClosed => 4410,
            _ => 1011,
        };
        Closing::new(refusal.code, refusal.message, close_code)
    })
}

/// A joined connection as the pump sees it.
struct Link<'a> {
    room: &'a mpsc::Sender<RoomCommand>,
    participant_id: Uuid,
    connection_id: u64,
    out_tx: &'a mpsc::Sender<Outgoing>,
    kick: &'a tokio::sync::Notify,
}

/// Pumps client frames into the room with the rate limit, the bad-message
/// limit and the heartbeat watchdog, until the socket ends; true when a
/// close frame was sent (so the caller drains the client's reply).
async fn pump(
    stream: &mut Incoming,
    link: Link<'_>,
    settings: &SignalingSettings,
    closed_rx: &mut tokio::sync::oneshot::Receiver<()>,
) -> bool {
    let Link { room, participant_id, connection_id, out_tx, kick } = link;
    let mut limiter = RateLimiter::new(settings.messages_per_second);
    let mut bad_messages = 0u32;
    let mut last_heard = Instant::now();
    // Two missed pings, checked every half interval: with the default 5 s
    // heartbeat a dead link is found in at most 12.5 s.
    let dead_after = settings.heartbeat * 2;
    let mut watchdog = tokio::time::interval(settings.heartbeat / 2);
    let mut closing_sent = false;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                last_heard = Instant::now();
                let text = match frame {
                    Message::Text(text) => Some(text),
                    // Counted and rate-limited like any other bad message.
                    Message::Binary(_) => None,
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                if !limiter.allow() {
                    let _ = out_tx.try_send(error(None, ErrorCode::RateLimited, "too many messages; closing"));
                    let _ = out_tx.try_send(Outgoing::Close { code: 1008, reason: "rate limit exceeded" });
                    closing_sent = true;
                    break;
                }
                let reply = match text {
                    None => Err((ErrorCode::InvalidMessage, "send JSON text frames".to_owned())),
                    Some(text) if text.len() > MAX_MESSAGE_BYTES => {
                        Err((ErrorCode::MessageTooLarge, format!("messages may be at most {MAX_MESSAGE_BYTES} bytes")))
                    }
                    Some(text) => serde_json::from_str::<ClientMessage>(&text)
                        .map_err(|e| (ErrorCode::InvalidMessage, format!("not a valid message: {e}"))),
                };
                match reply {
                    Ok(message) => {
                        let command = RoomCommand::Message { participant_id, connection_id, message };
                        if room.send(command).await.is_err() {
                            break;
                        }
                    }
                    Err((code, message)) => {
                        bad_messages += 1;
                        let _ = out_tx.try_send(error(None, code, message));
                    }
                }
                if bad_messages >= BAD_MESSAGE_LIMIT {
                    let _ = out_tx.try_send(Outgoing::Close { code: 1008, reason: "too many invalid messages" });
                    closing_sent = true;
                    break;
                }
            }
            _ = watchdog.tick() => {
                if last_heard.elapsed() > dead_after {
                    tracing::info!(participant = %participant_id, "no pong within the heartbeat window; connection dead");
                    break;
                }
            }
            _ = &mut *closed_rx => {
                closing_sent = true;
                break;
            }
            () = kick.notified() => {
                tracing::info!(participant = %participant_id, "closing a connection that does not keep up");
                break;
            }
        }
    }
    closing_sent
}

/// The WebSocket settings every connection shares.
#[derive(Debug, Clone)]
pub struct SignalingSettings {
    pub heartbeat: Duration,
    pub messages_per_second: u32,
    /// One permit per open WebSocket (`--max-websockets`), held for the
    /// connection's life.
    pub websockets: Arc<tokio::sync::Semaphore>,
}
