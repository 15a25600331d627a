//! The case as a request sees it: loading it with the caller's access (404
//! when missing, 403 out of reach), the parties with ID numbers opened only
//! for its own mediators, and the case file every case endpoint answers with.

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::AuthUser;
use crate::AppState;
use crate::access::{Caller, CaseAccess};
use crate::cases::risk::RiskFlagView;
use crate::cases::{Agreement, Case, CaseState, FollowUp, JudicialConfirmation, Outcome, Party, Session};
use crate::error::{AppError, AppResult};

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
    /// Risk flags (Art 25) with their reports, oldest first; only for those
    /// who manage the case (empty for stations and advisers).
    risk_flags: Vec<RiskFlagView>,
    access: &'static str,
    /// The states the case may move to next.
    next_states: Vec<CaseState>,
}

pub fn judicial_deadline(agreement: Option<&Agreement>) -> Option<NaiveDate> {
    let effective = agreement?.effective_at?;
    Some(crate::time::local_date(effective) + chrono::Duration::days(30))
}

pub(super) async fn case_file(state: &AppState, context: &CaseInContext) -> AppResult<CaseFile> {
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
        risk_flags: if context.access == CaseAccess::Manage {
            RiskFlagView::assemble(state.store.risk_flags(id).await?, state.store.risk_reports(id).await?)
        } else {
            Vec::new()
        },
        access: if context.access == CaseAccess::Manage { "manage" } else { "read" },
        next_states: CaseState::ALL.iter().copied().filter(|next| context.case.state.may_become(*next)).collect(),
        case: context.case.clone(),
    })
}
