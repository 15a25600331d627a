//! What the reads take and give beyond the records themselves: the filters
//! of each listing and the joined rows some listings return.

use uuid::Uuid;

use crate::cases::risk::RiskFlag;
use crate::cases::{CaseState, Category, Session, SessionState};
use crate::time::Timestamp;
use crate::tree::{Chain, Role, UnitKind};

/// Which units to list: of one kind, inside `within`, optionally only active.
#[derive(Debug, Clone, Copy)]
pub struct UnitFilter {
    pub kind: UnitKind,
    pub within: Chain,
    pub active: Option<bool>,
}

/// Which accounts to list.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub within: Chain,
    /// Only this account (an adviser sees only themself).
    pub only_id: Option<Uuid>,
    /// Include accounts without a unit (system administrators).
    pub include_unitless: bool,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Which cases to list. A case is visible when it lies `within` the caller's
/// reach, or when `participant` takes part in one of its sessions.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub within: Option<Chain>,
    pub participant: Option<Uuid>,
    pub state: Option<CaseState>,
    pub village_id: Option<Uuid>,
    pub category: Option<Category>,
    /// Matches the case number or the summary.
    pub text: Option<String>,
    pub registered_from: Option<Timestamp>,
    pub registered_to: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Which sessions to list: visible cases as in `CaseFilter`, planned from/to.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub within: Option<Chain>,
    pub participant: Option<Uuid>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub state: Option<SessionState>,
}

/// A session with what a list shows of its case.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionListing {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub session: Session,
    pub case_number: String,
    pub village_id: Uuid,
    pub village_name: String,
    pub category: Category,
}

/// Which consultations to list or count.
#[derive(Debug, Clone, Default)]
pub struct ConsultationFilter {
    pub within: Option<Chain>,
    pub adviser_id: Option<Uuid>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// Which risk flags to list: of cases `within` the caller's reach, open or
/// closed or both, of one town or village.
#[derive(Debug, Clone, Default)]
pub struct RiskFlagFilter {
    pub within: Chain,
    pub open: Option<bool>,
    pub town_id: Option<Uuid>,
    pub village_id: Option<Uuid>,
}

/// A risk flag with what a list shows of its case.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RiskFlagListing {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub flag: RiskFlag,
    pub case_number: String,
    pub town_id: Uuid,
    pub town_name: String,
    pub village_id: Uuid,
    pub village_name: String,
}
