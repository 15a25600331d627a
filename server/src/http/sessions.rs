//! Sessions (hearings) of a case: scheduling with participants and
//! invitations, the kiosk's and desk's lists, rescheduling with history,
//! cancelling, starting and ending, and revoking invitations.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthUser;
use super::case_context::{CaseInContext, load_case};
use super::{ClientAddr, Json, Path, Query, staff_actor};
use crate::AppState;
use crate::access::CaseAccess;
use crate::cases::changes::Change;
use crate::cases::{
    self, Attendance, CaseState, Invitation, Participant, ParticipantKind, Reschedule, Session, SessionMode,
    SessionState,
};
use crate::error::{AppError, AppResult};
use crate::store::filters::{SessionFilter, SessionListing};
use crate::time::Timestamp;
use crate::time::start_of_local_day;
use crate::tree::Role;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{id}/sessions", post(schedule))
        .route("/sessions", get(list))
        .route("/sessions/{id}", get(read).patch(reschedule))
        .route("/sessions/{id}/cancel", post(cancel))
        .route("/sessions/{id}/start", post(start))
        .route("/sessions/{id}/end", post(end))
        .route("/invitations/{id}/revoke", post(revoke))
        .route("/sessions/{id}/observers", post(invite_observer))
}

#[derive(Serialize, utoipa::ToSchema)]
struct InvitationView {
    #[serde(flatten)]
    invitation: Invitation,
    /// The link to give the party; opening it needs no account.
    link: String,
    /// The link as a QR code (an SVG document), to print or show for a phone.
    qr_svg: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ParticipantView {
    #[serde(flatten)]
    participant: Participant,
    /// The live invitation, shown to the case's managers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    invitation: Option<InvitationView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CaseBrief {
    id: Uuid,
    case_number: String,
    village_name: String,
    category: cases::Category,
    public_session: bool,
    state: CaseState,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionDetail {
    #[serde(flatten)]
    session: Session,
    case: CaseBrief,
    participants: Vec<ParticipantView>,
    attendance: Vec<Attendance>,
    /// The parties' decisions on mediating online, oldest first.
    consents: Vec<crate::cases::consent::Consent>,
    /// The checks of the parties' identity, oldest first.
    identity_checks: Vec<crate::cases::consent::IdentityCheck>,
    /// The version of the saved transcript (`GET /sessions/{id}/transcript`); absent before the first save.
    transcript_version: Option<i32>,
    reschedules: Vec<Reschedule>,
}

/// A session and the caller's context on its case.
pub(super) async fn load_session(state: &AppState, user: &AuthUser, id: Uuid) -> AppResult<(Session, CaseInContext)> {
    let session = state.store.session(id).await?.ok_or_else(|| AppError::not_found("session"))?;
    let context = load_case(state, user, session.case_id).await?;
    Ok((session, context))
}

async fn detail(state: &AppState, session: Session, context: &CaseInContext) -> AppResult<SessionDetail> {
    let managing = context.access == CaseAccess::Manage;
    let invitations = if managing { state.store.invitations(session.id).await? } else { Vec::new() };
    let base = state.config.public_url();
    let mut participants = Vec::new();
    for participant in state.store.participants(session.id).await? {
        let invitation = invitations
            .iter()
            .find(|i| i.participant_id == participant.id && i.revoked_at.is_none())
            .map(|invitation| -> AppResult<InvitationView> {
                let token = state.tokens.invitation_token(invitation)?;
                let link = format!("{base}/join.html#t={token}");
                Ok(InvitationView { invitation: invitation.clone(), qr_svg: qr_svg(&link)?, link })
            })
            .transpose()?;
        participants.push(ParticipantView { participant, invitation });
    }
    let case = &context.case;
    Ok(SessionDetail {
        case: CaseBrief {
            id: case.id,
            case_number: case.case_number.clone(),
            village_name: case.village_name.clone(),
            category: case.category,
            public_session: case.public_session,
            state: case.state,
        },
        participants,
        attendance: state.store.attendance(session.id).await?,
        consents: state.store.consents(session.id).await?,
        identity_checks: state.store.identity_checks(session.id).await?,
        transcript_version: state.store.transcript(session.id).await?.map(|transcript| transcript.version),
        reschedules: state.store.reschedules(session.id).await?,
        session,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ScheduleSession {
    planned_start: Timestamp,
    #[serde(deserialize_with = "validate::whole_number")]
    #[schema(minimum = 5, maximum = 480)]
    planned_minutes: i32,
    mode: SessionMode,
    /// Mediators of the case's office; the caller when absent and a mediator.
    #[serde(default)]
    mediator_ids: Vec<Uuid>,
    /// Village station accounts of the case's town.
    #[serde(default)]
    station_ids: Vec<Uuid>,
    /// Legal advisers of the case's district.
    #[serde(default)]
    adviser_ids: Vec<Uuid>,
    /// Parties who join from their own device; each gets an invitation.
    #[serde(default)]
    party_ids: Vec<Uuid>,
}

fn check_start(field: &str, start: Timestamp) -> AppResult<Timestamp> {
    if start.as_datetime() < Timestamp::now().as_datetime() - chrono::Duration::minutes(1) {
        return Err(AppError::validation(field, "must not be in the past"));
    }
    Ok(start)
}

fn check_minutes(minutes: i32) -> AppResult<i32> {
    if !(5..=480).contains(&minutes) {
        return Err(AppError::validation("planned_minutes", "must be 5 to 480 minutes"));
    }
    Ok(minutes)
}

fn new_invitation(session: &Session, participant_id: Uuid, now: Timestamp) -> Invitation {
    let (valid_from, valid_until) = Invitation::window(session.planned_start);
    Invitation {
        id: Uuid::new_v4(),
        session_id: session.id,
        participant_id,
        valid_from,
        valid_until,
        created_at: now,
        revoked_at: None,
        first_opened_at: None,
    }
}

/// The staff on a new session: the mediators (the scheduling mediator
/// when none is named), stations and advisers, each an active account
/// serving the case.
async fn staff_participants(
    state: &AppState,
    user: &AuthUser,
    body: &ScheduleSession,
    session: &Session,
    case: &crate::cases::Case,
) -> AppResult<Vec<Participant>> {
    let mut mediator_ids: BTreeSet<Uuid> = body.mediator_ids.iter().copied().collect();
    if mediator_ids.is_empty() && user.account.role == Role::Mediator {
        mediator_ids.insert(user.account.id);
    }
    if mediator_ids.is_empty() {
        return Err(AppError::validation("mediator_ids", "a session needs at least one mediator"));
    }
    let staff = [
        ("mediator_ids", ParticipantKind::Mediator, Role::Mediator, mediator_ids),
        ("station_ids", ParticipantKind::Station, Role::Station, body.station_ids.iter().copied().collect()),
        ("adviser_ids", ParticipantKind::Adviser, Role::Adviser, body.adviser_ids.iter().copied().collect()),
    ];
    let mut participants = Vec::new();
    for (field, kind, role, ids) in staff {
        for id in ids {
            let account = state.store.account(id).await?;
            let fits = account.as_ref().is_some_and(|a| crate::access::may_take_part(a, kind, case));
            let Some(account) = account.filter(|_| fits) else {
                return Err(AppError::validation(
                    field,
                    format!(
                        "{id} is not an active {role} account serving this case's {}",
                        if role == Role::Adviser { "district" } else { "town" }
                    ),
                ));
            };
            participants.push(Participant {
                id: Uuid::new_v4(),
                session_id: session.id,
                kind,
                account_id: Some(account.id),
                party_id: None,
                display_name: account.display_name,
                relation: None,
            });
        }
    }
    Ok(participants)
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/sessions",
    tag = "sessions",
    summary = "Schedule a session with participants and invitations",
    request_body = ScheduleSession,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 201, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn schedule(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(case_id): Path<Uuid>,
    Json(body): Json<ScheduleSession>,
) -> AppResult<(StatusCode, Json<SessionDetail>)> {
    let context = load_case(&state, &user, case_id).await?;
    context.require_manage()?;
    context.require_state("schedule a session", CaseState::is_open)?;
    let case = &context.case;
    let now = Timestamp::now();
    let session = Session {
        id: Uuid::new_v4(),
        case_id,
        planned_start: check_start("planned_start", body.planned_start)?,
        planned_minutes: check_minutes(body.planned_minutes)?,
        mode: body.mode,
        state: SessionState::Planned,
        actual_start: None,
        actual_end: None,
        cancel_reason: None,
        created_by: user.account.id,
        created_at: now,
        updated_at: now,
    };

    let mut participants = staff_participants(&state, &user, &body, &session, case).await?;
    let parties = state.store.parties(case_id).await?;
    let mut invitations = Vec::new();
    let party_ids: BTreeSet<Uuid> = body.party_ids.iter().copied().collect();
    for party_id in party_ids {
        let party = parties
            .iter()
            .find(|p| p.id == party_id)
            .ok_or_else(|| AppError::validation("party_ids", format!("{party_id} is not a party to this case")))?;
        let participant = Participant {
            id: Uuid::new_v4(),
            session_id: session.id,
            kind: ParticipantKind::Party,
            account_id: None,
            party_id: Some(party.id),
            display_name: party.name.clone(),
            relation: None,
        };
        invitations.push(new_invitation(&session, participant.id, now));
        participants.push(participant);
    }

    let mut changes = vec![Change::CreateSession { session: session.clone(), participants, invitations }];
    if case.state == CaseState::Registered {
        changes.push(Change::SetCaseState { case_id, from: case.state, to: CaseState::Scheduled, at: now });
    }
    state.store.apply(&staff_actor(&user, address), &changes).await?;
    let context = load_case(&state, &user, case_id).await?;
    Ok((StatusCode::CREATED, Json(detail(&state, session, &context).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// First local day (default today).
    from: Option<NaiveDate>,
    /// Last local day, inclusive.
    to: Option<NaiveDate>,
    state: Option<SessionState>,
}

/// Sessions the caller may see, by planned start: a station's kiosk lists
/// today's and upcoming sessions of its village.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "sessions",
    summary = "Sessions of visible cases from a day on",
    params(ListQuery),
    responses((status = 200, body = Vec<SessionListing>), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Vec<SessionListing>>> {
    let caller = user.caller();
    let from = query.from.unwrap_or_else(|| crate::time::local_date(Timestamp::now()));
    let filter = SessionFilter {
        within: caller.case_reach(),
        participant: Some(caller.id),
        from: Some(start_of_local_day(from)),
        to: query.to.map(crate::time::end_of_local_day),
        state: query.state,
    };
    Ok(Json(state.store.sessions(&filter).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    tag = "sessions",
    summary = "A session with participants, attendance and history",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<Json<SessionDetail>> {
    let (session, context) = load_session(&state, &user, id).await?;
    Ok(Json(detail(&state, session, &context).await?))
}

/// Draws `text` as a QR code with medium error correction, in SVG.
fn qr_svg(text: &str) -> AppResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|error| AppError::Internal(anyhow::anyhow!("QR code for an invitation link: {error}")))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).build())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    planned_start: Timestamp,
    #[serde(default, deserialize_with = "validate::optional_whole_number")]
    #[schema(minimum = 5, maximum = 480)]
    planned_minutes: Option<i32>,
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Moves a planned session; the history keeps the old time, and parties'
/// invitations are issued anew for the new day (old links stop working).
#[utoipa::path(
    patch,
    path = "/api/v1/sessions/{id}",
    tag = "sessions",
    summary = "Move a planned session (reissues invitations)",
    request_body = RescheduleBody,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn reschedule(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<RescheduleBody>,
) -> AppResult<Json<SessionDetail>> {
    let (session, context) = load_session(&state, &user, id).await?;
    context.require_manage()?;
    if session.state != SessionState::Planned {
        return Err(AppError::InvalidState(format!(
            "only a planned session can be moved; this one is {}",
            session.state
        )));
    }
    let now = Timestamp::now();
    let reschedule = Reschedule {
        id: Uuid::new_v4(),
        session_id: id,
        previous_start: session.planned_start,
        previous_minutes: session.planned_minutes,
        new_start: check_start("planned_start", body.planned_start)?,
        new_minutes: check_minutes(body.planned_minutes.unwrap_or(session.planned_minutes))?,
        reason: validate::optional_text("reason", body.reason.as_deref(), 500)?,
        changed_by: user.account.id,
        changed_at: now,
    };
    let moved = Session { planned_start: reschedule.new_start, ..session.clone() };
    let live: Vec<Invitation> =
        state.store.invitations(id).await?.into_iter().filter(|i| i.revoked_at.is_none()).collect();
    let new_invitations = live.iter().map(|old| new_invitation(&moved, old.participant_id, now)).collect();
    let change = Change::RescheduleSession { reschedule, revoke_invitations: !live.is_empty(), new_invitations };
    state.store.apply(&staff_actor(&user, address), &[change]).await?;
    // Whoever waits with an old link goes; the new link brings them back.
    for old in &live {
        let who = crate::rooms::Expel::Participant(old.participant_id);
        state.rooms.expel(id, who, "the session was moved; open the new invitation link").await;
    }
    let (session, context) = load_session(&state, &user, id).await?;
    Ok(Json(detail(&state, session, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/cancel",
    tag = "sessions",
    summary = "Cancel a planned session",
    request_body = CancelBody,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<CancelBody>,
) -> AppResult<Json<SessionDetail>> {
    let reason = validate::required_text("reason", &body.reason, 500)?;
    transition(&state, &user, address, id, SessionState::Cancelled, Some(reason)).await
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/start",
    tag = "sessions",
    summary = "Start a session by hand",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn start(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<SessionDetail>> {
    transition(&state, &user, address, id, SessionState::Live, None).await
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/end",
    tag = "sessions",
    summary = "End a session by hand",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn end(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<SessionDetail>> {
    transition(&state, &user, address, id, SessionState::Ended, None).await
}

async fn transition(
    state: &AppState,
    user: &AuthUser,
    address: ClientAddr,
    id: Uuid,
    to: SessionState,
    reason: Option<String>,
) -> AppResult<Json<SessionDetail>> {
    let (session, context) = load_session(state, user, id).await?;
    context.require_manage()?;
    let changes = cases::session_transition(&session, context.case.state, to, Timestamp::now(), reason)?;
    state.store.apply(&staff_actor(user, address), &changes).await?;
    match to {
        SessionState::Ended => state.rooms.close(id, "the mediator ended the session").await,
        SessionState::Cancelled => state.rooms.close(id, "the session was cancelled").await,
        SessionState::Planned | SessionState::Live => {}
    }
    let (session, context) = load_session(state, user, id).await?;
    Ok(Json(detail(state, session, &context).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/invitations/{id}/revoke",
    tag = "sessions",
    summary = "Revoke an invitation",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
) -> AppResult<Json<SessionDetail>> {
    let invitation = state.store.invitation(id).await?.ok_or_else(|| AppError::not_found("invitation"))?;
    let (session, context) = load_session(&state, &user, invitation.session_id).await?;
    context.require_manage()?;
    if invitation.revoked_at.is_some() {
        return Err(AppError::InvalidState("the invitation is already revoked".into()));
    }
    state
        .store
        .apply(&staff_actor(&user, address), &[Change::RevokeInvitation { invitation_id: id, at: Timestamp::now() }])
        .await?;
    let who = crate::rooms::Expel::Participant(invitation.participant_id);
    state.rooms.expel(invitation.session_id, who, "the invitation was withdrawn").await;
    Ok(Json(detail(&state, session, &context).await?))
}

/// Someone a mediator invites to watch and listen (People's Mediation Law Art 20).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ObserverBody {
    /// Their name, as the parties will see it.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Their relation to the dispute: 亲属, 邻居, 村老, 翻译, ...
    #[schema(min_length = 1, max_length = 40)]
    relation: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/observers",
    tag = "sessions",
    summary = "Invite an observer (a relative, a village elder, an interpreter) by link",
    request_body = ObserverBody,
    params(("id" = Uuid, Path, description = "the session")),
    responses((status = 201, body = SessionDetail), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn invite_observer(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<ObserverBody>,
) -> AppResult<(StatusCode, Json<SessionDetail>)> {
    let (session, context) = load_session(&state, &user, id).await?;
    context.require_manage()?;
    if !matches!(session.state, SessionState::Planned | SessionState::Live) {
        return Err(AppError::InvalidState(format!(
            "observers are invited to a planned or live session; this one is {}",
            session.state
        )));
    }
    let participant = Participant {
        id: Uuid::new_v4(),
        session_id: session.id,
        kind: ParticipantKind::Observer,
        account_id: None,
        party_id: None,
        display_name: validate::required_text("name", &body.name, 100)?,
        relation: Some(validate::required_text("relation", &body.relation, 40)?),
    };
    let invitation = new_invitation(&session, participant.id, Timestamp::now());
    state.store.apply(&staff_actor(&user, address), &[Change::InviteObserver { participant, invitation }]).await?;
    Ok((StatusCode::CREATED, Json(detail(&state, session, &context).await?)))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(schedule, list, read, reschedule, cancel, start, end, revoke, invite_observer))]
pub(super) struct Api;
