//! The transcript of a hearing (调解笔录, People's Mediation Law Art 27; the
//! SPC Online Mediation Rules Art 22): kept by the mediator during the
//! session in a structured form (when, how, who took part, each party's
//! statement, the facts both sides accept, the mediator's notes and, for an
//! oral agreement, its terms, Art 28), rendered to one canonical text whose
//! SHA-256 each party confirms. Saving again makes a new version and voids
//! the confirmations of the earlier ones.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::agreement::sha256_hex;
use super::error::RuleError;
use super::{
    Attendance, Case, ConfirmMethod, Participant, ParticipantKind, Party, PartySide, Session, SessionMode, SessionState,
};
use crate::time::{Timestamp, china_time};

/// One party's statement in the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub party_id: Uuid,
    #[schema(min_length = 1, max_length = 5000)]
    pub statement: String,
}

/// What the mediator writes; the rest of the transcript comes from the records.
#[derive(Debug, Clone)]
pub struct TranscriptParts {
    pub statements: Vec<Statement>,
    pub agreed_facts: String,
    pub mediator_notes: String,
    pub oral_terms: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Transcript {
    pub session_id: Uuid,
    pub case_id: Uuid,
    /// 1 for the first save, one more for each save after it.
    pub version: i32,
    /// When the hearing took place: the session's actual start (else its planned start).
    pub held_at: Timestamp,
    /// Who took part, from the session's attendance, as the text names them.
    pub attendees: String,
    #[sqlx(json)]
    pub statements: Vec<Statement>,
    pub agreed_facts: String,
    pub mediator_notes: String,
    /// The terms of an oral agreement reached in this hearing (Art 28).
    pub oral_terms: Option<String>,
    /// The transcript as confirmed, rendered from the above.
    pub text: String,
    pub text_sha256: String,
    pub saved_by: Uuid,
    pub saved_at: Timestamp,
}

/// A party's confirmation of one version of a transcript.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TranscriptConfirmation {
    pub id: Uuid,
    pub session_id: Uuid,
    pub version: i32,
    pub party_id: Uuid,
    /// `video_room` (the party on their own device) or `village_station`.
    pub method: ConfirmMethod,
    pub text_sha256: String,
    pub confirmed_at: Timestamp,
    /// The station account that recorded it; absent for a party's own.
    pub recorded_by: Option<Uuid>,
    pub voided_at: Option<Timestamp>,
}

fn side_label(side: PartySide) -> &'static str {
    match side {
        PartySide::Applicant => "申请人",
        PartySide::Respondent => "被申请人",
        PartySide::ThirdParty => "第三人",
    }
}

fn mode_label(mode: SessionMode) -> &'static str {
    match mode {
        SessionMode::Video => "视频调解",
        SessionMode::InPerson => "当面调解",
        SessionMode::Phone => "电话调解",
    }
}

/// The transcript's text: one rendering, so the hash covers exactly what
/// every party was shown.
fn render(
    case: &Case,
    session: &Session,
    parties: &[Party],
    attendees: &str,
    held_at: Timestamp,
    parts: &TranscriptParts,
) -> String {
    let held = held_at.as_datetime().with_timezone(&china_time()).format("%Y年%m月%d日 %H:%M");
    let mut text = String::from("人民调解笔录\n");
    text.push_str(&format!("{}  {}\n", case.office_name, case.case_number));
    text.push_str(&format!("时间：{held}\n方式：{}\n参加人员：{attendees}\n", mode_label(session.mode)));
    text.push_str("\n当事人陈述：\n");
    for statement in &parts.statements {
        let party = parties.iter().find(|p| p.id == statement.party_id).expect("checked against the parties");
        text.push_str(&format!("{}{}：{}\n", side_label(party.side), party.name, statement.statement.trim()));
    }
    text.push_str(&format!("\n双方认可的事实：\n{}\n", parts.agreed_facts.trim()));
    text.push_str(&format!("\n调解员记录：\n{}\n", parts.mediator_notes.trim()));
    if let Some(terms) = &parts.oral_terms {
        text.push_str(&format!("\n口头调解协议（《人民调解法》第二十八条）：\n{}\n", terms.trim()));
    }
    text.push_str("\n以上笔录已向当事人展示，经当事人确认无误。\n");
    text
}

/// Who took part, from the session's attendance: each participant once,
/// in the order they first joined, with their part unless the name says it.
pub fn attendees(participants: &[Participant], attendance: &[Attendance]) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut seen: Vec<Uuid> = Vec::new();
    for record in attendance {
        let Some(participant) = participants.iter().find(|p| p.id == record.participant_id) else { continue };
        if seen.contains(&participant.id) {
            continue;
        }
        seen.push(participant.id);
        let part = match participant.kind {
            ParticipantKind::Mediator => "调解员".to_owned(),
            ParticipantKind::Station => "村调解室".to_owned(),
            ParticipantKind::Adviser => "法律顾问".to_owned(),
            ParticipantKind::Party => "当事人".to_owned(),
            ParticipantKind::Observer => format!("{}，旁听", participant.relation.as_deref().unwrap_or("受邀")),
        };
        let name = &participant.display_name;
        names.push(if name.contains(&part) { name.clone() } else { format!("{name}（{part}）") });
    }
    names.join("、")
}

/// Where a save starts from: the case, the session and its parties as they
/// stand, who attended, and the transcript saved before (if any).
pub struct SaveContext<'a> {
    pub case: &'a Case,
    pub session: &'a Session,
    pub parties: &'a [Party],
    pub attendees: String,
    pub previous: Option<&'a Transcript>,
}

impl SaveContext<'_> {
    /// The transcript `parts` make, as the next version; refused when the
    /// session has not been held, or a statement names no party of the case
    /// or one party twice.
    pub fn save(&self, parts: TranscriptParts, saved_by: Uuid, now: Timestamp) -> Result<Transcript, RuleError> {
        if !matches!(self.session.state, SessionState::Live | SessionState::Ended) {
            return Err(RuleError::InvalidState(format!(
                "a transcript is kept for a session that is live or has ended; this one is {}",
                self.session.state
            )));
        }
        for (index, statement) in parts.statements.iter().enumerate() {
            if !self.parties.iter().any(|party| party.id == statement.party_id) {
                return Err(RuleError::invalid("statements", "each statement names a party of this case"));
            }
            if parts.statements[..index].iter().any(|earlier| earlier.party_id == statement.party_id) {
                return Err(RuleError::invalid("statements", "one statement per party"));
            }
        }
        let held_at = self.session.actual_start.unwrap_or(self.session.planned_start);
        let text = render(self.case, self.session, self.parties, &self.attendees, held_at, &parts);
        Ok(Transcript {
            session_id: self.session.id,
            case_id: self.case.id,
            version: self.previous.map_or(1, |previous| previous.version + 1),
            held_at,
            attendees: self.attendees.clone(),
            text_sha256: sha256_hex(&text),
            text,
            statements: parts.statements,
            agreed_facts: parts.agreed_facts,
            mediator_notes: parts.mediator_notes,
            oral_terms: parts.oral_terms,
            saved_by,
            saved_at: now,
        })
    }
}

impl Transcript {
    /// A party's confirmation of this version, if `text_sha256` is its hash
    /// and the party has not confirmed it yet.
    pub fn confirmation(
        &self,
        party_id: Uuid,
        method: ConfirmMethod,
        text_sha256: &str,
        recorded_by: Option<Uuid>,
        live: &[TranscriptConfirmation],
    ) -> Result<TranscriptConfirmation, RuleError> {
        if text_sha256.trim().to_ascii_lowercase() != self.text_sha256 {
            return Err(RuleError::Stale(
                "the transcript was changed after it was shown: the hash does not match; show it again".into(),
            ));
        }
        if live.iter().any(|c| c.version == self.version && c.party_id == party_id && c.voided_at.is_none()) {
            return Err(RuleError::Conflict("this party has already confirmed the transcript".into()));
        }
        Ok(TranscriptConfirmation {
            id: Uuid::new_v4(),
            session_id: self.session_id,
            version: self.version,
            party_id,
            method,
            text_sha256: self.text_sha256.clone(),
            confirmed_at: Timestamp::now(),
            recorded_by,
            voided_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(n: u128, kind: ParticipantKind, name: &str) -> Participant {
        Participant {
            id: Uuid::from_u128(n),
            session_id: Uuid::nil(),
            kind,
            account_id: None,
            party_id: None,
            display_name: name.into(),
            relation: None,
        }
    }

    fn joined(n: u128, participant: u128) -> Attendance {
        let at = Timestamp::from_millis(1_700_000_000_000 + n as i64).unwrap();
        Attendance {
            id: Uuid::from_u128(100 + n),
            session_id: Uuid::nil(),
            participant_id: Uuid::from_u128(participant),
            joined_at: at,
            left_at: None,
        }
    }

    #[test]
    fn attendees_are_named_once_in_order_of_arrival_with_their_part() {
        let people = [
            participant(1, ParticipantKind::Mediator, "张敏（调解员）"),
            participant(2, ParticipantKind::Station, "东平村说事拉理室"),
            participant(3, ParticipantKind::Adviser, "李律师"),
            participant(4, ParticipantKind::Party, "李婶"),
            Participant { relation: Some("村老".into()), ..participant(5, ParticipantKind::Observer, "王村长") },
        ];
        // The station dropped and came back; the adviser never joined.
        let attendance = [joined(1, 1), joined(2, 2), joined(3, 4), joined(4, 2), joined(5, 5)];
        assert_eq!(
            attendees(&people, &attendance),
            "张敏（调解员）、东平村说事拉理室（村调解室）、李婶（当事人）、王村长（村老，旁听）"
        );
    }

    #[test]
    fn a_confirmation_names_the_version_in_force_once() {
        let transcript = Transcript {
            session_id: Uuid::from_u128(1),
            case_id: Uuid::from_u128(2),
            version: 2,
            held_at: Timestamp::now(),
            attendees: String::new(),
            statements: Vec::new(),
            agreed_facts: String::new(),
            mediator_notes: String::new(),
            oral_terms: None,
            text: "人民调解笔录".into(),
            text_sha256: sha256_hex("人民调解笔录"),
            saved_by: Uuid::from_u128(3),
            saved_at: Timestamp::now(),
        };
        let party = Uuid::from_u128(4);
        let hash = transcript.text_sha256.to_uppercase();
        let first = transcript.confirmation(party, ConfirmMethod::VideoRoom, &hash, None, &[]).unwrap();
        assert_eq!((first.version, first.text_sha256.as_str()), (2, transcript.text_sha256.as_str()));
        let again = transcript.confirmation(party, ConfirmMethod::VideoRoom, &hash, None, std::slice::from_ref(&first));
        assert!(matches!(again, Err(RuleError::Conflict(_))));
        let stale = transcript.confirmation(party, ConfirmMethod::VideoRoom, &"0".repeat(64), None, &[]);
        assert!(matches!(stale, Err(RuleError::Stale(_))));
        // A confirmation of an earlier version does not count for this one.
        let old = TranscriptConfirmation { version: 1, ..first };
        assert!(transcript.confirmation(party, ConfirmMethod::VideoRoom, &hash, None, &[old]).is_ok());
    }
}
