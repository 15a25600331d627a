//! Who may see and change what. Every rule about scope lives here, so the
//! handlers ask one question ("may this caller ...?") and the answers can be
//! read, and tested, in one place.
//!
//! The tree is district > town > village. A caller's *reach* is the part of
//! the tree under their home unit: everything for the system administrator,
//! the district for district administrators and advisers, the town for
//! mediators, the village for a station.

use uuid::Uuid;

use crate::cases::error::RuleError;
use crate::cases::{Case, ConfirmMethod, ParticipantKind, Signer};
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

    /// Stations and advisers also see the cases whose sessions they are on;
    /// the others see cases by place only.
    pub fn sees_cases_through_sessions(&self) -> bool {
        matches!(self.role, Role::Station | Role::Adviser)
    }

    /// Mediators and administrators register disputes of villages in their reach.
    pub fn may_register_case_in(&self, village: &Unit) -> bool {
        matches!(self.role, Role::Admin | Role::DistrictAdmin | Role::Mediator)
            && self.reach().contains(&village.chain())
    }

    /// Mediators and administrators list the risk flags (Art 25) of the
    /// cases in their reach; stations and advisers never see them.
    pub fn sees_risk_flags(&self) -> bool {
        matches!(self.role, Role::Admin | Role::DistrictAdmin | Role::Mediator)
    }

    /// Advisers, mediators and administrators record legal consultations.
    pub fn may_record_consultations(&self) -> bool {
        matches!(self.role, Role::Adviser | Role::Mediator | Role::DistrictAdmin | Role::Admin)
    }

    /// ... given to a village in their reach.
    pub fn may_record_consultation_in(&self, village: &Unit) -> Result<(), RuleError> {
        if !self.may_record_consultations() {
            return Err(RuleError::Forbidden("advisers and mediators record consultations".into()));
        }
        if !self.reach().contains(&village.chain()) {
            return Err(RuleError::Forbidden("this is outside what your account may see or change".into()));
        }
        Ok(())
    }

    /// The adviser a consultation is recorded for: an adviser records only
    /// their own; others name the adviser who answered.
    pub fn consultation_adviser(&self, named: Option<Uuid>) -> Result<Uuid, RuleError> {
        match (self.role, named) {
            (Role::Adviser, None) => Ok(self.id),
            (Role::Adviser, Some(id)) if id == self.id => Ok(id),
            (Role::Adviser, Some(_)) => {
                Err(RuleError::invalid("adviser_id", "an adviser records only their own consultations"))
            }
            (_, Some(id)) => Ok(id),
            (_, None) => Err(RuleError::invalid("adviser_id", "name the adviser who answered")),
        }
    }

    /// Who may record a confirmation of a case's agreement through the API:
    /// its managers for anyone; its own village's station only a party's
    /// confirmation given at the station; only a mediator of its office signs.
    pub fn may_record_confirmation(
        &self,
        case: &Case,
        access: CaseAccess,
        signer: Signer,
        method: ConfirmMethod,
    ) -> Result<(), RuleError> {
        let station = access == CaseAccess::Read && self.role == Role::Station;
        if access < CaseAccess::Manage && !station {
            return Err(RuleError::Forbidden("this is outside what your account may see or change".into()));
        }
        if station && (signer != Signer::Party || method != ConfirmMethod::VillageStation) {
            return Err(RuleError::Forbidden(
                "a village station records only parties' confirmations given at the station".into(),
            ));
        }
        if station && self.home.village_id != Some(case.village_id) {
            return Err(RuleError::Forbidden(
                "only the station of the case's own village records confirmations here".into(),
            ));
        }
        if signer == Signer::Mediator && !self.is_case_mediator(case) {
            return Err(RuleError::Forbidden("only a mediator of the case's office signs the agreement".into()));
        }
        Ok(())
    }
}

/// Whether a staff account may be put on a session of `case` as `kind`: an
/// active account of the matching role serving the case's town (mediators,
/// stations) or district (advisers).
pub fn may_take_part(account: &Account, kind: ParticipantKind, case: &Case) -> bool {
    let (role, serves) = match kind {
        ParticipantKind::Mediator => (Role::Mediator, account.town_id == Some(case.town_id)),
        ParticipantKind::Station => (Role::Station, account.town_id == Some(case.town_id)),
        ParticipantKind::Adviser => (Role::Adviser, account.district_id == Some(case.district_id)),
        ParticipantKind::Party | ParticipantKind::Observer => return false,
    };
    account.role == role && account.may_sign_in() && serves
}

/// Who confirms the agreement in the video room, and how: a party for
/// themself; a station for a party it said is sitting in its room.
pub enum RoomConfirmer<'a> {
    Party { own_party: Option<Uuid> },
    Station { present: &'a [Uuid] },
    Other,
}

impl RoomConfirmer<'_> {
    /// The party confirmed for and the method, or why not.
    pub fn confirms(&self, named: Option<Uuid>) -> Result<(Option<Uuid>, ConfirmMethod), RuleError> {
        match self {
            RoomConfirmer::Party { own_party } => Ok((*own_party, ConfirmMethod::VideoRoom)),
            RoomConfirmer::Station { present } if named.is_some_and(|id| present.contains(&id)) => {
                Ok((named, ConfirmMethod::VillageStation))
            }
            RoomConfirmer::Station { .. } => Err(RuleError::invalid(
                "party_id",
                "name a party the station said is present (parties_present) to confirm for them",
            )),
            RoomConfirmer::Other => {
                Err(RuleError::Forbidden("parties and stations confirm; the mediator signs".into()))
            }
        }
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

    #[test]
    fn in_the_room_a_party_confirms_for_themself_and_a_station_for_those_present() {
        let (own, present, absent) = (Uuid::from_u128(7), Uuid::from_u128(8), Uuid::from_u128(9));
        let party = RoomConfirmer::Party { own_party: Some(own) };
        assert_eq!(party.confirms(Some(absent)).unwrap(), (Some(own), ConfirmMethod::VideoRoom), "never for another");
        let station = RoomConfirmer::Station { present: &[present] };
        assert_eq!(station.confirms(Some(present)).unwrap(), (Some(present), ConfirmMethod::VillageStation));
        assert!(matches!(station.confirms(Some(absent)), Err(RuleError::Invalid(_))));
        assert!(matches!(station.confirms(None), Err(RuleError::Invalid(_))));
        assert!(matches!(RoomConfirmer::Other.confirms(Some(own)), Err(RuleError::Forbidden(_))));
    }
}
