//! The risk flag (People's Mediation Law Art 25): a dispute likely to turn
//! violent (激化), into a public-order case (治安案件) or a crime (刑事案件)
//! is flagged by its mediator, with whom it was reported to and when. A flag
//! stays open until the mediator closes it with a note; nothing deletes one.
//! The district lists the open flags of its towns.

use serde::Serialize;
use uuid::Uuid;

use crate::time::Timestamp;

crate::text_enum! {
    /// What the dispute may turn into.
    pub enum RiskKind {
        /// It may escalate (民间纠纷有可能激化): preventive steps are taken.
        Escalation = "escalation",
        /// It may become a public-order case (治安案件).
        PublicOrder = "public_order",
        /// It may become a criminal case (刑事案件).
        Criminal = "criminal",
    }
}

crate::text_enum! {
    /// Whom a risk was reported to.
    pub enum ReportedTo {
        /// The local public security organ (派出所 / 公安机关).
        PublicSecurity = "public_security",
        /// The township justice office (司法所).
        JusticeOffice = "justice_office",
        /// The comprehensive governance centre (综治中心).
        GovernanceCentre = "governance_centre",
        Other = "other",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RiskFlag {
    pub id: Uuid,
    pub case_id: Uuid,
    pub risk: RiskKind,
    pub description: String,
    pub flagged_by: Uuid,
    pub flagged_at: Timestamp,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<Timestamp>,
    pub closing_note: Option<String>,
}

impl RiskFlag {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// One report of a flagged risk to an authority.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RiskReport {
    pub id: Uuid,
    pub flag_id: Uuid,
    pub reported_to: ReportedTo,
    pub reported_at: Timestamp,
    /// Who took it, a reference number, what was agreed.
    pub detail: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: Timestamp,
}

/// A flag with its reports, as the case file and the lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RiskFlagView {
    #[serde(flatten)]
    pub flag: RiskFlag,
    pub reports: Vec<RiskReport>,
}

impl RiskFlagView {
    /// Puts each report under its flag, keeping both orders.
    pub fn assemble(flags: Vec<RiskFlag>, reports: Vec<RiskReport>) -> Vec<RiskFlagView> {
        flags
            .into_iter()
            .map(|flag| {
                let reports = reports.iter().filter(|report| report.flag_id == flag.id).cloned().collect();
                RiskFlagView { flag, reports }
            })
            .collect()
    }
}
