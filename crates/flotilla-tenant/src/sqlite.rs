//! SQLite tenants through sqlx.
//!
//! Writers take the database lock with `BEGIN IMMEDIATE`: a deferred transaction that reads the
//! tracking table and later writes would fail with SQLITE_BUSY at the upgrade instead of waiting, so
//! two migrators on one file would race. With IMMEDIATE the second one waits (busy timeout =
//! `lock_wait`) and then sees the first one's rows. The tracking row is written inside the same
//! transaction as the migration, so both commit or neither does.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use flotilla_fleet::SqliteTarget;
use flotilla_migrations::Migration;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::error::TenantError;
use crate::executor::Step;
use crate::state::{AppliedRow, TenantState};

const CREATE_TRACKING: &str = "CREATE TABLE IF NOT EXISTS flotilla_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    run_id TEXT,
    dirty BOOLEAN NOT NULL DEFAULT FALSE
)";

const INSERT_ROW: &str = "INSERT INTO flotilla_migrations (version, name, checksum, applied_at, duration_ms, run_id, dirty) VALUES (?, ?, ?, ?, ?, ?, ?)";

pub(crate) struct SqliteTenant {
    conn: SqliteConnection,
    has_table: bool,
    lock_wait: Duration,
}

impl SqliteTenant {
    /// Opens the tenant's file; `None` when it does not exist yet but may be created on apply.
    pub(crate) async fn open(
        target: &SqliteTarget,
        lock_wait: Duration,
        read_only: bool,
    ) -> Result<Option<Self>, TenantError> {
        if !target.path.exists() {
            if target.create && read_only {
                return Ok(None);
            }
            if !target.create {
                return Err(TenantError::Unreachable(format!(
                    "database file {} does not exist (add ?mode=rwc to the tenant's URL to create it on apply)",
                    target.path.display()
                )));
            }
        }
        if target.create
            && !read_only
            && let Some(dir) = target.path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                TenantError::Unreachable(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&target.path)
            .create_if_missing(target.create && !read_only)
            .read_only(read_only)
            .busy_timeout(lock_wait)
            .disable_statement_logging();
        let mut conn = options.connect().await.map_err(|e| {
            TenantError::Unreachable(format!("{}: {}", target.path.display(), db_message(&e)))
        })?;
        let has_table = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'flotilla_migrations'",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| TenantError::Unreachable(format!("{}: {}", target.path.display(), db_message(&e))))?
            > 0;
        Ok(Some(Self {
            conn,
            has_table,
            lock_wait,
        }))
    }

    pub(crate) async fn read_state(&mut self) -> Result<TenantState, TenantError> {
        if !self.has_table {
            return Ok(TenantState::default());
        }
        read_rows(&mut self.conn).await
    }

    /// Runs `group` (transactional migrations) in one transaction with their tracking rows. Versions
    /// another migrator applied since the state was read are skipped. Returns the steps committed.
    pub(crate) async fn apply_group(
        &mut self,
        group: &[&Migration],
        run_id: &str,
    ) -> Result<Vec<Step>, TenantError> {
        let (mut tx, current) =
            lock_and_read(&mut self.conn, self.has_table, self.lock_wait).await?;
        let mut steps = Vec::with_capacity(group.len());
        for migration in group.iter().filter(|m| !current.is_applied(m.version)) {
            let started = Instant::now();
            let started_at = Utc::now();
            sqlx::raw_sql(AssertSqlSafe(migration.up.sql.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(|e| TenantError::migration(migration, db_message(&e)))?;
            let duration_ms = started.elapsed().as_millis() as i64;
            insert_row(&mut tx, migration, run_id, duration_ms, false).await?;
            steps.push(Step {
                version: migration.version,
                name: migration.name.clone(),
                started_at,
                duration_ms: duration_ms as u64,
            });
        }
        tx.commit().await.map_err(|e| {
            let last = group
                .iter()
                .rev()
                .find(|m| steps.last().is_some_and(|s| s.version == m.version))
                .unwrap_or(&group[0]);
            TenantError::migration(last, format!("commit failed: {}", db_message(&e)))
        })?;
        self.has_table = true;
        Ok(steps)
    }

    /// The dirty protocol for a `transaction:false` migration: record the row as dirty and commit,
    /// run the SQL outside any transaction, then clear the flag. A failure leaves the row dirty so no
    /// later run migrates this tenant until someone has looked at it.
    pub(crate) async fn apply_outside_transaction(
        &mut self,
        migration: &Migration,
        run_id: &str,
    ) -> Result<Option<Step>, TenantError> {
        let (mut tx, current) =
            lock_and_read(&mut self.conn, self.has_table, self.lock_wait).await?;
        if current.is_applied(migration.version) {
            return Ok(None);
        }
        insert_row(&mut tx, migration, run_id, 0, true).await?;
        tx.commit().await.map_err(|e| {
            TenantError::migration(
                migration,
                format!("recording its dirty row: {}", db_message(&e)),
            )
        })?;
        self.has_table = true;

        let started = Instant::now();
        let started_at = Utc::now();
        sqlx::raw_sql(AssertSqlSafe(migration.up.sql.as_str()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| TenantError::dirtied(migration, db_message(&e)))?;
        let duration_ms = started.elapsed().as_millis() as i64;
        sqlx::query("UPDATE flotilla_migrations SET dirty = FALSE, duration_ms = ?, applied_at = ? WHERE version = ?")
            .bind(duration_ms)
            .bind(now_text())
            .bind(migration.version)
            .execute(&mut self.conn)
            .await
            .map_err(|e| {
                TenantError::dirtied(migration, format!("the migration ran but its row could not be marked clean: {}", db_message(&e)))
            })?;
        Ok(Some(Step {
            version: migration.version,
            name: migration.name.clone(),
            started_at,
            duration_ms: duration_ms as u64,
        }))
    }

    pub(crate) async fn close(self) {
        // A failed close leaves nothing behind that the tracking table does not already say.
        let _ = self.conn.close().await;
    }
}

/// Takes the database's write lock (waiting up to `lock_wait`), creates the tracking table if this
/// tenant has none, and re-reads it: under the lock it is the truth another migrator cannot change.
async fn lock_and_read(
    conn: &mut SqliteConnection,
    has_table: bool,
    lock_wait: Duration,
) -> Result<(sqlx::Transaction<'_, sqlx::Sqlite>, TenantState), TenantError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(|e| {
        if is_busy(&e) {
            TenantError::Locked(format!(
                "another writer held the database for longer than lock_wait ({})",
                humanize(lock_wait)
            ))
        } else {
            tracking(e)
        }
    })?;
    if !has_table {
        sqlx::raw_sql(CREATE_TRACKING)
            .execute(&mut *tx)
            .await
            .map_err(tracking)?;
    }
    let current = read_rows(&mut tx).await?;
    current.verify_clean()?;
    Ok((tx, current))
}

impl TenantState {
    fn verify_clean(&self) -> Result<(), TenantError> {
        match self.dirty() {
            Some(version) => Err(TenantError::Dirty { version }),
            None => Ok(()),
        }
    }
}

async fn read_rows(conn: &mut SqliteConnection) -> Result<TenantState, TenantError> {
    let rows = sqlx::query(
        "SELECT version, name, checksum, dirty FROM flotilla_migrations ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .map_err(tracking)?;
    let applied = rows
        .iter()
        .map(|row| AppliedRow {
            version: row.get(0),
            name: row.get(1),
            checksum: row.get(2),
            dirty: row.get(3),
        })
        .collect();
    Ok(TenantState::new(applied))
}

async fn insert_row(
    conn: &mut SqliteConnection,
    migration: &Migration,
    run_id: &str,
    duration_ms: i64,
    dirty: bool,
) -> Result<(), TenantError> {
    sqlx::query(INSERT_ROW)
        .bind(migration.version)
        .bind(&migration.name)
        .bind(&migration.checksum)
        .bind(now_text())
        .bind(duration_ms)
        .bind(run_id)
        .bind(dirty)
        .execute(conn)
        .await
        .map_err(|e| {
            TenantError::migration(
                migration,
                format!("recording its tracking row: {}", db_message(&e)),
            )
        })?;
    Ok(())
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn tracking(e: sqlx::Error) -> TenantError {
    TenantError::Tracking(db_message(&e))
}

/// SQLITE_BUSY or SQLITE_LOCKED, including their extended codes (the low byte is the primary code).
fn is_busy(e: &sqlx::Error) -> bool {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<u32>().ok());
    code.is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// The database's own words, with its error code when it has one.
pub(crate) fn db_message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

pub(crate) fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
