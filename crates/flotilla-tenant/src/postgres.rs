//! PostgreSQL tenants: a schema on a shared server, or a whole database.
//!
//! A session starts with one round trip that sets the session limits (`lock_timeout`,
//! `statement_timeout`), puts the tenant's schema first on the `search_path`, and learns the
//! backend pid, the schema and whether the tracking table exists. The tenant's migration lock is a
//! session advisory lock keyed by (database, schema), taken with `pg_try_advisory_lock` polled until
//! `lock_wait`: a blocked `pg_advisory_lock` would deadlock against `CREATE INDEX CONCURRENTLY`,
//! which waits for every transaction, including a waiting migrator's.
//!
//! A transactional migration is one message: `BEGIN`, the up section, the tracking row (with a
//! duration PostgreSQL measures itself) and `COMMIT`, so migrating a tenant costs one round trip
//! per migration. A `transaction:false` migration follows the dirty protocol, its statements sent
//! one by one, because a multi-statement message runs in an implicit transaction.

use std::fmt::Write;
use std::time::{Duration, Instant};

use chrono::Utc;
use flotilla_fleet::Policy;
use flotilla_migrations::Migration;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Postgres, Row};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{TenantError, db_message};
use crate::executor::Step;
use crate::sql::{Grammar, literal, pg_ident, split_statements};
use crate::state::{TenantState, state_of};

/// A pooled session (schema tenants) or a connection of its own (database tenants), with the
/// permit that counts it against its host's cap.
pub(crate) enum PgConn {
    Pooled {
        conn: PoolConnection<Postgres>,
        _permit: OwnedSemaphorePermit,
    },
    Own {
        conn: PgConnection,
        _permit: OwnedSemaphorePermit,
    },
}

impl PgConn {
    fn get(&mut self) -> &mut PgConnection {
        match self {
            PgConn::Pooled { conn, .. } => conn,
            PgConn::Own { conn, .. } => conn,
        }
    }
}

pub(crate) struct PgTenant {
    conn: Option<PgConn>,
    schema: String,
    /// `"schema".flotilla_migrations`
    table: String,
    has_table: bool,
    pub(crate) backend: u32,
    locked: bool,
    /// False while a call is in flight. A session dropped in that state (a cancelled tenant) may be
    /// mid-statement or mid-transaction: it is closed, never handed back to the pool.
    clean: bool,
}

impl PgTenant {
    /// Sets the session up for the tenant. `schema` is the tenant's schema on a shared server;
    /// `None` means a database tenant, whose tracking table lives in its current schema.
    pub(crate) async fn start(
        conn: PgConn,
        schema: Option<String>,
        policy: &Policy,
    ) -> Result<Self, TenantError> {
        let mut tenant = Self {
            conn: Some(conn),
            schema: String::new(),
            table: String::new(),
            has_table: false,
            backend: 0,
            locked: false,
            clean: false,
        };
        let schema_expr = schema
            .as_deref()
            .map_or_else(|| "current_schema()".to_string(), literal);
        let mut batch = format!(
            "SET standard_conforming_strings = on; SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms';\n",
            policy.lock_timeout.as_millis(),
            policy.statement_timeout.as_millis()
        );
        if let Some(schema) = &schema {
            let _ = writeln!(batch, "SET search_path TO {}, public;", pg_ident(schema));
        }
        let _ = write!(
            batch,
            "SELECT pg_backend_pid(), {schema_expr}::text, \
             EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {schema_expr}), \
             to_regclass(quote_ident({schema_expr}) || '.flotilla_migrations') IS NOT NULL"
        );
        let rows = sqlx::raw_sql(AssertSqlSafe(batch))
            .fetch_all(tenant.conn())
            .await
            .map_err(|e| {
                TenantError::Unreachable(format!("setting up the session: {}", db_message(&e)))
            })?;
        let row = rows.last().ok_or_else(|| {
            TenantError::Unreachable("the session set-up returned nothing".into())
        })?;
        tenant.backend = row.get::<i32, _>(0) as u32;
        let found: Option<String> = row.get(1);
        let exists: bool = row.get(2);
        tenant.has_table = row.get(3);
        match (found, exists) {
            (Some(name), true) => tenant.schema = name,
            _ => {
                return Err(TenantError::Unreachable(match &schema {
                    Some(name) => format!("schema {} does not exist", pg_ident(name)),
                    None => "the database has no current schema (its search_path names no existing schema)".into(),
                }));
            }
        }
        tenant.table = format!("{}.flotilla_migrations", pg_ident(&tenant.schema));
        tenant.clean = true;
        Ok(tenant)
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("the connection lives as long as the session")
            .get()
    }

    /// The advisory-lock key expression for this tenant: (database, schema).
    fn lock_key(&self) -> String {
        format!(
            "hashtextextended('flotilla:' || current_database() || '/' || {}, 0)",
            literal(&self.schema)
        )
    }

    /// Takes the tenant's migration lock, polling until `wait` has passed.
    pub(crate) async fn lock(&mut self, wait: Duration) -> Result<(), TenantError> {
        let deadline = Instant::now() + wait;
        // Whether the tracking table exists is read again with the lock: another migrator may have
        // created it since the session started.
        let sql = format!(
            "SELECT pg_try_advisory_lock({}), to_regclass({}) IS NOT NULL",
            self.lock_key(),
            literal(&self.table)
        );
        loop {
            self.clean = false;
            // Plain (simple-protocol) queries: their text names the tenant's schema, so a prepared
            // statement would cost an extra round trip and a cache entry per tenant.
            let row = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .fetch_one(self.conn())
                .await
                .map_err(TenantError::tracking)?;
            let (got, has_table): (bool, bool) = (
                row.try_get(0).map_err(TenantError::tracking)?,
                row.try_get(1).map_err(TenantError::tracking)?,
            );
            self.clean = true;
            if got {
                self.locked = true;
                self.has_table = has_table;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TenantError::Locked(format!(
                    "another migrator held schema {} for longer than lock_wait ({})",
                    pg_ident(&self.schema),
                    crate::sqlite::humanize(wait)
                )));
            }
            tokio::time::sleep(
                Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    pub(crate) async fn unlock(&mut self) {
        if !self.locked {
            return;
        }
        let sql = format!("SELECT pg_advisory_unlock({})", self.lock_key());
        self.clean = false;
        if sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.conn())
            .await
            .is_ok()
        {
            self.locked = false;
            self.clean = true;
        }
    }

    pub(crate) async fn read_state(&mut self) -> Result<TenantState, TenantError> {
        if !self.has_table {
            return Ok(TenantState::default());
        }
        let sql = format!(
            "SELECT version, name, checksum, dirty FROM {} ORDER BY version",
            self.table
        );
        self.clean = false;
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(self.conn())
            .await
            .map_err(TenantError::tracking)?;
        self.clean = true;
        state_of(&rows)
    }

    /// Runs `group` in one transaction with their tracking rows, one message per migration: the
    /// first opens the transaction, the last commits it. Returns the steps once committed.
    pub(crate) async fn apply_group(
        &mut self,
        group: &[&Migration],
        run_id: &str,
    ) -> Result<Vec<Step>, TenantError> {
        let mut steps = Vec::with_capacity(group.len());
        for (i, migration) in group.iter().enumerate() {
            let mut batch = String::with_capacity(migration.up.sql.len() + 512);
            if i == 0 {
                batch.push_str("BEGIN;\n");
                if !self.has_table {
                    batch.push_str(&self.create_table());
                }
            }
            batch.push_str(
                "SELECT set_config('flotilla.started', clock_timestamp()::text, true);\n",
            );
            batch.push_str(&migration.up.sql);
            // The newline and lone `;` end a last line that is a comment or lacks its semicolon.
            batch.push_str("\n;\n");
            batch.push_str(&self.insert_row(migration, run_id, false));
            if i + 1 == group.len() {
                batch.push_str("COMMIT;");
            }
            let started = Instant::now();
            let started_at = Utc::now();
            self.clean = false;
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(batch))
                .execute(self.conn())
                .await
            {
                let error = TenantError::migration(migration, db_message(&e));
                let _ = sqlx::raw_sql("ROLLBACK").execute(self.conn()).await;
                self.clean = true;
                return Err(error);
            }
            self.clean = true;
            steps.push(Step {
                version: migration.version,
                name: migration.name.clone(),
                started_at,
                duration_ms: started.elapsed().as_millis() as u64,
            });
        }
        self.has_table = true;
        Ok(steps)
    }

    /// The dirty protocol: the tracking row is committed as dirty first, then each statement of the
    /// up section runs on its own, then the row is marked clean.
    pub(crate) async fn apply_outside_transaction(
        &mut self,
        migration: &Migration,
        run_id: &str,
    ) -> Result<Step, TenantError> {
        let statements = split_statements(&migration.up.sql, Grammar::Postgres).map_err(|e| {
            TenantError::migration(
                migration,
                format!("cannot split the up section into statements: {e}"),
            )
        })?;
        let mut record = String::new();
        if !self.has_table {
            record.push_str(&self.create_table());
        }
        record.push_str(&self.insert_row(migration, run_id, true));
        self.clean = false;
        sqlx::raw_sql(AssertSqlSafe(record))
            .execute(self.conn())
            .await
            .map_err(|e| TenantError::dirty_row(migration, &e))?;
        self.clean = true;
        self.has_table = true;

        let started = Instant::now();
        let started_at = Utc::now();
        for statement in statements {
            self.clean = false;
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(self.conn())
                .await
                .map_err(|e| TenantError::dirtied(migration, db_message(&e)))?;
            self.clean = true;
        }
        let duration_ms = started.elapsed().as_millis() as i64;
        let sql = format!(
            "UPDATE {} SET dirty = false, duration_ms = {duration_ms}, applied_at = now() WHERE version = {}",
            self.table, migration.version
        );
        self.clean = false;
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.conn())
            .await
            .map_err(|e| {
                TenantError::dirtied(
                    migration,
                    format!(
                        "the migration ran but its row could not be marked clean: {}",
                        db_message(&e)
                    ),
                )
            })?;
        self.clean = true;
        Ok(Step {
            version: migration.version,
            name: migration.name.clone(),
            started_at,
            duration_ms: duration_ms as u64,
        })
    }

    pub(crate) async fn close(mut self) {
        self.unlock().await;
        if let Some(PgConn::Own { conn, .. }) = self.conn.take() {
            let _ = conn.close().await;
        }
        // A pooled session that is clean and unlocked goes back to the pool when dropped here.
    }

    fn create_table(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, \
             applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL, run_id text, \
             dirty boolean NOT NULL DEFAULT false);\n",
            self.table
        )
    }

    fn insert_row(&self, migration: &Migration, run_id: &str, dirty: bool) -> String {
        let duration = if dirty {
            "0".to_string()
        } else {
            "(extract(epoch from clock_timestamp() - current_setting('flotilla.started')::timestamptz) * 1000)::bigint".to_string()
        };
        format!(
            "INSERT INTO {} (version, name, checksum, applied_at, duration_ms, run_id, dirty) VALUES ({}, {}, {}, now(), {duration}, {}, {dirty});\n",
            self.table,
            migration.version,
            literal(&migration.name),
            literal(&migration.checksum),
            literal(run_id),
        )
    }
}

impl Drop for PgTenant {
    fn drop(&mut self) {
        // Session state must not leak to the next tenant: a held advisory lock, or a statement or
        // transaction cut off by a cancellation, closes the connection instead of pooling it.
        if (self.locked || !self.clean)
            && let Some(PgConn::Pooled { conn, .. }) = self.conn.as_mut()
        {
            conn.close_on_drop();
        }
    }
}
