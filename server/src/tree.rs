//! The organisation: the three tiers of units (district, town, village),
//! the roles, and the accounts that belong to them. Plain data and the
//! questions it answers about itself; the scope rules are in `access.rs`.

use serde::Serialize;
use uuid::Uuid;

use crate::time::Timestamp;

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
    /// A new active unit of `kind` named `name` under `parent` (none for a
    /// district), with its chain columns filled in from the parent.
    pub fn new(kind: UnitKind, name: impl Into<String>, parent: Option<&Unit>) -> Unit {
        let id = Uuid::new_v4();
        let now = Timestamp::now();
        let district_id = parent.map_or(id, |parent| parent.district_id);
        let town_id = match kind {
            UnitKind::District => None,
            UnitKind::Town => Some(id),
            UnitKind::Village => parent.and_then(|parent| parent.town_id),
        };
        Unit {
            id,
            kind,
            name: name.into(),
            district_id,
            town_id,
            office_name: None,
            case_prefix: None,
            station_name: None,
            active: true,
            created_at: now,
            updated_at: now,
        }
    }

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
