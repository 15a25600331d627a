//! Before a hearing: each party's consent to mediate online and the check of
//! their identity. Mediation is voluntary (People's Mediation Law Art 17):
//! a party consents, refuses, or withdraws a consent given, and chooses
//! public or non-public mediation (Art 23); the court platforms' model, the
//! SPC Online Mediation Rules, asks for consent to mediate online (Art 4)
//! and an identity check before the session (Art 17); the Personal
//! Information Protection Law asks for notice before processing. The notice
//! a party reads has a version, recorded with their decision.
//!
//! Records are per session, never edited: a party's standing in a session
//! is their latest decision and whether their identity was checked.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use super::error::RuleError;
use crate::time::Timestamp;

/// The version of the notice below; a decision names the version its party read.
pub const NOTICE_VERSION: &str = "2026-11-30";

/// The notice a party reads before deciding, in one language.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub title: &'static str,
    pub paragraphs: &'static [&'static str],
    /// The question put to the party on public or non-public mediation.
    pub publicity_question: &'static str,
}

/// The notice in Chinese, read to or by the party.
pub const NOTICE_ZH: Notice = Notice {
    title: "在线调解告知书",
    paragraphs: &[
        "人民调解委员会将通过视频为您调解这起纠纷。您可以在自己的手机上参加，也可以在村里的说事拉理室参加，由工作人员协助。",
        "调解遵循自愿原则。您可以同意或拒绝在线调解；调解开始后，您也可以随时要求终止调解，不影响您通过仲裁、行政或者司法途径维护自己的权利。",
        "调解不收取任何费用。调解员会平等对待各方当事人，尊重您的意见。",
        "为开展调解，我们会使用您在案件登记时提供的姓名、联系电话和身份证号码，仅用于本次调解和依法建立的调解档案；身份证号码加密保存，页面上只显示部分号码。调解开始前，调解员或工作人员会核对您的身份证件，不拍照、不留存证件图像，也不使用人脸识别。",
        "视频和声音只在调解过程中实时传送，服务器不录音、不录像。调解笔录和调解协议按规定存入调解档案。",
        "您可以选择公开调解或者不公开调解。涉及个人隐私或者您不希望他人旁听的，可以选择不公开调解。",
    ],
    publicity_question: "您希望这次调解公开进行吗？",
};

/// The notice in English, for the English interface.
pub const NOTICE_EN: Notice = Notice {
    title: "Notice on mediation by video",
    paragraphs: &[
        concat!(
            "The people's mediation committee will mediate this dispute ",
            "by video. You may take part on your own phone, or at your ",
            "village's talk-it-out room with a staff member's help.",
        ),
        concat!(
            "Mediation is voluntary. You may agree to mediation by video ",
            "or refuse it, and once it has started you may ask at any ",
            "time for it to stop; this does not affect your right to ",
            "arbitration, administrative or judicial remedies.",
        ),
        "Mediation is free of charge. The mediator treats every party equally and respects your views.",
        concat!(
            "To mediate, we use the name, phone number and ID number ",
            "you gave when the case was registered, only for this mediation ",
            "and the mediation file the law requires; the ID number ",
            "is kept encrypted and shown only in part. Before the session ",
            "the mediator or a staff member checks your ID card; no ",
            "photograph or image of it is taken or kept, and no face ",
            "recognition is used.",
        ),
        concat!(
            "Video and sound are passed on live during the session only;",
            " the server records neither. The transcript and any agreement ",
            "are kept in the mediation file as the rules require.",
        ),
        concat!(
            "You may choose public or non-public mediation. If the dispute ",
            "touches your privacy, or you do not want others to listen,",
            " choose non-public mediation.",
        ),
    ],
    publicity_question: "Do you want this mediation to be held in public?",
};

crate::text_enum! {
    /// A party's decision on mediating online.
    pub enum ConsentDecision {
        Consent = "consent",
        Refuse = "refuse",
        /// A consent given earlier is taken back: the mediation stops for them.
        Withdraw = "withdraw",
    }
}

crate::text_enum! {
    /// How a decision reached the record.
    pub enum ConsentMethod {
        /// The party on their own device, with their invitation.
        OwnDevice = "own_device",
        /// Given in person at a village station, recorded by its attendant.
        AtStation = "at_station",
    }
}

crate::text_enum! {
    /// Whether the party agrees to the mediation being held in public.
    pub enum Publicity {
        Public = "public",
        NonPublic = "non_public",
    }
}

crate::text_enum! {
    /// How a party's identity was checked.
    pub enum IdentityMethod {
        /// The station's attendant saw the ID card in person.
        IdCardAtStation = "id_card_at_station",
        /// The party held the ID card to the camera; the mediator compared it
        /// with the registered name and the masked number.
        IdCardOnCamera = "id_card_on_camera",
    }
}

/// One decision of one party for one session.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Consent {
    pub id: Uuid,
    pub session_id: Uuid,
    pub party_id: Uuid,
    pub decision: ConsentDecision,
    pub method: ConsentMethod,
    /// Given with a consent; absent with a refusal or withdrawal.
    pub publicity: Option<Publicity>,
    pub notice_version: String,
    /// The station account that recorded it; absent when the party decided on their own device.
    pub recorded_by: Option<Uuid>,
    pub recorded_at: Timestamp,
}

/// One identity check of one party for one session.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IdentityCheck {
    pub id: Uuid,
    pub session_id: Uuid,
    pub party_id: Uuid,
    pub method: IdentityMethod,
    /// The mediator or station account that checked.
    pub checked_by: Uuid,
    pub checked_at: Timestamp,
}

/// What a party has decided and whether they were checked, in one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub consent: Option<ConsentDecision>,
    pub publicity: Option<Publicity>,
    /// When the latest decision was recorded: a later one is recorded after it.
    pub decided_at: Option<Timestamp>,
    pub identity: Option<IdentityMethod>,
}

impl Standing {
    /// Consented, and not withdrawn since.
    pub fn consented(&self) -> bool {
        self.consent == Some(ConsentDecision::Consent)
    }

    /// Whether the party may confirm an agreement reached in this session's
    /// hearing (by video or at a station): consented, and identity checked.
    pub fn confirmable(&self) -> Result<(), Unconfirmable> {
        if !self.consented() {
            Err(Unconfirmable::NoConsent)
        } else if self.identity.is_none() {
            Err(Unconfirmable::NotChecked)
        } else {
            Ok(())
        }
    }

    /// Each party's standing from a session's records (oldest first).
    pub fn of_session(consents: &[Consent], checks: &[IdentityCheck]) -> HashMap<Uuid, Standing> {
        let mut standings: HashMap<Uuid, Standing> = HashMap::new();
        for consent in consents {
            let standing = standings.entry(consent.party_id).or_default();
            standing.consent = Some(consent.decision);
            standing.publicity = consent.publicity;
            standing.decided_at = Some(consent.recorded_at);
        }
        for check in checks {
            standings.entry(check.party_id).or_default().identity = Some(check.method);
        }
        standings
    }
}

/// Why a party may not confirm in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfirmable {
    /// No consent to mediating online, or it was refused or withdrawn.
    NoConsent,
    /// Consented, but their identity was not checked.
    NotChecked,
}

impl Unconfirmable {
    /// Whether a party may confirm by video or at a station, from their
    /// standing in each session of the case: they may once some session
    /// holds both their consent and their identity check.
    pub fn in_any_session(standings: impl IntoIterator<Item = Standing>) -> Result<(), Unconfirmable> {
        let mut closest = Unconfirmable::NoConsent;
        for standing in standings {
            match standing.confirmable() {
                Ok(()) => return Ok(()),
                Err(Unconfirmable::NotChecked) => closest = Unconfirmable::NotChecked,
                Err(Unconfirmable::NoConsent) => {}
            }
        }
        Err(closest)
    }
}

impl Consent {
    /// This decision, if it fits the party's standing: a consent says
    /// public or not, the notice read is the current one, a withdrawal
    /// takes back a consent, and nothing is decided twice.
    pub fn checked(mut self, standing: Standing) -> Result<Consent, RuleError> {
        if self.notice_version != NOTICE_VERSION {
            return Err(RuleError::Stale(format!(
                "the notice has changed (now version {NOTICE_VERSION}): show it again before deciding"
            )));
        }
        match (self.decision, self.publicity) {
            (ConsentDecision::Consent, None) => {
                return Err(RuleError::invalid("publicity", "say whether the mediation may be public"));
            }
            (ConsentDecision::Refuse | ConsentDecision::Withdraw, Some(_)) => {
                return Err(RuleError::invalid("publicity", "publicity goes with a consent only"));
            }
            _ => {}
        }
        match (standing.consent, self.decision) {
            (Some(current), wanted) if current == wanted => {
                return Err(RuleError::Conflict(format!("this party's decision is already `{wanted}`")));
            }
            (current, ConsentDecision::Withdraw) if current != Some(ConsentDecision::Consent) => {
                return Err(RuleError::InvalidState("only a consent given can be withdrawn".into()));
            }
            _ => {}
        }
        // Records are ordered by time (milliseconds): two decisions in the
        // same millisecond must still read in the order they were made.
        if let Some(previous) = standing.decided_at
            && previous.millis() >= self.recorded_at.millis()
        {
            self.recorded_at = Timestamp::from_millis(previous.millis() + 1).unwrap_or(self.recorded_at);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(decision: ConsentDecision, publicity: Option<Publicity>) -> Consent {
        Consent {
            id: Uuid::new_v4(),
            session_id: Uuid::from_u128(1),
            party_id: Uuid::from_u128(2),
            decision,
            method: ConsentMethod::OwnDevice,
            publicity,
            notice_version: NOTICE_VERSION.into(),
            recorded_by: None,
            recorded_at: Timestamp::now(),
        }
    }

    fn standing(consent: Option<ConsentDecision>) -> Standing {
        Standing { consent, ..Standing::default() }
    }

    #[test]
    fn a_consent_says_whether_public_and_names_the_current_notice() {
        let consent = request(ConsentDecision::Consent, Some(Publicity::NonPublic)).checked(standing(None)).unwrap();
        assert_eq!(consent.publicity, Some(Publicity::NonPublic));
        assert!(matches!(request(ConsentDecision::Consent, None).checked(standing(None)), Err(RuleError::Invalid(_))));
        assert!(matches!(
            request(ConsentDecision::Refuse, Some(Publicity::Public)).checked(standing(None)),
            Err(RuleError::Invalid(_))
        ));
        let mut old = request(ConsentDecision::Consent, Some(Publicity::Public));
        old.notice_version = "2020-01-01".into();
        assert!(matches!(old.checked(standing(None)), Err(RuleError::Stale(_))));
    }

    #[test]
    fn only_a_consent_is_withdrawn_and_nothing_is_decided_twice() {
        let withdraw = || request(ConsentDecision::Withdraw, None);
        assert!(matches!(withdraw().checked(standing(None)), Err(RuleError::InvalidState(_))));
        assert!(matches!(withdraw().checked(standing(Some(ConsentDecision::Refuse))), Err(RuleError::InvalidState(_))));
        assert!(withdraw().checked(standing(Some(ConsentDecision::Consent))).is_ok());
        assert!(matches!(
            request(ConsentDecision::Refuse, None).checked(standing(Some(ConsentDecision::Refuse))),
            Err(RuleError::Conflict(_))
        ));
        // A party who refused may still consent, and one who withdrew may consent again.
        for earlier in [ConsentDecision::Refuse, ConsentDecision::Withdraw] {
            let again = request(ConsentDecision::Consent, Some(Publicity::Public));
            assert!(again.checked(standing(Some(earlier))).is_ok());
        }
    }

    #[test]
    fn the_standing_is_the_latest_decision_and_any_check() {
        let at = Timestamp::now();
        let party = Uuid::from_u128(2);
        let consent = request(ConsentDecision::Consent, Some(Publicity::Public)).checked(standing(None)).unwrap();
        // Decided in the same millisecond as the consent: recorded just after it.
        let same_moment = Standing { decided_at: Some(consent.recorded_at), ..standing(Some(consent.decision)) };
        let mut withdraw = request(ConsentDecision::Withdraw, None);
        withdraw.recorded_at = consent.recorded_at;
        let withdrawn = withdraw.checked(same_moment).unwrap();
        assert_eq!(withdrawn.recorded_at.millis(), consent.recorded_at.millis() + 1);
        let check = IdentityCheck {
            id: Uuid::from_u128(3),
            session_id: consent.session_id,
            party_id: party,
            method: IdentityMethod::IdCardOnCamera,
            checked_by: Uuid::from_u128(4),
            checked_at: at,
        };
        let standings = Standing::of_session(std::slice::from_ref(&consent), std::slice::from_ref(&check));
        assert!(standings[&party].consented());
        assert_eq!(standings[&party].identity, Some(IdentityMethod::IdCardOnCamera));
        let standings = Standing::of_session(&[consent, withdrawn], &[check]);
        assert!(!standings[&party].consented());
        assert_eq!(standings[&party].publicity, None);
    }

    #[test]
    fn a_party_confirms_after_consent_and_a_check_in_one_session() {
        let checked = Some(IdentityMethod::IdCardAtStation);
        let consented = standing(Some(ConsentDecision::Consent));
        assert_eq!(Standing::default().confirmable(), Err(Unconfirmable::NoConsent));
        assert_eq!(consented.confirmable(), Err(Unconfirmable::NotChecked));
        assert_eq!(Standing { identity: checked, ..consented }.confirmable(), Ok(()));
        // Checked but withdrawn: no consent.
        let withdrawn = Standing { identity: checked, ..standing(Some(ConsentDecision::Withdraw)) };
        assert_eq!(withdrawn.confirmable(), Err(Unconfirmable::NoConsent));

        assert_eq!(Unconfirmable::in_any_session([]), Err(Unconfirmable::NoConsent));
        assert_eq!(Unconfirmable::in_any_session([withdrawn, consented]), Err(Unconfirmable::NotChecked));
        let ready = Standing { identity: checked, ..consented };
        assert_eq!(Unconfirmable::in_any_session([withdrawn, ready, consented]), Ok(()));
    }
}
