//! The writes of sessions, invitations and attendance, shared by both
//! backends; called from `apply_one` in `sql_cases.rs`.

/// Per-change writes of sessions, inside the caller's transaction.
macro_rules! impl_session_writes {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn create_session(
                tx: &mut sqlx::Transaction<'_, $db>,
                session: &$crate::cases::Session,
                participants: &[$crate::cases::Participant],
                invitations: &[$crate::cases::Invitation],
            ) -> $crate::store::StoreResult<()> {
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
                Self::add_participants(tx, participants, invitations).await
            }

            /// Participants of a session, with the invitations of those who join by link.
            async fn add_participants(
                tx: &mut sqlx::Transaction<'_, $db>,
                participants: &[$crate::cases::Participant],
                invitations: &[$crate::cases::Invitation],
            ) -> $crate::store::StoreResult<()> {
                for participant in participants {
                    sqlx::query(
                        "INSERT INTO session_participants (id, session_id, kind, account_id, party_id, \
                         display_name, relation) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(participant.id)
                    .bind(participant.session_id)
                    .bind(participant.kind)
                    .bind(participant.account_id)
                    .bind(participant.party_id)
                    .bind(&participant.display_name)
                    .bind(&participant.relation)
                    .execute(&mut **tx)
                    .await?;
                }
                for invitation in invitations {
                    Self::insert_invitation(tx, invitation).await?;
                }
                Ok(())
            }


            async fn reschedule_session(
                tx: &mut sqlx::Transaction<'_, $db>,
                reschedule: &$crate::cases::Reschedule,
                revoke_invitations: &bool,
                new_invitations: &[$crate::cases::Invitation],
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }


            async fn set_session_state(
                tx: &mut sqlx::Transaction<'_, $db>,
                session_id: &uuid::Uuid,
                from: &$crate::cases::SessionState,
                to: &$crate::cases::SessionState,
                at: &$crate::time::Timestamp,
                reason: &Option<String>,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }


            async fn revoke_invitation(
                tx: &mut sqlx::Transaction<'_, $db>,
                invitation_id: &uuid::Uuid,
                at: &$crate::time::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(invitation_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the invitation")?;
                Ok(())
            }


            async fn open_invitation(
                tx: &mut sqlx::Transaction<'_, $db>,
                invitation_id: &uuid::Uuid,
                at: &$crate::time::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE invitations SET first_opened_at = COALESCE(first_opened_at, $2) WHERE id = $1",
                )
                .bind(invitation_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }


            async fn join(
                tx: &mut sqlx::Transaction<'_, $db>,
                attendance: &$crate::cases::Attendance,
            ) -> $crate::store::StoreResult<()> {
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
                Ok(())
            }


            async fn leave(
                tx: &mut sqlx::Transaction<'_, $db>,
                attendance_id: &uuid::Uuid,
                at: &$crate::time::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE attendance SET left_at = $2 WHERE id = $1 AND left_at IS NULL")
                    .bind(attendance_id)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_session_writes;
