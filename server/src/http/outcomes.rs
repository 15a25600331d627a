//! How a case ends and what follows: withdrawal, the oral, failed and
//! referred outcomes (the written one comes from the agreement), judicial
//! confirmation, follow-up visits and closing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{post, put};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::AuthUser;
use super::case_context::{CaseFile, CaseInContext, case_file, judicial_deadline, load_case};
use super::{ClientAddr, Json, Path, staff_actor};
use crate::AppState;
use crate::cases::changes::Change;
use crate::cases::{
    AgreementState, CaseState, Channel, FollowUp, JudicialConfirmation, JudicialResult, Outcome, OutcomeKind,
    Performance, RecordedOutcome, Route, Satisfaction,
};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{id}/withdraw", post(withdraw))
        .route("/cases/{id}/outcome", post(record_outcome))
        .route("/cases/{id}/judicial-confirmation", put(judicial_confirmation))
        .route("/cases/{id}/follow-ups", post(follow_up))
        .route("/cases/{id}/close", post(close))
}

/// Records an outcome and moves the case to its state, in one transaction.
async fn settle(
    state: &AppState,
    user: &AuthUser,
    address: ClientAddr,
    context: &CaseInContext,
    outcome: Outcome,
) -> AppResult<()> {
    let to = outcome.kind.case_state();
    context.require_state(&format!("record the outcome {}", outcome.kind), |current| current.may_become(to))?;
    let changes = [
        Change::RecordOutcome { outcome: outcome.clone() },
        Change::SetCaseState { case_id: context.case.id, from: context.case.state, to, at: outcome.recorded_at },
    ];
    state.store.apply(&staff_actor(user, address), &changes).await?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Withdraw {
    #[schema(min_length = 1, max_length = 2000)]
    reason: String,
}

/// A party declines or ends mediation, as the law allows.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/withdraw",
    tag = "cases",
    summary = "A party withdraws",
    request_body = Withdraw,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn withdraw(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<Withdraw>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    let mut outcome = Outcome::new(id, OutcomeKind::Withdrawn, user.account.id, Timestamp::now());
    outcome.reason = Some(validate::required_text("reason", &body.reason, 2000)?);
    settle(&state, &user, address, &context, outcome).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecordOutcome {
    kind: RecordedOutcome,
    /// Oral: what was agreed (required for oral).
    #[schema(min_length = 1, max_length = 5000)]
    terms: Option<String>,
    /// Oral: in person, by phone or by video.
    reached_via: Option<Channel>,
    /// Oral: when it was reached (default now); it takes effect then.
    reached_at: Option<Timestamp>,
    /// Failed: why (required for failed; optional for referred).
    #[schema(max_length = 2000)]
    reason: Option<String>,
    /// Failed: the other routes the parties were told of.
    routes_told: Option<Vec<Route>>,
    /// Referred: the court or body (required for referred).
    #[schema(min_length = 1, max_length = 100)]
    referred_to: Option<String>,
    #[schema(max_length = 100)]
    reference_number: Option<String>,
}

fn required<'a, T>(field: &str, value: Option<&'a T>) -> AppResult<&'a T>
where
    T: ?Sized,
{
    value.ok_or_else(|| AppError::validation(field, "is required for this kind of outcome"))
}

fn absent<T>(field: &str, value: &Option<T>, kind: OutcomeKind) -> AppResult<()> {
    if value.is_some() {
        return Err(AppError::validation(field, format!("does not apply to a {kind} outcome")));
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/outcome",
    tag = "cases",
    summary = "Record an oral, failed or referred outcome",
    request_body = RecordOutcome,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn record_outcome(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<RecordOutcome>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    let now = Timestamp::now();
    let kind = OutcomeKind::from(body.kind);
    let mut outcome = Outcome::new(id, kind, user.account.id, now);
    match body.kind {
        RecordedOutcome::Oral => {
            absent("reason", &body.reason, kind)?;
            absent("routes_told", &body.routes_told, kind)?;
            absent("referred_to", &body.referred_to, kind)?;
            outcome.terms = Some(validate::required_text("terms", required("terms", body.terms.as_deref())?, 5000)?);
            outcome.reached_via = Some(*required("reached_via", body.reached_via.as_ref())?);
            let reached_at = body.reached_at.unwrap_or(now);
            if reached_at > now {
                return Err(AppError::validation("reached_at", "must not be in the future"));
            }
            if reached_at < context.case.registered_at {
                return Err(AppError::validation("reached_at", "must not be before the case was registered"));
            }
            outcome.effective_at = reached_at;
        }
        RecordedOutcome::Failed => {
            absent("terms", &body.terms, kind)?;
            absent("reached_via", &body.reached_via, kind)?;
            absent("referred_to", &body.referred_to, kind)?;
            outcome.reason =
                Some(validate::required_text("reason", required("reason", body.reason.as_deref())?, 2000)?);
            let mut routes = required("routes_told", body.routes_told.as_ref())?.clone();
            routes.sort();
            routes.dedup();
            if routes.is_empty() {
                return Err(AppError::validation(
                    "routes_told",
                    "name the routes the parties were told of: arbitration, administrative, court",
                ));
            }
            outcome.routes_told = Some(sqlx::types::Json(routes));
        }
        RecordedOutcome::Referred => {
            absent("terms", &body.terms, kind)?;
            absent("reached_via", &body.reached_via, kind)?;
            absent("routes_told", &body.routes_told, kind)?;
            let to = required("referred_to", body.referred_to.as_deref())?;
            outcome.referred_to = Some(validate::required_text("referred_to", to, 100)?);
            outcome.reference_number =
                validate::optional_text("reference_number", body.reference_number.as_deref(), 100)?;
            outcome.reason = validate::optional_text("reason", body.reason.as_deref(), 2000)?;
        }
    }
    settle(&state, &user, address, &context, outcome).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct JudicialBody {
    applied_on: NaiveDate,
    #[schema(min_length = 1, max_length = 100)]
    court: String,
    result: Option<JudicialResult>,
    result_on: Option<NaiveDate>,
}

/// Records the parties' application for judicial confirmation of an
/// effective written agreement, and later its result.
#[utoipa::path(
    put,
    path = "/api/v1/cases/{id}/judicial-confirmation",
    tag = "cases",
    summary = "Record an application for judicial confirmation and its result",
    request_body = JudicialBody,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn judicial_confirmation(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<JudicialBody>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    let agreement = state.store.agreement(id).await?;
    let (Some(effective), Some(deadline)) = (
        agreement.as_ref().filter(|a| a.state == AgreementState::Effective).and_then(|a| a.effective_at),
        judicial_deadline(agreement.as_ref()),
    ) else {
        return Err(AppError::InvalidState(format!(
            "case {} has no effective written agreement to confirm",
            context.case.case_number
        )));
    };
    let today = crate::time::local_date(Timestamp::now());
    let applied_on = validate::not_after("applied_on", body.applied_on, today.min(deadline))?;
    validate::not_before("applied_on", applied_on, crate::time::local_date(effective))?;
    let result = body.result.unwrap_or(JudicialResult::Pending);
    let result_on = match (result, body.result_on) {
        (JudicialResult::Pending, None) => None,
        (JudicialResult::Pending, Some(_)) => {
            return Err(AppError::validation(
                "result_on",
                "only a confirmed or rejected application has a result date",
            ));
        }
        (_, None) => return Err(AppError::validation("result_on", "is required with a result")),
        (_, Some(date)) => {
            Some(validate::not_before("result_on", validate::not_after("result_on", date, today)?, applied_on)?)
        }
    };
    let judicial = JudicialConfirmation {
        case_id: id,
        applied_on,
        court: validate::required_text("court", &body.court, 100)?,
        result,
        result_on,
        recorded_by: user.account.id,
        updated_at: Timestamp::now(),
    };
    state.store.apply(&staff_actor(&user, address), &[Change::SaveJudicialConfirmation { judicial }]).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct FollowUpBody {
    visited_on: NaiveDate,
    #[schema(min_length = 1, max_length = 100)]
    visited_by: String,
    performance: Performance,
    satisfaction: Satisfaction,
    #[schema(max_length = 2000)]
    remaining_risk: Option<String>,
    #[schema(max_length = 2000)]
    next_step: Option<String>,
}

/// A follow-up visit (回访); the first one moves the case to followed_up.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/follow-ups",
    tag = "cases",
    summary = "Record a follow-up visit",
    request_body = FollowUpBody,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 201, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn follow_up(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<FollowUpBody>,
) -> AppResult<(StatusCode, Json<CaseFile>)> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    context.require_state("record a follow-up", |s| s.is_outcome() || s == CaseState::FollowedUp)?;
    let now = Timestamp::now();
    let outcome_day = context.case.outcome_at.map(crate::time::local_date).unwrap_or(crate::time::local_date(now));
    let visited_on = validate::not_after("visited_on", body.visited_on, crate::time::local_date(now))?;
    validate::not_before("visited_on", visited_on, outcome_day)?;
    let follow_up = FollowUp {
        id: Uuid::new_v4(),
        case_id: id,
        visited_on,
        visited_by: validate::required_text("visited_by", &body.visited_by, 100)?,
        performance: body.performance,
        satisfaction: body.satisfaction,
        remaining_risk: validate::optional_text("remaining_risk", body.remaining_risk.as_deref(), 2000)?,
        next_step: validate::optional_text("next_step", body.next_step.as_deref(), 2000)?,
        recorded_by: user.account.id,
        recorded_at: now,
    };
    let mut changes = vec![Change::AddFollowUp { follow_up }];
    if context.case.state != CaseState::FollowedUp {
        changes.push(Change::SetCaseState {
            case_id: id,
            from: context.case.state,
            to: CaseState::FollowedUp,
            at: now,
        });
    }
    state.store.apply(&staff_actor(&user, address), &changes).await?;
    let context = load_case(&state, &user, id).await?;
    Ok((StatusCode::CREATED, Json(case_file(&state, &context).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/close",
    tag = "cases",
    summary = "Close the case",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    context.require_state("close the case", |s| s.may_become(CaseState::Closed))?;
    let change =
        Change::SetCaseState { case_id: id, from: context.case.state, to: CaseState::Closed, at: Timestamp::now() };
    state.store.apply(&staff_actor(&user, address), &[change]).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(withdraw, record_outcome, judicial_confirmation, follow_up, close))]
pub(super) struct Api;
