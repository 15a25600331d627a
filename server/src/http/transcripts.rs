//! The transcript of a hearing (调解笔录) over HTTP: the case's mediator
//! saves it while the session is live or after it ended (each save a new
//! version, voiding the confirmations of the earlier ones); anyone who sees
//! the case reads it with its confirmations and who has still to confirm.
//! Parties confirm it in the room (`push_transcript`, `confirm_transcript`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sessions::load_session;
use super::{AuthUser, ClientAddr, Json, Path, staff_actor};
use crate::AppState;
use crate::cases::changes::Change;
use crate::cases::transcript::{
    SaveContext, Statement, Transcript, TranscriptConfirmation, TranscriptParts, attendees,
};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use crate::validate;

/// The longest statement, facts, notes or oral terms, in characters.
const MAX_PART_CHARS: usize = 5000;

pub fn router() -> Router<AppState> {
    Router::new().route("/sessions/{id}/transcript", get(read).put(save))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(read, save), components(schemas(Statement)))]
pub(super) struct Api;

/// What the mediator writes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TranscriptBody {
    /// The version this edit started from (absent for the first save): a
    /// save by someone else meanwhile makes the request 409 `stale`.
    #[serde(default, deserialize_with = "validate::optional_whole_number")]
    expected_version: Option<i32>,
    /// Who took part, when the attendance does not say it (an in-person or
    /// phone hearing); absent: from the session's attendance.
    #[schema(max_length = 1000)]
    attendees: Option<String>,
    /// One statement per party, in the order they spoke.
    #[schema(max_items = 20)]
    statements: Vec<Statement>,
    /// The facts both sides accept.
    #[schema(max_length = 5000)]
    agreed_facts: String,
    #[schema(max_length = 5000)]
    mediator_notes: String,
    /// An oral agreement's terms (Art 28), when one was reached.
    #[schema(min_length = 1, max_length = 5000)]
    oral_terms: Option<String>,
}

/// A transcript with its confirmations.
#[derive(Serialize, utoipa::ToSchema)]
struct TranscriptView {
    #[serde(flatten)]
    transcript: Transcript,
    /// Every confirmation, voided ones included, oldest first.
    confirmations: Vec<TranscriptConfirmation>,
    /// The parties who have not confirmed the current version.
    awaiting: Vec<Uuid>,
}

async fn view(state: &AppState, transcript: Transcript) -> AppResult<TranscriptView> {
    let confirmations = state.store.transcript_confirmations(transcript.session_id).await?;
    let parties = state.store.parties(transcript.case_id).await?;
    let awaiting = parties
        .iter()
        .filter(|party| {
            !confirmations
                .iter()
                .any(|c| c.party_id == party.id && c.version == transcript.version && c.voided_at.is_none())
        })
        .map(|party| party.id)
        .collect();
    Ok(TranscriptView { transcript, confirmations, awaiting })
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/transcript",
    tag = "sessions",
    summary = "The transcript of a hearing (调解笔录) with its confirmations",
    params(("id" = Uuid, Path, description = "the session")),
    responses((status = 200, body = TranscriptView), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<Json<TranscriptView>> {
    load_session(&state, &user, id).await?;
    let transcript = state.store.transcript(id).await?.ok_or_else(|| AppError::not_found("transcript"))?;
    Ok(Json(view(&state, transcript).await?))
}

fn parts_of(body: TranscriptBody) -> AppResult<TranscriptParts> {
    if body.statements.len() > 20 {
        return Err(AppError::validation("statements", "at most 20 statements"));
    }
    let statements = body
        .statements
        .into_iter()
        .map(|s| {
            Ok(Statement {
                party_id: s.party_id,
                statement: validate::required_text("statements", &s.statement, MAX_PART_CHARS)?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(TranscriptParts {
        statements,
        agreed_facts: validate::optional_text("agreed_facts", Some(&body.agreed_facts), MAX_PART_CHARS)?
            .unwrap_or_default(),
        mediator_notes: validate::optional_text("mediator_notes", Some(&body.mediator_notes), MAX_PART_CHARS)?
            .unwrap_or_default(),
        oral_terms: validate::optional_text("oral_terms", body.oral_terms.as_deref(), MAX_PART_CHARS)?,
    })
}

#[utoipa::path(
    put,
    path = "/api/v1/sessions/{id}/transcript",
    tag = "sessions",
    summary = "Save the transcript of a live or ended hearing (a new version)",
    request_body = TranscriptBody,
    params(("id" = Uuid, Path, description = "the session")),
    responses((status = 200, body = TranscriptView), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<TranscriptBody>,
) -> AppResult<Json<TranscriptView>> {
    let (session, context) = load_session(&state, &user, id).await?;
    context.require_manage()?;
    let previous = state.store.transcript(id).await?;
    if body.expected_version != previous.as_ref().map(|t| t.version) {
        return Err(AppError::Stale(
            "the transcript was saved by someone else meanwhile (expected_version); reload it and edit again".into(),
        ));
    }
    let attendees = match validate::optional_text("attendees", body.attendees.as_deref(), 1000)? {
        Some(given) => given,
        None => attendees(&state.store.participants(id).await?, &state.store.attendance(id).await?),
    };
    let parties = state.store.parties(context.case.id).await?;
    let parts = parts_of(body)?;
    let save = SaveContext {
        case: &context.case,
        session: &session,
        parties: &parties,
        attendees,
        previous: previous.as_ref(),
    };
    let transcript = save.save(parts, user.account.id, Timestamp::now())?;
    state
        .store
        .apply(&staff_actor(&user, address), &[Change::SaveTranscript { transcript: transcript.clone() }])
        .await?;
    Ok(Json(view(&state, transcript).await?))
}
