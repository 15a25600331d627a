//! A real TLS client for the HTTPS tests: rustls trusting only the
//! certificate authority the test names (never "accept anything"), with
//! plain HTTP/1.1 requests written over it and the certificate the server
//! presented kept for the test to compare.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A client trusting one authority (PEM).
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

/// An answer over HTTPS.
#[derive(Debug)]
pub struct HttpsReply {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The leaf certificate the server presented.
    pub certificate: Vec<u8>,
}

impl HttpsReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

impl TlsClient {
    pub fn trusting(authority_pem: &[u8]) -> TlsClient {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(authority_pem) {
            roots.add(certificate.expect("a PEM certificate")).expect("a usable root");
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        // Every connection shows the certificate in service now (a resumed
        // session would show the one it began with).
        config.resumption = rustls::client::Resumption::disabled();
        TlsClient { connector: TlsConnector::from(Arc::new(config)) }
    }

    /// A verified TLS connection to `address` for the name `host`.
    pub async fn connect(&self, address: SocketAddr, host: &str) -> std::io::Result<TlsStream<TcpStream>> {
        let stream = TcpStream::connect(address).await?;
        let name = ServerName::try_from(host.to_owned()).map_err(std::io::Error::other)?;
        self.connector.connect(name, stream).await
    }

    /// GET `path` over a new verified connection.
    pub async fn get(&self, address: SocketAddr, host: &str, path: &str) -> std::io::Result<HttpsReply> {
        self.send(address, host, "GET", path, None).await
    }

    /// `method` `path` with a JSON body, over a new verified connection.
    pub async fn send(
        &self,
        address: SocketAddr,
        host: &str,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> std::io::Result<HttpsReply> {
        let mut stream = self.connect(address, host).await?;
        let certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| leaf.to_vec())
            .unwrap_or_default();
        let body = json.map(ToString::to_string).unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if json.is_some() {
            request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        // A server closing without close_notify still delivered the answer.
        match stream.read_to_end(&mut raw).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(error) => return Err(error),
        }
        let (head, body) = split_head(&raw);
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let chunked = headers.iter().any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        let body = if chunked { dechunk(body) } else { body.to_vec() };
        Ok(HttpsReply { status, headers, body, certificate })
    }
}

fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let end = raw.windows(4).position(|window| window == b"\r\n\r\n").map_or(raw.len(), |at| at + 4);
    (String::from_utf8_lossy(&raw[..end]).into_owned(), &raw[end..])
}

/// The body of a chunked answer (hyper chunks bodies of unknown length);
/// a malformed one comes back as it is.
fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else { return body.to_vec() };
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16) else {
            return body.to_vec();
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        if rest.len() < size {
            return body.to_vec();
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}
