//! The HTTP edge: the `/api/v1` router, the request extractors whose
//! rejections speak the API's error shape, and the web client's static files.

mod accounts;
mod agreements;
mod audit;
mod authority;
mod case_context;
mod cases;
mod consultations;
mod contract;
mod headers;
mod health;
mod invitation;
mod outcomes;
mod risks;
mod session;
mod sessions;
mod setup;
mod stats;
mod transcripts;
mod units;
mod web_client;

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::access::Caller;
use crate::cases::changes::{Actor, Change};
use crate::error::AppError;
use crate::tree::Account;

pub use invitation::InvitationOpenings;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole HTTP surface; `live` adds the live-session routes (the
/// WebSocket edge) under `/api/v1` without this module knowing them.
pub fn router(state: AppState, live: Router<AppState>) -> Router {
    let api = Router::new()
        .merge(session::router())
        .merge(units::router())
        .merge(accounts::router())
        .merge(cases::router())
        .merge(outcomes::router())
        .merge(risks::router())
        .merge(agreements::router())
        .merge(sessions::router())
        .merge(transcripts::router())
        .merge(invitation::router())
        .merge(consultations::router())
        .merge(stats::router())
        .merge(audit::router())
        .merge(setup::router())
        .merge(live)
        .route("/openapi.json", axum::routing::get(|| async { Json(openapi()) }))
        .fallback(|| async { AppError::NotFound("no such API endpoint".into()) });

    Router::new()
        .merge(health::router())
        .merge(authority::router())
        .nest("/api/v1", api)
        .fallback_service(web_client::service(state.config.web_dir.as_deref()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::apply))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // The path only: query strings may carry tokens.
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// The plain-HTTP listener beside HTTPS: the certificate authority's two
/// routes (with the style sheet and icon of the page), and a permanent redirect (method kept) to the same path on the
/// https public URL for everything else.
pub fn redirect_router(state: AppState) -> Router {
    let public_url = state.config.public_url();
    // What the page on installing the authority loads besides itself.
    let files = web_client::service(state.config.web_dir.as_deref());
    Router::new()
        .merge(authority::router())
        .route_service("/style.css", files.clone())
        .route_service("/favicon.svg", files)
        .fallback(move |uri: axum::http::Uri| async move {
            let path = uri.path_and_query().map_or("/", axum::http::uri::PathAndQuery::as_str);
            match axum::http::HeaderValue::from_str(&format!("{public_url}{path}")) {
                Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            }
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::apply))
        .with_state(state)
}

/// The OpenAPI 3 description of the REST API, assembled from each module's
/// annotated handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

    #[derive(OpenApi)]
    #[openapi(
        info(
            title = "Rural Remote Mediation API",
            description = "Cases, sessions, invitations, agreements, consultations, statistics and audit \
                           of a people's mediation service. See docs/api.md."
        ),
        components(schemas(crate::error::ErrorBody))
    )]
    struct Root;

    let mut doc = Root::openapi();
    for part in [
        health::Api::openapi(),
        session::Api::openapi(),
        units::Api::openapi(),
        accounts::Api::openapi(),
        cases::Api::openapi(),
        outcomes::Api::openapi(),
        risks::Api::openapi(),
        agreements::Api::openapi(),
        sessions::Api::openapi(),
        transcripts::Api::openapi(),
        invitation::Api::openapi(),
        consultations::Api::openapi(),
        stats::Api::openapi(),
        audit::Api::openapi(),
        setup::Api::openapi(),
    ] {
        doc.merge(part);
    }
    let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
    doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(bearer));
    contract::describe_text_rules(&mut doc);
    doc
}

/// A JSON body or response. A body is refused with the API's error when it
/// does not parse or does not fit the type (400 `invalid_json`, naming the
/// field), when it is not a JSON object (an array in place of one would
/// otherwise fill the fields in order), and when any text in it holds a NUL
/// character, which PostgreSQL cannot store (422 on that field).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(request, state).await?;
        if !value.is_object() {
            return Err(AppError::InvalidJson("the body must be a JSON object".into()));
        }
        if let Some(field) = field_with_nul(&value, String::new()) {
            return Err(AppError::validation(field, "must not contain a NUL character"));
        }
        serde_path_to_error::deserialize(value).map(Json).map_err(|error| {
            let path = error.path().to_string();
            let cause = error.into_inner();
            AppError::InvalidJson(if path == "." { cause.to_string() } else { format!("{path}: {cause}") })
        })
    }
}

/// The path of the first text (or key) holding a NUL character.
fn field_with_nul(value: &serde_json::Value, path: String) -> Option<String> {
    let child = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(text) => {
            text.contains('\0').then_some(if path.is_empty() { "body".into() } else { path })
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| field_with_nul(item, format!("{path}[{index}]")))
        }
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') { Some(child("(key)")) } else { field_with_nul(item, child(key)) }
        }),
        _ => None,
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
            _ => AppError::InvalidJson(rejection.body_text()),
        }
    }
}

/// Path parameters; a malformed id gets the API's error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

/// Query parameters; a malformed one gets the API's error, and one holding
/// a NUL character (`%00`) a 422 naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        for pair in parts.uri.query().unwrap_or_default().split('&') {
            if pair.to_ascii_lowercase().contains("%00") {
                let name = pair.split('=').next().unwrap_or_default();
                return Err(AppError::validation(name, "must not contain a NUL character"));
            }
        }
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

/// The signed-in staff member behind a request: the bearer token checked
/// against the account as it is now, on every request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub account: Account,
}

impl AuthUser {
    pub fn caller(&self) -> Caller {
        Caller::from(&self.account)
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(AppError::Unauthorized("sign in first: the Authorization header is missing"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AppError::Unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let account = state.tokens.authenticate(state.store.as_ref(), token.trim()).await?;
        Ok(AuthUser { account })
    }
}

/// The audit trail's actor for a signed-in staff member.
pub fn staff_actor(user: &AuthUser, address: ClientAddr) -> Actor {
    Actor::staff(&user.account, Some(address.0.to_string()))
}

/// Writes one change as the signed-in staff member; the store appends its
/// audit event in the same transaction.
pub async fn apply_audited(
    state: &AppState,
    user: &AuthUser,
    address: ClientAddr,
    change: Change,
) -> Result<(), crate::store::StoreError> {
    state.store.apply(&staff_actor(user, address), &[change]).await?;
    Ok(())
}

/// The client's address: the peer, or the last X-Forwarded-For hop when the
/// server is configured to sit behind a reverse proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
            if let Some(address) = forwarded {
                return Ok(ClientAddr(address));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientAddr(peer))
    }
}
