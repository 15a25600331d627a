//! The records of a dispute case under the People's Mediation Law: the
//! closed vocabularies (categories, sources, states, outcomes, ...), the
//! case state machine, and the record types the store reads and writes.
//! Nothing here knows HTTP or SQL.

pub mod agreement;
pub mod changes;
pub mod confirm;
pub mod consent;
pub mod error;
pub mod id_number;
pub mod risk;
pub mod stats;
pub mod transcript;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::time::{Timestamp, end_of_local_day, local_date};
use crate::tree::Chain;

crate::text_enum! {
    /// Kinds of dispute, as the mediation statistics of a judicial bureau count them.
    pub enum Category {
        MarriageFamily = "marriage_family",
        Neighbour = "neighbour",
        HousingHomestead = "housing_homestead",
        LandForest = "land_forest",
        Contract = "contract",
        ProductionBusiness = "production_business",
        Damages = "damages",
        Labour = "labour",
        LandAcquisition = "land_acquisition",
        Consumer = "consumer",
        RoadTraffic = "road_traffic",
        PropertyManagement = "property_management",
        Other = "other",
    }
}

crate::text_enum! {
    /// How the dispute came to the office.
    pub enum CaseSource {
        PartyApplication = "party_application",
        OwnInitiative = "own_initiative",
        PoliceReferral = "police_referral",
        CourtReferral = "court_referral",
        GovernmentAssignment = "government_assignment",
        GridReport = "grid_report",
    }
}

crate::text_enum! {
    pub enum CaseState {
        Registered = "registered",
        Scheduled = "scheduled",
        InSession = "in_session",
        AgreedWritten = "agreed_written",
        AgreedOral = "agreed_oral",
        Failed = "failed",
        Referred = "referred",
        Withdrawn = "withdrawn",
        FollowedUp = "followed_up",
        Closed = "closed",
    }
}

impl CaseState {
    /// Before an outcome: mediation may still go on.
    pub fn is_open(self) -> bool {
        matches!(self, CaseState::Registered | CaseState::Scheduled | CaseState::InSession)
    }

    /// An outcome has been recorded and awaits follow-up.
    pub fn is_outcome(self) -> bool {
        matches!(self, CaseState::AgreedWritten | CaseState::AgreedOral | CaseState::Failed | CaseState::Referred)
    }

    /// The transitions the law and the office's practice allow:
    /// registered → scheduled → in_session → an outcome → followed_up → closed;
    /// an outcome may be recorded on the spot before any session; a party may
    /// withdraw before an outcome; a withdrawn case is closed without follow-up.
    pub fn may_become(self, next: CaseState) -> bool {
        use CaseState::*;
        match (self, next) {
            (Registered, Scheduled) | (Scheduled, InSession) | (Registered, InSession) => true,
            (InSession, Scheduled) => true,
            (from, AgreedWritten | AgreedOral | Failed | Referred | Withdrawn) => from.is_open(),
            (from, FollowedUp) => from.is_outcome(),
            (FollowedUp | Withdrawn, Closed) => true,
            _ => false,
        }
    }
}

crate::text_enum! {
    pub enum PartySide {
        Applicant = "applicant",
        Respondent = "respondent",
        ThirdParty = "third_party",
    }
}

crate::text_enum! {
    pub enum SessionMode {
        Video = "video",
        InPerson = "in_person",
        Phone = "phone",
    }
}

crate::text_enum! {
    pub enum SessionState {
        Planned = "planned",
        Live = "live",
        Ended = "ended",
        Cancelled = "cancelled",
    }
}

crate::text_enum! {
    /// Who a session participant is.
    pub enum ParticipantKind {
        Mediator = "mediator",
        Station = "station",
        Adviser = "adviser",
        /// A party joining from their own device with an invitation link.
        Party = "party",
        /// Someone a mediator invites by link (People's Mediation Law Art 20):
        /// a relative, a neighbour, a village elder, an interpreter.
        Observer = "observer",
    }
}

crate::text_enum! {
    pub enum OutcomeKind {
        Written = "written",
        Oral = "oral",
        Failed = "failed",
        Referred = "referred",
        Withdrawn = "withdrawn",
    }
}

crate::text_enum! {
    /// The outcomes recorded directly (`POST /cases/{id}/outcome`): a
    /// written agreement takes effect through its confirmations, and a
    /// withdrawal has its own action.
    pub enum RecordedOutcome {
        Oral = "oral",
        Failed = "failed",
        Referred = "referred",
    }
}

impl From<RecordedOutcome> for OutcomeKind {
    fn from(kind: RecordedOutcome) -> Self {
        match kind {
            RecordedOutcome::Oral => OutcomeKind::Oral,
            RecordedOutcome::Failed => OutcomeKind::Failed,
            RecordedOutcome::Referred => OutcomeKind::Referred,
        }
    }
}

impl OutcomeKind {
    pub fn case_state(self) -> CaseState {
        match self {
            OutcomeKind::Written => CaseState::AgreedWritten,
            OutcomeKind::Oral => CaseState::AgreedOral,
            OutcomeKind::Failed => CaseState::Failed,
            OutcomeKind::Referred => CaseState::Referred,
            OutcomeKind::Withdrawn => CaseState::Withdrawn,
        }
    }
}

crate::text_enum! {
    /// How an oral agreement was reached (or a consultation given).
    pub enum Channel {
        InPerson = "in_person",
        Phone = "phone",
        Video = "video",
    }
}

crate::text_enum! {
    /// The other routes a mediator tells the parties of when mediation fails.
    pub enum Route {
        Arbitration = "arbitration",
        Administrative = "administrative",
        Court = "court",
    }
}

crate::text_enum! {
    pub enum AgreementState {
        Draft = "draft",
        Signing = "signing",
        Effective = "effective",
    }
}

crate::text_enum! {
    pub enum Signer {
        Party = "party",
        Mediator = "mediator",
    }
}

crate::text_enum! {
    /// How a confirmation or signature was given.
    pub enum ConfirmMethod {
        VideoRoom = "video_room",
        VillageStation = "village_station",
        PaperScan = "paper_scan",
    }
}

crate::text_enum! {
    pub enum JudicialResult {
        Pending = "pending",
        Confirmed = "confirmed",
        Rejected = "rejected",
    }
}

crate::text_enum! {
    pub enum Performance {
        Fully = "fully",
        Partially = "partially",
        NotYet = "not_yet",
        Refused = "refused",
        NotApplicable = "not_applicable",
    }
}

crate::text_enum! {
    pub enum Satisfaction {
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
    }
}

/// The changes that move a session to `to`: going live also puts its case
/// in session. Refuses moves the session's state does not allow.
pub fn session_transition(
    session: &Session,
    case_state: CaseState,
    to: SessionState,
    at: Timestamp,
    reason: Option<String>,
) -> Result<Vec<changes::Change>, error::RuleError> {
    use changes::Change;
    let allowed = matches!(
        (session.state, to),
        (SessionState::Planned, SessionState::Live | SessionState::Cancelled)
            | (SessionState::Live, SessionState::Ended)
    );
    if !allowed {
        return Err(error::RuleError::InvalidState(format!("the session is {} and cannot become {to}", session.state)));
    }
    let mut changes = vec![Change::SetSessionState { session_id: session.id, from: session.state, to, at, reason }];
    if to == SessionState::Live && case_state != CaseState::InSession && case_state.may_become(CaseState::InSession) {
        changes.push(Change::SetCaseState { case_id: session.case_id, from: case_state, to: CaseState::InSession, at });
    }
    Ok(changes)
}

/// The human case number, e.g. `(2026)下洼调字第12号`.
pub fn case_number(year: i32, prefix: &str, number: i32) -> String {
    format!("({year}){prefix}调字第{number}号")
}

/// Money kept in fen (0.01 yuan), shown as a yuan decimal string.
pub fn serialize_yuan<S: Serializer>(fen: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match fen {
        Some(fen) => serializer.serialize_str(&format!("{}.{:02}", fen / 100, fen % 100)),
        None => serializer.serialize_none(),
    }
}

/// Parses "1200", "1200.5" or "1200.50" yuan into fen.
pub fn parse_yuan(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 2 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

/// A registered dispute.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Case {
    pub id: Uuid,
    pub case_number: String,
    pub district_id: Uuid,
    pub town_id: Uuid,
    pub village_id: Uuid,
    pub village_name: String,
    pub office_name: String,
    pub year: i32,
    pub number: i32,
    pub category: Category,
    pub source: CaseSource,
    pub summary: String,
    #[serde(rename = "amount_yuan", serialize_with = "serialize_yuan")]
    #[schema(value_type = Option<String>, example = "1200.50")]
    pub amount_fen: Option<i64>,
    pub public_session: bool,
    pub state: CaseState,
    pub registered_by: Uuid,
    pub registered_at: Timestamp,
    pub updated_at: Timestamp,
    pub outcome_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

impl Case {
    pub fn chain(&self) -> Chain {
        Chain { district_id: Some(self.district_id), town_id: Some(self.town_id), village_id: Some(self.village_id) }
    }
}

/// A side of the dispute. The ID number is kept sealed; `id_number` is
/// filled in only for the case's own mediators.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Party {
    pub id: Uuid,
    pub case_id: Uuid,
    pub position: i32,
    pub side: PartySide,
    pub name: String,
    pub phone: Option<String>,
    #[serde(skip)]
    pub id_number_sealed: Option<Vec<u8>>,
    pub id_number_masked: Option<String>,
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Session {
    pub id: Uuid,
    pub case_id: Uuid,
    pub planned_start: Timestamp,
    pub planned_minutes: i32,
    pub mode: SessionMode,
    pub state: SessionState,
    pub actual_start: Option<Timestamp>,
    pub actual_end: Option<Timestamp>,
    pub cancel_reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Participant {
    pub id: Uuid,
    pub session_id: Uuid,
    pub kind: ParticipantKind,
    pub account_id: Option<Uuid>,
    pub party_id: Option<Uuid>,
    pub display_name: String,
    /// An observer's relation to the dispute (亲属, 村老, 翻译, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Reschedule {
    pub id: Uuid,
    pub session_id: Uuid,
    pub previous_start: Timestamp,
    pub previous_minutes: i32,
    pub new_start: Timestamp,
    pub new_minutes: i32,
    pub reason: Option<String>,
    pub changed_by: Uuid,
    pub changed_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub session_id: Uuid,
    pub participant_id: Uuid,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub first_opened_at: Option<Timestamp>,
}

impl Invitation {
    /// The window in which an invitation opens: from 30 minutes before the
    /// planned start to the end of the session's (local) day.
    pub fn window(planned_start: Timestamp) -> (Timestamp, Timestamp) {
        let from = Timestamp::from(planned_start.as_datetime() - chrono::Duration::minutes(30));
        (from, end_of_local_day(local_date(planned_start)))
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attendance {
    pub id: Uuid,
    pub session_id: Uuid,
    pub participant_id: Uuid,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Outcome {
    pub case_id: Uuid,
    pub kind: OutcomeKind,
    pub reached_via: Option<Channel>,
    pub terms: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = Option<Vec<Route>>)]
    pub routes_told: Option<sqlx::types::Json<Vec<Route>>>,
    pub referred_to: Option<String>,
    pub reference_number: Option<String>,
    pub effective_at: Timestamp,
    pub recorded_by: Uuid,
    pub recorded_at: Timestamp,
}

impl Outcome {
    /// An outcome of `kind` recorded now by `by`, effective now; the
    /// kind-specific fields are filled in by the caller.
    pub fn new(case_id: Uuid, kind: OutcomeKind, by: Uuid, at: Timestamp) -> Self {
        Outcome {
            case_id,
            kind,
            reached_via: None,
            terms: None,
            reason: None,
            routes_told: None,
            referred_to: None,
            reference_number: None,
            effective_at: at,
            recorded_by: by,
            recorded_at: at,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Agreement {
    pub case_id: Uuid,
    pub state: AgreementState,
    pub version: i32,
    pub facts: String,
    pub responsibilities: String,
    pub terms: String,
    pub performance_manner: String,
    pub performance_deadline: NaiveDate,
    pub text_sha256: String,
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub effective_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Confirmation {
    pub id: Uuid,
    pub case_id: Uuid,
    pub version: i32,
    pub signer: Signer,
    pub party_id: Option<Uuid>,
    pub signer_account_id: Option<Uuid>,
    pub method: ConfirmMethod,
    pub text_sha256: String,
    pub confirmed_at: Timestamp,
    pub recorded_by: Option<Uuid>,
    pub voided_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JudicialConfirmation {
    pub case_id: Uuid,
    pub applied_on: NaiveDate,
    pub court: String,
    pub result: JudicialResult,
    pub result_on: Option<NaiveDate>,
    pub recorded_by: Uuid,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FollowUp {
    pub id: Uuid,
    pub case_id: Uuid,
    pub visited_on: NaiveDate,
    pub visited_by: String,
    pub performance: Performance,
    pub satisfaction: Satisfaction,
    pub remaining_risk: Option<String>,
    pub next_step: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Consultation {
    pub id: Uuid,
    pub district_id: Uuid,
    pub town_id: Uuid,
    pub village_id: Uuid,
    pub topic: Category,
    pub question: String,
    pub answer_summary: String,
    pub adviser_id: Uuid,
    pub minutes_taken: i32,
    pub via: Channel,
    pub case_id: Option<Uuid>,
    pub asked_at: Timestamp,
    pub recorded_by: Uuid,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_follows_the_law() {
        use CaseState::*;
        assert!(Registered.may_become(Scheduled));
        assert!(Registered.may_become(AgreedOral), "settled on the spot");
        assert!(InSession.may_become(Withdrawn));
        assert!(!AgreedOral.may_become(Withdrawn), "no withdrawal after an outcome");
        assert!(AgreedWritten.may_become(FollowedUp));
        assert!(!AgreedWritten.may_become(Closed), "follow-up comes first");
        assert!(Withdrawn.may_become(Closed));
        assert!(!Closed.may_become(Registered));
        assert!(!Failed.may_become(AgreedOral));
    }

    #[test]
    fn yuan_parses_exactly() {
        assert_eq!(parse_yuan("1200"), Some(120_000));
        assert_eq!(parse_yuan("1200.5"), Some(120_050));
        assert_eq!(parse_yuan("0.07"), Some(7));
        assert_eq!(parse_yuan("1.234"), None);
        assert_eq!(parse_yuan("-5"), None);
        assert_eq!(parse_yuan("abc"), None);
    }

    #[test]
    fn invitation_window_ends_with_the_local_day() {
        // 2026-03-01 23:30 in China is 15:30 UTC.
        let start = Timestamp::from(chrono::DateTime::parse_from_rfc3339("2026-03-01T15:30:00Z").unwrap().to_utc());
        let (from, until) = Invitation::window(start);
        assert_eq!(from.to_string(), "2026-03-01T15:00:00.000Z");
        assert_eq!(until.to_string(), "2026-03-01T16:00:00.000Z", "midnight in China");
    }
}
