//! Dispute cases: registration with parties, listing and search, reading
//! the case file, and corrections of the case and its parties before an
//! outcome.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::AuthUser;
use super::case_context::{CaseFile, case_file, load_case};
use super::{ClientAddr, Json, Path, Query, staff_actor};
use crate::AppState;
use crate::cases::changes::Change;
use crate::cases::{self, Case, CaseSource, CaseState, Category, Party, PartySide, id_number};
use crate::error::{AppError, AppResult};
use crate::store::filters::CaseFilter;
use crate::time::Timestamp;
use crate::tree::UnitKind;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list).post(register))
        .route("/cases/{id}", get(read).patch(update))
        .route("/cases/{id}/parties/{party_id}", patch(update_party))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewParty {
    #[schema(min_length = 1, max_length = 50)]
    name: String,
    side: PartySide,
    #[schema(max_length = 32, pattern = "^\\s*$|^[+\\- ]*(?:[0-9][+\\- ]*){3,20}$")]
    phone: Option<String>,
    /// A resident ID number (18 characters, the last a check digit).
    #[schema(pattern = "^\\s*$|^\\s*[0-9]{17}[0-9Xx]\\s*$")]
    id_number: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterCase {
    village_id: Uuid,
    category: Category,
    source: CaseSource,
    #[schema(min_length = 1, max_length = 5000)]
    summary: String,
    #[schema(pattern = "^\\s*$|^\\s*[0-9]{1,15}(\\.[0-9]{1,2})?\\s*$")]
    amount_yuan: Option<String>,
    public_session: bool,
    parties: Vec<NewParty>,
}

fn parse_amount(amount: Option<&str>) -> AppResult<Option<i64>> {
    amount
        .filter(|text| !text.trim().is_empty())
        .map(|text| {
            cases::parse_yuan(text)
                .ok_or_else(|| AppError::validation("amount_yuan", "must be an amount in yuan such as 1200 or 1200.50"))
        })
        .transpose()
}

/// The parties of a new case, each checked and with its ID number sealed:
/// two to fifty, at least one applicant and one respondent.
fn checked_parties(state: &AppState, case_id: Uuid, given: &[NewParty]) -> AppResult<Vec<Party>> {
    if given.len() < 2 {
        return Err(AppError::validation("parties", "a dispute has at least two parties"));
    }
    if given.len() > 50 {
        return Err(AppError::validation("parties", "at most 50 parties"));
    }
    let mut parties = Vec::with_capacity(given.len());
    for (position, party) in given.iter().enumerate() {
        let field = |name: &str| format!("parties[{position}].{name}");
        let mut checked = Party {
            id: Uuid::new_v4(),
            case_id,
            position: position as i32,
            side: party.side,
            name: String::new(),
            phone: None,
            id_number_sealed: None,
            id_number_masked: None,
            id_number: None,
        };
        set_party_details(
            state,
            &mut checked,
            &field,
            &party.name,
            party.phone.as_deref(),
            Some(party.id_number.as_deref()),
        )?;
        parties.push(checked);
    }
    if !parties.iter().any(|p| p.side == PartySide::Applicant)
        || !parties.iter().any(|p| p.side == PartySide::Respondent)
    {
        return Err(AppError::validation("parties", "name at least one applicant and one respondent"));
    }
    Ok(parties)
}

#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    summary = "Register a dispute case",
    request_body = RegisterCase,
    responses((status = 201, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn register(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Json(body): Json<RegisterCase>,
) -> AppResult<(StatusCode, Json<CaseFile>)> {
    let caller = user.caller();
    let village = match state.store.unit(body.village_id).await? {
        Some(unit) if unit.kind == UnitKind::Village => unit,
        _ => return Err(AppError::validation("village_id", "no such village")),
    };
    if !caller.may_register_case_in(&village) {
        return Err(AppError::Forbidden(
            "only mediators and administrators of the village's town register cases".into(),
        ));
    }
    if !village.active {
        return Err(AppError::validation("village_id", "the village is deactivated"));
    }
    let town_id = village.town_id.expect("a village is in a town");
    let town = state.store.unit(town_id).await?.ok_or_else(|| AppError::not_found("town"))?;
    let summary = validate::required_text("summary", &body.summary, 5000)?;
    let amount_fen = parse_amount(body.amount_yuan.as_deref())?;
    let case_id = Uuid::new_v4();
    let parties = checked_parties(&state, case_id, &body.parties)?;

    let now = Timestamp::now();
    let case = Case {
        id: case_id,
        case_number: String::new(),
        district_id: village.district_id,
        town_id,
        village_id: village.id,
        village_name: village.name.clone(),
        office_name: town.office_name.clone().unwrap_or_default(),
        year: crate::time::local_year(now),
        number: 0,
        category: body.category,
        source: body.source,
        summary,
        amount_fen,
        public_session: body.public_session,
        state: CaseState::Registered,
        registered_by: user.account.id,
        registered_at: now,
        updated_at: now,
        outcome_at: None,
        closed_at: None,
    };
    let prefix = town.case_prefix.clone().unwrap_or_else(|| town.name.clone());
    state
        .store
        .apply(&staff_actor(&user, address), &[Change::CreateCase { case, parties, case_prefix: prefix }])
        .await?;
    let context = load_case(&state, &user, case_id).await?;
    Ok((StatusCode::CREATED, Json(case_file(&state, &context).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<CaseState>,
    village_id: Option<Uuid>,
    category: Option<Category>,
    q: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    summary = "List and search cases in scope",
    params(ListQuery),
    responses((status = 200, body = Vec<Case>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<Case>>> {
    let caller = user.caller();
    let filter = CaseFilter {
        within: caller.case_reach(),
        participant: Some(caller.id),
        state: query.state,
        village_id: query.village_id,
        category: query.category,
        text: query.q.filter(|q| !q.trim().is_empty()).map(|q| q.trim().to_owned()),
        registered_from: query.from.map(crate::time::start_of_local_day),
        registered_to: query.to.map(crate::time::end_of_local_day),
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
        offset: query.offset.unwrap_or(0).max(0),
    };
    Ok(Json(state.store.cases(&filter).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    summary = "The case file",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

/// Checks a party's name, phone and (when `id_number` is given) ID number,
/// and puts them on `party`, the ID number sealed and masked. `field` names
/// the fields in errors.
fn set_party_details(
    state: &AppState,
    party: &mut Party,
    field: &dyn Fn(&str) -> String,
    name: &str,
    phone: Option<&str>,
    id_number: Option<Option<&str>>,
) -> AppResult<()> {
    party.name = validate::required_text(&field("name"), name, 50)?;
    party.phone = validate::phone(&field("phone"), phone)?;
    if let Some(number) = id_number {
        let number = match number.map(str::trim).filter(|n| !n.is_empty()) {
            Some(number) if id_number::is_valid(number) => Some(number.to_ascii_uppercase()),
            Some(_) => {
                return Err(AppError::validation(field("id_number"), "is not a valid 18-character resident ID number"));
            }
            None => None,
        };
        party.id_number_sealed = number.as_deref().map(|number| state.id_vault.seal(number));
        party.id_number_masked = number.as_deref().map(id_number::mask);
    }
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateParty {
    #[schema(min_length = 1, max_length = 50)]
    name: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>, max_length = 32, pattern = "^\\s*$|^[+\\- ]*(?:[0-9][+\\- ]*){3,20}$")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>, pattern = "^\\s*$|^\\s*[0-9]{17}[0-9Xx]\\s*$")]
    id_number: Option<Option<String>>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/cases/{id}/parties/{party_id}",
    tag = "cases",
    summary = "Correct a party's name, phone or ID number before the outcome",
    request_body = UpdateParty,
    params(("id" = Uuid, Path, description = "the case"), ("party_id" = Uuid, Path, description = "the party")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn update_party(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path((id, party_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<UpdateParty>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    context.require_state("correct a party", CaseState::is_open)?;
    let mut party = state
        .store
        .parties(id)
        .await?
        .into_iter()
        .find(|party| party.id == party_id)
        .ok_or_else(|| AppError::not_found("party"))?;
    let name = body.name.clone().unwrap_or_else(|| party.name.clone());
    let phone = match &body.phone {
        Some(phone) => phone.clone(),
        None => party.phone.clone(),
    };
    let id_number = body.id_number.as_ref().map(|number| number.as_deref());
    set_party_details(&state, &mut party, &|name: &str| name.to_owned(), &name, phone.as_deref(), id_number)?;
    // A saved agreement names the parties: its text no longer matches until saved again.
    state.store.apply(&staff_actor(&user, address), &[Change::UpdateParty { party }]).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCase {
    category: Option<Category>,
    #[schema(min_length = 1, max_length = 5000)]
    summary: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>, pattern = "^\\s*$|^\\s*[0-9]{1,15}(\\.[0-9]{1,2})?\\s*$")]
    amount_yuan: Option<Option<String>>,
    public_session: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    summary = "Correct a case before its outcome",
    request_body = UpdateCase,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = CaseFile), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateCase>,
) -> AppResult<Json<CaseFile>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    context.require_state("correct the case", CaseState::is_open)?;
    let mut case = context.case.clone();
    if let Some(category) = body.category {
        case.category = category;
    }
    if let Some(summary) = &body.summary {
        case.summary = validate::required_text("summary", summary, 5000)?;
    }
    if let Some(amount) = &body.amount_yuan {
        case.amount_fen = parse_amount(amount.as_deref())?;
    }
    if let Some(public) = body.public_session {
        case.public_session = public;
    }
    case.updated_at = Timestamp::now();
    state.store.apply(&staff_actor(&user, address), &[Change::UpdateCase { case }]).await?;
    let context = load_case(&state, &user, id).await?;
    Ok(Json(case_file(&state, &context).await?))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(register, list, read, update, update_party))]
pub(super) struct Api;
