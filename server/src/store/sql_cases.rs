//! The case records' SQL, shared by both backends like `sql.rs`: the audit
//! append, the dispatch of each `Change` to the function that writes it,
//! and the writes of cases and consultations. Sessions and agreements have
//! their own files; reads are in `sql_reads.rs`.

/// Columns of a `Case`, joined with its village and town.
macro_rules! case_select {
    () => {
        "SELECT c.id, c.case_number, c.district_id, c.town_id, c.village_id, v.name AS village_name, \
         t.office_name AS office_name, c.year, c.number, c.category, c.source, c.summary, c.amount_fen, \
         c.public_session, c.state, c.registered_by, c.registered_at, c.updated_at, c.outcome_at, c.closed_at \
         FROM cases c JOIN units v ON v.id = c.village_id JOIN units t ON t.id = c.town_id"
    };
}

/// The visibility test on `c` with parameters $1..$5: reach enabled,
/// district, town, village, participant account.
macro_rules! case_visible {
    () => {
        "(($1 AND ($2 IS NULL OR c.district_id = $2) AND ($3 IS NULL OR c.town_id = $3) \
         AND ($4 IS NULL OR c.village_id = $4)) \
         OR ($5 IS NOT NULL AND EXISTS (SELECT 1 FROM session_participants sp \
         JOIN sessions vs ON vs.id = sp.session_id WHERE vs.case_id = c.id AND sp.account_id = $5)))"
    };
}

macro_rules! session_columns {
    () => {
        "s.id, s.case_id, s.planned_start, s.planned_minutes, s.mode, s.state, s.actual_start, s.actual_end, \
         s.cancel_reason, s.created_by, s.created_at, s.updated_at"
    };
}

/// Binds the five visibility parameters of `case_visible!`.
macro_rules! bind_visibility {
    ($query:expr, $within:expr, $participant:expr) => {{
        let within: Option<$crate::tree::Chain> = $within;
        let chain = within.unwrap_or_default();
        $query
            .bind(within.is_some())
            .bind(chain.district_id)
            .bind(chain.town_id)
            .bind(chain.village_id)
            .bind($participant)
    }};
}

macro_rules! impl_case_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn append_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                actor: &$crate::cases::changes::Actor,
                entry: $crate::cases::changes::AuditEntry,
                occurred_at: Option<$crate::time::Timestamp>,
            ) -> $crate::store::StoreResult<()> {
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut **tx)
                        .await?;
                let (seq, prev_hash) = match last {
                    Some((seq, hash)) => (seq + 1, hash),
                    None => (1, $crate::store::audit::GENESIS_HASH.to_owned()),
                };
                let mut event = $crate::store::audit::AuditEvent {
                    seq,
                    at: $crate::time::Timestamp::now(),
                    occurred_at,
                    actor_id: actor.account_id,
                    actor_role: actor.role.clone(),
                    actor_name: actor.name.clone(),
                    action: entry.action,
                    object_type: entry.object_type.to_owned(),
                    object_id: entry.object_id,
                    result: entry.result.to_owned(),
                    client_addr: actor.client_addr.clone(),
                    details: sqlx::types::Json(entry.details),
                    prev_hash,
                    hash: String::new(),
                };
                event.hash = $crate::store::audit::event_hash(&event);
                sqlx::query(
                    "INSERT INTO audit_events (seq, at, actor_id, actor_role, actor_name, action, object_type, \
                     object_id, result, client_addr, details, prev_hash, hash, occurred_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(event.seq)
                .bind(event.at)
                .bind(event.actor_id)
                .bind(&event.actor_role)
                .bind(&event.actor_name)
                .bind(&event.action)
                .bind(&event.object_type)
                .bind(&event.object_id)
                .bind(&event.result)
                .bind(&event.client_addr)
                .bind(&event.details)
                .bind(&event.prev_hash)
                .bind(&event.hash)
                .bind(event.occurred_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Fails the transaction as stale when a guarded update found nothing.
            fn expect_one(result: <$db as sqlx::Database>::QueryResult, what: &str) -> $crate::store::StoreResult<()> {
                if result.rows_affected() == 0 {
                    return Err($crate::store::StoreError::Stale(what.to_owned()));
                }
                Ok(())
            }

            async fn insert_invitation(
                tx: &mut sqlx::Transaction<'_, $db>,
                invitation: &$crate::cases::Invitation,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO invitations (id, session_id, participant_id, valid_from, valid_until, created_at, \
                     revoked_at, first_opened_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
                )
                .bind(invitation.id)
                .bind(invitation.session_id)
                .bind(invitation.participant_id)
                .bind(invitation.valid_from)
                .bind(invitation.valid_until)
                .bind(invitation.created_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Applies one change; returns the changes it leads to, applied
            /// next in the same transaction.
            async fn apply_one(
                tx: &mut sqlx::Transaction<'_, $db>,
                change: &$crate::cases::changes::Change,
                applied: &mut $crate::cases::changes::Applied,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::changes::Change>> {
                use $crate::cases::changes::Change;
                match change {
                    Change::SettleAgreementIfComplete { case_id, version, recorded_by, at } => {
                        return Self::settle_agreement_if_complete(tx, case_id, version, recorded_by, at, applied)
                            .await;
                    }
                    Change::CreateCase { case, parties, case_prefix } => {
                        Self::create_case(tx, case, parties, case_prefix, applied).await?
                    }
                    Change::UpdateCase { case } => Self::update_case(tx, case).await?,
                    Change::UpdateParty { party } => Self::update_party(tx, party).await?,
                    Change::SetCaseState { case_id, from, to, at } => {
                        Self::set_case_state(tx, case_id, from, to, at).await?
                    }
                    Change::CreateSession { session, participants, invitations } => {
                        Self::create_session(tx, session, participants, invitations).await?
                    }
                    Change::RescheduleSession { reschedule, revoke_invitations, new_invitations } => {
                        Self::reschedule_session(tx, reschedule, revoke_invitations, new_invitations).await?
                    }
                    Change::SetSessionState { session_id, from, to, at, reason } => {
                        Self::set_session_state(tx, session_id, from, to, at, reason).await?
                    }
                    Change::RevokeInvitation { invitation_id, at } => {
                        Self::revoke_invitation(tx, invitation_id, at).await?
                    }
                    Change::InviteObserver { participant, invitation } => {
                        Self::add_participants(tx, std::slice::from_ref(participant), std::slice::from_ref(invitation))
                            .await?
                    }
                    Change::OpenInvitation { invitation_id, at } => {
                        Self::open_invitation(tx, invitation_id, at).await?
                    }
                    Change::Join { attendance } => Self::join(tx, attendance).await?,
                    Change::Leave { attendance_id, at, .. } => Self::leave(tx, attendance_id, at).await?,
                    Change::RecordConsent { consent } => Self::record_consent(tx, consent).await?,
                    Change::CheckIdentity { check } => Self::check_identity(tx, check).await?,
                    Change::SaveTranscript { transcript } => Self::save_transcript(tx, transcript).await?,
                    Change::ConfirmTranscript { confirmation } => Self::confirm_transcript(tx, confirmation).await?,
                    Change::RecordOutcome { outcome } => Self::record_outcome(tx, outcome).await?,
                    Change::SaveAgreement { agreement, voids } => Self::save_agreement(tx, agreement, voids).await?,
                    Change::AddConfirmation { confirmation } => Self::add_confirmation(tx, confirmation).await?,
                    Change::MakeAgreementEffective { case_id, at } => {
                        Self::make_agreement_effective(tx, case_id, at).await?
                    }
                    Change::SaveJudicialConfirmation { judicial } => {
                        Self::save_judicial_confirmation(tx, judicial).await?
                    }
                    Change::AddFollowUp { follow_up } => Self::add_follow_up(tx, follow_up).await?,
                    Change::FlagRisk { flag, reports } => Self::flag_risk(tx, flag, reports).await?,
                    Change::AddRiskReport { report, .. } => Self::add_risk_report(tx, report).await?,
                    Change::CloseRiskFlag { flag_id, closed_by, closed_at, note, .. } => {
                        Self::close_risk_flag(tx, *flag_id, *closed_by, *closed_at, note).await?
                    }
                    Change::CreateConsultation { consultation } => Self::create_consultation(tx, consultation).await?,
                    Change::Note { .. } => {}
                    Change::InsertUnit { unit } => Self::insert_unit_with(&mut **tx, unit).await?,
                    Change::UpdateUnit { unit, .. } => Self::update_unit_with(&mut **tx, unit).await?,
                    Change::InsertAccount { account } => Self::insert_account_with(&mut **tx, account).await?,
                    Change::UpdateAccount { id, changes, .. } => {
                        Self::update_account_with(&mut **tx, *id, changes).await?
                    }
                }
                Ok(Vec::new())
            }

            async fn create_case(
                tx: &mut sqlx::Transaction<'_, $db>,
                case: &$crate::cases::Case,
                parties: &[$crate::cases::Party],
                case_prefix: &str,
                applied: &mut $crate::cases::changes::Applied,
            ) -> $crate::store::StoreResult<()> {
                let (number,): (i32,) = sqlx::query_as(
                    "INSERT INTO case_counters (town_id, year, last_number) VALUES ($1, $2, 1) \
                     ON CONFLICT (town_id, year) DO UPDATE SET last_number = case_counters.last_number + 1 \
                     RETURNING last_number",
                )
                .bind(case.town_id)
                .bind(case.year)
                .fetch_one(&mut **tx)
                .await?;
                let case_number = $crate::cases::case_number(case.year, case_prefix, number);
                sqlx::query(
                    "INSERT INTO cases (id, case_number, district_id, town_id, village_id, year, number, \
                     category, source, summary, amount_fen, public_session, state, registered_by, \
                     registered_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
                )
                .bind(case.id)
                .bind(&case_number)
                .bind(case.district_id)
                .bind(case.town_id)
                .bind(case.village_id)
                .bind(case.year)
                .bind(number)
                .bind(case.category)
                .bind(case.source)
                .bind(&case.summary)
                .bind(case.amount_fen)
                .bind(case.public_session)
                .bind(case.state)
                .bind(case.registered_by)
                .bind(case.registered_at)
                .execute(&mut **tx)
                .await?;
                for party in parties {
                    sqlx::query(
                        "INSERT INTO case_parties (id, case_id, position, side, name, phone, \
                         id_number_sealed, id_number_masked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(party.id)
                    .bind(case.id)
                    .bind(party.position)
                    .bind(party.side)
                    .bind(&party.name)
                    .bind(&party.phone)
                    .bind(&party.id_number_sealed)
                    .bind(&party.id_number_masked)
                    .execute(&mut **tx)
                    .await?;
                }
                applied.case_number = Some(case_number);
                Ok(())
            }

            async fn update_case(
                tx: &mut sqlx::Transaction<'_, $db>,
                case: &$crate::cases::Case,
            ) -> $crate::store::StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE cases SET category = $2, summary = $3, amount_fen = $4, public_session = $5, \
                     updated_at = $6 WHERE id = $1 AND state = $7",
                )
                .bind(case.id)
                .bind(case.category)
                .bind(&case.summary)
                .bind(case.amount_fen)
                .bind(case.public_session)
                .bind(case.updated_at)
                .bind(case.state)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the case")?;
                Ok(())
            }

            async fn update_party(
                tx: &mut sqlx::Transaction<'_, $db>,
                party: &$crate::cases::Party,
            ) -> $crate::store::StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE case_parties SET name = $3, phone = $4, id_number_sealed = $5, \
                     id_number_masked = $6 WHERE id = $1 AND case_id = $2",
                )
                .bind(party.id)
                .bind(party.case_id)
                .bind(&party.name)
                .bind(&party.phone)
                .bind(&party.id_number_sealed)
                .bind(&party.id_number_masked)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the party")?;
                Ok(())
            }

            async fn set_case_state(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: &uuid::Uuid,
                from: &$crate::cases::CaseState,
                to: &$crate::cases::CaseState,
                at: &$crate::time::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                let outcome = to.is_outcome() || *to == $crate::cases::CaseState::Withdrawn;
                let closed = *to == $crate::cases::CaseState::Closed;
                let result = sqlx::query(
                    "UPDATE cases SET state = $3, updated_at = $4, \
                     outcome_at = CASE WHEN $5 THEN $4 ELSE outcome_at END, \
                     closed_at = CASE WHEN $6 THEN $4 ELSE closed_at END \
                     WHERE id = $1 AND state = $2",
                )
                .bind(case_id)
                .bind(from)
                .bind(to)
                .bind(at)
                .bind(outcome)
                .bind(closed)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the case")?;
                Ok(())
            }

            async fn create_consultation(
                tx: &mut sqlx::Transaction<'_, $db>,
                consultation: &$crate::cases::Consultation,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO consultations (id, district_id, town_id, village_id, topic, question, \
                     answer_summary, adviser_id, minutes_taken, via, case_id, asked_at, recorded_by, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(consultation.id)
                .bind(consultation.district_id)
                .bind(consultation.town_id)
                .bind(consultation.village_id)
                .bind(consultation.topic)
                .bind(&consultation.question)
                .bind(&consultation.answer_summary)
                .bind(consultation.adviser_id)
                .bind(consultation.minutes_taken)
                .bind(consultation.via)
                .bind(consultation.case_id)
                .bind(consultation.asked_at)
                .bind(consultation.recorded_by)
                .bind(consultation.created_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }
    };
}

pub(super) use {bind_visibility, case_select, case_visible, impl_case_store, session_columns};
