//! The writes of outcomes, written agreements and their confirmations,
//! judicial confirmation and follow-ups, shared by both backends; called
//! from `apply_one` in `sql_cases.rs`.

/// Per-change writes of outcomes and agreements, inside the caller's transaction.
macro_rules! impl_agreement_writes {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn settle_agreement_if_complete(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: &uuid::Uuid,
                version: &i32,
                recorded_by: &uuid::Uuid,
                at: &$crate::time::Timestamp,
                applied: &mut $crate::cases::changes::Applied,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::changes::Change>> {
                use $crate::cases::changes::Change;
                let (parties, confirmed, signed): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM case_parties WHERE case_id = $1), \
                     (SELECT COUNT(DISTINCT party_id) FROM agreement_confirmations WHERE case_id = $1 \
                     AND version = $2 AND voided_at IS NULL AND party_id IS NOT NULL), \
                     (SELECT COUNT(*) FROM agreement_confirmations WHERE case_id = $1 AND version = $2 \
                     AND voided_at IS NULL AND signer = 'mediator')",
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
                let outcome =
                    $crate::cases::Outcome::new(*case_id, $crate::cases::OutcomeKind::Written, *recorded_by, *at);
                Ok(vec![
                    Change::MakeAgreementEffective { case_id: *case_id, at: *at },
                    Change::RecordOutcome { outcome },
                    Change::SetCaseState {
                        case_id: *case_id,
                        from: state,
                        to: $crate::cases::CaseState::AgreedWritten,
                        at: *at,
                    },
                ])
            }

            async fn record_outcome(
                tx: &mut sqlx::Transaction<'_, $db>,
                outcome: &$crate::cases::Outcome,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }

            async fn save_agreement(
                tx: &mut sqlx::Transaction<'_, $db>,
                agreement: &$crate::cases::Agreement,
                voids: &bool,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }

            async fn add_confirmation(
                tx: &mut sqlx::Transaction<'_, $db>,
                confirmation: &$crate::cases::Confirmation,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }

            async fn make_agreement_effective(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: &uuid::Uuid,
                at: &$crate::time::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE agreements SET state = 'effective', effective_at = $2, updated_at = $2 \
                     WHERE case_id = $1 AND state = 'signing'",
                )
                .bind(case_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the agreement")?;
                Ok(())
            }

            async fn save_judicial_confirmation(
                tx: &mut sqlx::Transaction<'_, $db>,
                judicial: &$crate::cases::JudicialConfirmation,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }

            async fn add_follow_up(
                tx: &mut sqlx::Transaction<'_, $db>,
                follow_up: &$crate::cases::FollowUp,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }
        }
    };
}

pub(super) use impl_agreement_writes;
