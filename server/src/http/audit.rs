//! The audit trail for the system administrator: reading events and
//! checking the hash chain.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

use super::AuthUser;
use super::{Json, Query};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::store::audit::{AuditEvent, VerifyReport, verify_chain};
use crate::tree::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list)).route("/audit/verify", get(verify))
}

fn require_admin(user: &AuthUser) -> AppResult<()> {
    if user.account.role != Role::Admin {
        return Err(AppError::Forbidden("only the system administrator reads the audit trail".into()));
    }
    Ok(())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "Audit events in order",
    params(ListQuery),
    responses((status = 200, body = Vec<AuditEvent>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<AuditEvent>>> {
    require_admin(&user)?;
    let events = state.store.audit_events(query.after.unwrap_or(0), query.limit.unwrap_or(200).clamp(1, 1000)).await?;
    Ok(Json(events))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    summary = "Check the hash chain",
    responses((status = 200, body = VerifyReport), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn verify(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<VerifyReport>> {
    require_admin(&user)?;
    Ok(Json(verify_chain(state.store.as_ref()).await?))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, verify))]
pub(super) struct Api;
