//! SQLite tenants through sqlx.
//!
//! Writers take the database lock with `BEGIN IMMEDIATE`: a deferred transaction that reads the
//! tracking table and later writes would fail with SQLITE_BUSY at the upgrade instead of waiting, so
//! two migrators on one file would race. With IMMEDIATE the second one waits (busy timeout =
//! `lock_wait`) and then sees the first one's rows. The tracking row is written inside the same
//! transaction as the migration, so both commit or neither does.
//!
//! sqlx runs each SQLite connection on a worker thread, so every call is a hand-off between
//! threads. The statements are therefore batched: a migration costs two calls, one that opens the
//! transaction and re-reads the tracking table, and one that runs the up section, inserts the
//! tracking row (its duration computed by SQLite itself) and commits. Transactions are driven with
//! plain `BEGIN`/`COMMIT`/`ROLLBACK`; if the work is cancelled mid-way the connection is dropped,
//! and SQLite rolls back an open transaction when its connection closes.

use std::fmt::Write;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use flotilla_fleet::SqliteTarget;
use flotilla_migrations::Migration;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::error::{TenantError, db_message};
use crate::executor::Step;
use crate::state::{TenantState, state_of};

const CREATE_TRACKING: &str = "CREATE TABLE IF NOT EXISTS flotilla_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    run_id TEXT,
    dirty BOOLEAN NOT NULL DEFAULT FALSE
);";

const SELECT_ROWS: &str =
    "SELECT version, name, checksum, dirty FROM flotilla_migrations ORDER BY version";

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
        let conn = options.connect().await.map_err(|e| {
            TenantError::Unreachable(format!("{}: {}", target.path.display(), db_message(&e)))
        })?;
        // Whether the tracking table exists is learnt from the first read of it.
        Ok(Some(Self {
            conn,
            has_table: true,
            lock_wait,
        }))
    }

    /// Reads the tracking table; a tenant without one has an empty state. A file that is not a
    /// database, or cannot be read, is unreachable.
    pub(crate) async fn read_state(
        &mut self,
        path: &std::path::Path,
    ) -> Result<TenantState, TenantError> {
        match sqlx::query(SELECT_ROWS).fetch_all(&mut self.conn).await {
            Ok(rows) => state_of(&rows),
            Err(e) if db_message(&e).starts_with("no such table: flotilla_migrations") => {
                self.has_table = false;
                Ok(TenantState::default())
            }
            Err(e) if is_access_error(&e) => Err(TenantError::Unreachable(format!(
                "{}: {}",
                path.display(),
                db_message(&e)
            ))),
            Err(e) => Err(TenantError::tracking(e)),
        }
    }

    /// Runs `group` (transactional migrations) in one transaction with their tracking rows. Versions
    /// another migrator applied since the state was read are skipped. Returns the steps committed.
    pub(crate) async fn apply_group(
        &mut self,
        group: &[&Migration],
        run_id: &str,
    ) -> Result<Vec<Step>, TenantError> {
        let current = self.lock_and_read(group).await?;
        let todo: Vec<&Migration> = group
            .iter()
            .copied()
            .filter(|m| !current.is_applied(m.version))
            .collect();
        let result = self.run_in_transaction(&todo, run_id).await;
        if result.is_err() {
            self.rollback().await;
        }
        result
    }

    async fn run_in_transaction(
        &mut self,
        todo: &[&Migration],
        run_id: &str,
    ) -> Result<Vec<Step>, TenantError> {
        let mut steps = Vec::with_capacity(todo.len());
        if todo.is_empty() {
            sqlx::raw_sql("COMMIT")
                .execute(&mut self.conn)
                .await
                .map_err(TenantError::tracking)?;
            return Ok(steps);
        }
        for (i, migration) in todo.iter().enumerate() {
            let last = i + 1 == todo.len();
            let started = Instant::now();
            let started_at = Utc::now();
            let mut batch = String::with_capacity(migration.up.sql.len() + 256);
            // The newline and lone `;` end a last line that is a comment or lacks its semicolon.
            let _ = write!(
                batch,
                "{}\n;\n{}",
                migration.up.sql,
                insert_row(migration, run_id, Some(started_at), false)
            );
            if last {
                batch.push_str("COMMIT;");
            }
            // A failure at COMMIT (a deferred constraint) belongs to the last migration of the group.
            sqlx::raw_sql(AssertSqlSafe(batch))
                .execute(&mut self.conn)
                .await
                .map_err(|e| TenantError::migration(migration, db_message(&e)))?;
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

    /// The dirty protocol for a `transaction:false` migration: record the row as dirty and commit,
    /// run the SQL outside any transaction, then clear the flag. A failure leaves the row dirty so no
    /// later run migrates this tenant until someone has looked at it.
    pub(crate) async fn apply_outside_transaction(
        &mut self,
        migration: &Migration,
        run_id: &str,
    ) -> Result<Option<Step>, TenantError> {
        let current = self.lock_and_read(&[migration]).await?;
        if current.is_applied(migration.version) {
            sqlx::raw_sql("COMMIT")
                .execute(&mut self.conn)
                .await
                .map_err(TenantError::tracking)?;
            return Ok(None);
        }
        let record = format!("{}COMMIT;", insert_row(migration, run_id, None, true));
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(record))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(TenantError::dirty_row(migration, &e));
        }
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
            .bind(now_text(Utc::now()))
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

    /// Takes the database's write lock (waiting up to `lock_wait`), creates the tracking table if
    /// this tenant has none, and re-reads the rows of `migrations` plus any dirty row, all in one
    /// call. Under the lock this is the truth another migrator cannot change. On success the
    /// transaction stays open.
    async fn lock_and_read(
        &mut self,
        migrations: &[&Migration],
    ) -> Result<TenantState, TenantError> {
        let mut batch = String::from("BEGIN IMMEDIATE;\n");
        if !self.has_table {
            batch.push_str(CREATE_TRACKING);
        }
        let versions: Vec<String> = migrations.iter().map(|m| m.version.to_string()).collect();
        let _ = write!(
            batch,
            "SELECT version, name, checksum, dirty FROM flotilla_migrations WHERE dirty OR version IN ({});",
            versions.join(", ")
        );
        let rows = match sqlx::raw_sql(AssertSqlSafe(batch))
            .fetch_all(&mut self.conn)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                let lock_wait = self.lock_wait;
                self.rollback().await;
                return Err(if is_busy(&e) {
                    TenantError::Locked(format!(
                        "another writer held the database for longer than lock_wait ({})",
                        humanize(lock_wait)
                    ))
                } else {
                    TenantError::tracking(e)
                });
            }
        };
        let current = state_of(&rows)?;
        if let Some(version) = current.dirty() {
            self.rollback().await;
            return Err(TenantError::Dirty { version });
        }
        Ok(current)
    }

    /// Ends an open transaction, if any; harmless when SQLite already rolled it back.
    async fn rollback(&mut self) {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
    }
}

/// The tracking row of `migration` as an INSERT statement. Every value is a version number, a
/// migration name (letters, digits, `_`, `-`), a hex checksum, a run id or a timestamp: none can
/// hold a quote, and `quote` doubles any that would. With `started_at`, SQLite computes the duration
/// from it at insert time, so the row needs no second statement after the migration.
fn insert_row(
    migration: &Migration,
    run_id: &str,
    started_at: Option<chrono::DateTime<Utc>>,
    dirty: bool,
) -> String {
    let duration = match started_at {
        Some(start) => format!(
            "CAST(round((julianday('now') - julianday({})) * 86400000) AS INTEGER)",
            quote(&start.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        ),
        None => "0".to_string(),
    };
    format!(
        "INSERT INTO flotilla_migrations (version, name, checksum, applied_at, duration_ms, run_id, dirty) \
         VALUES ({}, {}, {}, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), {duration}, {}, {});\n",
        migration.version,
        quote(&migration.name),
        quote(&migration.checksum),
        quote(run_id),
        if dirty { "TRUE" } else { "FALSE" },
    )
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn now_text(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// SQLITE_BUSY or SQLITE_LOCKED, including their extended codes (the low byte is the primary code).
fn is_busy(e: &sqlx::Error) -> bool {
    primary_code(e).is_some_and(|c| matches!(c, 5 | 6))
}

/// The file cannot be used as a database at all: SQLITE_PERM, READONLY, IOERR, CORRUPT, CANTOPEN,
/// NOTADB.
fn is_access_error(e: &sqlx::Error) -> bool {
    primary_code(e).is_some_and(|c| matches!(c, 3 | 8 | 10 | 11 | 14 | 26))
}

fn primary_code(e: &sqlx::Error) -> Option<u32> {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<u32>().ok());
    code.map(|c| c & 0xff)
}

pub(crate) fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
