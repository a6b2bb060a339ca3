//! MySQL and MariaDB tenants: one database each.
//!
//! DDL commits implicitly on MySQL, so no migration can share a transaction with its tracking row:
//! every migration follows the dirty protocol. The row is first committed as dirty; then one message
//! runs the up section and marks the row clean, with the duration measured by the server. A failure
//! anywhere in the up section leaves the row dirty. Multi-statement messages are parsed by the
//! server, which understands compound statements (`CREATE PROCEDURE … BEGIN … END`), so migration
//! text is never split on the client. The tenant's migration lock is `GET_LOCK` on a name derived
//! from the database, released on every path (closing the session releases it too).

use std::time::{Duration, Instant};

use chrono::Utc;
use flotilla_fleet::Policy;
use flotilla_migrations::Migration;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{TenantError, db_message};
use crate::executor::Step;
use crate::sql::{Grammar, ends_with_semicolon, my_ident, my_literal};
use crate::state::{TenantState, state_of};

const CREATE_TRACKING: &str = "CREATE TABLE IF NOT EXISTS flotilla_migrations (
    version BIGINT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    checksum CHAR(64) NOT NULL,
    applied_at DATETIME(3) NOT NULL,
    duration_ms BIGINT NOT NULL,
    run_id VARCHAR(64),
    dirty BOOLEAN NOT NULL DEFAULT FALSE
);\n";

pub(crate) struct MySqlTenant {
    conn: Option<MySqlConnection>,
    _permit: OwnedSemaphorePermit,
    database: String,
    lock_name: String,
    has_table: bool,
    pub(crate) backend: u64,
    locked: bool,
}

impl MySqlTenant {
    pub(crate) async fn start(
        mut conn: MySqlConnection,
        permit: OwnedSemaphorePermit,
        policy: &Policy,
    ) -> Result<Self, TenantError> {
        let row = sqlx::query(
            "SELECT CONNECTION_ID(), DATABASE(), VERSION(), \
             (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'flotilla_migrations')",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| TenantError::Unreachable(format!("setting up the session: {}", db_message(&e))))?;
        let backend: u64 = row
            .try_get::<u64, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|v| v as u64))
            .unwrap_or_default();
        let database: Option<String> = row.get(1);
        let version: String = row.get(2);
        let tables: i64 = row.get(3);
        let Some(database) = database else {
            return Err(TenantError::Unreachable(
                "the tenant's URL names no database".into(),
            ));
        };
        // Limits are whole seconds on MySQL; MariaDB bounds every statement, MySQL only SELECTs.
        let lock_seconds = policy.lock_timeout.as_secs().max(1);
        let statement_limit = if version.contains("MariaDB") {
            format!(
                "SET SESSION max_statement_time = {}",
                policy.statement_timeout.as_secs_f64()
            )
        } else {
            format!(
                "SET SESSION max_execution_time = {}",
                policy.statement_timeout.as_millis()
            )
        };
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET SESSION lock_wait_timeout = {lock_seconds}; {statement_limit}"
        )))
        .execute(&mut conn)
        .await
        .map_err(|e| {
            TenantError::Unreachable(format!("setting session limits: {}", db_message(&e)))
        })?;
        let lock_name = lock_name(&database);
        Ok(Self {
            conn: Some(conn),
            _permit: permit,
            database,
            lock_name,
            has_table: tables > 0,
            backend,
            locked: false,
        })
    }

    fn conn(&mut self) -> &mut MySqlConnection {
        self.conn
            .as_mut()
            .expect("the connection lives as long as the session")
    }

    pub(crate) async fn lock(&mut self, wait: Duration) -> Result<(), TenantError> {
        let sql = format!(
            "SELECT GET_LOCK({}, {})",
            my_literal(&self.lock_name),
            wait.as_secs_f64()
        );
        let row = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_one(self.conn())
            .await
            .map_err(TenantError::tracking)?;
        let got: Option<i64> = row.try_get(0).map_err(TenantError::tracking)?;
        match got {
            Some(1) => {
                self.locked = true;
                // Another migrator may have created the tracking table since the session started.
                let tables: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'flotilla_migrations'",
                )
                .fetch_one(self.conn())
                .await
                .map_err(TenantError::tracking)?;
                self.has_table = tables > 0;
                Ok(())
            }
            _ => Err(TenantError::Locked(format!(
                "another migrator held database {} for longer than lock_wait ({})",
                my_ident(&self.database),
                crate::sqlite::humanize(wait)
            ))),
        }
    }

    pub(crate) async fn unlock(&mut self) {
        if self.locked {
            let sql = format!("SELECT RELEASE_LOCK({})", my_literal(&self.lock_name));
            if sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(self.conn())
                .await
                .is_ok()
            {
                self.locked = false;
            }
        }
    }

    pub(crate) async fn read_state(&mut self) -> Result<TenantState, TenantError> {
        if !self.has_table {
            return Ok(TenantState::default());
        }
        let rows = sqlx::query(
            "SELECT version, name, checksum, dirty FROM flotilla_migrations ORDER BY version",
        )
        .fetch_all(self.conn())
        .await
        .map_err(TenantError::tracking)?;
        state_of(&rows)
    }

    /// One migration under the dirty protocol (MySQL cannot do otherwise).
    pub(crate) async fn apply(
        &mut self,
        migration: &Migration,
        run_id: &str,
    ) -> Result<Step, TenantError> {
        let mut record = String::new();
        if !self.has_table {
            record.push_str(CREATE_TRACKING);
        }
        record.push_str(&format!(
            "INSERT INTO flotilla_migrations (version, name, checksum, applied_at, duration_ms, run_id, dirty) \
             VALUES ({}, {}, {}, UTC_TIMESTAMP(3), 0, {}, TRUE);",
            migration.version,
            my_literal(&migration.name),
            my_literal(&migration.checksum),
            my_literal(run_id)
        ));
        sqlx::raw_sql(AssertSqlSafe(record))
            .execute(self.conn())
            .await
            .map_err(|e| TenantError::dirty_row(migration, &e))?;
        self.has_table = true;

        let mut batch = String::from("SET @flotilla_started = SYSDATE(6);\n");
        batch.push_str(&migration.up.sql);
        // MySQL refuses an empty statement, so a separator is added only where one is missing.
        if !ends_with_semicolon(&migration.up.sql, Grammar::MySql) {
            batch.push_str("\n;");
        }
        batch.push_str(&format!(
            "\nUPDATE flotilla_migrations SET dirty = FALSE, applied_at = UTC_TIMESTAMP(3), \
             duration_ms = TIMESTAMPDIFF(MICROSECOND, @flotilla_started, SYSDATE(6)) DIV 1000 WHERE version = {};",
            migration.version
        ));
        let started = Instant::now();
        let started_at = Utc::now();
        sqlx::raw_sql(AssertSqlSafe(batch))
            .execute(self.conn())
            .await
            .map_err(|e| TenantError::dirtied(migration, db_message(&e)))?;
        Ok(Step {
            version: migration.version,
            name: migration.name.clone(),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub(crate) async fn close(mut self) {
        self.unlock().await;
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}

/// `GET_LOCK` names are at most 64 characters; a long database name is shortened by a stable hash.
fn lock_name(database: &str) -> String {
    let name = format!("flotilla:{database}");
    if name.len() <= 64 {
        return name;
    }
    // FNV-1a: stable across releases and machines, unlike std's hasher.
    let hash = database.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "flotilla:{}:{hash:016x}",
        database.chars().take(24).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_mysql() {
        assert_eq!(lock_name("acme"), "flotilla:acme");
        let long = lock_name(&"x".repeat(100));
        assert!(long.len() <= 64, "{long}");
        assert_ne!(long, lock_name(&"x".repeat(101)));
    }
}
