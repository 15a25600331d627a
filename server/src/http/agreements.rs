//! The written mediation agreement (调解协议书): drafting and editing the
//! text, confirmations by each party and the mediator's signature bound to
//! the SHA-256 of the exact text, taking effect, and the printable document.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthUser;
use super::case_context::{CaseInContext, judicial_deadline, load_case, parties_for};
use super::{ClientAddr, Json, Path, staff_actor};
use crate::AppState;
use crate::cases::agreement::{AgreementParts, render, sha256_hex};
use crate::cases::changes::Change;
use crate::cases::confirm::{ConfirmRequest, awaiting, confirmation_changes, live_confirmations};
use crate::cases::consent::{Standing, Unconfirmable};
use crate::cases::{Agreement, AgreementState, CaseState, ConfirmMethod, Confirmation, Party, Signer};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use crate::validate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{id}/agreement", get(read).put(save))
        .route("/cases/{id}/agreement/confirmations", post(confirm))
        .route("/cases/{id}/agreement/document", get(document))
}

/// Someone whose confirmation the agreement still needs.
#[derive(Serialize, utoipa::ToSchema)]
struct Awaiting {
    signer: Signer,
    party_id: Option<Uuid>,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AgreementView {
    #[serde(flatten)]
    agreement: Agreement,
    /// The exact text the parties confirm; `text_sha256` is its hash.
    text: String,
    confirmations: Vec<Confirmation>,
    awaiting: Vec<Awaiting>,
    judicial_confirmation_deadline: Option<NaiveDate>,
}

fn awaiting_list(parties: &[Party], live: &[Confirmation]) -> Vec<Awaiting> {
    let (missing, mediator_missing) = awaiting(parties, live);
    let mut list: Vec<Awaiting> = missing
        .into_iter()
        .map(|party| Awaiting { signer: Signer::Party, party_id: Some(party.id), name: party.name.clone() })
        .collect();
    if mediator_missing {
        list.push(Awaiting { signer: Signer::Mediator, party_id: None, name: "调解员".into() });
    }
    list
}

async fn view(state: &AppState, context: &CaseInContext) -> AppResult<AgreementView> {
    let agreement = state.store.agreement(context.case.id).await?.ok_or_else(|| AppError::not_found("agreement"))?;
    let parties = parties_for(state, context).await?;
    let confirmations = state.store.confirmations(context.case.id).await?;
    let live = live_confirmations(&confirmations, &agreement);
    Ok(AgreementView {
        text: render(&context.case, &parties, &AgreementParts::of(&agreement)),
        awaiting: if agreement.state == AgreementState::Effective {
            Vec::new()
        } else {
            awaiting_list(&parties, &live)
        },
        judicial_confirmation_deadline: judicial_deadline(Some(&agreement)),
        confirmations,
        agreement,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/agreement",
    tag = "agreements",
    summary = "The written agreement, its exact text and confirmations",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = AgreementView), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<Json<AgreementView>> {
    let context = load_case(&state, &user, id).await?;
    Ok(Json(view(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SaveAgreement {
    #[schema(min_length = 1, max_length = 10000)]
    facts: String,
    #[schema(min_length = 1, max_length = 10000)]
    responsibilities: String,
    #[schema(min_length = 1, max_length = 10000)]
    terms: String,
    #[schema(min_length = 1, max_length = 5000)]
    performance_manner: String,
    performance_deadline: NaiveDate,
}

/// Drafts the agreement, or edits it; editing after any confirmation voids
/// every earlier confirmation and starts signing again.
#[utoipa::path(
    put,
    path = "/api/v1/cases/{id}/agreement",
    tag = "agreements",
    summary = "Draft or edit the agreement (voids confirmations)",
    request_body = SaveAgreement,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = AgreementView), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<SaveAgreement>,
) -> AppResult<Json<AgreementView>> {
    let context = load_case(&state, &user, id).await?;
    context.require_manage()?;
    context.require_state("draft a written agreement", CaseState::is_open)?;
    let now = Timestamp::now();
    let deadline =
        validate::not_before("performance_deadline", body.performance_deadline, crate::time::local_date(now))?;
    let existing = state.store.agreement(id).await?;
    if existing.as_ref().is_some_and(|a| a.state == AgreementState::Effective) {
        return Err(AppError::InvalidState("the agreement has taken effect and can no longer be edited".into()));
    }
    let confirmations = state.store.confirmations(id).await?;
    let mut agreement = Agreement {
        case_id: id,
        state: AgreementState::Draft,
        version: existing.as_ref().map_or(1, |a| a.version + 1),
        facts: validate::required_text("facts", &body.facts, 10_000)?,
        responsibilities: validate::required_text("responsibilities", &body.responsibilities, 10_000)?,
        terms: validate::required_text("terms", &body.terms, 10_000)?,
        performance_manner: validate::required_text("performance_manner", &body.performance_manner, 5_000)?,
        performance_deadline: deadline,
        text_sha256: String::new(),
        created_by: existing.as_ref().map_or(user.account.id, |a| a.created_by),
        created_at: existing.as_ref().map_or(now, |a| a.created_at),
        updated_at: now,
        effective_at: None,
    };
    let parties = state.store.parties(id).await?;
    agreement.text_sha256 = sha256_hex(&render(&context.case, &parties, &AgreementParts::of(&agreement)));
    let voids = confirmations.iter().any(|c| c.voided_at.is_none());
    state.store.apply(&staff_actor(&user, address), &[Change::SaveAgreement { agreement, voids }]).await?;
    Ok(Json(view(&state, &context).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Confirm {
    signer: Signer,
    party_id: Option<Uuid>,
    method: ConfirmMethod,
    /// The hash of the text the signer was shown.
    text_sha256: String,
}

/// Records one party's confirmation or the mediator's signature. When the
/// last one needed arrives, the agreement takes effect and the case is
/// settled by written agreement, in the same transaction. A party's
/// confirmation by video or at a station needs their consent and an
/// identity check in one session of the case (409 `consent_required`,
/// `identity_check_required`); a signed paper (`paper_scan`) does not.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/agreement/confirmations",
    tag = "agreements",
    summary = "Record a party's confirmation or the mediator's signature",
    request_body = Confirm,
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 201, body = AgreementView), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn confirm(
    State(state): State<AppState>,
    user: AuthUser,
    address: ClientAddr,
    Path(id): Path<Uuid>,
    Json(body): Json<Confirm>,
) -> AppResult<(StatusCode, Json<AgreementView>)> {
    let context = load_case(&state, &user, id).await?;
    context.caller.may_record_confirmation(&context.case, context.access, body.signer, body.method)?;
    let agreement = state.store.agreement(id).await?.ok_or_else(|| AppError::not_found("agreement"))?;
    let parties = state.store.parties(id).await?;
    let confirmations = state.store.confirmations(id).await?;
    let request = ConfirmRequest {
        signer: body.signer,
        party_id: body.party_id,
        method: body.method,
        text_sha256: body.text_sha256,
        recorded_by: Some(user.account.id),
        signer_account_id: (body.signer == Signer::Mediator).then_some(user.account.id),
    };
    let changes = confirmation_changes(&context.case, &agreement, &parties, &confirmations, request)?;
    if let (Some(party_id), ConfirmMethod::VideoRoom | ConfirmMethod::VillageStation) = (body.party_id, body.method) {
        require_confirmable(&state, id, party_id).await?;
    }
    if let Err(error) = state.store.apply(&staff_actor(&user, address), &changes).await {
        return Err(error.as_second_confirmation().map_or_else(AppError::from, AppError::from));
    }
    let context = load_case(&state, &user, id).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &context).await?)))
}

/// A party confirming by video or at a station must have consented to
/// mediating online, and had their identity checked, in a session of the
/// case; a signed paper (`paper_scan`) stands on its own.
async fn require_confirmable(state: &AppState, case_id: Uuid, party_id: Uuid) -> AppResult<()> {
    let mut standings = Vec::new();
    for session in state.store.sessions_of_case(case_id).await? {
        let consents = state.store.consents(session.id).await?;
        let checks = state.store.identity_checks(session.id).await?;
        standings.push(Standing::of_session(&consents, &checks).remove(&party_id).unwrap_or_default());
    }
    Unconfirmable::in_any_session(standings).map_err(AppError::Unconfirmable)
}

/// The agreement as a printable A4 page with signature lines.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/agreement/document",
    tag = "agreements",
    summary = "Printable A4 HTML of the agreement",
    params(("id" = Uuid, Path, description = "the id")),
    responses((status = 200, body = String), (status = "4XX", description = "the API error", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
async fn document(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> AppResult<impl IntoResponse> {
    let context = load_case(&state, &user, id).await?;
    let view = view(&state, &context).await?;
    let parties = state.store.parties(id).await?;
    let html = printable(&context.case, &parties, &view).into_string();
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)))
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(read, save, confirm, document))]
pub(super) struct Api;

/// The print style of the agreement page (A4, serif, signature lines).
const PRINT_STYLE: &str = r#"
@page { size: A4; margin: 25mm 20mm; }
body { font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; font-size: 14pt; line-height: 1.8;
       color: #000; max-width: 170mm; margin: 0 auto; }
h1 { text-align: center; font-size: 22pt; letter-spacing: 0.5em; margin-bottom: 0; }
.meta { text-align: center; margin-top: 0; }
p { margin: 0.2em 0; white-space: pre-wrap; }
.sign { display: flex; justify-content: space-between; margin-top: 1.2em; }
.line { border-bottom: 1px solid #000; min-width: 45mm; text-align: right; color: #555; font-size: 10pt; }
.stamp { margin-top: 2em; text-align: right; }
.status { font-size: 10pt; color: #555; text-align: right; }
.hash { font-family: monospace; font-size: 8pt; color: #555; word-break: break-all; margin-top: 2em; }
"#;

/// The agreement document (调解协议书) as a printable page. maud escapes every
/// value it inserts (party names and the text are typed by people).
fn printable(case: &crate::cases::Case, parties: &[Party], view: &AgreementView) -> maud::Markup {
    let agreement = &view.agreement;
    let status = match agreement.state {
        AgreementState::Effective => {
            let day = agreement.effective_at.map(crate::time::local_date).map(|d| d.to_string()).unwrap_or_default();
            format!("已生效（{day}）")
        }
        AgreementState::Signing => "签署中".to_owned(),
        AgreementState::Draft => "草稿".to_owned(),
    };
    let confirmed_on = |party: &Party| {
        view.confirmations
            .iter()
            .find(|c| c.party_id == Some(party.id) && c.voided_at.is_none() && c.version == agreement.version)
            .map(|c| format!("已于 {} 确认", crate::time::local_date(c.confirmed_at)))
    };
    maud::html! {
        (maud::DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { "调解协议书 " (case.case_number) }
                style { (maud::PreEscaped(PRINT_STYLE)) }
            }
            body {
                h1 { "人民调解协议书" }
                p.meta { (case.office_name) "　" (case.case_number) }
                p.status { "状态：" (status) "　第 " (agreement.version) " 稿" }
                @for line in view.text.lines() {
                    p { (line) }
                }
                @for party in parties {
                    div.sign {
                        span { "当事人：" (party.name) }
                        span.line { "签名（指印）" }
                        span { (confirmed_on(party).unwrap_or_default()) }
                    }
                }
                div.sign { span { "调解员：" } span.line { "签名" } span {} }
                div.stamp { "人民调解委员会（印章）" br; "　　年　　月　　日" }
                p.hash { "文本 SHA-256：" (agreement.text_sha256) }
            }
        }
    }
}
