//! The room's side of the hearing's own records: each party's consent and
//! identity check in this session, read from the records and kept current
//! as decisions and checks are made; what mediators and stations see of
//! them; the rules admission, presence and confirmation follow (a party
//! without consent is not admitted on their own device, not named present
//! at a station, and confirms nothing; a party whose identity was not
//! checked confirms nothing); and the transcript shown and confirmed.

use std::collections::HashMap;

use signaling_proto::{
    ConsentDecision as WireDecision, ErrorCode, IdentityMethod as WireIdentity, PartyStanding,
    Publicity as WirePublicity, RequestId, Role, ServerMessage,
};
use uuid::Uuid;

use super::{Failure, Handled, Member, Room};
use crate::cases::Party;
use crate::cases::changes::Change;
use crate::cases::consent::{
    Consent, ConsentDecision, ConsentMethod, IdentityCheck, IdentityMethod, Publicity, Standing, Unconfirmable,
};
use crate::cases::error::RuleError;
use crate::store::{DynStore, StoreResult};
use crate::time::Timestamp;

/// The case's parties and where each stands in this session.
pub(in crate::rooms) struct Hearing {
    parties: Vec<Party>,
    standings: HashMap<Uuid, Standing>,
}

impl Hearing {
    pub(in crate::rooms) async fn load(store: &DynStore, case_id: Uuid, session_id: Uuid) -> StoreResult<Hearing> {
        let parties = store.parties(case_id).await?;
        let consents = store.consents(session_id).await?;
        let checks = store.identity_checks(session_id).await?;
        Ok(Hearing { parties, standings: Standing::of_session(&consents, &checks) })
    }

    pub(super) fn parties(&self) -> &[Party] {
        &self.parties
    }

    fn standing(&self, party_id: Uuid) -> Standing {
        self.standings.get(&party_id).copied().unwrap_or_default()
    }

    fn name_of(&self, party_id: Uuid) -> &str {
        self.parties.iter().find(|p| p.id == party_id).map_or("this party", |p| p.name.as_str())
    }

    /// Refuses a party who has not consented (or withdrew).
    pub(super) fn require_consent(&self, party_id: Uuid) -> Handled {
        if self.standing(party_id).consented() {
            return Ok(());
        }
        Err(no_consent(self.name_of(party_id)))
    }

    /// Refuses a party who may not confirm yet: no consent, or not checked.
    pub(super) fn require_confirmable(&self, party_id: Uuid) -> Handled {
        match self.standing(party_id).confirmable() {
            Ok(()) => Ok(()),
            Err(Unconfirmable::NoConsent) => Err(no_consent(self.name_of(party_id))),
            Err(Unconfirmable::NotChecked) => Err(Failure::room(
                ErrorCode::IdentityCheckRequired,
                "check this party's ID card before they confirm (check_identity)",
            )),
        }
    }

    /// Each party as a mediator or station sees them; `where_is` names the
    /// participant a party takes part through.
    pub(super) fn view(&self, where_is: impl Fn(Uuid) -> Option<Uuid>) -> Vec<PartyStanding> {
        self.parties
            .iter()
            .map(|party| {
                let standing = self.standing(party.id);
                PartyStanding {
                    party_id: party.id,
                    name: party.name.clone(),
                    id_number_masked: party.id_number_masked.clone(),
                    consent: standing.consent.map(wire_decision),
                    publicity: standing.publicity.map(|publicity| match publicity {
                        Publicity::Public => WirePublicity::Public,
                        Publicity::NonPublic => WirePublicity::NonPublic,
                    }),
                    identity_checked: standing.identity.map(|method| match method {
                        IdentityMethod::IdCardAtStation => WireIdentity::IdCardAtStation,
                        IdentityMethod::IdCardOnCamera => WireIdentity::IdCardOnCamera,
                    }),
                    present_with: where_is(party.id),
                }
            })
            .collect()
    }
}

fn no_consent(name: &str) -> Failure {
    Failure::room(ErrorCode::ConsentRequired, format!("{name} has not consented to mediating online"))
}

fn wire_decision(decision: ConsentDecision) -> WireDecision {
    match decision {
        ConsentDecision::Consent => WireDecision::Consent,
        ConsentDecision::Refuse => WireDecision::Refuse,
        ConsentDecision::Withdraw => WireDecision::Withdraw,
    }
}

/// A consent decision as a room message carries it.
pub(super) struct ConsentMessage {
    pub party_id: Option<Uuid>,
    pub decision: WireDecision,
    pub publicity: Option<WirePublicity>,
    pub notice_version: String,
}

/// The rule errors of a decision in the protocol's words.
fn consent_failure(error: RuleError) -> Failure {
    match error {
        RuleError::Stale(message) => Failure::room(ErrorCode::NoticeChanged, message),
        other => Failure::from(other),
    }
}

impl Room {
    /// The party a member may decide or be checked for: a party on their
    /// own device for themself; a station or mediator for any party of the case.
    fn party_for(&self, me: Uuid, named: Option<Uuid>) -> Result<Uuid, Failure> {
        let member = &self.members[&me];
        let party_id = match (member.role, named) {
            (Role::Party, None) => member.participant.party_id,
            (Role::Party, Some(id)) if member.participant.party_id == Some(id) => Some(id),
            (Role::Party, Some(_)) => {
                return Err(Failure::room(ErrorCode::Forbidden, "a party decides only for themself"));
            }
            (_, named) => named,
        };
        let party_id = party_id.ok_or_else(|| Failure::room(ErrorCode::InvalidField, "name the party (party_id)"))?;
        if !self.hearing.parties().iter().any(|party| party.id == party_id) {
            return Err(Failure::room(ErrorCode::InvalidField, "not a party to this case"));
        }
        Ok(party_id)
    }

    pub(super) async fn record_consent(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        message: ConsentMessage,
    ) -> Handled {
        let member = &self.members[&me];
        let (method, recorded_by) = match member.role {
            Role::Party => (ConsentMethod::OwnDevice, None),
            Role::Station => (ConsentMethod::AtStation, member.participant.account_id),
            Role::Mediator | Role::Adviser | Role::Observer => {
                return Err(Failure::room(
                    ErrorCode::Forbidden,
                    "only the party decides, on their device or at a station",
                ));
            }
        };
        let actor = member.actor.clone();
        let party_id = self.party_for(me, message.party_id)?;
        let consent = Consent {
            id: Uuid::new_v4(),
            session_id: self.session_id(),
            party_id,
            decision: match message.decision {
                WireDecision::Consent => ConsentDecision::Consent,
                WireDecision::Refuse => ConsentDecision::Refuse,
                WireDecision::Withdraw => ConsentDecision::Withdraw,
            },
            method,
            publicity: message.publicity.map(|publicity| match publicity {
                WirePublicity::Public => Publicity::Public,
                WirePublicity::NonPublic => Publicity::NonPublic,
            }),
            notice_version: message.notice_version,
            recorded_by,
            recorded_at: Timestamp::now(),
        };
        let consent = consent.checked(self.hearing.standing(party_id)).map_err(consent_failure)?;
        // Written at once (not through the recorder): the party must know it is on record.
        self.ctx.store.apply(&actor, &[Change::RecordConsent { consent }]).await?;
        self.ack(me, request_id);
        self.reload_hearing().await;
        Ok(())
    }

    pub(super) async fn check_identity(&mut self, me: Uuid, request_id: Option<RequestId>, party_id: Uuid) -> Handled {
        let member = &self.members[&me];
        let method = match member.role {
            Role::Mediator => IdentityMethod::IdCardOnCamera,
            Role::Station => IdentityMethod::IdCardAtStation,
            Role::Party | Role::Adviser | Role::Observer => {
                return Err(Failure::room(ErrorCode::Forbidden, "the mediator or the station checks identity"));
            }
        };
        let actor = member.actor.clone();
        let checked_by = member.participant.account_id.expect("staff have accounts");
        let party_id = self.party_for(me, Some(party_id))?;
        if method == IdentityMethod::IdCardOnCamera && self.where_is(party_id, false).is_none() {
            return Err(Failure::room(ErrorCode::NotFound, "that party is not here to show their ID card"));
        }
        if self.hearing.standing(party_id).identity.is_some() {
            return Err(Failure::room(ErrorCode::InvalidField, "this party's identity is already checked"));
        }
        let check = IdentityCheck {
            id: Uuid::new_v4(),
            session_id: self.session_id(),
            party_id,
            method,
            checked_by,
            checked_at: Timestamp::now(),
        };
        self.ctx.store.apply(&actor, &[Change::CheckIdentity { check }]).await?;
        self.ack(me, request_id);
        self.reload_hearing().await;
        Ok(())
    }

    /// Rereads the standings (after a decision here or through the API) and
    /// applies them: a party on their own device without consent leaves the
    /// room (they stay in the lobby if waiting there), and a station's
    /// present parties keep only those who consent.
    pub(super) async fn reload_hearing(&mut self) {
        let case_id = self.ctx.session.case_id;
        match Hearing::load(&self.ctx.store, case_id, self.session_id()).await {
            Ok(hearing) => self.hearing = hearing,
            Err(error) => {
                tracing::warn!(session = %self.session_id(), %error, "the parties' standings could not be reread");
                return;
            }
        }
        let withdrawn: Vec<Uuid> = self
            .members
            .values()
            .filter(|m| m.role == Role::Party && m.admitted())
            .filter(|m| m.participant.party_id.is_none_or(|id| !self.hearing.standing(id).consented()))
            .map(|m| m.participant.id)
            .collect();
        for participant_id in withdrawn {
            let message = signaling_proto::ServerMessage::Removed {
                reason: Some("you withdrew your consent: the mediation has stopped for you".into()),
            };
            self.send(participant_id, message);
            self.close(participant_id, 1000, "consent withdrawn");
            self.drop_member(participant_id, "left");
        }
        let hearing = &self.hearing;
        for member in self.members.values_mut().filter(|m| m.role == Role::Station) {
            member.parties_present.retain(|(id, _)| hearing.standing(*id).consented());
        }
    }

    /// The participant a party takes part through: their own device (in the
    /// lobby too, unless `admitted_only`), or a station naming them present.
    pub(super) fn where_is(&self, party_id: Uuid, admitted_only: bool) -> Option<Uuid> {
        let through = |member: &&Member| {
            (member.participant.party_id == Some(party_id) && (member.admitted() || !admitted_only))
                || member.parties_present.iter().any(|(id, _)| *id == party_id)
        };
        self.members.values().find(through).map(|member| member.participant.id)
    }

    pub(super) async fn push_transcript(&mut self, me: Uuid, request_id: Option<RequestId>) -> Handled {
        let actor = self.members[&me].actor.clone();
        self.require_host(me)?;
        let transcript = self
            .ctx
            .store
            .transcript(self.session_id())
            .await?
            .ok_or_else(|| Failure::room(ErrorCode::NotFound, "no transcript has been saved for this session"))?;
        let case_number = match self.ctx.store.case(self.ctx.session.case_id).await? {
            Some(case) => case.case_number,
            None => return Err(Failure::room(ErrorCode::NotFound, "no case")),
        };
        let message = ServerMessage::TranscriptPushed {
            case_number,
            version: transcript.version,
            text: transcript.text,
            text_sha256: transcript.text_sha256,
        };
        for id in self.space_of(me) {
            self.send(id, message.clone());
        }
        self.note(&actor, "transcript.push", serde_json::json!({ "version": transcript.version }));
        self.ack(me, request_id);
        Ok(())
    }

    /// A party's confirmation of the transcript, by themself or by the
    /// station they sit at, under the agreement's rules (consent, identity).
    pub(super) async fn confirm_transcript(
        &mut self,
        me: Uuid,
        request_id: Option<RequestId>,
        text_sha256: String,
        party_id: Option<Uuid>,
    ) -> Handled {
        let actor = self.members[&me].actor.clone();
        let (party_id, method) = self.confirming_party(me, party_id)?;
        let recorded_by = self.members[&me].participant.account_id;
        let store = &self.ctx.store;
        let transcript = store
            .transcript(self.session_id())
            .await?
            .ok_or_else(|| Failure::room(ErrorCode::NotFound, "no transcript has been saved for this session"))?;
        let confirmations = store.transcript_confirmations(self.session_id()).await?;
        let stale = |message: String| Failure::room(ErrorCode::StaleTranscript, message);
        let confirmation = transcript
            .confirmation(party_id, method, &text_sha256, recorded_by, &confirmations)
            .map_err(|error| match error {
                RuleError::Stale(message) => stale(message),
                other => Failure::from(other),
            })?;
        match store.apply(&actor, &[Change::ConfirmTranscript { confirmation }]).await {
            Ok(_) => {}
            Err(crate::store::StoreError::Stale(_)) => {
                return Err(stale("the transcript was saved again after it was shown; show it again".into()));
            }
            Err(error) => return Err(error.as_second_confirmation().map_or_else(Failure::from, Failure::from)),
        }
        for id in self.space_of(me) {
            self.send(id, ServerMessage::TranscriptConfirmed { party_id });
        }
        self.ack(me, request_id);
        Ok(())
    }
}
