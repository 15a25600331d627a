//! Storage: the records of units, accounts and (later) cases, behind one
//! `Store` trait with a PostgreSQL and an SQLite implementation.
//!
//! The backend is chosen from the database URL's scheme. Both run the same
//! SQL text (see `sql.rs`); the schema of each lives in
//! `server/migrations/{postgres,sqlite}`. This module knows nothing of HTTP.

pub mod audit;
pub mod changes;
pub mod postgres;
mod sql;
mod sql_cases;
pub mod sqlite;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

pub use types::Timestamp;

crate::text_enum! {
    /// What an account may do; each account has exactly one.
    pub enum Role {
        Admin = "admin",
        DistrictAdmin = "district_admin",
        Mediator = "mediator",
        Station = "station",
        Adviser = "adviser",
    }
}

impl Role {
    /// The kind of unit an account of this role belongs to; `None` for the
    /// system administrator, who belongs to none.
    pub fn home_kind(self) -> Option<UnitKind> {
        match self {
            Role::Admin => None,
            Role::DistrictAdmin | Role::Adviser => Some(UnitKind::District),
            Role::Mediator => Some(UnitKind::Town),
            Role::Station => Some(UnitKind::Village),
        }
    }
}

crate::text_enum! {
    /// The three tiers of the administrative tree.
    pub enum UnitKind {
        District = "district",
        Town = "town",
        Village = "village",
    }
}

impl UnitKind {
    /// The kind a unit of this kind hangs under.
    pub fn parent_kind(self) -> Option<UnitKind> {
        match self {
            UnitKind::District => None,
            UnitKind::Town => Some(UnitKind::District),
            UnitKind::Village => Some(UnitKind::Town),
        }
    }
}

/// Where something sits in the tree: its district, town and village.
/// A missing part means "any" when used as a filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Chain {
    pub district_id: Option<Uuid>,
    pub town_id: Option<Uuid>,
    pub village_id: Option<Uuid>,
}

impl Chain {
    /// Keeps only the parts at or above `kind`'s level.
    pub fn truncated_to(self, kind: UnitKind) -> Chain {
        match kind {
            UnitKind::District => Chain { town_id: None, village_id: None, ..self },
            UnitKind::Town => Chain { village_id: None, ..self },
            UnitKind::Village => self,
        }
    }

    /// True when every part set in `self` equals the same part of `other`.
    pub fn contains(&self, other: &Chain) -> bool {
        fn part(mine: Option<Uuid>, theirs: Option<Uuid>) -> bool {
            mine.is_none() || mine == theirs
        }
        part(self.district_id, other.district_id)
            && part(self.town_id, other.town_id)
            && part(self.village_id, other.village_id)
    }
}

/// A district, town or village.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Unit {
    pub id: Uuid,
    pub kind: UnitKind,
    pub name: String,
    /// The district it is in (its own id for a district).
    pub district_id: Uuid,
    /// The town it is in (its own id for a town, none for a district).
    pub town_id: Option<Uuid>,
    /// Towns: the name of the mediation office, e.g. 枣乡情调解室.
    pub office_name: Option<String>,
    /// Towns: the short name used in case numbers, e.g. 下洼.
    pub case_prefix: Option<String>,
    /// Villages: the name of the talk-it-out room; none when there is no station.
    pub station_name: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Unit {
    pub fn parent_id(&self) -> Option<Uuid> {
        match self.kind {
            UnitKind::District => None,
            UnitKind::Town => Some(self.district_id),
            UnitKind::Village => self.town_id,
        }
    }

    pub fn chain(&self) -> Chain {
        Chain {
            district_id: Some(self.district_id),
            town_id: self.town_id,
            village_id: (self.kind == UnitKind::Village).then_some(self.id),
        }
    }
}

/// A login, with where it belongs. The password hash is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: Option<Uuid>,
    pub unit_name: Option<String>,
    pub district_id: Option<Uuid>,
    pub town_id: Option<Uuid>,
    pub village_id: Option<Uuid>,
    pub phone: Option<String>,
    pub active: bool,
    /// False when the account's home unit, or its town or district, has
    /// been deactivated.
    pub unit_active: bool,
    #[serde(skip)]
    pub token_version: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Account {
    pub fn chain(&self) -> Chain {
        Chain { district_id: self.district_id, town_id: self.town_id, village_id: self.village_id }
    }

    /// An account may act only while it and its home unit are active.
    pub fn may_sign_in(&self) -> bool {
        self.active && self.unit_active
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: Option<Uuid>,
    pub phone: Option<String>,
    pub password_hash: String,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub display_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub active: Option<bool>,
    /// A new argon2id hash; setting it signs the account out everywhere.
    pub password_hash: Option<String>,
}

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

/// A batch of units and accounts written in one transaction (the demo town,
/// test fixtures).
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub units: Vec<Unit>,
    pub accounts: Vec<NewAccount>,
}

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
        }
        if matches!(error, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Database(error)
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
    async fn apply(&self, actor: &audit::Actor, changes: &[changes::Change]) -> StoreResult<changes::Applied>;

    async fn case(&self, id: Uuid) -> StoreResult<Option<crate::cases::Case>>;
    async fn cases(&self, filter: &changes::CaseFilter) -> StoreResult<Vec<crate::cases::Case>>;
    async fn is_case_participant(&self, case_id: Uuid, account_id: Uuid) -> StoreResult<bool>;
    async fn parties(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::Party>>;
    async fn session(&self, id: Uuid) -> StoreResult<Option<crate::cases::Session>>;
    async fn sessions_of_case(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::Session>>;
    async fn sessions(&self, filter: &changes::SessionFilter) -> StoreResult<Vec<changes::SessionListing>>;
    async fn participants(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::Participant>>;
    async fn reschedules(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::Reschedule>>;
    async fn invitations(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::Invitation>>;
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<crate::cases::Invitation>>;
    async fn attendance(&self, session_id: Uuid) -> StoreResult<Vec<crate::cases::Attendance>>;
    async fn outcome(&self, case_id: Uuid) -> StoreResult<Option<crate::cases::Outcome>>;
    async fn agreement(&self, case_id: Uuid) -> StoreResult<Option<crate::cases::Agreement>>;
    async fn confirmations(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::Confirmation>>;
    async fn judicial_confirmation(&self, case_id: Uuid) -> StoreResult<Option<crate::cases::JudicialConfirmation>>;
    async fn follow_ups(&self, case_id: Uuid) -> StoreResult<Vec<crate::cases::FollowUp>>;
    async fn consultations(&self, filter: &changes::ConsultationFilter)
    -> StoreResult<Vec<crate::cases::Consultation>>;
    async fn stats_rows(&self, filter: &changes::CaseFilter) -> StoreResult<Vec<changes::StatsRow>>;
    /// Audit events after `after_seq`, in order, at most `limit`.
    async fn audit_events(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<audit::AuditEvent>>;
}

/// Everything the service keeps. Implemented once per database.
#[async_trait]
pub trait Store: CaseStore {
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    /// True when there are no units and no accounts yet.
    async fn is_empty(&self) -> StoreResult<bool>;

    /// Writes all units (parents first) and accounts, or none of them.
    async fn seed(&self, seed: &Seed) -> StoreResult<()>;

    async fn insert_unit(&self, unit: &Unit) -> StoreResult<()>;
    async fn unit(&self, id: Uuid) -> StoreResult<Option<Unit>>;
    async fn units(&self, filter: &UnitFilter) -> StoreResult<Vec<Unit>>;
    /// Writes the mutable fields (name, office, prefix, station, active).
    async fn update_unit(&self, unit: &Unit) -> StoreResult<()>;

    async fn insert_account(&self, account: &NewAccount) -> StoreResult<Account>;
    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>>;
    /// The account and its password hash, for signing in.
    async fn account_for_login(&self, username: &str) -> StoreResult<Option<(Account, String)>>;
    async fn accounts(&self, filter: &AccountFilter) -> StoreResult<Vec<Account>>;
    /// Applies the changes; deactivation and a new password bump the token
    /// version, which revokes every token issued before.
    async fn update_account(&self, id: Uuid, changes: &AccountChanges) -> StoreResult<Account>;
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
