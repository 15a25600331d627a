//! Dispute cases: registration with parties, listing and search, the case
//! file, corrections, withdrawal, oral/failed/referred outcomes, judicial
//! confirmation, follow-up visits and closing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthUser;
use super::{ClientAddr, Json, Path, Query, staff_actor};
use crate::AppState;
use crate::access::{Caller, CaseAccess};
use crate::cases::changes::Change;
use crate::cases::{
    self, Agreement, AgreementState, Case, CaseSource, CaseState, Category, Channel, FollowUp, JudicialConfirmation,
    JudicialResult, Outcome, OutcomeKind, Party, PartySide, Performance, Route, Satisfaction, Session, id_number,
};
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
        .route("/cases/{id}/withdraw", post(withdraw))
        .route("/cases/{id}/outcome", post(record_outcome))
        .route("/cases/{id}/judicial-confirmation", put(judicial_confirmation))
        .route("/cases/{id}/follow-ups", post(follow_up))
        .route("/cases/{id}/close", post(close))
}

/// A case the caller may see, with what they may do with it.
pub struct CaseInContext {
    pub case: Case,
    pub access: CaseAccess,
    pub caller: Caller,
}

impl CaseInContext {
    pub fn require_manage(&self) -> AppResult<()> {
        if self.access < CaseAccess::Manage {
            return Err(AppError::Forbidden("only the case's mediators and administrators may do this".into()));
        }
        Ok(())
    }

    /// Refuses unless the case is in one of `states`, naming the state it is in.
    pub fn require_state(&self, action: &str, allowed: impl Fn(CaseState) -> bool) -> AppResult<()> {
        if !allowed(self.case.state) {
            return Err(AppError::InvalidState(format!(
                "cannot {action}: case {} is {}",
                self.case.case_number, self.case.state
            )));
        }
        Ok(())
    }
}

/// Loads a case and the caller's access to it: 404 when missing, 403 when
/// out of reach.
pub async fn load_case(state: &AppState, user: &AuthUser, id: Uuid) -> AppResult<CaseInContext> {
    let case = state.store.case(id).await?.ok_or_else(|| AppError::not_found("case"))?;
    let caller = user.caller();
    let on_a_session =
        caller.sees_cases_through_sessions() && state.store.is_case_participant(case.id, caller.id).await?;
    let access = caller.case_access(&case, on_a_session);
    if access == CaseAccess::None {
        return Err(AppError::forbidden());
    }
    Ok(CaseInContext { case, access, caller })
}

/// The parties of a case, with full ID numbers only for its own mediators.
pub async fn parties_for(state: &AppState, context: &CaseInContext) -> AppResult<Vec<Party>> {
    let mut parties = state.store.parties(context.case.id).await?;
    if context.caller.is_case_mediator(&context.case) {
        for party in &mut parties {
            party.id_number = party.id_number_sealed.as_deref().and_then(|sealed| state.id_vault.open(sealed));
        }
    }
    Ok(parties)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewParty {
    name: String,
    side: PartySide,
    phone: Option<String>,
    id_number: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterCase {
    village_id: Uuid,
    category: Category,
    source: CaseSource,
    summary: String,
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
    if body.parties.len() < 2 {
        return Err(AppError::validation("parties", "a dispute has at least two parties"));
    }
    if body.parties.len() > 50 {
        return Err(AppError::validation("parties", "at most 50 parties"));
    }

    let case_id = Uuid::new_v4();
    let mut parties = Vec::with_capacity(body.parties.len());
    for (position, party) in body.parties.iter().enumerate() {
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
            &state,
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

/// The moment a local date begins.
pub fn start_of_local_day(date: NaiveDate) -> Timestamp {
    crate::time::end_of_local_day(date.pred_opt().unwrap_or(date))
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
        registered_from: query.from.map(start_of_local_day),
        registered_to: query.to.map(crate::time::end_of_local_day),
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
        offset: query.offset.unwrap_or(0).max(0),
    };
    Ok(Json(state.store.cases(&filter).await?))
}

/// Everything on file for a case.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseFile {
    case: Case,
    parties: Vec<Party>,
    sessions: Vec<Session>,
    outcome: Option<Outcome>,
    agreement: Option<Agreement>,
    judicial_confirmation: Option<JudicialConfirmation>,
    /// Last day to apply for judicial confirmation: 30 days after the
    /// written agreement took effect.
    judicial_confirmation_deadline: Option<NaiveDate>,
    follow_ups: Vec<FollowUp>,
    access: &'static str,
    /// The states the case may move to next.
    next_states: Vec<CaseState>,
}

pub fn judicial_deadline(agreement: Option<&Agreement>) -> Option<NaiveDate> {
    let effective = agreement?.effective_at?;
    Some(crate::time::local_date(effective) + chrono::Duration::days(30))
}

async fn case_file(state: &AppState, context: &CaseInContext) -> AppResult<CaseFile> {
    let id = context.case.id;
    let agreement = state.store.agreement(id).await?;
    Ok(CaseFile {
        parties: parties_for(state, context).await?,
        sessions: state.store.sessions_of_case(id).await?,
        outcome: state.store.outcome(id).await?,
        judicial_confirmation: state.store.judicial_confirmation(id).await?,
        judicial_confirmation_deadline: judicial_deadline(agreement.as_ref()),
        agreement,
        follow_ups: state.store.follow_ups(id).await?,
        access: if context.access == CaseAccess::Manage { "manage" } else { "read" },
        next_states: CaseState::ALL.iter().copied().filter(|next| context.case.state.may_become(*next)).collect(),
        case: context.case.clone(),
    })
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
    name: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
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
    summary: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
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
    kind: OutcomeKind,
    /// Oral: what was agreed.
    terms: Option<String>,
    /// Oral: in person, by phone or by video.
    reached_via: Option<Channel>,
    /// Oral: when it was reached (default now); it takes effect then.
    reached_at: Option<Timestamp>,
    /// Failed: why.
    reason: Option<String>,
    /// Failed: the other routes the parties were told of.
    routes_told: Option<Vec<Route>>,
    /// Referred: the court or body.
    referred_to: Option<String>,
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
    let mut outcome = Outcome::new(id, body.kind, user.account.id, now);
    let kind = body.kind;
    match kind {
        OutcomeKind::Written => {
            return Err(AppError::validation(
                "kind",
                "a written agreement takes effect through /cases/{id}/agreement and its confirmations",
            ));
        }
        OutcomeKind::Withdrawn => {
            return Err(AppError::validation("kind", "use /cases/{id}/withdraw"));
        }
        OutcomeKind::Oral => {
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
        OutcomeKind::Failed => {
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
        OutcomeKind::Referred => {
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
    visited_by: String,
    performance: Performance,
    satisfaction: Satisfaction,
    remaining_risk: Option<String>,
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
#[openapi(paths(
    register,
    list,
    read,
    update,
    update_party,
    withdraw,
    record_outcome,
    judicial_confirmation,
    follow_up,
    close
))]
pub(super) struct Api;
