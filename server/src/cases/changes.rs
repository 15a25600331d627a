//! Every write to the records (units, accounts and the case records), as
//! one enum, with who made it (`Actor`) and what the audit trail says of it
//! (`AuditEntry`). `Store::apply` runs a list
//! of changes in one transaction and appends an audit event for each, so a
//! write and its audit record stand or fall together. State changes carry
//! the state they expect to find; if another request got there first, the
//! whole transaction is refused as stale.

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::consent::{Consent, IdentityCheck};
use super::risk::{RiskFlag, RiskReport};
use super::transcript::{Transcript, TranscriptConfirmation};
use super::{
    Agreement, Attendance, Case, CaseState, Confirmation, Consultation, FollowUp, Invitation, JudicialConfirmation,
    Outcome, Participant, Party, Reschedule, Session, SessionState,
};
use crate::time::Timestamp;
use crate::tree::{Account, AccountChanges, NewAccount, Unit};

#[derive(Debug, Clone)]
pub enum Change {
    /// Units and accounts; updates name their action for the audit trail
    /// (`unit.deactivate`, `account.password_reset`, ...).
    InsertUnit {
        unit: Unit,
    },
    UpdateUnit {
        unit: Unit,
        action: &'static str,
    },
    InsertAccount {
        account: NewAccount,
    },
    UpdateAccount {
        id: Uuid,
        changes: AccountChanges,
        action: &'static str,
    },
    /// A new case with its parties. `case.number` and `case.case_number` are
    /// assigned by the store from the town's counter for the year.
    CreateCase {
        case: Case,
        parties: Vec<Party>,
        case_prefix: String,
    },
    UpdateCase {
        case: Case,
    },
    /// A party's name, phone or sealed ID number corrected.
    UpdateParty {
        party: Party,
    },
    SetCaseState {
        case_id: Uuid,
        from: CaseState,
        to: CaseState,
        at: Timestamp,
    },
    CreateSession {
        session: Session,
        participants: Vec<Participant>,
        invitations: Vec<Invitation>,
    },
    RescheduleSession {
        reschedule: Reschedule,
        revoke_invitations: bool,
        new_invitations: Vec<Invitation>,
    },
    SetSessionState {
        session_id: Uuid,
        from: SessionState,
        to: SessionState,
        at: Timestamp,
        reason: Option<String>,
    },
    RevokeInvitation {
        invitation_id: Uuid,
        at: Timestamp,
    },
    /// Someone invited to a session as an observer (Art 20), with their invitation.
    InviteObserver {
        participant: Participant,
        invitation: Invitation,
    },
    OpenInvitation {
        invitation_id: Uuid,
        at: Timestamp,
    },
    Join {
        attendance: Attendance,
    },
    Leave {
        attendance_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
    },
    /// A party's decision on mediating online (consent, refusal, withdrawal).
    RecordConsent {
        consent: Consent,
    },
    /// A party's identity checked for a session.
    CheckIdentity {
        check: IdentityCheck,
    },
    /// A transcript saved: the first version, or the next after
    /// `transcript.version - 1` (refused as stale if another save came
    /// first); the live confirmations of earlier versions are voided.
    SaveTranscript {
        transcript: Transcript,
    },
    ConfirmTranscript {
        confirmation: TranscriptConfirmation,
    },
    RecordOutcome {
        outcome: Outcome,
    },
    /// Creates or replaces the agreement text; `voids` marks the live
    /// confirmations of earlier versions void.
    SaveAgreement {
        agreement: Agreement,
        voids: bool,
    },
    AddConfirmation {
        confirmation: Confirmation,
    },
    /// Decided inside the transaction, on what is committed: when every
    /// party has confirmed this version and a mediator has signed, the
    /// agreement takes effect, the written outcome is recorded and the case
    /// settles. Not audited itself; what it leads to is.
    SettleAgreementIfComplete {
        case_id: Uuid,
        version: i32,
        recorded_by: Uuid,
        at: Timestamp,
    },
    MakeAgreementEffective {
        case_id: Uuid,
        at: Timestamp,
    },
    SaveJudicialConfirmation {
        judicial: JudicialConfirmation,
    },
    AddFollowUp {
        follow_up: FollowUp,
    },
    /// A risk flagged (Art 25), with the reports made at once.
    FlagRisk {
        flag: RiskFlag,
        reports: Vec<RiskReport>,
    },
    AddRiskReport {
        case_id: Uuid,
        report: RiskReport,
    },
    /// Only an open flag closes; a closed one is refused as stale.
    CloseRiskFlag {
        case_id: Uuid,
        flag_id: Uuid,
        closed_by: Uuid,
        closed_at: Timestamp,
        note: String,
    },
    CreateConsultation {
        consultation: Consultation,
    },
    /// Nothing but an audit event (a login, an invitation refused, ...).
    Note {
        entry: AuditEntry,
    },
}

impl Change {
    /// What the audit trail says of this change. Never personal data: no ID
    /// numbers, phones or agreement text, only ids, states and hashes.
    pub fn audit_entry(&self) -> Option<AuditEntry> {
        let entry = AuditEntry::new;
        Some(match self {
            Change::SettleAgreementIfComplete { .. } => return None,
            Change::InsertUnit { unit } => entry("unit.create", "unit", unit.id, json!({ "kind": unit.kind })),
            Change::UpdateUnit { unit, action } => entry(action, "unit", unit.id, json!({})),
            Change::InsertAccount { account } => {
                entry("account.create", "account", account.id, json!({ "role": account.role }))
            }
            Change::UpdateAccount { id, action, .. } => entry(action, "account", *id, json!({})),
            Change::CreateCase { case, parties, .. } => entry(
                "case.register",
                "case",
                case.id,
                json!({ "village_id": case.village_id, "category": case.category, "parties": parties.len() }),
            ),
            Change::UpdateCase { case } => entry("case.update", "case", case.id, json!({})),
            Change::UpdateParty { party } => {
                entry("case.party_update", "case", party.case_id, json!({ "party_id": party.id }))
            }
            Change::SetCaseState { case_id, from, to, .. } => {
                entry("case.state", "case", *case_id, json!({ "from": from, "to": to }))
            }
            Change::CreateSession { .. }
            | Change::RescheduleSession { .. }
            | Change::SetSessionState { .. }
            | Change::RevokeInvitation { .. }
            | Change::InviteObserver { .. }
            | Change::OpenInvitation { .. }
            | Change::Join { .. }
            | Change::Leave { .. }
            | Change::RecordConsent { .. }
            | Change::CheckIdentity { .. }
            | Change::SaveTranscript { .. }
            | Change::ConfirmTranscript { .. } => return self.session_entry(),
            Change::RecordOutcome { outcome } => {
                entry("case.outcome", "case", outcome.case_id, json!({ "kind": outcome.kind }))
            }
            Change::SaveAgreement { agreement, voids } => entry(
                "agreement.save",
                "case",
                agreement.case_id,
                json!({ "version": agreement.version, "text_sha256": agreement.text_sha256, "voided_confirmations": voids }),
            ),
            Change::AddConfirmation { confirmation } => entry(
                "agreement.confirm",
                "case",
                confirmation.case_id,
                json!({
                    "signer": confirmation.signer,
                    "party_id": confirmation.party_id,
                    "method": confirmation.method,
                    "text_sha256": confirmation.text_sha256,
                }),
            ),
            Change::MakeAgreementEffective { case_id, .. } => entry("agreement.effective", "case", *case_id, json!({})),
            Change::SaveJudicialConfirmation { judicial } => entry(
                "case.judicial_confirmation",
                "case",
                judicial.case_id,
                json!({ "court": judicial.court, "result": judicial.result }),
            ),
            Change::AddFollowUp { follow_up } => entry(
                "case.follow_up",
                "case",
                follow_up.case_id,
                json!({ "performance": follow_up.performance, "satisfaction": follow_up.satisfaction }),
            ),
            Change::FlagRisk { .. } | Change::AddRiskReport { .. } | Change::CloseRiskFlag { .. } => {
                return self.risk_entry();
            }
            Change::CreateConsultation { consultation } => entry(
                "consultation.record",
                "consultation",
                consultation.id,
                json!({ "village_id": consultation.village_id, "adviser_id": consultation.adviser_id }),
            ),
            Change::Note { entry } => entry.clone(),
        })
    }

    /// The audit entries of risk flags and their reports.
    fn risk_entry(&self) -> Option<AuditEntry> {
        let entry = AuditEntry::new;
        Some(match self {
            Change::FlagRisk { flag, reports } => entry(
                "case.risk_flag",
                "case",
                flag.case_id,
                json!({ "flag_id": flag.id, "risk": flag.risk,
                        "reported_to": reports.iter().map(|report| report.reported_to).collect::<Vec<_>>() }),
            ),
            Change::AddRiskReport { case_id, report } => entry(
                "case.risk_report",
                "case",
                *case_id,
                json!({ "flag_id": report.flag_id, "reported_to": report.reported_to }),
            ),
            Change::CloseRiskFlag { case_id, flag_id, .. } => {
                entry("case.risk_close", "case", *case_id, json!({ "flag_id": flag_id }))
            }
            _ => return None,
        })
    }

    /// The audit entries of sessions, invitations and attendance.
    fn session_entry(&self) -> Option<AuditEntry> {
        let entry = AuditEntry::new;
        Some(match self {
            Change::CreateSession { session, participants, .. } => entry(
                "session.schedule",
                "session",
                session.id,
                json!({
                    "case_id": session.case_id,
                    "mode": session.mode,
                    "planned_start": session.planned_start.to_string(),
                    "participants": participants.len(),
                }),
            ),
            Change::RescheduleSession { reschedule, .. } => entry(
                "session.reschedule",
                "session",
                reschedule.session_id,
                json!({ "from": reschedule.previous_start.to_string(), "to": reschedule.new_start.to_string() }),
            ),
            Change::SetSessionState { session_id, from, to, .. } => {
                entry("session.state", "session", *session_id, json!({ "from": from, "to": to }))
            }
            Change::RevokeInvitation { invitation_id, .. } => {
                entry("invitation.revoke", "invitation", *invitation_id, json!({}))
            }
            Change::InviteObserver { participant, .. } => entry(
                "session.observer_invite",
                "session",
                participant.session_id,
                json!({ "participant_id": participant.id, "relation": participant.relation }),
            ),
            Change::OpenInvitation { invitation_id, .. } => {
                entry("invitation.open", "invitation", *invitation_id, json!({}))
            }
            Change::Join { attendance } => entry(
                "session.join",
                "session",
                attendance.session_id,
                json!({ "participant_id": attendance.participant_id }),
            ),
            Change::Leave { session_id, attendance_id, .. } => {
                entry("session.leave", "session", *session_id, json!({ "attendance_id": attendance_id }))
            }
            Change::RecordConsent { consent } => entry(
                "session.consent",
                "session",
                consent.session_id,
                json!({
                    "party_id": consent.party_id,
                    "decision": consent.decision,
                    "method": consent.method,
                    "publicity": consent.publicity,
                    "notice_version": consent.notice_version,
                }),
            ),
            Change::CheckIdentity { check } => entry(
                "session.identity_check",
                "session",
                check.session_id,
                json!({ "party_id": check.party_id, "method": check.method }),
            ),
            Change::SaveTranscript { transcript } => entry(
                "transcript.save",
                "session",
                transcript.session_id,
                json!({ "version": transcript.version, "text_sha256": transcript.text_sha256 }),
            ),
            Change::ConfirmTranscript { confirmation } => entry(
                "transcript.confirm",
                "session",
                confirmation.session_id,
                json!({
                    "version": confirmation.version,
                    "party_id": confirmation.party_id,
                    "method": confirmation.method,
                    "text_sha256": confirmation.text_sha256,
                }),
            ),
            _ => return None,
        })
    }
}

/// What `apply` hands back: the case number assigned by a `CreateCase`,
/// and whether a written agreement took effect.
#[derive(Debug, Default)]
pub struct Applied {
    pub case_number: Option<String>,
    pub agreement_effective: bool,
}

/// Who did something: a staff account, a party with an invitation, or the
/// system itself.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub account_id: Option<Uuid>,
    pub role: String,
    pub name: String,
    pub client_addr: Option<String>,
}

impl Actor {
    /// The server itself (the shell commands, the demo seed, the recorder's own notes).
    pub fn system() -> Self {
        Actor { account_id: None, role: "system".into(), name: "system".into(), client_addr: None }
    }

    /// A staff member, by their account.
    pub fn staff(account: &Account, client_addr: Option<String>) -> Self {
        Actor {
            account_id: Some(account.id),
            role: account.role.to_string(),
            name: account.display_name.clone(),
            client_addr,
        }
    }

    /// Someone invited by link (a party, an observer), by the name and part on their invitation.
    pub fn invited(participant: &Participant, client_addr: Option<String>) -> Self {
        Actor {
            account_id: None,
            role: participant.kind.to_string(),
            name: participant.display_name.clone(),
            client_addr,
        }
    }
}

/// What an event says happened, before it is numbered and chained.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: String,
    pub object_type: &'static str,
    pub object_id: String,
    pub result: &'static str,
    pub details: Value,
}

impl AuditEntry {
    /// A successful action on an object.
    pub fn new(action: &str, object_type: &'static str, object_id: impl ToString, details: Value) -> Self {
        AuditEntry { action: action.to_owned(), object_type, object_id: object_id.to_string(), result: "ok", details }
    }
}
