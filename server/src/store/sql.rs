//! The SQL both backends share. PostgreSQL and SQLite accept the same text
//! for everything the service does (`$n` parameters, RETURNING, partial
//! indexes, TRUE/FALSE), and the column types that differ are mapped by
//! `types.rs`, so one body implements `Store` for both: the macro below is
//! instantiated once per backend in `postgres.rs` and `sqlite.rs`.

/// The columns of a `Unit`, in a macro so that queries stay `&'static str`.
macro_rules! unit_columns {
    () => {
        "id, kind, name, district_id, town_id, office_name, case_prefix, station_name, active, created_at, updated_at"
    };
}

/// Selects `Account` rows joined with their home unit.
macro_rules! account_select {
    () => {
        "SELECT a.id, a.username, a.display_name, a.role, a.unit_id, \
     u.name AS unit_name, u.district_id AS district_id, u.town_id AS town_id, \
     CASE WHEN u.kind = 'village' THEN u.id END AS village_id, \
     a.phone, a.active, \
     COALESCE(u.active AND COALESCE(ut.active, TRUE) AND COALESCE(ud.active, TRUE), TRUE) AS unit_active, \
     a.token_version, \
     a.created_at, a.updated_at \
     FROM accounts a LEFT JOIN units u ON u.id = a.unit_id \
     LEFT JOIN units ut ON ut.id = u.town_id LEFT JOIN units ud ON ud.id = u.district_id"
    };
}

macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            async fn insert_unit_with<'e, E>(executor: E, unit: &$crate::tree::Unit) -> $crate::store::StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO units (id, kind, name, district_id, town_id, office_name, case_prefix, \
                     station_name, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(unit.id)
                .bind(unit.kind)
                .bind(&unit.name)
                .bind(unit.district_id)
                .bind(unit.town_id)
                .bind(&unit.office_name)
                .bind(&unit.case_prefix)
                .bind(&unit.station_name)
                .bind(unit.active)
                .bind(unit.created_at)
                .bind(unit.updated_at)
                .execute(executor)
                .await?;
                Ok(())
            }

            async fn insert_account_with<'e, E>(
                executor: E,
                account: &$crate::tree::NewAccount,
            ) -> $crate::store::StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let now = $crate::time::Timestamp::now();
                sqlx::query(
                    "INSERT INTO accounts (id, username, display_name, role, unit_id, phone, password_hash, \
                     token_version, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, TRUE, $8, $8)",
                )
                .bind(account.id)
                .bind(&account.username)
                .bind(&account.display_name)
                .bind(account.role)
                .bind(account.unit_id)
                .bind(&account.phone)
                .bind(&account.password_hash)
                .bind(now)
                .execute(executor)
                .await?;
                Ok(())
            }
        }

        impl $store {
            async fn update_unit_with<'e, E>(executor: E, unit: &$crate::tree::Unit) -> $crate::store::StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let result = sqlx::query(
                    "UPDATE units SET name = $2, office_name = $3, case_prefix = $4, station_name = $5, \
                     active = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(unit.id)
                .bind(&unit.name)
                .bind(&unit.office_name)
                .bind(&unit.case_prefix)
                .bind(&unit.station_name)
                .bind(unit.active)
                .bind(unit.updated_at)
                .execute(executor)
                .await?;
                if result.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                Ok(())
            }

            async fn update_account_with<'e, E>(
                executor: E,
                id: uuid::Uuid,
                changes: &$crate::tree::AccountChanges,
            ) -> $crate::store::StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let revokes = changes.active == Some(false) || changes.password_hash.is_some();
                let (set_phone, phone) = match &changes.phone {
                    Some(phone) => (true, phone.clone()),
                    None => (false, None),
                };
                let result = sqlx::query(
                    "UPDATE accounts SET \
                     display_name = COALESCE($2, display_name), \
                     phone = CASE WHEN $3 THEN $4 ELSE phone END, \
                     active = COALESCE($5, active), \
                     password_hash = COALESCE($6, password_hash), \
                     token_version = token_version + CASE WHEN $7 THEN 1 ELSE 0 END, \
                     updated_at = $8 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(&changes.display_name)
                .bind(set_phone)
                .bind(phone)
                .bind(changes.active)
                .bind(&changes.password_hash)
                .bind(revokes)
                .bind($crate::time::Timestamp::now())
                .execute(executor)
                .await?;
                if result.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn dump(&self) -> $crate::store::StoreResult<(i64, Vec<$crate::store::backup::TableRows>)> {
                self.dump_tables().await
            }

            async fn load(&self, tables: &[$crate::store::backup::TableRows]) -> $crate::store::StoreResult<()> {
                self.load_tables(tables).await
            }

            async fn is_empty(&self) -> $crate::store::StoreResult<bool> {
                let (units, accounts): (i64, i64) =
                    sqlx::query_as("SELECT (SELECT COUNT(*) FROM units), (SELECT COUNT(*) FROM accounts)")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(units == 0 && accounts == 0)
            }

            async fn unit(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::tree::Unit>> {
                let sql = concat!("SELECT ", unit_columns!(), " FROM units WHERE id = $1");
                Ok(sqlx::query_as(sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn units(
                &self,
                filter: &$crate::store::filters::UnitFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::tree::Unit>> {
                let sql = concat!(
                    "SELECT ",
                    unit_columns!(),
                    " FROM units WHERE kind = $1 \
                     AND ($2 IS NULL OR district_id = $2) \
                     AND ($3 IS NULL OR town_id = $3) \
                     AND ($4 IS NULL OR id = $4) \
                     AND ($5 IS NULL OR active = $5) \
                     ORDER BY name, id",
                );
                Ok(sqlx::query_as(sql)
                    .bind(filter.kind)
                    .bind(filter.within.district_id)
                    .bind(filter.within.town_id)
                    .bind(filter.within.village_id)
                    .bind(filter.active)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn account(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::tree::Account>> {
                let sql = concat!(account_select!(), " WHERE a.id = $1");
                Ok(sqlx::query_as(sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn account_for_login(
                &self,
                username: &str,
            ) -> $crate::store::StoreResult<Option<($crate::tree::Account, String)>> {
                let Some((id, hash)): Option<(uuid::Uuid, String)> =
                    sqlx::query_as("SELECT id, password_hash FROM accounts WHERE username = $1")
                        .bind(username)
                        .fetch_optional(&self.pool)
                        .await?
                else {
                    return Ok(None);
                };
                Ok(self.account(id).await?.map(|account| (account, hash)))
            }

            async fn accounts(
                &self,
                filter: &$crate::store::filters::AccountFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::tree::Account>> {
                let sql = concat!(
                    account_select!(),
                    " WHERE ((a.unit_id IS NULL AND $1) OR (a.unit_id IS NOT NULL \
                     AND ($2 IS NULL OR u.district_id = $2) \
                     AND ($3 IS NULL OR u.town_id = $3) \
                     AND ($4 IS NULL OR u.id = $4))) \
                     AND ($5 IS NULL OR a.id = $5) \
                     AND ($6 IS NULL OR a.role = $6) \
                     AND ($7 IS NULL OR a.active = $7) \
                     ORDER BY a.username",
                );
                Ok(sqlx::query_as(sql)
                    .bind(filter.include_unitless)
                    .bind(filter.within.district_id)
                    .bind(filter.within.town_id)
                    .bind(filter.within.village_id)
                    .bind(filter.only_id)
                    .bind(filter.role)
                    .bind(filter.active)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(super) use {account_select, impl_sql_store, unit_columns};
