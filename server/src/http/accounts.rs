//! Accounts: create, list, read, update, deactivate and reset passwords,
//! each scoped to what the caller manages (see `access.rs`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthUser;
use super::{ClientAddr, Json, Path, Query, apply_audited};
use crate::AppState;
use crate::auth;
use crate::cases::changes::Change;
use crate::error::{AppError, AppResult};
use crate::store::StoreError;
use crate::tree::{Account, AccountChanges, Chain, NewAccount, Role};
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}", get(read).patch(update))
        .route("/accounts/{id}/deactivate", post(deactivate))
        .route("/accounts/{id}/activate", post(activate))
        .route("/accounts/{id}/password", post(reset_password))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    role: Option<Role>,
    unit_id: Option<Uuid>,
    active: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    summary = "List accounts in scope",
    params(ListQuery),
    responses((status = 200, body = Vec<Account>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<Account>>> {
    let caller = user.caller();
    let mut filter = caller.visible_accounts(query.role);
    if let Some(unit_id) = query.unit_id {
        let unit = state.store.unit(unit_id).await?.ok_or_else(|| AppError::not_found("unit"))?;
        if !caller.reach().contains(&unit.chain()) {
            return Err(AppError::forbidden());
        }
        filter.within = unit.chain();
        filter.include_unitless = false;
    }
    filter.active = query.active;
    Ok(Json(state.store.accounts(&filter).await?))
}

/// An account as created or reset, with the generated password shown once.
#[derive(Serialize, utoipa::ToSchema)]
struct WithPassword {
    #[serde(flatten)]
    account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAccount {
    /// 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a
    /// letter or digit; stored lower-case.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")]
    username: String,
    #[schema(min_length = 1, max_length = 100)]
    display_name: String,
    role: Role,
    unit_id: Option<Uuid>,
    #[schema(max_length = 32, pattern = "^\\s*$|^[+\\- ]*(?:[0-9][+\\- ]*){3,20}$")]
    phone: Option<String>,
    /// When absent a password is generated and returned once.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: Option<String>,
}

/// Checks that `unit_id` names an active unit of the kind `role` belongs to,
/// and returns where it sits.
async fn home_of(state: &AppState, role: Role, unit_id: Option<Uuid>) -> AppResult<(Option<Uuid>, Chain)> {
    match (role.home_kind(), unit_id) {
        (None, None) => Ok((None, Chain::default())),
        (None, Some(_)) => Err(AppError::validation("unit_id", "a system administrator belongs to no unit")),
        (Some(kind), None) => Err(AppError::validation("unit_id", format!("a {role} account needs a {kind}"))),
        (Some(kind), Some(id)) => match state.store.unit(id).await? {
            Some(unit) if unit.kind == kind && unit.active => Ok((Some(unit.id), unit.chain())),
            Some(unit) if unit.kind == kind => {
                Err(AppError::validation("unit_id", format!("the {kind} is deactivated")))
            }
            _ => Err(AppError::validation("unit_id", format!("a {role} account needs a {kind}; no such {kind}"))),
        },
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    summary = "Create an account",
    request_body = CreateAccount,
    responses((status = 201, body = WithPassword), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Json(body): Json<CreateAccount>,
) -> AppResult<(StatusCode, Json<WithPassword>)> {
    let username = validate::username(&body.username)?;
    let display_name = validate::required_text("display_name", &body.display_name, 100)?;
    let phone = validate::phone("phone", body.phone.as_deref())?;
    let password = body.password.as_deref().map(|password| validate::password("password", password)).transpose()?;
    let (unit_id, chain) = home_of(&state, body.role, body.unit_id).await?;
    if !user.caller().can_manage_account(body.role, &chain) {
        return Err(AppError::forbidden());
    }

    let generated_password = password.is_none().then(auth::generate_password);
    let password_hash =
        auth::hash_password(password.or_else(|| generated_password.clone()).unwrap_or_default()).await?;
    let new_account =
        NewAccount { id: Uuid::new_v4(), username, display_name, role: body.role, unit_id, phone, password_hash };
    let id = new_account.id;
    let change = Change::InsertAccount { account: new_account.clone() };
    apply_audited(&state, &user, address, change).await.map_err(|error| match error {
        StoreError::Conflict => AppError::Conflict(format!("the username {} is taken", new_account.username)),
        other => other.into(),
    })?;
    let account = state.store.account(id).await?.ok_or_else(|| AppError::not_found("account"))?;
    tracing::info!(account = %account.id, role = %account.role, by = %user.account.id, "account created");
    Ok((StatusCode::CREATED, Json(WithPassword { account, generated_password })))
}

/// Loads an account the caller may see.
async fn visible(state: &AppState, user: &AuthUser, id: Uuid) -> AppResult<Account> {
    let account = state.store.account(id).await?.ok_or_else(|| AppError::not_found("account"))?;
    if !user.caller().can_view_account(&account) {
        return Err(AppError::forbidden());
    }
    Ok(account)
}

/// Loads an account the caller manages; nobody manages their own activation.
async fn managed(state: &AppState, user: &AuthUser, id: Uuid) -> AppResult<Account> {
    let account = visible(state, user, id).await?;
    if account.id == user.account.id || !user.caller().can_manage_account(account.role, &account.chain()) {
        return Err(AppError::forbidden());
    }
    Ok(account)
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    summary = "Read an account",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Account), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<Json<Account>> {
    Ok(Json(visible(&state, &user, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAccount {
    #[schema(min_length = 1, max_length = 100)]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>, max_length = 32, pattern = "^\\s*$|^[+\\- ]*(?:[0-9][+\\- ]*){3,20}$")]
    phone: Option<Option<String>>,
}

/// Name and phone: the account holder or whoever manages the account.
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    summary = "Change name or phone",
    request_body = UpdateAccount,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Account), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateAccount>,
) -> AppResult<Json<Account>> {
    let account = visible(&state, &user, id).await?;
    let is_self = account.id == user.account.id;
    if !is_self && !user.caller().can_manage_account(account.role, &account.chain()) {
        return Err(AppError::forbidden());
    }
    let changes = AccountChanges {
        display_name: body
            .display_name
            .as_deref()
            .map(|name| validate::required_text("display_name", name, 100))
            .transpose()?,
        phone: body.phone.map(|phone| validate::phone("phone", phone.as_deref())).transpose()?,
        ..Default::default()
    };
    Ok(Json(update_audited(&state, &user, address, id, changes, "account.update").await?))
}

/// Deactivation takes effect at once: every token of the account is revoked.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/deactivate",
    tag = "accounts",
    summary = "Deactivate (revokes its tokens at once)",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Account), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn deactivate(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Account>> {
    set_active(state, user, address, id, false).await
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/activate",
    tag = "accounts",
    summary = "Activate again",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Account), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn activate(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Account>> {
    set_active(state, user, address, id, true).await
}

async fn set_active(
    state: AppState,
    user: AuthUser,
    address: ClientAddr,
    id: Uuid,
    active: bool,
) -> AppResult<Json<Account>> {
    managed(&state, &user, id).await?;
    let action = if active { "account.activate" } else { "account.deactivate" };
    let changes = AccountChanges { active: Some(active), ..Default::default() };
    let account = update_audited(&state, &user, address, id, changes, action).await?;
    tracing::info!(account = %id, active, by = %user.account.id, "account activation changed");
    if !active {
        state.rooms.expel_everywhere(id, "the account was deactivated").await;
    }
    Ok(Json(account))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetPassword {
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: Option<String>,
}

/// Sets a new password (generated when none is given, shown once) and signs
/// the account out everywhere.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/password",
    tag = "accounts",
    summary = "Reset the password (revokes its tokens)",
    request_body = ResetPassword,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = WithPassword), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn reset_password(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<ResetPassword>,
) -> AppResult<Json<WithPassword>> {
    managed(&state, &user, id).await?;
    let chosen = body.password.as_deref().map(|password| validate::password("password", password)).transpose()?;
    let generated_password = chosen.is_none().then(auth::generate_password);
    let hash = auth::hash_password(chosen.or_else(|| generated_password.clone()).unwrap_or_default()).await?;
    let changes = AccountChanges { password_hash: Some(hash), ..Default::default() };
    let account = update_audited(&state, &user, address, id, changes, "account.password_reset").await?;
    tracing::info!(account = %id, by = %user.account.id, "password reset");
    state.rooms.expel_everywhere(id, "the account's password was reset; sign in again").await;
    Ok(Json(WithPassword { account, generated_password }))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, read, update, deactivate, activate, reset_password))]
pub(super) struct Api;

/// Changes an account and records `action` in the audit trail, in one
/// transaction; returns the account as it now is.
pub(super) async fn update_audited(
    state: &AppState,
    user: &AuthUser,
    address: ClientAddr,
    id: Uuid,
    changes: AccountChanges,
    action: &'static str,
) -> AppResult<Account> {
    apply_audited(state, user, address, Change::UpdateAccount { id, changes, action }).await?;
    state.store.account(id).await?.ok_or_else(|| AppError::not_found("account"))
}
