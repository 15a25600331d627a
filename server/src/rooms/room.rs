//! One room: the task that owns a session's live state. Every change comes
//! in as a `RoomCommand`, is applied here, and goes out as the views each
//! participant is entitled to see, new media rules, and records for the
//! store. Nothing here awaits a connection: sends are `try_send`.

mod hearing;

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use rand::RngCore;
use serde_json::json;
use signaling_proto::{
    ClientMessage, ErrorCode, LobbyEntry, MediaKind, ParticipantInfo, RequestId, Role, RoomView, ServerMessage,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{
    Connection, Expel, Failure, JoinTicket, Outgoing, Recorder, Refusal, RoomCommand, RoomRegistry, RoomSettings,
};
use crate::access::RoomConfirmer;
use crate::cases::agreement::current_text;
use crate::cases::changes::{Actor, AuditEntry, Change};
use crate::cases::confirm::{ConfirmRequest, confirmation_changes};
use crate::cases::{self, Attendance, CaseState, ConfirmMethod, Participant, Session, SessionState, Signer};
use crate::sfu::MediaRules;
use crate::store::DynStore;
use crate::time::Timestamp;
use hearing::{ConsentMessage, Hearing};

pub(super) struct RoomContext {
    pub session: Session,
    pub settings: std::sync::Arc<RoomSettings>,
    pub store: DynStore,
    pub recorder: Recorder,
    pub sfu: std::sync::Arc<crate::sfu::Sfu>,
    pub rules: watch::Sender<MediaRules>,
    pub registry: RoomRegistry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Lobby,
    Admitted,
}

struct Member {
    participant: Participant,
    role: Role,
    actor: Actor,
    status: Status,
    /// Order of arrival, for a stable listing.
    arrived: u64,
    connection: Option<Connection>,
    disconnected_at: Option<Instant>,
    resume_token: String,
    audio_enabled: bool,
    video_enabled: bool,
    audio_only: bool,
    /// Observer: the mediator lets them be seen and heard.
    may_speak: bool,
    /// A party in the lobby: the mediators viewing their camera (ID check).
    viewed_by: BTreeSet<Uuid>,
    caucus: Option<Uuid>,
    /// Station: the case's parties sitting in its room (id, name).
    parties_present: Vec<(Uuid, String)>,
    /// The open attendance record, from admission to leaving.
    attendance_id: Option<Uuid>,
    /// The last view sent, so only changes go out.
    last_view: Option<RoomView>,
}

impl Member {
    fn is_host(&self) -> bool {
        self.role == Role::Mediator
    }

    fn admitted(&self) -> bool {
        self.status == Status::Admitted
    }

    /// An observer the mediator has not let speak: seen and heard by nobody.
    fn silenced(&self) -> bool {
        self.role == Role::Observer && !self.may_speak
    }

    fn info(&self) -> ParticipantInfo {
        let observer = self.role == Role::Observer;
        ParticipantInfo {
            participant_id: self.participant.id,
            display_name: self.participant.display_name.clone(),
            role: self.role,
            audio_enabled: self.audio_enabled && !self.silenced(),
            video_enabled: self.video_enabled && !self.silenced(),
            reconnecting: self.connection.is_none(),
            parties_present: self.parties_present.iter().map(|(_, name)| name.clone()).collect(),
            relation: self.participant.relation.clone(),
            may_speak: observer.then_some(self.may_speak),
        }
    }
}

struct Room {
    ctx: RoomContext,
    /// Where the media plane sends SDP for a participant's current connection.
    media_tx: mpsc::Sender<(Uuid, ServerMessage)>,
    /// The case's state, tracked from the room's start to put it in session.
    case_state: CaseState,
    /// The parties' consent and identity checks in this session.
    hearing: Hearing,
    members: HashMap<Uuid, Member>,
    caucuses: HashMap<Uuid, BTreeSet<Uuid>>,
    locked: bool,
    arrivals: u64,
    empty_since: Option<Instant>,
    ended: bool,
}

fn new_resume_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

type Handled = Result<(), Failure>;

pub(super) async fn run(ctx: RoomContext, mut inbox: mpsc::Receiver<RoomCommand>) {
    let session_id = ctx.session.id;
    tracing::info!(session = %session_id, "room opened");
    let case_state = match ctx.store.case(ctx.session.case_id).await {
        Ok(Some(case)) => case.state,
        Ok(None) | Err(_) => {
            tracing::error!(session = %session_id, "the session's case could not be loaded; room not opened");
            ctx.registry.forget(session_id, &ctx.rules);
            return;
        }
    };
    let hearing = match Hearing::load(&ctx.store, ctx.session.case_id, session_id).await {
        Ok(hearing) => hearing,
        Err(error) => {
            tracing::error!(session = %session_id, %error, "the parties' standings could not be loaded; room not opened");
            ctx.registry.forget(session_id, &ctx.rules);
            return;
        }
    };
    let (media_tx, mut media_rx) = mpsc::channel(256);
    let mut room = Room {
        ctx,
        media_tx,
        case_state,
        hearing,
        members: HashMap::new(),
        caucuses: HashMap::new(),
        locked: false,
        arrivals: 0,
        empty_since: None,
        ended: false,
    };
    while !room.ended {
        let deadline = room.next_deadline();
        tokio::select! {
            command = inbox.recv() => match command {
                Some(command) => room.handle(command).await,
                None => break,
            },
            Some((participant_id, message)) = media_rx.recv() => room.send(participant_id, message),
            () = sleep_until(deadline) => room.on_timer(),
        }
    }
    room.ctx.registry.forget(session_id, &room.ctx.rules);
    tracing::info!(session = %session_id, "room closed");
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

impl Room {
    fn session_id(&self) -> Uuid {
        self.ctx.session.id
    }

    fn next_deadline(&self) -> Option<Instant> {
        let grace = self.ctx.settings.reconnect_grace;
        let reconnects = self.members.values().filter_map(|m| m.disconnected_at.map(|at| at + grace));
        let empty = self.empty_since.map(|since| since + self.ctx.settings.empty_room_timeout);
        reconnects.chain(empty).min()
    }

    async fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join { ticket, connection, reply } => {
                let result = self.join(*ticket, connection);
                let _ = reply.send(result);
            }
            RoomCommand::Message { participant_id, connection_id, message } => {
                let current = self
                    .members
                    .get(&participant_id)
                    .and_then(|m| m.connection.as_ref())
                    .is_some_and(|c| c.id == connection_id);
                if !current {
                    return;
                }
                let request_id = message.request_id().cloned();
                if let Err(failure) = self.on_message(participant_id, message).await {
                    self.deliver(participant_id, Outgoing::Failure { request_id, failure });
                }
            }
            RoomCommand::Expel { who, reason } => {
                let gone: Vec<Uuid> = self
                    .members
                    .values()
                    .filter(|m| match who {
                        Expel::Participant(id) => m.participant.id == id,
                        Expel::Account(id) => m.participant.account_id == Some(id),
                    })
                    .map(|m| m.participant.id)
                    .collect();
                for participant_id in gone {
                    let actor = self.members[&participant_id].actor.clone();
                    let message = ServerMessage::Removed { reason: Some(reason.to_owned()) };
                    self.send_away(&actor, participant_id, message, "removed");
                }
            }
            RoomCommand::HearingChanged => self.reload_hearing().await,
            RoomCommand::Close { reason } => {
                // Already recorded by whoever ended or cancelled the session.
                self.ctx.session.state = SessionState::Ended;
                self.end(reason);
            }
            RoomCommand::Disconnected { participant_id, connection_id } => {
                if let Some(member) = self.members.get_mut(&participant_id)
                    && member.connection.as_ref().is_some_and(|c| c.id == connection_id)
                {
                    member.connection = None;
                    member.disconnected_at = Some(Instant::now());
                    tracing::info!(session = %self.ctx.session.id, participant = %participant_id, "connection lost; place kept");
                }
            }
        }
        self.refresh();
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        let grace = self.ctx.settings.reconnect_grace;
        let expired: Vec<Uuid> = self
            .members
            .values()
            .filter(|m| m.disconnected_at.is_some_and(|at| at + grace <= now))
            .map(|m| m.participant.id)
            .collect();
        for participant_id in expired {
            tracing::info!(session = %self.session_id(), participant = %participant_id, "grace period over; removed");
            self.drop_member(participant_id, "connection_lost");
        }
        if self.empty_since.is_some_and(|since| since + self.ctx.settings.empty_room_timeout <= now) {
            self.end("the room stayed empty");
        }
        self.refresh();
    }

    fn join(&mut self, ticket: JoinTicket, connection: Connection) -> Result<(), Refusal> {
        let refuse = |code, message: &str| Err(Refusal { code, message: message.to_owned() });
        if self.ended {
            return refuse(ErrorCode::SessionClosed, "this session has ended");
        }
        let participant_id = ticket.participant.id;
        if let Some(member) = self.members.get_mut(&participant_id) {
            if ticket.resume_token.as_deref() == Some(member.resume_token.as_str()) {
                if let Some(old) = member.connection.replace(connection) {
                    let _ = old.tx.try_send(Outgoing::Close { code: 4000, reason: "replaced by a newer connection" });
                }
                member.disconnected_at = None;
                self.empty_since = None;
                self.greet(participant_id, ticket.request_id);
                // Kept peer connections may have lost an offer with the old
                // socket; new ones get fresh offers once they publish.
                if !ticket.new_peer_connections {
                    let (sfu, session_id) = (self.ctx.sfu.clone(), self.session_id());
                    tokio::spawn(async move { sfu.resume(session_id, participant_id).await });
                }
                return Ok(());
            }
            // Without the resume token this is a fresh start: the old place goes.
            if let Some(old) = member.connection.take() {
                let _ = old.tx.try_send(Outgoing::Close { code: 4000, reason: "replaced by a newer connection" });
            }
            self.drop_member(participant_id, "rejoined");
        }
        if self.members.len() >= self.ctx.settings.max_participants {
            return refuse(ErrorCode::RoomFull, "the room is full");
        }
        if self.locked && ticket.role != Role::Mediator {
            return refuse(ErrorCode::RoomLocked, "the mediator has locked the room");
        }
        self.arrivals += 1;
        let member = Member {
            participant: ticket.participant,
            role: ticket.role,
            actor: ticket.actor,
            status: Status::Lobby,
            arrived: self.arrivals,
            connection: Some(connection),
            disconnected_at: None,
            resume_token: new_resume_token(),
            audio_enabled: true,
            video_enabled: true,
            audio_only: false,
            may_speak: false,
            viewed_by: BTreeSet::new(),
            caucus: None,
            parties_present: Vec::new(),
            attendance_id: None,
            last_view: None,
        };
        let is_host = member.is_host();
        self.members.insert(participant_id, member);
        self.empty_since = None;
        if is_host {
            self.admit(participant_id);
        }
        self.greet(participant_id, ticket.request_id);
        Ok(())
    }

    /// Tells a (re)joined participant where they stand: `joined` with the
    /// room, or `waiting` in the lobby.
    fn greet(&mut self, participant_id: Uuid, request_id: Option<RequestId>) {
        let Some(member) = self.members.get(&participant_id) else { return };
        let message = if member.admitted() {
            let room = self.view_for(participant_id);
            let member = self.members.get_mut(&participant_id).expect("member present");
            member.last_view = Some(room.clone());
            ServerMessage::Joined {
                request_id,
                participant_id,
                role: member.role,
                resume_token: member.resume_token.clone(),
                room,
                ice_servers: self.ctx.settings.ice_servers_for(participant_id),
            }
        } else {
            ServerMessage::Waiting { request_id, participant_id, resume_token: member.resume_token.clone() }
        };
        self.send(participant_id, message);
        let audio_only = self.members.get(&participant_id).is_some_and(|member| member.audio_only);
        if audio_only {
            // Back on a new connection (a reloaded page): still sound only.
            self.send(participant_id, ServerMessage::AudioOnly { audio_only });
        }
    }

    /// Moves a member from the lobby into the room, records their arrival,
    /// and puts the session live when the first mediator arrives.
    fn admit(&mut self, participant_id: Uuid) {
        let now = Timestamp::now();
        let session_id = self.session_id();
        let Some(member) = self.members.get_mut(&participant_id) else { return };
        member.status = Status::Admitted;
        member.viewed_by.clear();
        let attendance = Attendance { id: Uuid::new_v4(), session_id, participant_id, joined_at: now, left_at: None };
        member.attendance_id = Some(attendance.id);
        let actor = member.actor.clone();
        let is_host = member.is_host();
        self.ctx.recorder.record(&actor, vec![Change::Join { attendance }]);
        if is_host && self.ctx.session.state == SessionState::Planned {
            match cases::session_transition(&self.ctx.session, self.case_state, SessionState::Live, now, None) {
                Ok(changes) => {
                    // One batch each: a stale case state must not keep the
                    // session from being recorded live.
                    for change in changes {
                        self.ctx.recorder.record(&actor, vec![change]);
                    }
                    self.ctx.session.state = SessionState::Live;
                    if self.case_state.may_become(CaseState::InSession) {
                        self.case_state = CaseState::InSession;
                    }
                }
                Err(problem) => tracing::warn!(%problem, "could not put the session live"),
            }
        }
    }

    /// Takes a member out of the room, closing their attendance record and
    /// any caucus left without a mediator.
    fn drop_member(&mut self, participant_id: Uuid, reason: &str) {
        let Some(mut member) = self.members.remove(&participant_id) else { return };
        let (sfu, session_id) = (self.ctx.sfu.clone(), self.session_id());
        tokio::spawn(async move { sfu.remove(session_id, participant_id).await });
        if let Some(attendance_id) = member.attendance_id.take() {
            let leave = Change::Leave { attendance_id, session_id: self.session_id(), at: Timestamp::now() };
            self.ctx.recorder.record(&member.actor, vec![leave]);
        }
        if reason == "connection_lost" {
            self.note(
                &member.actor,
                "session.participant_gone",
                json!({ "participant_id": participant_id, "reason": reason }),
            );
        }
        if let Some(caucus_id) = member.caucus {
            self.leave_caucus(caucus_id, participant_id);
        }
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    fn leave_caucus(&mut self, caucus_id: Uuid, participant_id: Uuid) {
        let Some(inside) = self.caucuses.get_mut(&caucus_id) else { return };
        inside.remove(&participant_id);
        let host_left = !inside.iter().any(|id| self.members.get(id).is_some_and(Member::is_host));
        if host_left {
            self.close_caucus(caucus_id);
        }
    }

    fn close_caucus(&mut self, caucus_id: Uuid) {
        let Some(inside) = self.caucuses.remove(&caucus_id) else { return };
        for id in inside {
            if let Some(member) = self.members.get_mut(&id) {
                member.caucus = None;
            }
            self.send(id, ServerMessage::CaucusClosed { caucus_id });
        }
    }

    fn note(&self, actor: &Actor, action: &str, details: serde_json::Value) {
        let entry = AuditEntry::new(action, "session", self.session_id(), details);
        self.ctx.recorder.record(actor, vec![Change::Note { entry }]);
    }

    /// Ends the session for everyone: records it, tells them, closes sockets.
    fn end(&mut self, reason: &str) {
        let now = Timestamp::now();
        let actor = Actor::system();
        self.note(&actor, "session.end", json!({ "reason": reason }));
        let (sfu, session_id) = (self.ctx.sfu.clone(), self.session_id());
        tokio::spawn(async move { sfu.close_room(session_id).await });
        if self.ctx.session.state == SessionState::Live
            && let Ok(changes) =
                cases::session_transition(&self.ctx.session, self.case_state, SessionState::Ended, now, None)
        {
            self.ctx.recorder.record(&actor, changes);
            self.ctx.session.state = SessionState::Ended;
        }
        let ids: Vec<Uuid> = self.members.keys().copied().collect();
        for id in ids {
            self.send(id, ServerMessage::SessionEnded { reason: reason.to_owned() });
            self.close(id, 1000, "the session ended");
            self.drop_member(id, "left");
        }
        self.ended = true;
    }

    fn send(&mut self, participant_id: Uuid, message: ServerMessage) {
        self.deliver(participant_id, Outgoing::Message(message));
    }

    fn deliver(&mut self, participant_id: Uuid, outgoing: Outgoing) {
        let Some(member) = self.members.get_mut(&participant_id) else { return };
        let Some(connection) = &member.connection else { return };
        if connection.tx.try_send(outgoing).is_err() {
            // The client does not keep up (or is gone): close that socket and
            // keep the place, so that it can come back with its resume token.
            tracing::warn!(participant = %participant_id, "connection too slow; dropped");
            connection.kick.notify_one();
            member.connection = None;
            member.disconnected_at = Some(Instant::now());
        }
    }

    fn close(&mut self, participant_id: Uuid, code: u16, reason: &'static str) {
        if let Some(connection) = self.members.get_mut(&participant_id).and_then(|m| m.connection.take()) {
            let _ = connection.tx.try_send(Outgoing::Close { code, reason });
        }
    }

    /// The room as `viewer` may see it: only those in the same space; the
    /// lobby for mediators; that a private session exists, nothing more.
    fn view_for(&self, viewer: Uuid) -> RoomView {
        let me = &self.members[&viewer];
        let mut same_space: Vec<&Member> =
            self.members.values().filter(|m| m.admitted() && m.caucus == me.caucus).collect();
        same_space.sort_by_key(|m| m.arrived);
        let mut lobby: Vec<&Member> = if me.is_host() && me.admitted() {
            self.members.values().filter(|m| !m.admitted()).collect()
        } else {
            Vec::new()
        };
        lobby.sort_by_key(|m| m.arrived);
        let parties = match (me.role, me.admitted()) {
            (Role::Mediator, true) => self.hearing.view(|party_id| self.where_is(party_id, false)),
            (Role::Station, true) => self.hearing.view(|party_id| self.where_is(party_id, true)),
            _ => Vec::new(),
        };
        RoomView {
            session_id: self.session_id(),
            locked: self.locked,
            caucus_id: me.caucus,
            participants: same_space.into_iter().map(Member::info).collect(),
            private_session_underway: self.caucuses.keys().any(|id| Some(*id) != me.caucus),
            lobby: lobby
                .into_iter()
                .map(|m| LobbyEntry {
                    participant_id: m.participant.id,
                    display_name: m.participant.display_name.clone(),
                    role: m.role,
                })
                .collect(),
            parties,
        }
    }

    /// Sends each admitted participant their view if it changed, and
    /// publishes the media rules.
    fn refresh(&mut self) {
        // The rules first: whoever is told of a change finds it in force.
        let mut rules = MediaRules::default();
        for member in self.members.values().filter(|m| m.admitted() && m.connection.is_some()) {
            let id = member.participant.id;
            rules.spaces.insert(id, member.caucus);
            if !member.audio_enabled || member.silenced() {
                rules.audio_off.insert(id);
            }
            if !member.video_enabled || member.silenced() {
                rules.video_off.insert(id);
            }
            if member.audio_only {
                rules.audio_only.insert(id);
            }
            if member.is_host() {
                rules.mediators.insert(id);
            }
        }
        for member in self.members.values().filter(|m| !m.admitted() && m.role == Role::Party && m.connection.is_some())
        {
            let viewers = member.viewed_by.iter().filter(|id| rules.mediators.contains(id)).copied().collect();
            rules.lobby.insert(member.participant.id, viewers);
        }
        self.ctx.rules.send_if_modified(|current| {
            let changed = *current != rules;
            *current = rules;
            changed
        });
        let ids: Vec<Uuid> = self.members.values().filter(|m| m.admitted()).map(|m| m.participant.id).collect();
        for id in ids {
            let view = self.view_for(id);
            let member = self.members.get_mut(&id).expect("member present");
            if member.last_view.as_ref() != Some(&view) && member.connection.is_some() {
                member.last_view = Some(view.clone());
                self.send(id, ServerMessage::Room { room: view });
            }
        }
    }

    fn require_host(&self, participant_id: Uuid) -> Handled {
        if !self.members[&participant_id].is_host() {
            return Err(Failure::room(ErrorCode::Forbidden, "only the mediator may do this"));
        }
        Ok(())
    }

    /// A member other than the caller, visible to the caller (same space).
    fn target(&self, caller: Uuid, target: Uuid) -> Result<&Member, Failure> {
        let me = &self.members[&caller];
        match self.members.get(&target) {
            Some(member) if target != caller && (!member.admitted() || member.caucus == me.caucus) => Ok(member),
            _ => Err(Failure::room(ErrorCode::NotFound, "no such participant here")),
        }
    }

    /// Tells someone why they must go, closes their connection, records it
    /// (`session.refused` or `session.removed`) and takes them out.
    fn send_away(&mut self, actor: &Actor, participant_id: Uuid, message: ServerMessage, why: &'static str) {
        self.send(participant_id, message);
        self.close(participant_id, 1000, why);
        self.note(actor, &format!("session.{why}"), json!({ "participant_id": participant_id }));
        self.drop_member(participant_id, why);
    }

    /// The admitted members in the same space as `participant_id`.
    fn space_of(&self, participant_id: Uuid) -> Vec<Uuid> {
        let space = self.members[&participant_id].caucus;
        self.members.values().filter(|m| m.admitted() && m.caucus == space).map(|m| m.participant.id).collect()
    }

    fn ack(&mut self, participant_id: Uuid, request_id: Option<RequestId>) {
        self.send(participant_id, ServerMessage::Ack { request_id });
    }

    /// What someone waiting may send: leave and ping; a party also their
    /// decision, and the media messages that show their ID card to the camera.
    fn allowed_in_lobby(&self, me: Uuid, message: &ClientMessage) -> bool {
        let party_may = matches!(
            message,
            ClientMessage::RecordConsent { .. } | ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. }
        );
        matches!(message, ClientMessage::Leave { .. } | ClientMessage::Ping { .. })
            || (self.members[&me].role == Role::Party && party_may)
    }

    async fn on_message(&mut self, me: Uuid, message: ClientMessage) -> Handled {
        if !self.members[&me].admitted() && !self.allowed_in_lobby(me, &message) {
            return Err(Failure::room(ErrorCode::NotAdmitted, "wait until a mediator admits you"));
        }
        let actor = self.members[&me].actor.clone();
        match message {
            ClientMessage::Join { .. } => {
                Err(Failure::room(ErrorCode::AlreadyJoined, "this connection has already joined"))
            }
            ClientMessage::Ping { request_id } => {
                self.send(me, ServerMessage::Pong { request_id });
                Ok(())
            }
            ClientMessage::Leave { request_id } => {
                self.ack(me, request_id);
                self.close(me, 1000, "left");
                self.drop_member(me, "left");
                Ok(())
            }
            ClientMessage::Admit { request_id, participant_id } => {
                self.admit_from_lobby(me, request_id, participant_id)
            }
            ClientMessage::Refuse { request_id, participant_id, reason } => {
                self.refuse_from_lobby(me, request_id, participant_id, reason)
            }
            ClientMessage::Remove { request_id, participant_id, reason } => {
                self.remove(me, request_id, participant_id, reason)
            }
            ClientMessage::Mute { request_id, participant_id, kind } => self.mute(me, request_id, participant_id, kind),
            ClientMessage::AllowSpeaking { request_id, participant_id, allowed } => {
                self.allow_speaking(me, request_id, participant_id, allowed)
            }
            ClientMessage::ViewCamera { request_id, participant_id, viewing } => {
                self.view_camera(me, request_id, participant_id, viewing)
            }
            ClientMessage::SetMedia { request_id, kind, enabled } => self.set_media(me, request_id, kind, enabled),
            ClientMessage::Lock { request_id, locked } => self.lock(me, request_id, locked),
            ClientMessage::OpenCaucus { request_id, participant_ids } => {
                self.open_caucus(me, request_id, participant_ids)
            }
            ClientMessage::CloseCaucus { request_id, caucus_id } => {
                self.require_host(me)?;
                if !self.caucuses.contains_key(&caucus_id) {
                    return Err(Failure::room(ErrorCode::NotFound, "no such caucus"));
                }
                self.close_caucus(caucus_id);
                self.note(&actor, "session.caucus_close", json!({ "caucus_id": caucus_id }));
                self.ack(me, request_id);
                Ok(())
            }
            ClientMessage::Chat { request_id, to, text } => self.chat(me, request_id, to, text),
            ClientMessage::PartiesPresent { request_id, party_ids } => {
                self.set_parties_present(me, request_id, party_ids).await
            }
            ClientMessage::RecordConsent { request_id, party_id, decision, publicity, notice_version } => {
                let message = ConsentMessage { party_id, decision, publicity, notice_version };
                self.record_consent(me, request_id, message).await
            }
            ClientMessage::CheckIdentity { request_id, party_id } => {
                self.check_identity(me, request_id, party_id).await
            }
            ClientMessage::PushAgreement { request_id } => self.push_agreement(me, request_id).await,
            ClientMessage::PushTranscript { request_id } => self.push_transcript(me, request_id).await,
            ClientMessage::ConfirmTranscript { request_id, text_sha256, party_id } => {
                self.confirm_transcript(me, request_id, text_sha256, party_id).await
            }
            ClientMessage::ConfirmAgreement { request_id, text_sha256, party_id } => {
                self.confirm_agreement(me, request_id, text_sha256, party_id).await
            }
            ClientMessage::SetAudioOnly { request_id, participant_id, audio_only } => {
                self.set_audio_only(me, request_id, participant_id, audio_only)
            }
            ClientMessage::Sdp { request_id, target, description } => {
                let rules = self.ctx.rules.subscribe();
                let sink = self.media_tx.clone();
                self.ctx.sfu.signal(self.session_id(), me, rules, sink, target, description);
                self.ack(me, request_id);
                Ok(())
            }
            // Trickled candidates go to the media plane; end-of-candidates needs nothing.
            ClientMessage::IceCandidate { target, candidate } => {
                if let Some(candidate) = candidate {
                    let (sfu, session_id) = (self.ctx.sfu.clone(), self.session_id());
                    tokio::spawn(async move { sfu.add_candidate(session_id, me, target, candidate).await });
                }
                Ok(())
            }
            ClientMessage::EndSession { request_id } => {
                self.require_host(me)?;
                self.ack(me, request_id);
                self.note(&actor, "session.end_requested", json!({}));
                self.end("the mediator ended the session");
                Ok(())
            }
        }
    }

    fn admit_from_lobby(&mut self, me: Uuid, request_id: Option<RequestId>, participant_id: Uuid) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        let target = self.target(me, participant_id)?;
        if target.admitted() {
            return Err(Failure::room(ErrorCode::InvalidField, "that participant is not in the lobby"));
        }
        if target.role == Role::Party {
            // No admission without consent and an identity check (seen through view_camera).
            let party_id = target.participant.party_id.expect("an invited party names their party");
            self.hearing.require_confirmable(party_id)?;
        }
        self.admit(participant_id);
        self.note(&actor, "session.admit", json!({ "participant_id": participant_id }));
        self.greet(participant_id, None);
        self.ack(me, request_id);
        Ok(())
    }

    fn refuse_from_lobby(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        participant_id: Uuid,
        reason: Option<String>,
    ) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        if self.target(me, participant_id)?.admitted() {
            return Err(Failure::room(ErrorCode::InvalidField, "that participant is not in the lobby"));
        }
        self.send_away(&actor, participant_id, ServerMessage::Refused { reason }, "refused");
        self.ack(me, request_id);
        Ok(())
    }

    fn remove(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        participant_id: Uuid,
        reason: Option<String>,
    ) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        if self.target(me, participant_id)?.is_host() {
            return Err(Failure::room(ErrorCode::Forbidden, "a mediator cannot remove another mediator"));
        }
        self.send_away(&actor, participant_id, ServerMessage::Removed { reason }, "removed");
        self.ack(me, request_id);
        Ok(())
    }

    fn set_media(&mut self, me: Uuid, request_id: Option<RequestId>, kind: MediaKind, enabled: bool) -> Handled {
        let member = self.members.get_mut(&me).expect("caller present");
        match kind {
            MediaKind::Audio => member.audio_enabled = enabled,
            MediaKind::Video => member.video_enabled = enabled,
        }
        self.ack(me, request_id);
        Ok(())
    }

    fn mute(&mut self, me: Uuid, request_id: Option<RequestId>, participant_id: Uuid, kind: MediaKind) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        if !self.target(me, participant_id)?.admitted() {
            return Err(Failure::room(ErrorCode::NotFound, "that participant is not in the room"));
        }
        let by = self.members[&me].participant.display_name.clone();
        let member = self.members.get_mut(&participant_id).expect("target present");
        match kind {
            MediaKind::Audio => member.audio_enabled = false,
            MediaKind::Video => member.video_enabled = false,
        }
        self.send(participant_id, ServerMessage::MutedBy { kind, by });
        self.note(&actor, "session.mute", json!({ "participant_id": participant_id, "kind": kind }));
        self.ack(me, request_id);
        Ok(())
    }

    fn lock(&mut self, me: Uuid, request_id: Option<RequestId>, locked: bool) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        self.locked = locked;
        self.note(&actor, if locked { "session.lock" } else { "session.unlock" }, json!({}));
        self.ack(me, request_id);
        Ok(())
    }

    /// A mediator sees a waiting party's camera (to compare the ID card they
    /// hold up), or stops; the party is told, with what they need to publish.
    fn view_camera(&mut self, me: Uuid, request_id: Option<RequestId>, target: Uuid, viewing: bool) -> Handled {
        self.require_host(me)?;
        let member = self.target(me, target)?;
        if member.role != Role::Party || member.admitted() {
            return Err(Failure::room(ErrorCode::InvalidField, "only a party waiting in the lobby is viewed"));
        }
        let by = self.members[&me].participant.display_name.clone();
        let member = self.members.get_mut(&target).expect("target present");
        if viewing {
            member.viewed_by.insert(me);
        } else {
            member.viewed_by.remove(&me);
        }
        let ice_servers = if viewing { self.ctx.settings.ice_servers_for(target) } else { Vec::new() };
        self.send(target, ServerMessage::CameraViewed { viewing, by, ice_servers });
        self.ack(me, request_id);
        Ok(())
    }

    fn allow_speaking(&mut self, me: Uuid, request_id: Option<RequestId>, target: Uuid, allowed: bool) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        let member = self.target(me, target)?;
        if member.role != Role::Observer || !member.admitted() {
            return Err(Failure::room(ErrorCode::InvalidField, "only an observer in the room is let speak"));
        }
        self.members.get_mut(&target).expect("target present").may_speak = allowed;
        self.note(&actor, "session.observer_speak", json!({ "participant_id": target, "allowed": allowed }));
        self.ack(me, request_id);
        Ok(())
    }

    fn open_caucus(&mut self, me: Uuid, request_id: Option<RequestId>, participant_ids: Vec<Uuid>) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        if self.members[&me].caucus.is_some() {
            return Err(Failure::room(ErrorCode::InvalidField, "close your current caucus first"));
        }
        let mut inside: BTreeSet<Uuid> = BTreeSet::from([me]);
        for id in participant_ids {
            let member = self.target(me, id)?;
            if !member.admitted() {
                return Err(Failure::room(ErrorCode::InvalidField, "admit them before a caucus"));
            }
            if member.role == Role::Observer {
                return Err(Failure::room(ErrorCode::InvalidField, "observers never enter a private session"));
            }
            inside.insert(id);
        }
        if inside.len() < 2 {
            return Err(Failure::room(ErrorCode::InvalidField, "choose at least one participant"));
        }
        let caucus_id = Uuid::new_v4();
        for id in &inside {
            self.members.get_mut(id).expect("member present").caucus = Some(caucus_id);
        }
        self.caucuses.insert(caucus_id, inside.clone());
        let ids: Vec<Uuid> = inside.iter().copied().collect();
        for id in &ids {
            let request_id = if *id == me { request_id.clone() } else { None };
            self.send(*id, ServerMessage::CaucusOpened { request_id, caucus_id, participant_ids: ids.clone() });
        }
        self.note(&actor, "session.caucus_open", json!({ "caucus_id": caucus_id, "participants": ids }));
        Ok(())
    }

    fn chat(&mut self, me: Uuid, request_id: Option<RequestId>, to: Option<Uuid>, text: String) -> Handled {
        if self.members[&me].silenced() {
            return Err(Failure::room(ErrorCode::Forbidden, "an observer speaks once the mediator lets them"));
        }
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > signaling_proto::MAX_CHAT_CHARS {
            return Err(Failure::room(ErrorCode::InvalidField, "chat text must be 1 to 2000 characters"));
        }
        let from_name = self.members[&me].participant.display_name.clone();
        let message = ServerMessage::Chat { from: me, from_name, to, text, sent_at_ms: Timestamp::now().millis() };
        let recipients: Vec<Uuid> = match to {
            Some(target) => {
                if !self.target(me, target)?.admitted() {
                    return Err(Failure::room(ErrorCode::NotFound, "no such participant here"));
                }
                vec![me, target]
            }
            None => self.space_of(me),
        };
        for id in recipients {
            self.send(id, message.clone());
        }
        self.ack(me, request_id);
        Ok(())
    }

    async fn set_parties_present(&mut self, me: Uuid, request_id: Option<RequestId>, party_ids: Vec<Uuid>) -> Handled {
        if self.members[&me].role != Role::Station {
            return Err(Failure::room(ErrorCode::Forbidden, "only a village station says which parties are present"));
        }
        let parties = self.ctx.store.parties(self.ctx.session.case_id).await?;
        let mut present = Vec::new();
        for id in party_ids {
            let party = parties
                .iter()
                .find(|p| p.id == id)
                .ok_or_else(|| Failure::room(ErrorCode::InvalidField, "not a party to this case"))?;
            self.hearing.require_consent(party.id)?;
            present.push((party.id, party.name.clone()));
        }
        self.members.get_mut(&me).expect("caller present").parties_present = present;
        self.ack(me, request_id);
        Ok(())
    }

    async fn push_agreement(&mut self, me: Uuid, request_id: Option<RequestId>) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        let case_id = self.ctx.session.case_id;
        let case = self.ctx.store.case(case_id).await?.ok_or_else(|| Failure::room(ErrorCode::NotFound, "no case"))?;
        let agreement = self
            .ctx
            .store
            .agreement(case_id)
            .await?
            .ok_or_else(|| Failure::room(ErrorCode::NotFound, "no written agreement has been drafted"))?;
        let parties = self.ctx.store.parties(case_id).await?;
        let text = current_text(&case, &parties, &agreement)?;
        let message = ServerMessage::AgreementPushed {
            case_number: case.case_number.clone(),
            version: agreement.version,
            text,
            text_sha256: agreement.text_sha256.clone(),
        };
        for id in self.space_of(me) {
            self.send(id, message.clone());
        }
        self.note(&actor, "agreement.push", json!({ "version": agreement.version }));
        self.ack(me, request_id);
        Ok(())
    }

    /// The party a confirmation is for, and how it is given: a party for
    /// themself, a station for a party it seats. That party must consent and
    /// have had their identity checked.
    fn confirming_party(&self, me: Uuid, named: Option<Uuid>) -> Result<(Uuid, ConfirmMethod), Failure> {
        let member = &self.members[&me];
        let present: Vec<Uuid> = member.parties_present.iter().map(|(id, _)| *id).collect();
        let confirmer = match member.role {
            Role::Party => RoomConfirmer::Party { own_party: member.participant.party_id },
            Role::Station => RoomConfirmer::Station { present: &present },
            _ => RoomConfirmer::Other,
        };
        let (party_id, method) = confirmer.confirms(named)?;
        let party_id = party_id.ok_or_else(|| Failure::room(ErrorCode::InvalidField, "name the party (party_id)"))?;
        self.hearing.require_confirmable(party_id)?;
        Ok((party_id, method))
    }

    async fn confirm_agreement(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        text_sha256: String,
        party_id: Option<Uuid>,
    ) -> Handled {
        let actor = self.members[&me].actor.clone();
        let (party_id, method) = self.confirming_party(me, party_id)?;
        let recorded_by = self.members[&me].participant.account_id;
        let case_id = self.ctx.session.case_id;
        let store = &self.ctx.store;
        let case = store.case(case_id).await?.ok_or_else(|| Failure::room(ErrorCode::NotFound, "no case"))?;
        let agreement = store
            .agreement(case_id)
            .await?
            .ok_or_else(|| Failure::room(ErrorCode::NotFound, "no written agreement has been drafted"))?;
        let parties = store.parties(case_id).await?;
        let confirmations = store.confirmations(case_id).await?;
        let request = ConfirmRequest {
            signer: Signer::Party,
            party_id: Some(party_id),
            method,
            text_sha256,
            recorded_by,
            signer_account_id: None,
        };
        let changes = confirmation_changes(&case, &agreement, &parties, &confirmations, request)?;
        // Written at once (not through the recorder): the party must
        // know their confirmation is on record.
        let applied = match store.apply(&actor, &changes).await {
            Ok(applied) => applied,
            Err(error) => return Err(error.as_second_confirmation().map_or_else(Failure::from, Failure::from)),
        };
        let effective = applied.agreement_effective;
        for id in self.space_of(me) {
            self.send(id, ServerMessage::AgreementConfirmed { party_id, effective });
        }
        self.ack(me, request_id);
        Ok(())
    }

    fn set_audio_only(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        participant_id: Option<Uuid>,
        audio_only: bool,
    ) -> Handled {
        let target = participant_id.unwrap_or(me);
        if target != me {
            self.require_host(me)?;
            self.target(me, target)?;
        }
        self.members.get_mut(&target).expect("target present").audio_only = audio_only;
        self.send(target, ServerMessage::AudioOnly { audio_only });
        self.ack(me, request_id);
        Ok(())
    }
}
