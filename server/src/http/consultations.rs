//! Legal consultations: a villager's question answered by a legal adviser,
//! by video or otherwise, recorded by the adviser or by a mediator.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::AuthUser;
use super::{ClientAddr, Json, Query, staff_actor};
use crate::AppState;
use crate::cases::changes::Change;
use crate::cases::{Category, Channel, Consultation};
use crate::error::{AppError, AppResult};
use crate::store::filters::ConsultationFilter;
use crate::time::Timestamp;
use crate::time::start_of_local_day;
use crate::tree::{Role, UnitKind};
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new().route("/consultations", get(list).post(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecordConsultation {
    village_id: Uuid,
    topic: Category,
    #[schema(min_length = 1, max_length = 5000)]
    question: String,
    #[schema(min_length = 1, max_length = 5000)]
    answer_summary: String,
    #[serde(deserialize_with = "validate::whole_number")]
    #[schema(minimum = 1, maximum = 600)]
    minutes_taken: i32,
    via: Channel,
    /// The adviser who answered; an adviser recording their own may leave it out.
    adviser_id: Option<Uuid>,
    case_id: Option<Uuid>,
    /// When the question was asked (default now).
    asked_at: Option<Timestamp>,
}

#[utoipa::path(
    post,
    path = "/api/v1/consultations",
    tag = "consultations",
    summary = "Record a legal consultation",
    request_body = RecordConsultation,
    responses((status = 201, body = Consultation), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn record(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Json(body): Json<RecordConsultation>,
) -> AppResult<(StatusCode, Json<Consultation>)> {
    let caller = user.caller();
    if !caller.may_record_consultations() {
        return Err(AppError::Forbidden("advisers and mediators record consultations".into()));
    }
    let village = match state.store.unit(body.village_id).await? {
        Some(unit) if unit.kind == UnitKind::Village => unit,
        _ => return Err(AppError::validation("village_id", "no such village")),
    };
    caller.may_record_consultation_in(&village)?;
    let adviser_id = caller.consultation_adviser(body.adviser_id)?;
    let adviser = state.store.account(adviser_id).await?;
    if !adviser.as_ref().is_some_and(|a| a.role == Role::Adviser && a.district_id == Some(village.district_id)) {
        return Err(AppError::validation("adviser_id", "is not a legal adviser serving the village's district"));
    }
    if let Some(case_id) = body.case_id {
        let case = state.store.case(case_id).await?;
        if case.is_none_or(|c| c.village_id != village.id) {
            return Err(AppError::validation("case_id", "is not a case of this village"));
        }
    }
    if !(1..=600).contains(&body.minutes_taken) {
        return Err(AppError::validation("minutes_taken", "must be 1 to 600 minutes"));
    }
    let now = Timestamp::now();
    let asked_at = body.asked_at.unwrap_or(now);
    if asked_at > now {
        return Err(AppError::validation("asked_at", "must not be in the future"));
    }
    let consultation = Consultation {
        id: Uuid::new_v4(),
        district_id: village.district_id,
        town_id: village.town_id.expect("a village is in a town"),
        village_id: village.id,
        topic: body.topic,
        question: validate::required_text("question", &body.question, 5000)?,
        answer_summary: validate::required_text("answer_summary", &body.answer_summary, 5000)?,
        adviser_id,
        minutes_taken: body.minutes_taken,
        via: body.via,
        case_id: body.case_id,
        asked_at,
        recorded_by: user.account.id,
        created_at: now,
    };
    state
        .store
        .apply(&staff_actor(&user, address), &[Change::CreateConsultation { consultation: consultation.clone() }])
        .await?;
    Ok((StatusCode::CREATED, Json(consultation)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// Consultations in the caller's reach; an adviser sees their own.
#[utoipa::path(
    get,
    path = "/api/v1/consultations",
    tag = "consultations",
    summary = "Consultations in scope",
    params(ListQuery),
    responses((status = 200, body = Vec<Consultation>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<Consultation>>> {
    let caller = user.caller();
    let filter = ConsultationFilter {
        within: caller.case_reach(),
        adviser_id: (caller.role == Role::Adviser).then_some(caller.id),
        from: query.from.map(start_of_local_day),
        to: query.to.map(crate::time::end_of_local_day),
    };
    Ok(Json(state.store.consultations(&filter).await?))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(record, list))]
pub(super) struct Api;
