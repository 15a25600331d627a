//! ICE over TCP on one configured port (RFC 6544 passive candidates, RFC
//! 4571 framing), for village stations whose firewalls let no UDP through.
//!
//! webrtc-rs 0.21 gives every peer connection its own TCP listener. This mux
//! owns the one public port instead: it reads the first STUN binding request
//! of each incoming connection, finds the peer connection by the ICE
//! username fragment the request names (`<server ufrag>:<client ufrag>`),
//! and splices the stream to that connection's loopback listener. Local
//! descriptions leaving the server announce the public address and port in
//! place of the loopback one. Knows nothing of rooms or signaling.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::message::Message as StunMessage;
use rtc::stun::textattrs::TextAttribute;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where each peer connection listens for TCP: on loopback only, reached
/// through the mux.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long a new connection may take to send its first STUN request.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections still waiting for their first request; more are closed at
/// once, so a flood of idle connections cannot pile up tasks and sockets.
const MAX_PENDING: usize = 256;
/// A STUN binding request is far smaller; anything bigger is not ICE.
const MAX_FIRST_FRAME: usize = 1500;

pub struct IceTcpMux {
    port: u16,
    /// Local ICE username fragment -> the loopback listener of its peer
    /// connection. A std Mutex: never held across an await.
    routes: std::sync::Mutex<HashMap<String, SocketAddr>>,
}

impl IceTcpMux {
    /// Binds the public port and starts accepting.
    pub async fn bind(address: SocketAddr) -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind(address).await?;
        let mux = Arc::new(IceTcpMux { port: listener.local_addr()?.port(), routes: Default::default() });
        tokio::spawn(accept(listener, Arc::downgrade(&mux)));
        Ok(mux)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Number of peer connections reachable through the mux now.
    pub fn routes(&self) -> usize {
        self.routes.lock().expect("ICE TCP routes poisoned").len()
    }

    /// Rewrites the TCP candidates of a local description to `public_ip` and
    /// the mux's port, and remembers where connections naming its username
    /// fragment go.
    pub fn announce(&self, sdp: &str, public_ip: IpAddr) -> String {
        let Some(ufrag) = super::sdp::ice_ufrag(sdp) else { return sdp.to_owned() };
        let (announced, listener) = super::sdp::announce_tcp(sdp, public_ip, self.port);
        if let Some(listener) = listener {
            self.routes.lock().expect("ICE TCP routes poisoned").insert(ufrag, listener);
        }
        announced
    }

    /// Forgets the route of a local description (its connection closed).
    pub fn forget(&self, sdp: &str) {
        if let Some(ufrag) = super::sdp::ice_ufrag(sdp) {
            self.routes.lock().expect("ICE TCP routes poisoned").remove(&ufrag);
        }
    }

    fn route(&self, ufrag: &str) -> Option<SocketAddr> {
        self.routes.lock().expect("ICE TCP routes poisoned").get(ufrag).copied()
    }
}

async fn accept(listener: TcpListener, mux: Weak<IceTcpMux>) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        if mux.strong_count() == 0 {
            return;
        }
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tracing::warn!("too many ICE over TCP connections waiting for their first request; closing one");
            continue;
        };
        let mux = mux.clone();
        tokio::spawn(async move {
            if let Err(error) = splice(stream, mux, permit).await {
                tracing::debug!(%error, "ICE over TCP connection dropped");
            }
        });
    }
}

async fn splice(
    mut client: TcpStream,
    mux: Weak<IceTcpMux>,
    pending: tokio::sync::OwnedSemaphorePermit,
) -> io::Result<()> {
    let first = tokio::time::timeout(FIRST_REQUEST_TIMEOUT, read_frame(&mut client))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no STUN request"))??;
    drop(pending);
    let ufrag = stun_username(&first)
        .and_then(|username| username.split(':').next().map(str::to_owned))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a STUN request with a username"))?;
    let target = mux
        .upgrade()
        .and_then(|mux| mux.route(&ufrag))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no peer connection with that username fragment"))?;
    let mut server = TcpStream::connect(target).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    server.write_all(&(first.len() as u16).to_be_bytes()).await?;
    server.write_all(&first).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

/// One RFC 4571 frame: a 16-bit length, then that many bytes.
async fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let length = stream.read_u16().await? as usize;
    if !(20..=MAX_FIRST_FRAME).contains(&length) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "first frame is not a STUN message"));
    }
    let mut frame = vec![0; length];
    stream.read_exact(&mut frame).await?;
    Ok(frame)
}

/// The USERNAME attribute of a STUN message, if it is one.
fn stun_username(frame: &[u8]) -> Option<String> {
    let mut message = StunMessage::new();
    message.unmarshal_binary(frame).ok()?;
    TextAttribute::get_from_as(&message, ATTR_USERNAME).ok().map(|username| username.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    const STUN_USERNAME: u16 = 0x0006;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attributes = Vec::new();
        // A PRIORITY attribute first, as real agents send, then USERNAME (padded).
        attributes.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f, 0x1e, 0xff]);
        attributes.extend_from_slice(&STUN_USERNAME.to_be_bytes());
        attributes.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attributes.extend_from_slice(username.as_bytes());
        while attributes.len() % 4 != 0 {
            attributes.push(0);
        }
        let mut message = vec![0x00, 0x01];
        message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        message.extend_from_slice(&STUN_MAGIC_COOKIE);
        message.extend_from_slice(&[7; 12]);
        message.extend_from_slice(&attributes);
        message
    }

    /// A minimal description with one audio section holding `attributes`.
    fn description(attributes: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n{attributes}"
        )
    }

    #[test]
    fn reads_the_username_of_a_binding_request() {
        assert_eq!(stun_username(&binding_request("srvA:cli")).as_deref(), Some("srvA:cli"));
        assert_eq!(stun_username(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), None, "not STUN");
        let mut truncated = binding_request("srvA:cli");
        truncated.truncate(26);
        assert_eq!(stun_username(&truncated), None);
    }

    #[tokio::test]
    async fn announces_the_public_port_and_routes_by_ufrag() {
        let mux = IceTcpMux::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let sdp = description(
            "a=ice-ufrag:AbCd\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50001 typ host\r\n\
             a=candidate:2 1 tcp 1671430143 127.0.0.1 41234 typ host tcptype passive\r\n\
             a=candidate:3 1 tcp 1675624447 127.0.0.1 9 typ host tcptype active\r\n",
        );
        let sdp = sdp.as_str();
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let announced = mux.announce(sdp, public);
        assert!(
            announced.contains(&format!(
                "a=candidate:2 1 tcp 1671430143 203.0.113.7 {} typ host tcptype passive",
                mux.port()
            ))
        );
        assert!(announced.contains("udp 2130706431 127.0.0.1 50001"), "UDP candidates are left alone");
        assert_eq!(mux.route("AbCd"), Some("127.0.0.1:41234".parse().unwrap()));
        mux.forget(sdp);
        assert_eq!(mux.routes(), 0);
    }

    #[tokio::test]
    async fn splices_a_connection_to_the_peer_connection_it_names() {
        let mux = IceTcpMux::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_port = backend.local_addr().unwrap().port();
        mux.announce(
            &description(&format!(
                "a=ice-ufrag:srvA\r\na=candidate:2 1 tcp 1 127.0.0.1 {backend_port} typ host tcptype passive\r\n"
            )),
            LOOPBACK,
        );
        let mut client = TcpStream::connect(("127.0.0.1", mux.port())).await.unwrap();
        let request = binding_request("srvA:cli");
        client.write_all(&(request.len() as u16).to_be_bytes()).await.unwrap();
        client.write_all(&request).await.unwrap();
        client.write_all(b"\x00\x03abc").await.unwrap();
        let (mut accepted, _) = backend.accept().await.unwrap();
        let frame = read_frame(&mut accepted).await.unwrap();
        assert_eq!(frame, request, "the first request arrives whole");
        let mut rest = [0; 5];
        accepted.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"\x00\x03abc", "and what follows");
        accepted.write_all(b"pong").await.unwrap();
        let mut back = [0; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"pong", "and the way back");

        // A connection naming an unknown ufrag is closed.
        let mut stranger = TcpStream::connect(("127.0.0.1", mux.port())).await.unwrap();
        let request = binding_request("nobody:cli");
        stranger.write_all(&(request.len() as u16).to_be_bytes()).await.unwrap();
        stranger.write_all(&request).await.unwrap();
        let mut buffer = [0; 1];
        assert_eq!(stranger.read(&mut buffer).await.unwrap(), 0, "closed without an answer");
    }
}
