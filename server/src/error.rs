//! One error type for every HTTP handler: each variant has a stable code and
//! a status; the body is always `{"error": code, "message": text}`. Internal
//! causes are logged in the request span and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{AuthError, InvitationError, InvitationRefusal};
use crate::cases::consent::Unconfirmable;
use crate::cases::error::RuleError;
use crate::store::StoreError;
use crate::validate::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request was based on a version of the record that has changed.
    #[error("{0}")]
    Stale(String),
    /// The action does not fit the record's current state.
    #[error("{0}")]
    InvalidState(String),
    #[error("the request body is larger than 1 MiB")]
    PayloadTooLarge,
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A part the request needs (the database, the password threads) cannot
    /// serve it now; the client may retry after the given time.
    #[error("{message}")]
    Unavailable { message: String, retry_after_secs: u64 },
    /// Not the set-up code the server printed.
    #[error("this is not the set-up code the server printed")]
    SetupCodeInvalid,
    /// The set-up code is too old or was mistyped too often.
    #[error("the set-up code has expired or was mistyped too often; restart the server to print a new one")]
    SetupCodeExpired,
    /// A party confirming by video or at a station before they consented
    /// to mediating online and had their identity checked in a session.
    #[error("{}", unconfirmable_message(*.0))]
    Unconfirmable(Unconfirmable),
    /// An invitation link that does not admit, with its own code.
    #[error("{}", .0.message())]
    Invitation(InvitationRefusal),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation { field: field.into(), message: message.into() }
    }

    pub fn forbidden() -> Self {
        AppError::Forbidden("this is outside what your account may see or change".into())
    }

    /// The database cannot be reached: retry in a few seconds.
    pub fn store_unavailable() -> Self {
        AppError::Unavailable {
            message: "the records cannot be reached just now; try again in a few seconds".into(),
            retry_after_secs: 5,
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::SetupCodeInvalid => StatusCode::FORBIDDEN,
            AppError::SetupCodeExpired => StatusCode::GONE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::InvalidState(_) | AppError::Stale(_) | AppError::Unconfirmable(_) => {
                StatusCode::CONFLICT
            }
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Invitation(InvitationRefusal::SessionClosed) => StatusCode::GONE,
            AppError::Invitation(_) => StatusCode::UNAUTHORIZED,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::InvalidJson(_) => "invalid_json",
            AppError::Validation { .. } => "validation_failed",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::InvalidState(_) => "invalid_state",
            AppError::Stale(_) => "stale",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable { .. } => "unavailable",
            AppError::SetupCodeInvalid => "setup_code_invalid",
            AppError::SetupCodeExpired => "setup_code_expired",
            AppError::Unconfirmable(Unconfirmable::NoConsent) => "consent_required",
            AppError::Unconfirmable(Unconfirmable::NotChecked) => "identity_check_required",
            AppError::Invitation(refusal) => match refusal {
                InvitationRefusal::NotYetValid => "invitation_not_yet_valid",
                InvitationRefusal::Expired => "invitation_expired",
                InvitationRefusal::Invalid => "invitation_invalid",
                InvitationRefusal::Revoked => "invitation_revoked",
                InvitationRefusal::SessionClosed => "session_closed",
            },
            AppError::Internal(_) => "internal",
        }
    }
}

fn unconfirmable_message(reason: Unconfirmable) -> &'static str {
    match reason {
        Unconfirmable::NoConsent => {
            "this party has not consented to mediating online in any session of the case: \
             record their consent first, or record a signed paper (paper_scan)"
        }
        Unconfirmable::NotChecked => {
            "this party's identity was not checked in a session they consented in: \
             check their ID card first, or record a signed paper (paper_scan)"
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let AppError::Validation { field, message } = &self {
            body["field"] = json!(field);
            body["message"] = json!(format!("{field}: {message}"));
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let AppError::TooManyRequests { retry_after_secs } | AppError::Unavailable { retry_after_secs, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => AppError::Conflict("a record with the same name or key already exists".into()),
            StoreError::NotFound => AppError::not_found("record"),
            StoreError::Stale(what) => {
                AppError::Stale(format!("{what} was changed by someone else meanwhile; reload and try again"))
            }
            StoreError::Constraint(detail) => {
                tracing::warn!(%detail, "write refused by a schema constraint");
                AppError::validation("body", "the request breaks a rule of the records")
            }
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the database cannot be reached");
                AppError::store_unavailable()
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::auth::PasswordBusy> for AppError {
    fn from(busy: crate::auth::PasswordBusy) -> Self {
        AppError::Unavailable { message: busy.to_string(), retry_after_secs: 2 }
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Validation { field: error.field, message: error.message }
    }
}

impl From<RuleError> for AppError {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::InvalidState(message) => AppError::InvalidState(message),
            RuleError::Stale(message) => AppError::Stale(message),
            RuleError::Conflict(message) => AppError::Conflict(message),
            RuleError::Forbidden(message) => AppError::Forbidden(message),
            RuleError::Invalid(field) => field.into(),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Refused => AppError::Unauthorized("the token is invalid, expired or revoked; sign in again"),
            AuthError::Store(error) => error.into(),
        }
    }
}

impl From<InvitationError> for AppError {
    fn from(error: InvitationError) -> Self {
        match error {
            InvitationError::Refused(refusal) => AppError::Invitation(refusal),
            InvitationError::Store(error) => error.into(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// The body of every error response.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: bad_request, invalid_json, validation_failed, unauthorized,
    /// forbidden, not_found, conflict, invalid_state, stale, payload_too_large,
    /// unsupported_media_type, too_many_requests, unavailable, internal,
    /// consent_required, identity_check_required, or an
    /// invitation code (invitation_not_yet_valid, invitation_expired,
    /// invitation_revoked, invitation_invalid, session_closed).
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// With validation_failed: the field.
    pub field: Option<String>,
}
