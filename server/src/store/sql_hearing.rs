//! The SQL of a hearing's own records, shared by both backends: the
//! parties' consent decisions and identity checks (read oldest first) and
//! the transcript with its confirmations, written by `apply` in its
//! transaction and read per session.

macro_rules! impl_hearing_records {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn record_consent(
                tx: &mut sqlx::Transaction<'_, $db>,
                consent: &$crate::cases::consent::Consent,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO consents (id, session_id, party_id, decision, method, publicity, notice_version, \
                     recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(consent.id)
                .bind(consent.session_id)
                .bind(consent.party_id)
                .bind(consent.decision)
                .bind(consent.method)
                .bind(consent.publicity)
                .bind(&consent.notice_version)
                .bind(consent.recorded_by)
                .bind(consent.recorded_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn check_identity(
                tx: &mut sqlx::Transaction<'_, $db>,
                check: &$crate::cases::consent::IdentityCheck,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO identity_checks (id, session_id, party_id, method, checked_by, checked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(check.id)
                .bind(check.session_id)
                .bind(check.party_id)
                .bind(check.method)
                .bind(check.checked_by)
                .bind(check.checked_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Inserts the first version or replaces the one before it
            /// (stale if another save came first), voiding the live
            /// confirmations of earlier versions.
            async fn save_transcript(
                tx: &mut sqlx::Transaction<'_, $db>,
                transcript: &$crate::cases::transcript::Transcript,
            ) -> $crate::store::StoreResult<()> {
                let query = if transcript.version == 1 {
                    "INSERT INTO transcripts (session_id, case_id, version, held_at, attendees, statements, \
                     agreed_facts, mediator_notes, oral_terms, text, text_sha256, saved_by, saved_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                } else {
                    "UPDATE transcripts SET version = $3, held_at = $4, attendees = $5, statements = $6, \
                     agreed_facts = $7, mediator_notes = $8, oral_terms = $9, text = $10, text_sha256 = $11, \
                     saved_by = $12, saved_at = $13 WHERE session_id = $1 AND case_id = $2 AND version = $3 - 1"
                };
                let result = sqlx::query(query)
                    .bind(transcript.session_id)
                    .bind(transcript.case_id)
                    .bind(transcript.version)
                    .bind(transcript.held_at)
                    .bind(&transcript.attendees)
                    .bind(sqlx::types::Json(&transcript.statements))
                    .bind(&transcript.agreed_facts)
                    .bind(&transcript.mediator_notes)
                    .bind(&transcript.oral_terms)
                    .bind(&transcript.text)
                    .bind(&transcript.text_sha256)
                    .bind(transcript.saved_by)
                    .bind(transcript.saved_at)
                    .execute(&mut **tx)
                    .await?;
                Self::expect_one(result, "the transcript")?;
                sqlx::query(
                    "UPDATE transcript_confirmations SET voided_at = $3 \
                     WHERE session_id = $1 AND version < $2 AND voided_at IS NULL",
                )
                .bind(transcript.session_id)
                .bind(transcript.version)
                .bind(transcript.saved_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn confirm_transcript(
                tx: &mut sqlx::Transaction<'_, $db>,
                confirmation: &$crate::cases::transcript::TranscriptConfirmation,
            ) -> $crate::store::StoreResult<()> {
                // Only the version in force is confirmed: a save meanwhile makes this stale.
                let result = sqlx::query(
                    "INSERT INTO transcript_confirmations (id, session_id, version, party_id, method, text_sha256, \
                     confirmed_at, recorded_by) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                     WHERE EXISTS (SELECT 1 FROM transcripts WHERE session_id = $2 AND version = $3)",
                )
                .bind(confirmation.id)
                .bind(confirmation.session_id)
                .bind(confirmation.version)
                .bind(confirmation.party_id)
                .bind(confirmation.method)
                .bind(&confirmation.text_sha256)
                .bind(confirmation.confirmed_at)
                .bind(confirmation.recorded_by)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the transcript")
            }

            async fn read_transcript(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::transcript::Transcript>> {
                Ok(sqlx::query_as(
                    "SELECT session_id, case_id, version, held_at, attendees, statements, agreed_facts, \
                     mediator_notes, oral_terms, text, text_sha256, saved_by, saved_at FROM transcripts \
                     WHERE session_id = $1",
                )
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn read_transcript_confirmations(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::transcript::TranscriptConfirmation>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, version, party_id, method, text_sha256, confirmed_at, recorded_by, \
                     voided_at FROM transcript_confirmations WHERE session_id = $1 ORDER BY confirmed_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn read_consents(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::consent::Consent>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, party_id, decision, method, publicity, notice_version, recorded_by, \
                     recorded_at FROM consents WHERE session_id = $1 ORDER BY recorded_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn read_identity_checks(
                &self,
                session_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::consent::IdentityCheck>> {
                Ok(sqlx::query_as(
                    "SELECT id, session_id, party_id, method, checked_by, checked_at FROM identity_checks \
                     WHERE session_id = $1 ORDER BY checked_at, id",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(super) use impl_hearing_records;
