//! A test client that speaks the real signaling protocol over a real
//! WebSocket (tokio-tungstenite), with helpers to wait for the messages a
//! user would notice.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use signaling_proto::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// How long a test waits for a message before failing. Only a failure waits
/// this long (negative checks wait for a pong, not a time); with two CPU
/// hogs beside the suite a room's write to PostgreSQL and its ack once took
/// more than 5 s.
const WAIT: Duration = Duration::from_secs(20);

pub struct SignalClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages received but not yet asked for.
    pub seen: Vec<ServerMessage>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq)]
pub enum Ending {
    Closed(u16),
    Dropped,
}

impl SignalClient {
    pub async fn connect(base_url: &str, token: &str) -> SignalClient {
        let url = format!("{}/api/v1/rtc?access_token={token}", base_url.replacen("http://", "ws://", 1));
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("WebSocket upgrade");
        SignalClient { socket, seen: Vec::new() }
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        let text = serde_json::to_string(message).unwrap();
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends; false once the server has closed the connection.
    pub async fn try_send(&mut self, message: &ClientMessage) -> bool {
        self.try_send_raw(serde_json::to_string(message).unwrap()).await
    }

    /// Sends any text; false once the server has closed the connection.
    pub async fn try_send_raw(&mut self, text: String) -> bool {
        self.socket.send(Message::Text(text.into())).await.is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::Binary(bytes.into())).await.expect("send binary");
    }

    pub async fn send_raw(&mut self, text: String) {
        self.socket.send(Message::Text(text.into())).await.expect("send raw");
    }

    pub async fn join(&mut self, session_id: Uuid, resume_token: Option<String>) {
        self.send(&ClientMessage::Join {
            request_id: Some("join".into()),
            protocol_version: PROTOCOL_VERSION,
            session_id,
            resume_token,
            new_peer_connections: false,
        })
        .await;
    }

    /// The next server message, or `None` when the socket closed or nothing came in time.
    pub async fn next(&mut self, wait: Duration) -> Option<ServerMessage> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??;
            match frame.ok()? {
                Message::Text(text) => return Some(serde_json::from_str(&text).expect("server sent valid JSON")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for a message matching `pred`, keeping the others in `seen`.
    pub async fn expect<F: Fn(&ServerMessage) -> bool>(&mut self, what: &str, pred: F) -> ServerMessage {
        if let Some(index) = self.seen.iter().position(&pred) {
            return self.seen.remove(index);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(message) if pred(&message) => return message,
                Some(message) => self.seen.push(message),
                None => panic!("expected {what}; got only {:#?}", self.seen),
            }
        }
    }

    /// Asserts that nothing matching `pred` arrives before a ping's pong:
    /// the server answers in order, so anything sent before would come first.
    pub async fn assert_none_before_pong<F: Fn(&ServerMessage) -> bool>(&mut self, what: &str, pred: F) {
        self.send(&ClientMessage::Ping { request_id: Some("probe".into()) }).await;
        loop {
            let message = self.next(WAIT).await.expect("a pong");
            assert!(!pred(&message), "received {what}: {message:?}");
            if matches!(&message, ServerMessage::Pong { request_id: Some(id) } if id == "probe") {
                break;
            }
        }
        self.seen.retain(|m| !pred(m));
    }

    /// Reads until the connection ends and says how.
    pub async fn ending(&mut self) -> Ending {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => return Ending::Closed(u16::from(frame.code)),
                Ok(Some(Ok(Message::Close(None)))) => return Ending::Closed(u16::from(CloseCode::Status)),
                Ok(Some(Ok(Message::Text(text)))) => {
                    self.seen.push(serde_json::from_str(&text).expect("valid JSON"));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return Ending::Dropped,
                Err(_) => panic!("the connection did not end; seen {:#?}", self.seen),
            }
        }
    }

    /// Drops the TCP connection without a close handshake (a lost link).
    pub fn drop_link(self) {
        drop(self.socket);
    }
}
