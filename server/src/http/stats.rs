//! Statistics for the caller's district, town or village over a period, as
//! JSON or CSV.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::AuthUser;
use super::{Json, Query};
use crate::AppState;
use crate::cases::stats;
use crate::error::{AppError, AppResult};
use crate::store::filters::{CaseFilter, ConsultationFilter};
use crate::time::Timestamp;
use crate::time::start_of_local_day;
use crate::tree::UnitKind;

pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(statistics))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// First local day of the period (cases registered from then on).
    from: Option<NaiveDate>,
    /// Last local day, inclusive.
    to: Option<NaiveDate>,
    district: Option<Uuid>,
    town: Option<Uuid>,
    village: Option<Uuid>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "statistics",
    summary = "Statistics for a period and place (JSON or CSV)",
    params(StatsQuery),
    responses(
        (status = 200, body = crate::cases::stats::Statistics),
        (status = "4XX", description = "the API error", body = crate::error::ErrorBody)
    ),
    security(("bearer" = []))
)]
async fn statistics(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<StatsQuery>,
) -> AppResult<Response> {
    let caller = user.caller();
    if !caller.may_see_statistics() {
        return Err(AppError::Forbidden("statistics are for mediators and administrators".into()));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(AppError::validation("to", "must not be before from"));
    }
    let mut within = caller.reach();
    let asked = [
        ("district", UnitKind::District, query.district),
        ("town", UnitKind::Town, query.town),
        ("village", UnitKind::Village, query.village),
    ];
    for (field, kind, unit_id) in asked {
        let Some(unit_id) = unit_id else { continue };
        let unit = state.store.unit(unit_id).await?.ok_or_else(|| AppError::not_found("unit"))?;
        if unit.kind != kind {
            return Err(AppError::validation(field, format!("must name a {kind}, not a {}", unit.kind)));
        }
        if !caller.reach().contains(&unit.chain()) {
            return Err(AppError::forbidden());
        }
        // Each unit asked for lies inside the ones asked for before it.
        if !within.contains(&unit.chain()) {
            return Err(AppError::validation(field, "is not inside the district or town also given"));
        }
        within = unit.chain();
    }
    let registered_from = query.from.map(start_of_local_day);
    let registered_to = query.to.map(crate::time::end_of_local_day);
    let rows = state
        .store
        .stats_rows(&CaseFilter { within: Some(within), registered_from, registered_to, ..Default::default() })
        .await?;
    let consultations = state
        .store
        .consultations(&ConsultationFilter {
            within: Some(within),
            adviser_id: None,
            from: registered_from,
            to: registered_to,
        })
        .await?
        .len() as u64;
    let statistics = stats::compute(&rows, consultations, query.from, query.to, Timestamp::now());
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(statistics).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"mediation-statistics.csv\""),
            ],
            stats::to_csv(&statistics),
        )
            .into_response()),
        Some(_) => Err(AppError::validation("format", "must be json or csv")),
    }
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(statistics))]
pub(super) struct Api;
