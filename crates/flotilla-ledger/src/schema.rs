//! The ledger's own schema, migrated in place with `PRAGMA user_version`: each entry of `STEPS` is
//! applied once, in order, in one transaction with the version bump.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Context, LedgerError};

const STEPS: &[&str] = &[
    // 1: runs, per-tenant results within a run, per-migration attempts, last known tenant state.
    "CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        command TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        parent_run TEXT REFERENCES runs(run_id),
        target_version INTEGER,
        fleet TEXT NOT NULL,
        pid INTEGER NOT NULL
    );
    CREATE TABLE run_tenants (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        tenant_id TEXT NOT NULL,
        wave TEXT NOT NULL,
        wave_index INTEGER NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        error_version INTEGER,
        error TEXT,
        started_at TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        PRIMARY KEY (run_id, tenant_id)
    );
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        tenant_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('up', 'down')),
        status TEXT NOT NULL,
        error TEXT,
        started_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL
    );
    CREATE INDEX attempts_by_run ON attempts (run_id, tenant_id);
    CREATE TABLE tenants (
        tenant_id TEXT PRIMARY KEY,
        dirty_version INTEGER,
        observed_at TEXT,
        last_run TEXT,
        last_status TEXT
    );
    CREATE TABLE tenant_versions (
        tenant_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, version)
    ) WITHOUT ROWID;",
];

/// Opens (creating if needed) the ledger at `path` with its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, LedgerError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let mut conn = Connection::open(path).at(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .at(path)?;
    // WAL: status and runs read while a run writes. NORMAL: a power cut may lose the last batch,
    // never corrupt the file, and the ledger is reconciled from the tracking tables anyway.
    conn.pragma_update(None, "journal_mode", "WAL").at(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL").at(path)?;
    conn.pragma_update(None, "foreign_keys", "ON").at(path)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let known = STEPS.len() as i64;
    // The common case, an up-to-date ledger, needs no write lock: readers must not queue behind a
    // running coordinator's writer just to learn there is nothing to migrate.
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .at(path)?;
    if current == known {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .at(path)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .at(path)?;
    if found > known {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for step in &STEPS[found as usize..] {
        tx.execute_batch(step).at(path)?;
    }
    if found < known {
        tx.pragma_update(None, "user_version", known).at(path)?;
    }
    tx.commit().at(path)
}
