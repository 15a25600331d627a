//! Districts, towns and villages: one set of handlers serves all three
//! tiers, parameterised by the unit kind in the path.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::AuthUser;
use super::{ClientAddr, Json, Path, Query, apply_audited};
use crate::AppState;
use crate::access::Caller;
use crate::cases::changes::Change;
use crate::error::{AppError, AppResult};
use crate::store::StoreError;
use crate::store::filters::UnitFilter;
use crate::time::Timestamp;
use crate::tree::{Unit, UnitKind};
use crate::validate;

pub fn router() -> Router<AppState> {
    UnitKind::ALL.iter().fold(Router::new(), |router, &kind| router.merge(routes_for(kind)))
}

/// The three collections in paths, for the OpenAPI description.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum UnitCollection {
    Districts,
    Towns,
    Villages,
}

fn collection(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::District => "districts",
        UnitKind::Town => "towns",
        UnitKind::Village => "villages",
    }
}

fn noun(kind: UnitKind) -> &'static str {
    kind.as_str()
}

fn routes_for(kind: UnitKind) -> Router<AppState> {
    let base = format!("/{}", collection(kind));
    Router::new()
        .route(
            &base,
            get(move |state: State<AppState>, user: AuthUser, query: Query<ListQuery>| list(kind, state, user, query))
                .post(move |state: State<AppState>, user: AuthUser, address: ClientAddr, body: Json<CreateUnit>| {
                    create(kind, state, user, address, body)
                }),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(move |state: State<AppState>, user: AuthUser, id: Path<Uuid>| read(kind, state, user, id)).patch(
                move |state: State<AppState>,
                      user: AuthUser,
                      address: ClientAddr,
                      id: Path<Uuid>,
                      body: Json<UpdateUnit>| { update(kind, state, user, address, id, body) },
            ),
        )
        .route(
            &format!("{base}/{{id}}/deactivate"),
            post(move |state: State<AppState>, user: AuthUser, address: ClientAddr, id: Path<Uuid>| {
                set_active(kind, false, state, user, address, id)
            }),
        )
        .route(
            &format!("{base}/{{id}}/activate"),
            post(move |state: State<AppState>, user: AuthUser, address: ClientAddr, id: Path<Uuid>| {
                set_active(kind, true, state, user, address, id)
            }),
        )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    district_id: Option<Uuid>,
    town_id: Option<Uuid>,
    active: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/v1/{collection}",
    tag = "units",
    summary = "List districts, towns or villages in scope",
    params(("collection" = UnitCollection, Path, description = "districts, towns or villages"), ListQuery),
    responses((status = 200, body = Vec<Unit>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    kind: UnitKind,
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<Unit>>> {
    let caller = user.caller();
    let mut within = caller.visible_units(kind);
    for parent_id in [query.district_id, query.town_id].into_iter().flatten() {
        let parent = state.store.unit(parent_id).await?.ok_or_else(|| AppError::not_found("parent unit"))?;
        if !caller.can_view_unit(&parent) {
            return Err(AppError::forbidden());
        }
        within.district_id = Some(parent.district_id);
        within.town_id = parent.town_id.or(within.town_id);
    }
    let units = state.store.units(&UnitFilter { kind, within, active: query.active }).await?;
    Ok(Json(units))
}

async fn load(state: &AppState, kind: UnitKind, id: Uuid) -> AppResult<Unit> {
    match state.store.unit(id).await? {
        Some(unit) if unit.kind == kind => Ok(unit),
        _ => Err(AppError::not_found(noun(kind))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/{collection}/{id}",
    tag = "units",
    summary = "Read a unit",
    params(("collection" = UnitCollection, Path, description = "districts, towns or villages"), ("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Unit), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(
    kind: UnitKind,
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Unit>> {
    let unit = load(&state, kind, id).await?;
    if !user.caller().can_view_unit(&unit) {
        return Err(AppError::forbidden());
    }
    Ok(Json(unit))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUnit {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    district_id: Option<Uuid>,
    town_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 100)]
    office_name: Option<String>,
    #[schema(min_length = 1, max_length = 20)]
    case_prefix: Option<String>,
    #[schema(max_length = 100)]
    station_name: Option<String>,
}

/// A town's short name for case numbers: its name without the tier suffix.
fn default_case_prefix(town_name: &str) -> String {
    ["街道", "镇", "乡"]
        .iter()
        .find_map(|suffix| town_name.strip_suffix(suffix).filter(|rest| !rest.is_empty()))
        .unwrap_or(town_name)
        .to_owned()
}

fn refuse_field(field: &str, kind: UnitKind) -> AppError {
    AppError::validation(field, format!("does not apply to a {}", noun(kind)))
}

#[utoipa::path(
    post,
    path = "/api/v1/{collection}",
    tag = "units",
    summary = "Create a district, town or village",
    request_body = CreateUnit,
    params(("collection" = UnitCollection, Path, description = "districts, towns or villages")),
    responses((status = 201, body = Unit), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn create(
    kind: UnitKind,
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Json(body): Json<CreateUnit>,
) -> AppResult<(StatusCode, Json<Unit>)> {
    let caller = user.caller();
    let name = validate::required_text("name", &body.name, 100)?;
    let parent = parent_of_new(&state, &caller, kind, &body).await?;
    let parent_chain = parent.as_ref().map(Unit::chain).unwrap_or_default();
    if !caller.can_manage_unit(kind, &parent_chain) {
        return Err(AppError::forbidden());
    }
    let mut unit = Unit::new(kind, name, parent.as_ref());
    fill_kind_fields(&mut unit, &body)?;

    let change = Change::InsertUnit { unit: unit.clone() };
    apply_audited(&state, &user, address, change).await.map_err(name_taken(&unit))?;
    tracing::info!(unit = %unit.id, kind = %kind, by = %user.account.id, "unit created");
    Ok((StatusCode::CREATED, Json(unit)))
}

/// The parent named in a create request: required for towns and villages,
/// of the right kind, visible to the caller and active.
async fn parent_of_new(
    state: &AppState,
    caller: &Caller,
    kind: UnitKind,
    body: &CreateUnit,
) -> AppResult<Option<Unit>> {
    let (parent_field, parent_id) = match kind {
        UnitKind::District => ("", None),
        UnitKind::Town => ("district_id", body.district_id),
        UnitKind::Village => ("town_id", body.town_id),
    };
    for (field, present) in [("district_id", body.district_id.is_some()), ("town_id", body.town_id.is_some())] {
        if present && field != parent_field {
            return Err(refuse_field(field, kind));
        }
    }
    let Some(parent_kind) = kind.parent_kind() else { return Ok(None) };
    let parent_id = parent_id.ok_or_else(|| AppError::validation(parent_field, "is required"))?;
    let parent = match state.store.unit(parent_id).await? {
        Some(parent) if parent.kind == parent_kind => parent,
        _ => return Err(AppError::validation(parent_field, format!("no such {}", noun(parent_kind)))),
    };
    if !caller.can_view_unit(&parent) {
        return Err(AppError::forbidden());
    }
    if !parent.active {
        return Err(AppError::validation(parent_field, format!("the {} is deactivated", noun(parent_kind))));
    }
    Ok(Some(parent))
}

/// The fields only some kinds have: a town's office and case prefix, a
/// village's station; each refused where it does not apply.
fn fill_kind_fields(unit: &mut Unit, body: &CreateUnit) -> AppResult<()> {
    let kind = unit.kind;
    match kind {
        UnitKind::District => {
            for (field, present) in [
                ("office_name", body.office_name.is_some()),
                ("case_prefix", body.case_prefix.is_some()),
                ("station_name", body.station_name.is_some()),
            ] {
                if present {
                    return Err(refuse_field(field, kind));
                }
            }
        }
        UnitKind::Town => {
            if body.station_name.is_some() {
                return Err(refuse_field("station_name", kind));
            }
            let office =
                body.office_name.as_deref().ok_or_else(|| AppError::validation("office_name", "is required"))?;
            unit.office_name = Some(validate::required_text("office_name", office, 100)?);
            unit.case_prefix = Some(match body.case_prefix.as_deref() {
                Some(prefix) => validate::required_text("case_prefix", prefix, 20)?,
                None => default_case_prefix(&unit.name),
            });
        }
        UnitKind::Village => {
            if body.office_name.is_some() {
                return Err(refuse_field("office_name", kind));
            }
            if body.case_prefix.is_some() {
                return Err(refuse_field("case_prefix", kind));
            }
            unit.station_name = validate::optional_text("station_name", body.station_name.as_deref(), 100)?;
        }
    }
    Ok(())
}

/// Turns a unique-key conflict into a message naming the unit.
fn name_taken(unit: &Unit) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |error| match error {
        StoreError::Conflict => {
            AppError::Conflict(format!("a {} named {} already exists there", noun(unit.kind), unit.name))
        }
        other => other.into(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateUnit {
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    office_name: Option<String>,
    #[schema(min_length = 1, max_length = 20)]
    case_prefix: Option<String>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    station_name: Option<Option<String>>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/{collection}/{id}",
    tag = "units",
    summary = "Change a unit",
    request_body = UpdateUnit,
    params(("collection" = UnitCollection, Path, description = "districts, towns or villages"), ("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = Unit), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn update(
    kind: UnitKind,
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateUnit>,
) -> AppResult<Json<Unit>> {
    let mut unit = load(&state, kind, id).await?;
    let caller = user.caller();
    if !caller.can_view_unit(&unit) || !caller.can_manage_unit(kind, &unit.chain()) {
        return Err(AppError::forbidden());
    }
    if let Some(name) = &body.name {
        unit.name = validate::required_text("name", name, 100)?;
    }
    match kind {
        UnitKind::Town => {
            if body.station_name.is_some() {
                return Err(refuse_field("station_name", kind));
            }
            if let Some(office) = &body.office_name {
                unit.office_name = Some(validate::required_text("office_name", office, 100)?);
            }
            if let Some(prefix) = &body.case_prefix {
                unit.case_prefix = Some(validate::required_text("case_prefix", prefix, 20)?);
            }
        }
        UnitKind::District | UnitKind::Village => {
            if body.office_name.is_some() {
                return Err(refuse_field("office_name", kind));
            }
            if body.case_prefix.is_some() {
                return Err(refuse_field("case_prefix", kind));
            }
            match (&body.station_name, kind) {
                (Some(station), UnitKind::Village) => {
                    unit.station_name = validate::optional_text("station_name", station.as_deref(), 100)?;
                }
                (Some(_), _) => return Err(refuse_field("station_name", kind)),
                (None, _) => {}
            }
        }
    }
    unit.updated_at = Timestamp::now();
    let change = Change::UpdateUnit { unit: unit.clone(), action: "unit.update" };
    apply_audited(&state, &user, address, change).await.map_err(name_taken(&unit))?;
    Ok(Json(unit))
}

#[utoipa::path(
    post,
    path = "/api/v1/{collection}/{id}/{activation}",
    tag = "units",
    summary = "Deactivate or activate a unit",
    params(
        ("collection" = UnitCollection, Path, description = "districts, towns or villages"),
        ("id" = Uuid, Path, description = "the id"),
        ("activation" = String, Path, description = "deactivate or activate")
    ),
    responses((status = 200, body = Unit), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn set_active(
    kind: UnitKind,
    active: bool,
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Unit>> {
    let mut unit = load(&state, kind, id).await?;
    let caller = user.caller();
    if !caller.can_view_unit(&unit) || !caller.can_manage_unit(kind, &unit.chain()) {
        return Err(AppError::forbidden());
    }
    unit.active = active;
    unit.updated_at = Timestamp::now();
    let action = if active { "unit.activate" } else { "unit.deactivate" };
    apply_audited(&state, &user, address, Change::UpdateUnit { unit: unit.clone(), action }).await?;
    tracing::info!(unit = %unit.id, active, by = %user.account.id, "unit activation changed");
    Ok(Json(unit))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, read, create, update, set_active), components(schemas(UnitCollection)))]
pub(super) struct Api;
