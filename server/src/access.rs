//! Who may see and change what. Every rule about scope lives here, so the
//! handlers ask one question ("may this caller ...?") and the answers can be
//! read, and tested, in one place.
//!
//! The tree is district > town > village. A caller's *reach* is the part of
//! the tree under their home unit: everything for the system administrator,
//! the district for district administrators and advisers, the town for
//! mediators, the village for a station.

use uuid::Uuid;

use crate::cases::Case;
use crate::store::filters::AccountFilter;
use crate::tree::{Account, Chain, Role, Unit, UnitKind};

#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
    pub home: Chain,
}

impl From<&Account> for Caller {
    fn from(account: &Account) -> Self {
        Caller { id: account.id, role: account.role, home: account.chain() }
    }
}

impl Caller {
    /// The part of the tree the caller's authority covers.
    pub fn reach(&self) -> Chain {
        self.home
    }

    /// A unit is visible when it lies in the caller's reach, or is one of the
    /// caller's own ancestors (a station may read its town and district).
    pub fn can_view_unit(&self, unit: &Unit) -> bool {
        self.reach().contains(&unit.chain()) || self.home.truncated_to(unit.kind) == unit.chain()
    }

    /// The filter that lists exactly the units of `kind` visible to the caller.
    pub fn visible_units(&self, kind: UnitKind) -> Chain {
        self.reach().truncated_to(kind)
    }

    /// Whether the caller may create or change a unit of `kind` placed at
    /// `chain` (the unit's own chain, or its parent's for a new unit).
    pub fn can_manage_unit(&self, kind: UnitKind, chain: &Chain) -> bool {
        match self.role {
            Role::Admin => true,
            Role::DistrictAdmin => kind != UnitKind::District && self.reach().contains(chain),
            Role::Mediator => kind == UnitKind::Village && self.reach().contains(chain),
            Role::Station | Role::Adviser => false,
        }
    }

    pub fn can_view_account(&self, account: &Account) -> bool {
        if account.id == self.id || self.role == Role::Admin {
            return true;
        }
        match self.role {
            Role::Adviser => false,
            _ => account.unit_id.is_some() && self.reach().contains(&account.chain()),
        }
    }

    /// The filter that lists exactly the accounts of `role` (any role when
    /// `None`) visible to the caller. A mediator also sees the advisers of
    /// the district, whom they invite to sessions.
    pub fn visible_accounts(&self, role: Option<Role>) -> AccountFilter {
        let filter = match (self.role, role) {
            (Role::Admin, _) => AccountFilter { include_unitless: true, ..AccountFilter::default() },
            (Role::Adviser, _) => AccountFilter { only_id: Some(self.id), ..AccountFilter::default() },
            (Role::Mediator, Some(Role::Adviser)) => {
                AccountFilter { within: self.reach().truncated_to(UnitKind::District), ..AccountFilter::default() }
            }
            _ => AccountFilter { within: self.reach(), ..AccountFilter::default() },
        };
        AccountFilter { role, ..filter }
    }

    /// Whether the caller may create, change, deactivate or reset the password
    /// of an account with `role` whose home is at `chain`.
    pub fn can_manage_account(&self, role: Role, chain: &Chain) -> bool {
        match self.role {
            Role::Admin => true,
            Role::DistrictAdmin => {
                matches!(role, Role::Mediator | Role::Station | Role::Adviser) && self.reach().contains(chain)
            }
            Role::Mediator => role == Role::Station && self.reach().contains(chain),
            Role::Station | Role::Adviser => false,
        }
    }
}

/// What a caller may do with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaseAccess {
    None,
    /// See it (a station of its village or on its session, an adviser on its session).
    Read,
    /// Register, schedule, record outcomes (its town's mediators, its
    /// district's administrators, the system administrator).
    Manage,
}

impl Caller {
    /// The part of the tree whose cases the caller sees by place; advisers
    /// see cases only through the sessions they are on.
    pub fn case_reach(&self) -> Option<Chain> {
        (self.role != Role::Adviser).then(|| self.reach())
    }

    pub fn case_access(&self, case: &Case, on_a_session: bool) -> CaseAccess {
        let in_reach = self.reach().contains(&case.chain());
        match self.role {
            Role::Admin => CaseAccess::Manage,
            Role::DistrictAdmin | Role::Mediator if in_reach => CaseAccess::Manage,
            Role::Station if in_reach || on_a_session => CaseAccess::Read,
            Role::Adviser if on_a_session => CaseAccess::Read,
            _ => CaseAccess::None,
        }
    }

    /// The case's own mediators (the town office) see full ID numbers.
    pub fn is_case_mediator(&self, case: &Case) -> bool {
        self.role == Role::Mediator && self.home.town_id == Some(case.town_id)
    }

    /// Statistics cover the caller's reach; stations and advisers have none.
    pub fn may_see_statistics(&self) -> bool {
        matches!(self.role, Role::Admin | Role::DistrictAdmin | Role::Mediator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Option<Uuid> {
        Some(Uuid::from_u128(n))
    }

    #[test]
    fn reach_contains_descendants_only() {
        let mediator = Caller {
            id: Uuid::nil(),
            role: Role::Mediator,
            home: Chain { district_id: id(1), town_id: id(2), village_id: None },
        };
        let own_village = Chain { district_id: id(1), town_id: id(2), village_id: id(3) };
        let other_town = Chain { district_id: id(1), town_id: id(9), village_id: None };
        assert!(mediator.reach().contains(&own_village));
        assert!(!mediator.reach().contains(&other_town));
        assert!(mediator.can_manage_unit(UnitKind::Village, &own_village));
        assert!(!mediator.can_manage_unit(UnitKind::Town, &own_village));
        assert!(!mediator.can_manage_account(Role::Mediator, &own_village));
        assert!(mediator.can_manage_account(Role::Station, &own_village));
    }
}
