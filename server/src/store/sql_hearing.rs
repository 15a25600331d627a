//! The SQL of what precedes a hearing, shared by both backends: parties'
//! consent decisions and identity checks, written by `apply` in its
//! transaction and read per session, oldest first.

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
