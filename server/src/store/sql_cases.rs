//! The case records' SQL, shared by both backends like `sql.rs`: the
//! transactional `apply` of a list of changes with their audit events, and
//! the reads. Instantiated per backend by `impl_case_store!`.

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
        let within: Option<$crate::store::Chain> = $within;
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
    ($store:ty, $db:ty, $begin:expr, $lock:expr) => {
        impl $store {
            async fn append_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                actor: &$crate::store::audit::Actor,
                entry: $crate::store::audit::AuditEntry,
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
                    at: $crate::store::Timestamp::now(),
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
                     object_id, result, client_addr, details, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
                change: &$crate::store::changes::Change,
                applied: &mut $crate::store::changes::Applied,
            ) -> $crate::store::StoreResult<Vec<$crate::store::changes::Change>> {
                use $crate::store::changes::Change;
                match change {
                    Change::SettleAgreementIfComplete { case_id, version, recorded_by, at } => {
                        let (parties, confirmed, signed): (i64, i64, i64) = sqlx::query_as(
                            "SELECT (SELECT COUNT(*) FROM case_parties WHERE case_id = $1),                              (SELECT COUNT(DISTINCT party_id) FROM agreement_confirmations WHERE case_id = $1                               AND version = $2 AND voided_at IS NULL AND party_id IS NOT NULL),                              (SELECT COUNT(*) FROM agreement_confirmations WHERE case_id = $1 AND version = $2                               AND voided_at IS NULL AND signer = 'mediator')",
                        )
                        .bind(case_id)
                        .bind(version)
                        .fetch_one(&mut **tx)
                        .await?;
                        let (state,): ($crate::cases::CaseState,) =
                            sqlx::query_as("SELECT state FROM cases WHERE id = $1").bind(case_id).fetch_one(&mut **tx).await?;
                        if confirmed < parties || signed == 0 || !state.may_become($crate::cases::CaseState::AgreedWritten) {
                            return Ok(Vec::new());
                        }
                        applied.agreement_effective = true;
                        let outcome = $crate::cases::Outcome::new(*case_id, $crate::cases::OutcomeKind::Written, *recorded_by, *at);
                        return Ok(vec![
                            Change::MakeAgreementEffective { case_id: *case_id, at: *at },
                            Change::RecordOutcome { outcome },
                            Change::SetCaseState {
                                case_id: *case_id,
                                from: state,
                                to: $crate::cases::CaseState::AgreedWritten,
                                at: *at,
                            },
                        ]);
                    }
                    Change::CreateCase { case, parties, case_prefix } => {
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
                    }
                    Change::UpdateCase { case } => {
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
                    }
                    Change::UpdateParty { party } => {
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
                    }
                    Change::SetCaseState { case_id, from, to, at } => {
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
                    }
                    Change::CreateSession { session, participants, invitations } => {
                        sqlx::query(
                            "INSERT INTO sessions (id, case_id, planned_start, planned_minutes, mode, state, \
                             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                        )
                        .bind(session.id)
                        .bind(session.case_id)
                        .bind(session.planned_start)
                        .bind(session.planned_minutes)
                        .bind(session.mode)
                        .bind(session.state)
                        .bind(session.created_by)
                        .bind(session.created_at)
                        .execute(&mut **tx)
                        .await?;
                        for participant in participants {
                            sqlx::query(
                                "INSERT INTO session_participants (id, session_id, kind, account_id, party_id, \
                                 display_name) VALUES ($1, $2, $3, $4, $5, $6)",
                            )
                            .bind(participant.id)
                            .bind(participant.session_id)
                            .bind(participant.kind)
                            .bind(participant.account_id)
                            .bind(participant.party_id)
                            .bind(&participant.display_name)
                            .execute(&mut **tx)
                            .await?;
                        }
                        for invitation in invitations {
                            Self::insert_invitation(tx, invitation).await?;
                        }
                    }
                    Change::RescheduleSession { reschedule, revoke_invitations, new_invitations } => {
                        let result = sqlx::query(
                            "UPDATE sessions SET planned_start = $2, planned_minutes = $3, updated_at = $4 \
                             WHERE id = $1 AND state = 'planned' AND planned_start = $5 AND planned_minutes = $6",
                        )
                        .bind(reschedule.session_id)
                        .bind(reschedule.new_start)
                        .bind(reschedule.new_minutes)
                        .bind(reschedule.changed_at)
                        .bind(reschedule.previous_start)
                        .bind(reschedule.previous_minutes)
                        .execute(&mut **tx)
                        .await?;
                        Self::expect_one(result, "the session")?;
                        sqlx::query(
                            "INSERT INTO session_reschedules (id, session_id, previous_start, previous_minutes, \
                             new_start, new_minutes, reason, changed_by, changed_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(reschedule.id)
                        .bind(reschedule.session_id)
                        .bind(reschedule.previous_start)
                        .bind(reschedule.previous_minutes)
                        .bind(reschedule.new_start)
                        .bind(reschedule.new_minutes)
                        .bind(&reschedule.reason)
                        .bind(reschedule.changed_by)
                        .bind(reschedule.changed_at)
                        .execute(&mut **tx)
                        .await?;
                        if *revoke_invitations {
                            sqlx::query(
                                "UPDATE invitations SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
                            )
                            .bind(reschedule.session_id)
                            .bind(reschedule.changed_at)
                            .execute(&mut **tx)
                            .await?;
                        }
                        for invitation in new_invitations {
                            Self::insert_invitation(tx, invitation).await?;
                        }
                    }
                    Change::SetSessionState { session_id, from, to, at, reason } => {
                        let result = sqlx::query(
                            "UPDATE sessions SET state = $3, updated_at = $4, \
                             actual_start = CASE WHEN $3 = 'live' AND actual_start IS NULL THEN $4 ELSE actual_start END, \
                             actual_end = CASE WHEN $3 = 'ended' THEN $4 ELSE actual_end END, \
                             cancel_reason = CASE WHEN $3 = 'cancelled' THEN $5 ELSE cancel_reason END \
                             WHERE id = $1 AND state = $2",
                        )
                        .bind(session_id)
                        .bind(from)
                        .bind(to)
                        .bind(at)
                        .bind(reason)
                        .execute(&mut **tx)
                        .await?;
                        Self::expect_one(result, "the session")?;
                        if matches!(to, $crate::cases::SessionState::Ended | $crate::cases::SessionState::Cancelled) {
                            sqlx::query(
                                "UPDATE attendance SET left_at = $2 WHERE session_id = $1 AND left_at IS NULL",
                            )
                            .bind(session_id)
                            .bind(at)
                            .execute(&mut **tx)
                            .await?;
                        }
                    }
                    Change::RevokeInvitation { invitation_id, at } => {
                        let result = sqlx::query(
                            "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                        )
                        .bind(invitation_id)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                        Self::expect_one(result, "the invitation")?;
                    }
                    Change::OpenInvitation { invitation_id, at } => {
                        sqlx::query(
                            "UPDATE invitations SET first_opened_at = COALESCE(first_opened_at, $2) WHERE id = $1",
                        )
                        .bind(invitation_id)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::Join { attendance } => {
                        sqlx::query(
                            "INSERT INTO attendance (id, session_id, participant_id, joined_at, left_at) \
                             VALUES ($1, $2, $3, $4, NULL)",
                        )
                        .bind(attendance.id)
                        .bind(attendance.session_id)
                        .bind(attendance.participant_id)
                        .bind(attendance.joined_at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::Leave { attendance_id, at, .. } => {
                        sqlx::query("UPDATE attendance SET left_at = $2 WHERE id = $1 AND left_at IS NULL")
                            .bind(attendance_id)
                            .bind(at)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Change::RecordOutcome { outcome } => {
                        sqlx::query(
                            "INSERT INTO outcomes (case_id, kind, reached_via, terms, reason, routes_told, \
                             referred_to, reference_number, effective_at, recorded_by, recorded_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        )
                        .bind(outcome.case_id)
                        .bind(outcome.kind)
                        .bind(outcome.reached_via)
                        .bind(&outcome.terms)
                        .bind(&outcome.reason)
                        .bind(&outcome.routes_told)
                        .bind(&outcome.referred_to)
                        .bind(&outcome.reference_number)
                        .bind(outcome.effective_at)
                        .bind(outcome.recorded_by)
                        .bind(outcome.recorded_at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::SaveAgreement { agreement, voids } => {
                        if *voids {
                            sqlx::query(
                                "UPDATE agreement_confirmations SET voided_at = $2 WHERE case_id = $1 AND voided_at IS NULL",
                            )
                            .bind(agreement.case_id)
                            .bind(agreement.updated_at)
                            .execute(&mut **tx)
                            .await?;
                        }
                        sqlx::query(
                            "INSERT INTO agreements (case_id, state, version, facts, responsibilities, terms, \
                             performance_manner, performance_deadline, text_sha256, created_by, created_at, \
                             updated_at, effective_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL) \
                             ON CONFLICT (case_id) DO UPDATE SET state = excluded.state, version = excluded.version, \
                             facts = excluded.facts, responsibilities = excluded.responsibilities, \
                             terms = excluded.terms, performance_manner = excluded.performance_manner, \
                             performance_deadline = excluded.performance_deadline, \
                             text_sha256 = excluded.text_sha256, updated_at = excluded.updated_at \
                             WHERE agreements.state <> 'effective' AND agreements.version = excluded.version - 1",
                        )
                        .bind(agreement.case_id)
                        .bind(agreement.state)
                        .bind(agreement.version)
                        .bind(&agreement.facts)
                        .bind(&agreement.responsibilities)
                        .bind(&agreement.terms)
                        .bind(&agreement.performance_manner)
                        .bind(agreement.performance_deadline)
                        .bind(&agreement.text_sha256)
                        .bind(agreement.created_by)
                        .bind(agreement.created_at)
                        .bind(agreement.updated_at)
                        .execute(&mut **tx)
                        .await
                        .map_err($crate::store::StoreError::from)
                        .and_then(|result| Self::expect_one(result, "the agreement"))?;
                    }
                    Change::AddConfirmation { confirmation } => {
                        let result = sqlx::query(
                            "UPDATE agreements SET state = 'signing', updated_at = $3 \
                             WHERE case_id = $1 AND version = $2 AND text_sha256 = $4 AND state <> 'effective'",
                        )
                        .bind(confirmation.case_id)
                        .bind(confirmation.version)
                        .bind(confirmation.confirmed_at)
                        .bind(&confirmation.text_sha256)
                        .execute(&mut **tx)
                        .await?;
                        Self::expect_one(result, "the agreement text")?;
                        sqlx::query(
                            "INSERT INTO agreement_confirmations (id, case_id, version, signer, party_id, \
                             signer_account_id, method, text_sha256, confirmed_at, recorded_by, voided_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
                        )
                        .bind(confirmation.id)
                        .bind(confirmation.case_id)
                        .bind(confirmation.version)
                        .bind(confirmation.signer)
                        .bind(confirmation.party_id)
                        .bind(confirmation.signer_account_id)
                        .bind(confirmation.method)
                        .bind(&confirmation.text_sha256)
                        .bind(confirmation.confirmed_at)
                        .bind(confirmation.recorded_by)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::MakeAgreementEffective { case_id, at } => {
                        let result = sqlx::query(
                            "UPDATE agreements SET state = 'effective', effective_at = $2, updated_at = $2 \
                             WHERE case_id = $1 AND state = 'signing'",
                        )
                        .bind(case_id)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                        Self::expect_one(result, "the agreement")?;
                    }
                    Change::SaveJudicialConfirmation { judicial } => {
                        sqlx::query(
                            "INSERT INTO judicial_confirmations (case_id, applied_on, court, result, result_on, \
                             recorded_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (case_id) DO UPDATE SET applied_on = excluded.applied_on, \
                             court = excluded.court, result = excluded.result, result_on = excluded.result_on, \
                             recorded_by = excluded.recorded_by, updated_at = excluded.updated_at",
                        )
                        .bind(judicial.case_id)
                        .bind(judicial.applied_on)
                        .bind(&judicial.court)
                        .bind(judicial.result)
                        .bind(judicial.result_on)
                        .bind(judicial.recorded_by)
                        .bind(judicial.updated_at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::AddFollowUp { follow_up } => {
                        sqlx::query(
                            "INSERT INTO follow_ups (id, case_id, visited_on, visited_by, performance, \
                             satisfaction, remaining_risk, next_step, recorded_by, recorded_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(follow_up.id)
                        .bind(follow_up.case_id)
                        .bind(follow_up.visited_on)
                        .bind(&follow_up.visited_by)
                        .bind(follow_up.performance)
                        .bind(follow_up.satisfaction)
                        .bind(&follow_up.remaining_risk)
                        .bind(&follow_up.next_step)
                        .bind(follow_up.recorded_by)
                        .bind(follow_up.recorded_at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::CreateConsultation { consultation: c } => {
                        sqlx::query(
                            "INSERT INTO consultations (id, district_id, town_id, village_id, topic, question, \
                             answer_summary, adviser_id, minutes_taken, via, case_id, asked_at, recorded_by, \
                             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                        )
                        .bind(c.id)
                        .bind(c.district_id)
                        .bind(c.town_id)
                        .bind(c.village_id)
                        .bind(c.topic)
                        .bind(&c.question)
                        .bind(&c.answer_summary)
                        .bind(c.adviser_id)
                        .bind(c.minutes_taken)
                        .bind(c.via)
                        .bind(c.case_id)
                        .bind(c.asked_at)
                        .bind(c.recorded_by)
                        .bind(c.created_at)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Change::Note { .. } => {}
                    Change::InsertUnit { unit } => Self::insert_unit_with(&mut **tx, unit).await?,
                    Change::UpdateUnit { unit } => Self::update_unit_with(&mut **tx, unit).await?,
                    Change::InsertAccount { account } => Self::insert_account_with(&mut **tx, account).await?,
                    Change::UpdateAccount { id, changes } => Self::update_account_with(&mut **tx, *id, changes).await?,
                }
                Ok(Vec::new())
            }
        }
    };
}

/// The `CaseStore` methods, shared by both backends.
macro_rules! impl_case_reads {
    ($store:ty, $db:ty, $begin:expr, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::CaseStore for $store {
            async fn apply(
                &self,
                actor: &$crate::store::audit::Actor,
                changes: &[$crate::store::changes::Change],
            ) -> $crate::store::StoreResult<$crate::store::changes::Applied> {
                // One writer at a time keeps the audit chain linear; the
                // database lock below does the same across processes.
                let _writer = self.writer.lock().await;
                let mut tx = self.pool.begin_with($begin).await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let mut applied = $crate::store::changes::Applied::default();
                let mut queue: std::collections::VecDeque<$crate::store::changes::Change> =
                    changes.iter().cloned().collect();
                while let Some(change) = queue.pop_front() {
                    let follow_ups = Self::apply_one(&mut tx, &change, &mut applied).await?;
                    if let Some(entry) = change.audit_entry() {
                        Self::append_audit(&mut tx, actor, entry).await?;
                    }
                    queue.extend(follow_ups);
                }
                tx.commit().await?;
                Ok(applied)
            }

            async fn case(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::cases::Case>> {
                Ok(sqlx::query_as(concat!(case_select!(), " WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn cases(
                &self,
                filter: &$crate::store::changes::CaseFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Case>> {
                let text = filter.text.as_ref().map(|text| {
                    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    format!("%{escaped}%")
                });
                let query = sqlx::query_as(concat!(
                    case_select!(),
                    " WHERE ",
                    case_visible!(),
                    " AND ($6 IS NULL OR c.state = $6) AND ($7 IS NULL OR c.village_id = $7) \
                     AND ($8 IS NULL OR c.category = $8) \
                     AND ($9 IS NULL OR c.case_number LIKE $9 ESCAPE '\\' OR c.summary LIKE $9 ESCAPE '\\') \
                     AND ($10 IS NULL OR c.registered_at >= $10) AND ($11 IS NULL OR c.registered_at < $11) \
                     ORDER BY c.registered_at DESC, c.id LIMIT $12 OFFSET $13"
                ));
                Ok(bind_visibility!(query, filter.within, filter.participant)
                    .bind(filter.state)
                    .bind(filter.village_id)
                    .bind(filter.category)
                    .bind(text)
                    .bind(filter.registered_from)
                    .bind(filter.registered_to)
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn is_case_participant(
                &self,
                case_id: uuid::Uuid,
                account_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<bool> {
                let found: Option<(i32,)> = sqlx::query_as(
                    "SELECT 1 FROM session_participants sp JOIN sessions s ON s.id = sp.session_id \
                     WHERE s.case_id = $1 AND sp.account_id = $2 LIMIT 1",
                )
                .bind(case_id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.is_some())
            }

            async fn parties(&self, case_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::cases::Party>> {
                Ok(sqlx::query_as(
                    "SELECT id, case_id, position, side, name, phone, id_number_sealed, id_number_masked \
                     FROM case_parties WHERE case_id = $1 ORDER BY position",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn session(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::cases::Session>> {
                Ok(sqlx::query_as(concat!("SELECT ", session_columns!(), " FROM sessions s WHERE s.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn sessions_of_case(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Session>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions s WHERE s.case_id = $1 ORDER BY s.planned_start, s.id"
                ))
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn sessions(
                &self,
                filter: &$crate::store::changes::SessionFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::changes::SessionListing>> {
                let query = sqlx::query_as(concat!(
                    "SELECT ",
                    session_columns!(),
                    ", c.case_number, c.village_id, v.name AS village_name, c.category \
                     FROM sessions s JOIN cases c ON c.id = s.case_id JOIN units v ON v.id = c.village_id WHERE ",
                    case_visible!(),
                    " AND ($6 IS NULL OR s.planned_start >= $6) AND ($7 IS NULL OR s.planned_start < $7) \
                     AND ($8 IS NULL OR s.state = $8) ORDER BY s.planned_start, s.id LIMIT 500"
                ));
                Ok(bind_visibility!(query, filter.within, filter.participant)
                    .bind(filter.from)
                    .bind(filter.to)
                    .bind(filter.state)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn participants(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Participant>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, kind, account_id, party_id, display_name FROM session_participants \
                     WHERE session_id = $1 ORDER BY kind, display_name, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn reschedules(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Reschedule>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, previous_start, previous_minutes, new_start, new_minutes, reason, \
                     changed_by, changed_at FROM session_reschedules WHERE session_id = $1 ORDER BY changed_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn invitations(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Invitation>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, participant_id, valid_from, valid_until, created_at, revoked_at, \
                     first_opened_at FROM invitations WHERE session_id = $1 ORDER BY created_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn invitation(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::cases::Invitation>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, participant_id, valid_from, valid_until, created_at, revoked_at, \
                     first_opened_at FROM invitations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn attendance(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Attendance>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, participant_id, joined_at, left_at FROM attendance \
                     WHERE session_id = $1 ORDER BY joined_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn outcome(&self, case_id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::cases::Outcome>> {
                Ok(sqlx::query_as(
                    "SELECT case_id, kind, reached_via, terms, reason, routes_told, referred_to, reference_number, \
                     effective_at, recorded_by, recorded_at FROM outcomes WHERE case_id = $1",
                )
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn agreement(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::Agreement>> {
                Ok(sqlx::query_as(
                    "SELECT case_id, state, version, facts, responsibilities, terms, performance_manner, \
                     performance_deadline, text_sha256, created_by, created_at, updated_at, effective_at \
                     FROM agreements WHERE case_id = $1",
                )
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn confirmations(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Confirmation>> {
                Ok(sqlx::query_as(
                    "SELECT id, case_id, version, signer, party_id, signer_account_id, method, text_sha256, \
                     confirmed_at, recorded_by, voided_at FROM agreement_confirmations WHERE case_id = $1 \
                     ORDER BY confirmed_at, id",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn judicial_confirmation(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::JudicialConfirmation>> {
                Ok(sqlx::query_as(
                    "SELECT case_id, applied_on, court, result, result_on, recorded_by, updated_at \
                     FROM judicial_confirmations WHERE case_id = $1",
                )
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn follow_ups(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::FollowUp>> {
                Ok(sqlx::query_as(
                    "SELECT id, case_id, visited_on, visited_by, performance, satisfaction, remaining_risk, \
                     next_step, recorded_by, recorded_at FROM follow_ups WHERE case_id = $1 ORDER BY visited_on, id",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn consultations(
                &self,
                filter: &$crate::store::changes::ConsultationFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::Consultation>> {
                let query = sqlx::query_as(
                    "SELECT id, district_id, town_id, village_id, topic, question, answer_summary, adviser_id, \
                     minutes_taken, via, case_id, asked_at, recorded_by, created_at FROM consultations \
                     WHERE (($1 AND ($2 IS NULL OR district_id = $2) AND ($3 IS NULL OR town_id = $3) \
                     AND ($4 IS NULL OR village_id = $4)) OR ($5 IS NOT NULL AND adviser_id = $5)) \
                     AND ($6 IS NULL OR asked_at >= $6) AND ($7 IS NULL OR asked_at < $7) \
                     ORDER BY asked_at DESC, id",
                );
                Ok(bind_visibility!(query, filter.within, filter.adviser_id)
                    .bind(filter.from)
                    .bind(filter.to)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn stats_rows(
                &self,
                filter: &$crate::store::changes::CaseFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::changes::StatsRow>> {
                let query = sqlx::query_as(concat!(
                    "SELECT c.village_id, v.name AS village_name, c.category, c.state, c.registered_at, \
                     o.kind AS outcome_kind, o.reached_via, c.outcome_at, \
                     EXISTS (SELECT 1 FROM sessions hs WHERE hs.case_id = c.id AND hs.mode = 'video' \
                     AND hs.actual_start IS NOT NULL) AS has_video \
                     FROM cases c JOIN units v ON v.id = c.village_id LEFT JOIN outcomes o ON o.case_id = c.id \
                     WHERE ",
                    case_visible!(),
                    " AND ($6 IS NULL OR c.registered_at >= $6) AND ($7 IS NULL OR c.registered_at < $7)"
                ));
                Ok(bind_visibility!(query, filter.within, filter.participant)
                    .bind(filter.registered_from)
                    .bind(filter.registered_to)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn audit_events(
                &self,
                after_seq: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::audit::AuditEvent>> {
                Ok(sqlx::query_as(
                    "SELECT seq, at, actor_id, actor_role, actor_name, action, object_type, object_id, result, \
                     client_addr, details, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(super) use {bind_visibility, case_select, case_visible, impl_case_reads, impl_case_store, session_columns};
