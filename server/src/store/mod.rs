//! Storage: the records of units, accounts and cases, behind one `Store`
//! trait with a PostgreSQL and an SQLite implementation. Every write is a
//! list of `Change`s applied in one transaction with its audit events;
//! reads are one method per record kind.
//!
//! The backend is chosen from the database URL's scheme. Both run the same
//! SQL text (see `sql.rs`); the schema of each lives in
//! `server/migrations/{postgres,sqlite}`. This module knows nothing of HTTP
//! and owns no domain types: it stores those of `tree` and `cases`.

pub mod audit;
pub mod backup;
pub mod filters;
pub mod inspect;
pub mod postgres;
mod sql;
mod sql_agreements;
mod sql_cases;
mod sql_hearing;
mod sql_reads;
mod sql_risks;
mod sql_sessions;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use self::filters::{AccountFilter, CaseFilter, ConsultationFilter, SessionFilter, SessionListing, UnitFilter};
use crate::cases::changes::{Actor, Applied, Change};
use crate::cases::error::RuleError;
use crate::cases::stats::StatsRow;
use crate::cases::{
    Agreement, Attendance, Case, Confirmation, Consultation, FollowUp, Invitation, JudicialConfirmation, Outcome,
    Participant, Party, Reschedule, Session,
};
use crate::tree::{Account, Unit};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (a username, a unit name under the same parent).
    #[error("a record with the same key already exists")]
    Conflict,
    /// A foreign key or check constraint refused the write.
    #[error("the write breaks a rule of the schema: {0}")]
    Constraint(String),
    #[error("record not found")]
    NotFound,
    /// A guarded update found the record no longer in the state expected.
    #[error("{0} was changed meanwhile")]
    Stale(String),
    /// The database cannot be reached (connection refused or lost, no
    /// connection free in time): nothing was read or written; retry later.
    #[error("the database cannot be reached: {0}")]
    Unavailable(sqlx::Error),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        if let Some(db) = error.as_database_error() {
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::Conflict,
                ErrorKind::ForeignKeyViolation | ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    return StoreError::Constraint(db.message().to_owned());
                }
                _ => {}
            }
            // PostgreSQL shutting down or restarting (57P01-57P03), or a
            // connection exception (class 08): the database is away.
            if db.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08")) {
                return StoreError::Unavailable(error);
            }
        }
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(error)
            }
            error => StoreError::Database(error),
        }
    }
}

impl StoreError {
    /// A second live confirmation by the same signer is refused by the
    /// schema's unique index: that is the domain's conflict; anything else
    /// stays a store error.
    pub fn as_second_confirmation(self) -> Result<RuleError, StoreError> {
        match self {
            StoreError::Conflict => {
                Ok(RuleError::Conflict("this signer has already confirmed the current text".into()))
            }
            other => Err(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The case records: writes go through `apply` (one transaction, audited);
/// reads are one method per record kind.
#[async_trait]
pub trait CaseStore: Send + Sync + 'static {
    /// Applies the changes in one transaction, appending an audit event for
    /// each; on any error nothing is written.
    async fn apply(&self, actor: &Actor, changes: &[Change]) -> StoreResult<Applied>;

    /// Like `apply`, for what happened at `occurred_at` and is written only
    /// now (the room recorder): the audit events keep both times.
    async fn apply_recorded(
        &self,
        actor: &Actor,
        changes: &[Change],
        occurred_at: crate::time::Timestamp,
    ) -> StoreResult<Applied>;

    async fn case(&self, id: Uuid) -> StoreResult<Option<Case>>;
    async fn cases(&self, filter: &CaseFilter) -> StoreResult<Vec<Case>>;
    async fn is_case_participant(&self, case_id: Uuid, account_id: Uuid) -> StoreResult<bool>;
    async fn parties(&self, case_id: Uuid) -> StoreResult<Vec<Party>>;
    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>>;
    async fn sessions_of_case(&self, case_id: Uuid) -> StoreResult<Vec<Session>>;
    async fn sessions(&self, filter: &SessionFilter) -> StoreResult<Vec<SessionListing>>;
    async fn participants(&self, session_id: Uuid) -> StoreResult<Vec<Participant>>;
    async fn reschedules(&self, session_id: Uuid) -> StoreResult<Vec<Reschedule>>;
    async fn invitations(&self, session_id: Uuid) -> StoreResult<Vec<Invitation>>;
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<Invitation>>;
    async fn attendance(&self, session_id: Uuid) -> StoreResult<Vec<Attendance>>;
    async fn outcome(&self, case_id: Uuid) -> StoreResult<Option<Outcome>>;
    async fn agreement(&self, case_id: Uuid) -> StoreResult<Option<Agreement>>;
    async fn confirmations(&self, case_id: Uuid) -> StoreResult<Vec<Confirmation>>;
    async fn judicial_confirmation(&self, case_id: Uuid) -> StoreResult<Option<JudicialConfirmation>>;
    async fn follow_ups(&self, case_id: Uuid) -> StoreResult<Vec<FollowUp>>;
    async fn risk_flags(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::risk::RiskFlag>>;
    async fn risk_flag(&self, id: Uuid) -> StoreResult<Option<crate::cases::risk::RiskFlag>>;
    /// The reports of every flag of the case, oldest first.
    async fn risk_reports(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::risk::RiskReport>>;
    /// Flags of cases in the filter's reach, newest first.
    async fn risk_flag_listing(&self, filter: &filters::RiskFlagFilter) -> StoreResult<Vec<filters::RiskFlagListing>>;
    /// A session's consent decisions, oldest first.
    async fn consents(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::consent::Consent>>;
    /// A session's identity checks, oldest first.
    async fn identity_checks(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::consent::IdentityCheck>>;
    async fn transcript(&self, session_id: Uuid) -> StoreResult<Option<crate::cases::transcript::Transcript>>;
    /// Every confirmation of the session's transcript, voided ones included, oldest first.
    async fn transcript_confirmations(
        &self,
        session_id: Uuid,
    ) -> StoreResult<Vec<crate::cases::transcript::TranscriptConfirmation>>;
    async fn consultations(&self, filter: &ConsultationFilter) -> StoreResult<Vec<Consultation>>;
    async fn stats_rows(&self, filter: &CaseFilter) -> StoreResult<Vec<StatsRow>>;
    /// Audit events after `after_seq`, in order, at most `limit`.
    async fn audit_events(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<audit::AuditEvent>>;
}

/// Everything the service keeps. Implemented once per database. Units and
/// accounts are written through `apply` like everything else.
#[async_trait]
pub trait Store: CaseStore {
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    /// True when there are no units and no accounts yet.
    async fn is_empty(&self) -> StoreResult<bool>;

    /// Every row of every table, read in one transaction, and the schema
    /// version (the newest migration) they belong to.
    async fn dump(&self) -> StoreResult<(i64, Vec<backup::TableRows>)>;

    /// Writes a dump into this database in one transaction. The caller
    /// checks first that the database holds no records.
    async fn load(&self, tables: &[backup::TableRows]) -> StoreResult<()>;

    async fn unit(&self, id: Uuid) -> StoreResult<Option<Unit>>;
    async fn units(&self, filter: &UnitFilter) -> StoreResult<Vec<Unit>>;
    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>>;
    /// The account and its password hash, for signing in.
    async fn account_for_login(&self, username: &str) -> StoreResult<Option<(Account, String)>>;
    async fn accounts(&self, filter: &AccountFilter) -> StoreResult<Vec<Account>>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the database named by `url` (postgres:// or sqlite://), creating an
/// SQLite file when missing, and applies the migrations.
pub async fn connect(url: &str) -> anyhow::Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        anyhow::bail!("unsupported database URL scheme; use postgres:// or sqlite://")
    }
}
