//! Risk flags (People's Mediation Law Art 25) over HTTP: a case's mediator
//! flags a dispute likely to turn violent, into a public-order case or a
//! crime, records whom it was reported to and when, and closes the flag
//! with a note once the danger has passed; mediators and administrators
//! list the flags of their reach (the district sees its open ones).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::case_context::{CaseFile, CaseInContext, case_file, load_case};
use super::{AuthUser, ClientAddr, Json, Path, Query, staff_actor};
use crate::AppState;
use crate::cases::changes::Change;
use crate::cases::risk::{ReportedTo, RiskFlag, RiskKind, RiskReport};
use crate::error::{AppError, AppResult};
use crate::store::filters::{RiskFlagFilter, RiskFlagListing};
use crate::time::Timestamp;
use crate::tree::UnitKind;
use crate::validate;

/// Reports may be dated a little ahead of the server's clock (a phone's
/// clock, a report typed as it is made).
const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{id}/risk-flags", post(flag))
        .route("/cases/{id}/risk-flags/{flag_id}/reports", post(report))
        .route("/cases/{id}/risk-flags/{flag_id}/close", post(close))
        .route("/risk-flags", get(list))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(flag, report, close, list),
    components(schemas(RiskKind, ReportedTo, RiskFlagListed, ReportBody, FlagState))
)]
pub(super) struct Api;

/// A report of the risk to an authority.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    reported_to: ReportedTo,
    /// When it was reported; not in the future.
    reported_at: Timestamp,
    /// Who took it, a reference number, what was agreed.
    #[schema(max_length = 2000)]
    detail: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct FlagBody {
    risk: RiskKind,
    /// What makes the dispute dangerous, and the steps taken.
    #[schema(min_length = 1, max_length = 2000)]
    description: String,
    /// Reports already made (may be empty, and added later).
    #[serde(default)]
    #[schema(max_items = 10)]
    reports: Vec<ReportBody>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    /// Why the danger has passed.
    #[schema(min_length = 1, max_length = 2000)]
    note: String,
}

/// The case's open flag `flag_id`, or why not.
async fn open_flag(state: &AppState, context: &CaseInContext, flag_id: Uuid) -> AppResult<RiskFlag> {
    let flag = state.store.risk_flag(flag_id).await?.filter(|flag| flag.case_id == context.case.id);
    let flag = flag.ok_or_else(|| AppError::not_found("risk flag"))?;
    if !flag.is_open() {
        return Err(AppError::InvalidState("this risk flag is closed".into()));
    }
    Ok(flag)
}

fn report_of(flag_id: Uuid, body: ReportBody, user: &AuthUser, now: Timestamp) -> AppResult<RiskReport> {
    if body.reported_at.millis() > now.millis() + CLOCK_SLACK_MS {
        return Err(AppError::validation("reported_at", "must not be in the future"));
    }
    Ok(RiskReport {
        id: Uuid::new_v4(),
        flag_id,
        reported_to: body.reported_to,
        reported_at: body.reported_at,
        detail: validate::optional_text("detail", body.detail.as_deref(), 2000)?,
        recorded_by: user.account.id,
        recorded_at: now,
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/risk-flags",
    tag = "cases",
    summary = "Flag a dispute likely to turn violent or criminal (Art 25)",
    request_body = FlagBody,
    params(("id" = Uuid, Path, description = "the case")),
    responses((status = 201, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn flag(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<FlagBody>,
) -> AppResult<(StatusCode, Json<CaseFile>)> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    if body.reports.len() > 10 {
        return Err(AppError::validation("reports", "at most 10 reports at once"));
    }
    let now = Timestamp::now();
    let flag = RiskFlag {
        id: Uuid::new_v4(),
        case_id: id,
        risk: body.risk,
        description: validate::required_text("description", &body.description, 2000)?,
        flagged_by: user.account.id,
        flagged_at: now,
        closed_by: None,
        closed_at: None,
        closing_note: None,
    };
    let reports =
        body.reports.into_iter().map(|report| report_of(flag.id, report, &user, now)).collect::<AppResult<Vec<_>>>()?;
    tracing::info!(case = %id, flag = %flag.id, risk = %flag.risk, by = %user.account.id, "risk flagged");
    state.store.apply(&staff_actor(&user, address), &[Change::FlagRisk { flag, reports }]).await?;
    Ok((StatusCode::CREATED, Json(case_file(&state, &context).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/risk-flags/{flag_id}/reports",
    tag = "cases",
    summary = "Record a report of a flagged risk to an authority",
    request_body = ReportBody,
    params(("id" = Uuid, Path, description = "the case"), ("flag_id" = Uuid, Path, description = "the flag")),
    responses((status = 201, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn report(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path((id, flag_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<ReportBody>,
) -> AppResult<(StatusCode, Json<CaseFile>)> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    let flag = open_flag(&state, &context, flag_id).await?;
    let report = report_of(flag.id, body, &user, Timestamp::now())?;
    state.store.apply(&staff_actor(&user, address), &[Change::AddRiskReport { case_id: id, report }]).await?;
    Ok((StatusCode::CREATED, Json(case_file(&state, &context).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/risk-flags/{flag_id}/close",
    tag = "cases",
    summary = "Close a risk flag once the danger has passed",
    request_body = CloseBody,
    params(("id" = Uuid, Path, description = "the case"), ("flag_id" = Uuid, Path, description = "the flag")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path((id, flag_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<CloseBody>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    let flag = open_flag(&state, &context, flag_id).await?;
    let note = validate::required_text("note", &body.note, 2000)?;
    let change = Change::CloseRiskFlag {
        case_id: id,
        flag_id: flag.id,
        closed_by: user.account.id,
        closed_at: Timestamp::now(),
        note,
    };
    state.store.apply(&staff_actor(&user, address), &[change]).await?;
    Ok(Json(case_file(&state, &context).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `open` (the default), `closed` or `all`.
    state: Option<FlagState>,
    town_id: Option<Uuid>,
    village_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum FlagState {
    Open,
    Closed,
    All,
}

/// A flag in a list, with its case and its reports.
#[derive(Serialize, utoipa::ToSchema)]
struct RiskFlagListed {
    #[serde(flatten)]
    listing: RiskFlagListing,
    reports: Vec<RiskReport>,
}

#[utoipa::path(
    get,
    path = "/api/v1/risk-flags",
    tag = "cases",
    summary = "Risk flags of the cases in the caller's reach, newest first",
    params(ListQuery),
    responses((status = 200, body = Vec<RiskFlagListed>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<RiskFlagListed>>> {
    let caller = user.caller();
    if !caller.sees_risk_flags() {
        return Err(AppError::forbidden());
    }
    let mut town_of_village = None;
    for (field, unit_id, kind) in
        [("town_id", query.town_id, UnitKind::Town), ("village_id", query.village_id, UnitKind::Village)]
    {
        let Some(unit_id) = unit_id else { continue };
        let unit = state.store.unit(unit_id).await?.ok_or_else(|| AppError::not_found("unit"))?;
        if unit.kind != kind {
            return Err(AppError::validation(field, format!("is not a {kind}")));
        }
        if !caller.reach().contains(&unit.chain()) {
            return Err(AppError::forbidden());
        }
        town_of_village = town_of_village.or(unit.town_id.filter(|_| kind == UnitKind::Village));
    }
    if let (Some(town_id), Some(village_town)) = (query.town_id, town_of_village)
        && town_id != village_town
    {
        return Err(AppError::validation("village_id", "is not a village of that town"));
    }
    let open = match query.state.unwrap_or(FlagState::Open) {
        FlagState::Open => Some(true),
        FlagState::Closed => Some(false),
        FlagState::All => None,
    };
    let filter = RiskFlagFilter { within: caller.reach(), open, town_id: query.town_id, village_id: query.village_id };
    let mut listed = Vec::new();
    for listing in state.store.risk_flag_listing(&filter).await? {
        // Lists are short (the open flags of a district): a read per flag.
        let reports = state.store.risk_reports(listing.flag.case_id).await?;
        let reports = reports.into_iter().filter(|report| report.flag_id == listing.flag.id).collect();
        listed.push(RiskFlagListed { listing, reports });
    }
    Ok(Json(listed))
}
