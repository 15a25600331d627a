//! The party's side of an invitation link: opening it needs no account; the
//! token in the link is the credential. The first opening of an invitation
//! from an address in an hour is recorded (not every reload, which flooded
//! the audit trail), and openings are rate-limited per address. The party
//! reads the consent notice (public, versioned) and records their own
//! decision on mediating online before joining.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ClientAddr, Json};
use crate::AppState;
use crate::auth::{InvitedParty, authenticate_invitation};
use crate::cases::changes::Change;
use crate::cases::consent::{
    Consent, ConsentDecision, ConsentMethod, NOTICE_EN, NOTICE_VERSION, NOTICE_ZH, Notice, Publicity, Standing,
};
use crate::cases::{Category, ParticipantKind, SessionMode, SessionState};
use crate::error::{AppError, AppResult};
use crate::throttle::WindowCounter;
use crate::time::Timestamp;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invitation", get(open))
        .route("/invitation/consent", post(decide))
        .route("/consent-notice", get(notice))
}

/// Openings allowed per client address per minute.
const OPENINGS_PER_MINUTE: u32 = 30;

/// What the invitation endpoint counts.
pub struct InvitationOpenings {
    per_address: WindowCounter,
    recorded: WindowCounter,
}

impl InvitationOpenings {
    pub fn new() -> Self {
        InvitationOpenings {
            per_address: WindowCounter::new(Duration::from_secs(60)),
            recorded: WindowCounter::new(Duration::from_secs(3600)),
        }
    }
}

impl Default for InvitationOpenings {
    fn default() -> Self {
        Self::new()
    }
}

/// What a party sees: the session in plain words, nothing about the other
/// parties beyond names of those taking part.
#[derive(Serialize, utoipa::ToSchema)]
struct InvitationSummary {
    invitation_id: Uuid,
    session_id: Uuid,
    participant_id: Uuid,
    your_name: String,
    /// `party`, or `observer` (invited to watch and listen; no decision to make).
    your_part: ParticipantKind,
    case_number: String,
    category: Category,
    village_name: String,
    office_name: String,
    planned_start: Timestamp,
    planned_minutes: i32,
    mode: SessionMode,
    state: SessionState,
    valid_until: Timestamp,
    taking_part: Vec<String>,
    /// Your latest decision on mediating online in this session (absent: none yet).
    consent: Option<ConsentDecision>,
    /// With a consent: public or non-public mediation.
    publicity: Option<Publicity>,
    /// The version of the consent notice in force (`GET /api/v1/consent-notice`).
    notice_version: &'static str,
}

/// The notice a party reads before deciding, in Chinese and English.
#[derive(Serialize, utoipa::ToSchema)]
struct ConsentNotice {
    /// Name it when recording a decision; a decision on an older version is refused.
    version: &'static str,
    zh_cn: Notice,
    en: Notice,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: ConsentDecision,
    /// With `consent` only.
    publicity: Option<Publicity>,
    /// The notice version the party read.
    #[schema(max_length = 40)]
    notice_version: String,
}

fn bearer(headers: &HeaderMap) -> AppResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(AppError::Unauthorized("send the invitation token as `Authorization: Bearer <token>`"))
}

#[utoipa::path(
    get,
    path = "/api/v1/invitation",
    tag = "invitations",
    summary = "Open an invitation (Bearer: the invitation token)",
    responses((status = 200, body = InvitationSummary), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn open(
    State(state): State<AppState>,
    address: ClientAddr,
    headers: HeaderMap,
) -> AppResult<Json<InvitationSummary>> {
    let party = invited(&state, &address, &headers).await?;
    let case = state.store.case(party.session.case_id).await?.ok_or_else(|| AppError::not_found("case"))?;
    let opening = format!("{}/{}", party.invitation.id, address.0);
    if state.invitation_openings.recorded.count(&opening).0 == 1 {
        let actor = party.actor(Some(address.0.to_string()));
        let opened = Change::OpenInvitation { invitation_id: party.invitation.id, at: Timestamp::now() };
        if let Err(error) = state.store.apply(&actor, &[opened]).await {
            // Not recorded: the next opening is the first again.
            state.invitation_openings.recorded.forget(&opening);
            return Err(error.into());
        }
    }
    let taking_part = state.store.participants(party.session.id).await?.into_iter().map(|p| p.display_name).collect();
    let standing = standing_of(&state, &party).await?;
    Ok(Json(InvitationSummary {
        invitation_id: party.invitation.id,
        session_id: party.session.id,
        participant_id: party.participant.id,
        your_name: party.participant.display_name.clone(),
        your_part: party.participant.kind,
        case_number: case.case_number,
        category: case.category,
        village_name: case.village_name,
        office_name: case.office_name,
        planned_start: party.session.planned_start,
        planned_minutes: party.session.planned_minutes,
        mode: party.session.mode,
        state: party.session.state,
        valid_until: party.invitation.valid_until,
        taking_part,
        consent: standing.consent,
        publicity: standing.publicity,
        notice_version: NOTICE_VERSION,
    }))
}

/// The invited party of the request's token, counted against the address's
/// rate (a request without a token is told so, and is not counted).
async fn invited(state: &AppState, address: &ClientAddr, headers: &HeaderMap) -> AppResult<InvitedParty> {
    let token = bearer(headers)?;
    let (openings, window_left) = state.invitation_openings.per_address.count(&address.0.to_string());
    if openings > OPENINGS_PER_MINUTE {
        return Err(AppError::TooManyRequests { retry_after_secs: window_left.as_secs().max(1) });
    }
    Ok(authenticate_invitation(state.store.as_ref(), &state.tokens, token).await?)
}

/// The invited party's consent and identity check in their session.
async fn standing_of(state: &AppState, party: &InvitedParty) -> AppResult<Standing> {
    let Some(party_id) = party.participant.party_id else { return Ok(Standing::default()) };
    let consents = state.store.consents(party.session.id).await?;
    let checks = state.store.identity_checks(party.session.id).await?;
    Ok(Standing::of_session(&consents, &checks).remove(&party_id).unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/api/v1/consent-notice",
    tag = "invitations",
    summary = "The notice a party reads before deciding on mediation by video (no sign-in)",
    responses((status = 200, body = ConsentNotice))
)]
async fn notice() -> Json<ConsentNotice> {
    Json(ConsentNotice { version: NOTICE_VERSION, zh_cn: NOTICE_ZH, en: NOTICE_EN })
}

#[utoipa::path(
    post,
    path = "/api/v1/invitation/consent",
    tag = "invitations",
    summary = "Record the invited party's own decision on mediation by video (Bearer: the invitation token)",
    request_body = DecisionBody,
    responses((status = 201, body = Consent), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn decide(
    State(state): State<AppState>,
    address: ClientAddr,
    headers: HeaderMap,
    Json(body): Json<DecisionBody>,
) -> AppResult<(StatusCode, Json<Consent>)> {
    let party = invited(&state, &address, &headers).await?;
    let party_id = party
        .participant
        .party_id
        .ok_or_else(|| AppError::Forbidden("an observer is invited; only a party decides on mediation".into()))?;
    let consent = Consent {
        id: Uuid::new_v4(),
        session_id: party.session.id,
        party_id,
        decision: body.decision,
        method: ConsentMethod::OwnDevice,
        publicity: body.publicity,
        notice_version: body.notice_version,
        recorded_by: None,
        recorded_at: Timestamp::now(),
    };
    let consent = consent.checked(standing_of(&state, &party).await?)?;
    let actor = party.actor(Some(address.0.to_string()));
    state.store.apply(&actor, &[Change::RecordConsent { consent: consent.clone() }]).await?;
    state.rooms.hearing_changed(party.session.id).await;
    Ok((StatusCode::CREATED, Json(consent)))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(open, notice, decide), components(schemas(ConsentDecision, Publicity, ConsentMethod)))]
pub(super) struct Api;
