//! A video session's room as the signaling tests meet it: a server with
//! fast timers, the demo's 东平 case with a session, tokens for the
//! mediator, the station, the adviser and the party (who has consented on
//! the invitation page, as the web client does before joining), and the
//! steps every room test takes (connect, host, admit).

use serde_json::json;
use signaling_proto::{ClientMessage, ErrorCode, Role, RoomView, ServerMessage};
use uuid::Uuid;

use crate::fixtures::{Demo, VideoSession, video_session};
use crate::signal::SignalClient;
use crate::{Db, TestServer};

const FAST: [&str; 6] = ["--reconnect-grace-secs", "1", "--ws-heartbeat-ms", "200", "--room-empty-secs", "30"];

pub struct Scene {
    pub server: TestServer,
    pub session: VideoSession,
    pub session_id: Uuid,
    pub tokens: Vec<(&'static str, String)>,
}

pub async fn scene(db: Db, extra: &[&str]) -> Scene {
    // Flags in `extra` replace the fast defaults of the same name.
    let mut args: Vec<&str> = Vec::new();
    for pair in FAST.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend_from_slice(pair);
        }
    }
    args.extend_from_slice(extra);
    let server = TestServer::start(db, &args).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let session = video_session(&mediator, &demo).await;
    let mut tokens = Vec::new();
    for who in ["mediator1", "station-dongping", "adviser1"] {
        tokens.push((who, server.login(who).await.token().unwrap().to_owned()));
    }
    tokens.push(("party", session.party_token.clone()));
    let session_id = session.session_id.parse().unwrap();
    let scene = Scene { server, session, session_id, tokens };
    let consented = scene.party_decides(json!({ "decision": "consent", "publicity": "non_public" })).await;
    assert_eq!(consented.status, 201, "the party's consent: {}", consented.body);
    scene
}

/// The version of the consent notice the server shows.
pub async fn notice_version(server: &TestServer) -> String {
    let notice = server.anonymous().get("/api/v1/consent-notice").await;
    assert_eq!(notice.status, 200, "{}", notice.body);
    notice.body["version"].as_str().unwrap().to_owned()
}

/// The participant id a client waiting in the lobby was given.
pub async fn waiting_id(client: &mut SignalClient) -> Uuid {
    match client.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await {
        ServerMessage::Waiting { participant_id, .. } => participant_id,
        _ => unreachable!(),
    }
}

/// Sends a request and waits for its acknowledgement.
pub async fn acked(client: &mut SignalClient, message: ClientMessage) {
    let request_id = message.request_id().cloned().expect("a request with an id");
    client.send(&message).await;
    client
        .expect(
            &format!("ack of {request_id}"),
            |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if *id == request_id),
        )
        .await;
}

impl Scene {
    /// The party's own decision through the invitation API; `body` without
    /// `notice_version` gets the current one.
    pub async fn party_decides(&self, mut body: serde_json::Value) -> crate::api::Reply {
        if body.get("notice_version").is_none() {
            body["notice_version"] = json!(notice_version(&self.server).await);
        }
        self.server.anonymous().with_token(&self.session.party_token).post("/api/v1/invitation/consent", &body).await
    }

    /// A station records a party's consent given in person (non-public mediation).
    pub async fn consent_at_station(&self, station: &mut SignalClient, party_id: Uuid) {
        let message = ClientMessage::RecordConsent {
            request_id: Some(format!("consent-{party_id}")),
            party_id: Some(party_id),
            decision: signaling_proto::ConsentDecision::Consent,
            publicity: Some(signaling_proto::Publicity::NonPublic),
            notice_version: notice_version(&self.server).await,
        };
        acked(station, message).await;
    }

    /// The mediator (on camera) or a station (in person) checks a party's ID card.
    pub async fn check_identity(&self, checker: &mut SignalClient, party_id: Uuid) {
        acked(checker, ClientMessage::CheckIdentity { request_id: Some(format!("check-{party_id}")), party_id }).await;
    }

    pub fn token(&self, who: &str) -> &str {
        &self.tokens.iter().find(|(name, _)| *name == who).unwrap().1
    }

    pub async fn connect(&self, who: &str) -> SignalClient {
        let mut client = SignalClient::connect(&self.server.base_url, self.token(who)).await;
        client.join(self.session_id, None).await;
        client
    }

    /// The mediator in the room.
    pub async fn host(&self) -> (SignalClient, Uuid) {
        let mut host = self.connect("mediator1").await;
        let joined = host.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await;
        let ServerMessage::Joined { participant_id, role, .. } = joined else { unreachable!() };
        assert_eq!(role, Role::Mediator);
        (host, participant_id)
    }

    /// Someone who waits in the lobby and is admitted by `host`; the party
    /// once the mediator has checked their ID card (as through their camera).
    pub async fn admitted(&self, who: &str, host: &mut SignalClient) -> (SignalClient, Uuid, String) {
        let mut client = self.connect(who).await;
        let waiting = client.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await;
        let ServerMessage::Waiting { participant_id, resume_token, .. } = waiting else { unreachable!() };
        if who == "party" {
            // Checked once per session: a party coming back is already checked.
            let party_id = self.session.party_id.parse().unwrap();
            host.send(&ClientMessage::CheckIdentity { request_id: Some("check-before-admit".into()), party_id }).await;
            host.expect("the check recorded (or made before)", |m| match m {
                ServerMessage::Ack { request_id } | ServerMessage::Error { request_id, .. } => {
                    request_id.as_deref() == Some("check-before-admit")
                }
                _ => false,
            })
            .await;
        }
        host.send(&ClientMessage::Admit { request_id: Some(format!("admit-{who}")), participant_id }).await;
        host.expect(
            "ack of admit",
            |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == &format!("admit-{who}")),
        )
        .await;
        client.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await;
        (client, participant_id, resume_token)
    }
}

pub fn room_with(count: usize) -> impl Fn(&ServerMessage) -> bool {
    move |m| matches!(m, ServerMessage::Room { room } if room.participants.len() == count)
}

pub fn view(message: ServerMessage) -> RoomView {
    match message {
        ServerMessage::Room { room } | ServerMessage::Joined { room, .. } => room,
        other => panic!("not a room view: {other:?}"),
    }
}

pub fn is_error(code: ErrorCode) -> impl Fn(&ServerMessage) -> bool {
    move |m| matches!(m, ServerMessage::Error { code: c, .. } if *c == code)
}
