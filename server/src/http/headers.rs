//! The header policy of every answer, in one place: what browsers may load
//! and run on our pages (Content-Security-Policy: our own scripts and
//! styles only, no inline script, never framed), no MIME sniffing, no
//! referrer (invitation links carry their token in the fragment, and no
//! page leaks its address), HSTS when people reach the server over https,
//! and caching: `no-store` on the API and probes (personal data must not
//! stay in a shared kiosk's cache), `no-cache` on the web client's files
//! (a kiosk revalidates them, so it picks up a new version after an
//! upgrade).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// What pages may load: everything from our own origin; camera and
/// microphone streams; QR codes as `data:` images; nothing inline, nothing
/// framing us.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A year, the usual HSTS lifetime.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Paths answered by handlers (JSON, CSV, metrics) rather than files.
fn is_dynamic(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

pub async fn apply(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let dynamic = is_dynamic(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if state.config.public_url().starts_with("https://") {
        set(headers, header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, if dynamic { "no-store" } else { "no-cache" });
    }
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}
