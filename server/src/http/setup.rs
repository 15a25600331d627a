//! First-run set-up over HTTP: whether it is waiting, and the one request
//! that creates the system administrator and the district with the code
//! the server printed (see `setup.rs`), written through `Store::apply` in
//! one transaction and audited.

use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ClientAddr, Json};
use crate::AppState;
use crate::auth;
use crate::cases::changes::{Actor, Change};
use crate::error::{AppError, AppResult};
use crate::setup::Refusal;
use crate::tree::{Account, NewAccount, Role, Unit, UnitKind};
use crate::validate;

/// The system administrator's password is longer than other accounts' (8).
const ADMIN_PASSWORD_MIN: usize = 12;

pub fn router() -> Router<AppState> {
    Router::new().route("/setup", get(status).post(set_up))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(status, set_up), components(schemas(SetupStatus, SetUp, SetUpDone)))]
pub struct Api;

/// Whether the first-run set-up is waiting for its code.
#[derive(Serialize, utoipa::ToSchema)]
struct SetupStatus {
    /// True on an empty database while the printed code still works.
    needed: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/setup",
    tag = "setup",
    summary = "Whether the first-run set-up is waiting",
    responses((status = 200, body = SetupStatus))
)]
async fn status(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    let needed = state.setup.is_waiting(Instant::now()) && state.store.is_empty().await?;
    Ok(Json(SetupStatus { needed }))
}

/// The first administrator and the district, with the printed code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetUp {
    /// The set-up code the server printed at start (dashes, spaces and
    /// case do not matter).
    code: String,
    /// The district's name (e.g. 沾化区).
    #[schema(min_length = 1, max_length = 100)]
    district_name: String,
    /// 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a
    /// letter or digit; stored lower-case.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")]
    username: String,
    #[schema(min_length = 1, max_length = 100)]
    display_name: String,
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 128, format = Password)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SetUpDone {
    account: Account,
    district: Unit,
}

#[utoipa::path(
    post,
    path = "/api/v1/setup",
    tag = "setup",
    summary = "Create the system administrator and the district with the set-up code",
    request_body = SetUp,
    responses(
        (status = 201, body = SetUpDone),
        (status = "4XX", description = "the API error: `setup_code_invalid` (403), `setup_code_expired` (410), \
            `conflict` (409, already set up)", body = crate::error::ErrorBody)
    )
)]
async fn set_up(
    State(state): State<AppState>,
    address: ClientAddr,
    Json(body): Json<SetUp>,
) -> AppResult<(StatusCode, Json<SetUpDone>)> {
    let district_name = validate::required_text("district_name", &body.district_name, 100)?;
    let username = validate::username(&body.username)?;
    let display_name = validate::required_text("display_name", &body.display_name, 100)?;
    let password = validate::password("password", &body.password)?;
    if password.chars().count() < ADMIN_PASSWORD_MIN {
        return Err(AppError::validation(
            "password",
            "the system administrator's password needs at least 12 characters",
        ));
    }
    let taken = state.setup.take(&body.code, Instant::now()).map_err(|refusal| match refusal {
        Refusal::NotWaiting => already_set_up(),
        Refusal::Wrong => AppError::SetupCodeInvalid,
        Refusal::Expired => AppError::SetupCodeExpired,
    })?;
    if !state.store.is_empty().await? {
        // Someone set the records up another way (the shell): the code is done.
        return Err(already_set_up());
    }
    let district = Unit::new(UnitKind::District, district_name, None);
    let account = NewAccount {
        id: Uuid::new_v4(),
        username,
        display_name,
        role: Role::Admin,
        unit_id: None,
        phone: None,
        password_hash: auth::hash_password(password).await?,
    };
    let actor = Actor {
        account_id: None,
        role: "setup".into(),
        name: "first-run set-up code".into(),
        client_addr: Some(address.0.to_string()),
    };
    let changes = [Change::InsertUnit { unit: district.clone() }, Change::InsertAccount { account: account.clone() }];
    if let Err(error) = state.store.apply(&actor, &changes).await {
        state.setup.give_back(taken);
        return Err(error.into());
    }
    let account = state.store.account(account.id).await?.ok_or_else(|| AppError::not_found("account"))?;
    tracing::info!(account = %account.id, district = %district.id, "first-run set-up done");
    Ok((StatusCode::CREATED, Json(SetUpDone { account, district })))
}

fn already_set_up() -> AppError {
    AppError::Conflict("this server is already set up: sign in instead".into())
}
