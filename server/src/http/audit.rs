//! The audit trail for the system administrator: reading events and
//! checking the hash chain.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

use super::{Json, Query};
use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::store::Role;
use crate::store::audit::{AuditEvent, VerifyReport, verify_chain};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list)).route("/audit/verify", get(verify))
}

fn require_admin(user: &AuthUser) -> AppResult<()> {
    if user.account.role != Role::Admin {
        return Err(AppError::Forbidden("only the system administrator reads the audit trail".into()));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<AuditEvent>>> {
    require_admin(&user)?;
    let events = state.store.audit_events(query.after.unwrap_or(0), query.limit.unwrap_or(200).clamp(1, 1000)).await?;
    Ok(Json(events))
}

async fn verify(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<VerifyReport>> {
    require_admin(&user)?;
    Ok(Json(verify_chain(state.store.as_ref()).await?))
}
