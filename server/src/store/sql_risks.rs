//! The SQL of risk flags and their reports (Art 25), shared by both
//! backends: the writes `apply` runs in its transaction, and the reads the
//! `CaseStore` methods delegate to. A list is scoped like the case lists:
//! by the case's district, town and village.

macro_rules! risk_flag_columns {
    () => {
        "f.id, f.case_id, f.risk, f.description, f.flagged_by, f.flagged_at, f.closed_by, f.closed_at, f.closing_note"
    };
}

macro_rules! impl_risk_records {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn flag_risk(
                tx: &mut sqlx::Transaction<'_, $db>,
                flag: &$crate::cases::risk::RiskFlag,
                reports: &[$crate::cases::risk::RiskReport],
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO risk_flags (id, case_id, risk, description, flagged_by, flagged_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(flag.id)
                .bind(flag.case_id)
                .bind(flag.risk)
                .bind(&flag.description)
                .bind(flag.flagged_by)
                .bind(flag.flagged_at)
                .execute(&mut **tx)
                .await?;
                for report in reports {
                    Self::add_risk_report(tx, report).await?;
                }
                Ok(())
            }

            async fn add_risk_report(
                tx: &mut sqlx::Transaction<'_, $db>,
                report: &$crate::cases::risk::RiskReport,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO risk_reports (id, flag_id, reported_to, reported_at, detail, recorded_by, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(report.id)
                .bind(report.flag_id)
                .bind(report.reported_to)
                .bind(report.reported_at)
                .bind(&report.detail)
                .bind(report.recorded_by)
                .bind(report.recorded_at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Closes an open flag; a flag closed meanwhile makes the
            /// transaction stale.
            async fn close_risk_flag(
                tx: &mut sqlx::Transaction<'_, $db>,
                flag_id: uuid::Uuid,
                closed_by: uuid::Uuid,
                closed_at: $crate::time::Timestamp,
                note: &str,
            ) -> $crate::store::StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE risk_flags SET closed_by = $2, closed_at = $3, closing_note = $4 \
                     WHERE id = $1 AND closed_at IS NULL",
                )
                .bind(flag_id)
                .bind(closed_by)
                .bind(closed_at)
                .bind(note)
                .execute(&mut **tx)
                .await?;
                Self::expect_one(result, "the risk flag")
            }

            async fn read_risk_flags(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::risk::RiskFlag>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    risk_flag_columns!(),
                    " FROM risk_flags f WHERE f.case_id = $1 ORDER BY f.flagged_at, f.id"
                ))
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn read_risk_flag(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::cases::risk::RiskFlag>> {
                Ok(sqlx::query_as(concat!("SELECT ", risk_flag_columns!(), " FROM risk_flags f WHERE f.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn read_risk_reports(
                &self,
                case_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::cases::risk::RiskReport>> {
                Ok(sqlx::query_as(
                    "SELECT r.id, r.flag_id, r.reported_to, r.reported_at, r.detail, r.recorded_by, r.recorded_at \
                     FROM risk_reports r JOIN risk_flags f ON f.id = r.flag_id \
                     WHERE f.case_id = $1 ORDER BY r.reported_at, r.id",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn read_risk_flag_listing(
                &self,
                filter: &$crate::store::filters::RiskFlagFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::filters::RiskFlagListing>> {
                let open = filter.open;
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    risk_flag_columns!(),
                    ", c.case_number, c.town_id, t.name AS town_name, c.village_id, v.name AS village_name \
                     FROM risk_flags f JOIN cases c ON c.id = f.case_id \
                     JOIN units t ON t.id = c.town_id JOIN units v ON v.id = c.village_id \
                     WHERE ($1 IS NULL OR c.district_id = $1) AND ($2 IS NULL OR c.town_id = $2) \
                     AND ($3 IS NULL OR c.village_id = $3) \
                     AND ($4 IS NULL OR ($4 AND f.closed_at IS NULL) OR (NOT $4 AND f.closed_at IS NOT NULL)) \
                     ORDER BY f.flagged_at DESC, f.id"
                ))
                .bind(filter.within.district_id)
                .bind(filter.within.town_id.or(filter.town_id))
                .bind(filter.within.village_id.or(filter.village_id))
                .bind(open)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(super) use {impl_risk_records, risk_flag_columns};
