//! The reads of the case records and the transactional `apply`, shared by
//! both backends like `sql.rs`.

/// The `CaseStore` methods, shared by both backends.
macro_rules! impl_case_reads {
    ($store:ty, $db:ty, $begin:expr, $lock:expr) => {
        impl $store {
            /// The changes in one transaction, each with its audit event.
            async fn apply_at(
                &self,
                actor: &$crate::cases::changes::Actor,
                changes: &[$crate::cases::changes::Change],
                occurred_at: Option<$crate::time::Timestamp>,
            ) -> $crate::store::StoreResult<$crate::cases::changes::Applied> {
                // One writer at a time keeps the audit chain linear; the
                // database lock below does the same across processes.
                let _writer = self.writer.lock().await;
                let mut tx = self.pool.begin_with($begin).await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let mut applied = $crate::cases::changes::Applied::default();
                let mut queue: std::collections::VecDeque<$crate::cases::changes::Change> =
                    changes.iter().cloned().collect();
                while let Some(change) = queue.pop_front() {
                    let follow_ups = Self::apply_one(&mut tx, &change, &mut applied).await?;
                    if let Some(entry) = change.audit_entry() {
                        Self::append_audit(&mut tx, actor, entry, occurred_at).await?;
                    }
                    queue.extend(follow_ups);
                }
                tx.commit().await?;
                Ok(applied)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::CaseStore for $store {
            async fn apply(
                &self,
                actor: &$crate::cases::changes::Actor,
                changes: &[$crate::cases::changes::Change],
            ) -> $crate::store::StoreResult<$crate::cases::changes::Applied> {
                self.apply_at(actor, changes, None).await
            }

            async fn apply_recorded(
                &self,
                actor: &$crate::cases::changes::Actor,
                changes: &[$crate::cases::changes::Change],
                occurred_at: $crate::time::Timestamp,
            ) -> $crate::store::StoreResult<$crate::cases::changes::Applied> {
                self.apply_at(actor, changes, Some(occurred_at)).await
            }

            async fn case(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::cases::Case>> {
                Ok(sqlx::query_as(concat!(case_select!(), " WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn cases(
                &self,
                filter: &$crate::store::filters::CaseFilter,
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
                filter: &$crate::store::filters::SessionFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::filters::SessionListing>> {
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
                    "SELECT id, session_id, kind, account_id, party_id, display_name, relation FROM session_participants \
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

            async fn risk_flags(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::risk::RiskFlag>> {
                self.read_risk_flags(case_id).await
            }

            async fn risk_flag(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::risk::RiskFlag>> {
                self.read_risk_flag(id).await
            }

            async fn risk_reports(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::risk::RiskReport>> {
                self.read_risk_reports(case_id).await
            }

            async fn risk_flag_listing(
                &self,
                filter: &$crate::store::filters::RiskFlagFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::filters::RiskFlagListing>> {
                self.read_risk_flag_listing(filter).await
            }

            async fn consents(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::consent::Consent>> {
                self.read_consents(session_id).await
            }

            async fn identity_checks(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::consent::IdentityCheck>> {
                self.read_identity_checks(session_id).await
            }

            async fn transcript(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::transcript::Transcript>> {
                self.read_transcript(session_id).await
            }

            async fn transcript_confirmations(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::transcript::TranscriptConfirmation>> {
                self.read_transcript_confirmations(session_id).await
            }

            async fn consultations(
                &self,
                filter: &$crate::store::filters::ConsultationFilter,
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
                filter: &$crate::store::filters::CaseFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::stats::StatsRow>> {
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
                     client_addr, details, prev_hash, hash, occurred_at FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(super) use impl_case_reads;
