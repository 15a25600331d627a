//! Signing in and the caller's own account: login with throttling, `me`,
//! and changing one's own password.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AuthUser;
use super::{ClientAddr, Json};
use crate::AppState;
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::validate;
use std::net::IpAddr;

use crate::cases::changes::Change;
use crate::cases::changes::{Actor, AuditEntry};
use crate::throttle::AttemptKeys;
use crate::time::Timestamp;
use crate::tree::{Account, AccountChanges};

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/login", post(login)).route("/me", get(me)).route("/me/password", put(change_password))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    #[schema(format = Password)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LoginResponse {
    token: String,
    expires_at: Timestamp,
    user: Account,
}

const BAD_CREDENTIALS: AppError = AppError::Unauthorized("the username or password is wrong");

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = "4XX", description = "the API error", body = crate::error::ErrorBody))
)]
async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Json(request): Json<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let username = request.username.trim().to_lowercase();
    let keys = AttemptKeys::new(&username, address);
    // Counted before the slow hash, so concurrent guesses cannot all pass.
    if let Err(wait) = state.throttle.reserve(&keys) {
        return Err(AppError::TooManyRequests { retry_after_secs: wait.as_secs().max(1) });
    }

    let found = state.store.account_for_login(&username).await?;
    // An unknown username is checked against a hash of a random password, so
    // that it costs as long as a known one and the answer cannot tell them apart.
    let hash = found.as_ref().map_or_else(|| state.decoy_hash.to_string(), |(_, hash)| hash.clone());
    let password_ok = match auth::verify_password(request.password, hash).await {
        Ok(ok) => ok,
        Err(busy) => {
            // Not an attempt: the password was never checked.
            state.throttle.take_back(&keys);
            return Err(busy.into());
        }
    };
    let account = match found {
        Some((account, _)) if password_ok && account.may_sign_in() => account,
        other => {
            tracing::info!(%address, "login refused");
            record_login(&state, other.map(|(account, _)| account).as_ref(), address, "refused").await?;
            return Err(BAD_CREDENTIALS);
        }
    };
    state.throttle.record_success(&keys);
    record_login(&state, Some(&account), address, "ok").await?;
    let (token, expires_at) = state.tokens.issue(&account)?;
    tracing::info!(account = %account.id, role = %account.role, "signed in");
    Ok(Json(LoginResponse { token, expires_at, user: account }))
}

/// Appends a login attempt to the audit trail. An unknown username is not
/// recorded (people type passwords into the username field).
async fn record_login(
    state: &AppState,
    account: Option<&Account>,
    address: IpAddr,
    result: &'static str,
) -> AppResult<()> {
    let client_addr = Some(address.to_string());
    let actor = match account {
        Some(account) => Actor::staff(account, client_addr),
        None => Actor { account_id: None, role: "anonymous".into(), name: "unknown".into(), client_addr },
    };
    let object_id = account.map_or(String::new(), |a| a.id.to_string());
    let entry = AuditEntry { result, ..AuditEntry::new("auth.login", "account", object_id, json!({})) };
    state.store.apply(&actor, &[Change::Note { entry }]).await?;
    Ok(())
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "The signed-in account",
    responses((status = 200, body = Account), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn me(user: AuthUser) -> Json<Account> {
    Json(user.account)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangePassword {
    #[schema(format = Password)]
    current_password: String,
    #[schema(format = Password, min_length = 8, max_length = 128)]
    new_password: String,
}

/// Changes the caller's password; every earlier token stops working, and a
/// fresh token is returned so the caller stays signed in.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "auth",
    summary = "Change one's own password (revokes earlier tokens)",
    request_body = ChangePassword,
    responses((status = 200, body = Object), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Json(request): Json<ChangePassword>,
) -> AppResult<Json<Value>> {
    let new_password = validate::password("new_password", &request.new_password)?;
    let (_, hash) =
        state.store.account_for_login(&user.account.username).await?.ok_or_else(|| AppError::not_found("account"))?;
    if !auth::verify_password(request.current_password, hash).await? {
        return Err(AppError::validation("current_password", "is not the current password"));
    }
    let changes =
        AccountChanges { password_hash: Some(auth::hash_password(new_password).await?), ..Default::default() };
    let account =
        super::accounts::update_audited(&state, &user, address, user.account.id, changes, "account.password_change")
            .await?;
    let (token, expires_at) = state.tokens.issue(&account)?;
    Ok(Json(json!({ "token": token, "expires_at": expires_at, "user": account })))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, me, change_password))]
pub(super) struct Api;
