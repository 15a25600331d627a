//! The HTTP listener: one accept path for every connection. It accepts up
//! to a cap of open HTTP connections (waiting for a free place rather than
//! running out of file descriptors), closes a connection whose request
//! headers do not arrive in time (a slow client, or an idle keep-alive one:
//! hyper's header read timeout runs whenever it waits for a request),
//! serves HTTP/1.1 with WebSocket upgrades, and on shutdown lets requests
//! in flight finish. An upgraded WebSocket leaves the HTTP cap: the
//! signaling edge counts WebSockets under a cap of their own.
//!
//! With a TLS acceptor the same path first completes the handshake (within
//! `HANDSHAKE_TIMEOUT`, inside the connection cap) and serves the
//! decrypted stream. HTTP/1.1 only: browsers speak it to a plain-HTTP
//! server and through the reverse proxy, and its header timeout covers
//! idle connections too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long requests in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Time for a client to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (out of file descriptors): retrying at once
/// would spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The limits of the HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// HTTP connections open at once (upgraded WebSockets not counted).
    pub max_connections: usize,
    /// Time for a client's request headers to arrive, from the connection's
    /// start or the end of the previous response.
    pub header_timeout: Duration,
}

/// What each accepted connection speaks.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(TlsAcceptor),
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (up to `SHUTDOWN_GRACE`).
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let places = Arc::new(Semaphore::new(max_connections));
    let (stopping, stop) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let place = tokio::select! {
            () = &mut shutdown => break,
            place = places.clone().acquire_owned() => place.expect("the connection semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (app, stop, transport) = (app.clone(), stop.clone(), transport.clone());
        tokio::spawn(async move {
            match transport {
                Transport::Plain => serve_connection(stream, peer, app, limits.header_timeout, stop).await,
                Transport::Tls(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, peer, app, limits.header_timeout, stop).await,
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(place);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let all_places = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, places.acquire_many(all_places)).await.is_err() {
        tracing::warn!("requests still running after {SHUTDOWN_GRACE:?} were cut off");
    }
    Ok(())
}

/// Serves one connection's HTTP/1.1 (and its upgrade) from `peer`; when
/// `stop` turns true, finishes the request in flight and closes.
pub fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|never| match never {})) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    async move {
        tokio::pin!(connection);
        // The guard `wait_for` returns is dropped before the next await.
        let stopped = async move { stop.wait_for(|stopping| *stopping).await.is_ok() };
        let result = tokio::select! {
            result = connection.as_mut() => result,
            true = stopped => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, %peer, "connection ended with an error");
        }
    }
}

/// Binds `address` for the setting `flag` (environment `variable`); an
/// error says what to change.
pub async fn bind(address: SocketAddr, flag: &str, variable: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|error| bind_error(error, address, flag, variable))
}

/// A failure to bind, in words that say which setting to change.
pub fn bind_error(error: std::io::Error, address: SocketAddr, flag: &str, variable: &str) -> anyhow::Error {
    let advice = match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{address} is already in use: another program (or another mediation-server) listens there. \
             Stop it, or choose another address with {flag} (or {variable}, or `{}` in the configuration file)",
            flag.trim_start_matches("--")
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "{address} may be bound only with privileges (ports below 1024). Run the packaged service (it has \
             CAP_NET_BIND_SERVICE), or choose a port above 1023 with {flag} (or {variable})"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{address} is not an address of this machine. Choose one of its addresses (or 0.0.0.0) with {flag} \
             (or {variable})"
        ),
        _ => format!("{address} cannot be bound ({flag}, {variable})"),
    };
    anyhow::anyhow!("{advice}: {error}")
}

/// Raises this process's open-file limit to what the system allows (the
/// soft limit is often 1,024: too few for a town's rooms), and says what
/// it is.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "the open-file limit could not be raised");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
        }
    }
}
