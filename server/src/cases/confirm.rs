//! Recording a confirmation of the written agreement, shared by the REST API
//! and the video room: checks the text hash and who confirms, and when the
//! last confirmation needed arrives, makes the agreement effective and
//! settles the case, all as one list of changes for one transaction.

use uuid::Uuid;

use super::agreement::current_text;
use super::changes::Change;
use super::error::RuleError;
use super::{Agreement, AgreementState, Case, CaseState, ConfirmMethod, Confirmation, Party, Signer};
use crate::time::Timestamp;

/// One confirmation as asked for.
#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    pub signer: Signer,
    pub party_id: Option<Uuid>,
    pub method: ConfirmMethod,
    pub text_sha256: String,
    /// The staff account that records it (none for a party on their own device).
    pub recorded_by: Option<Uuid>,
    /// The mediator who signs (for `Signer::Mediator`).
    pub signer_account_id: Option<Uuid>,
}

/// Those whose confirmation the agreement still needs.
pub fn awaiting<'a>(parties: &'a [Party], live: &[Confirmation]) -> (Vec<&'a Party>, bool) {
    let parties = parties.iter().filter(|party| !live.iter().any(|c| c.party_id == Some(party.id))).collect();
    let mediator_missing = !live.iter().any(|c| c.signer == Signer::Mediator);
    (parties, mediator_missing)
}

/// The live confirmations of the agreement's current version.
pub fn live_confirmations(confirmations: &[Confirmation], agreement: &Agreement) -> Vec<Confirmation> {
    confirmations.iter().filter(|c| c.voided_at.is_none() && c.version == agreement.version).cloned().collect()
}

/// The changes that record `request`; the last of them settles the case
/// when the agreement is complete (see `Applied::agreement_effective`).
/// Refused as stale when the text rendered from the case as it stands no
/// longer matches the saved hash (a party corrected since), or when the
/// request names another hash than the current text's.
pub fn confirmation_changes(
    case: &Case,
    agreement: &Agreement,
    parties: &[Party],
    confirmations: &[Confirmation],
    request: ConfirmRequest,
) -> Result<Vec<Change>, RuleError> {
    if agreement.state == AgreementState::Effective {
        return Err(RuleError::InvalidState("the agreement has already taken effect".into()));
    }
    if !case.state.may_become(CaseState::AgreedWritten) {
        return Err(RuleError::InvalidState(format!(
            "cannot confirm the agreement: case {} is {}",
            case.case_number, case.state
        )));
    }
    current_text(case, parties, agreement)?;
    if request.text_sha256.trim().to_ascii_lowercase() != agreement.text_sha256 {
        return Err(RuleError::Stale(
            "the agreement text was changed after it was shown: the hash does not match the current text; show it again"
                .into(),
        ));
    }
    let live = live_confirmations(confirmations, agreement);
    let now = Timestamp::now();
    let mut confirmation = Confirmation {
        id: Uuid::new_v4(),
        case_id: case.id,
        version: agreement.version,
        signer: request.signer,
        party_id: None,
        signer_account_id: None,
        method: request.method,
        text_sha256: agreement.text_sha256.clone(),
        confirmed_at: now,
        recorded_by: request.recorded_by,
        voided_at: None,
    };
    match request.signer {
        Signer::Party => {
            let party_id =
                request.party_id.ok_or_else(|| RuleError::invalid("party_id", "name the party who confirms"))?;
            if !parties.iter().any(|p| p.id == party_id) {
                return Err(RuleError::invalid("party_id", "is not a party to this case"));
            }
            if live.iter().any(|c| c.party_id == Some(party_id)) {
                return Err(RuleError::Conflict("this party has already confirmed the current text".into()));
            }
            confirmation.party_id = Some(party_id);
        }
        Signer::Mediator => {
            if request.party_id.is_some() {
                return Err(RuleError::invalid("party_id", "a mediator's signature names no party"));
            }
            if live.iter().any(|c| c.signer == Signer::Mediator) {
                return Err(RuleError::Conflict("the mediator has already signed the current text".into()));
            }
            confirmation.signer_account_id =
                Some(request.signer_account_id.ok_or_else(|| RuleError::invalid("signer", "no mediator signs"))?);
        }
    }

    let recorded_by = request.recorded_by.or(request.signer_account_id).unwrap_or(agreement.created_by);
    let changes = vec![
        Change::AddConfirmation { confirmation },
        // Whether this was the last one is decided in the transaction, on
        // what is committed, so two confirmations at once cannot both miss it.
        Change::SettleAgreementIfComplete { case_id: case.id, version: agreement.version, recorded_by, at: now },
    ];
    Ok(changes)
}
