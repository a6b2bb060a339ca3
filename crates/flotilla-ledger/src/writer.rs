//! The single ledger writer: a thread that owns the only write connection and commits whatever has
//! queued on its channel in one transaction. Senders never wait for the disk; `finish` waits for
//! everything sent before it to be committed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::error::{Context, LedgerError};

/// The most operations committed in one transaction; beyond it the writer commits and goes on, so
/// a reader never waits long behind one huge batch.
const MAX_BATCH: usize = 4096;

/// How long the writer gathers operations after the first one before committing. Events arrive a
/// few at a time as tenants finish; without a window every wake-up would be its own commit. A crash
/// loses at most this much history, which the tracking tables still hold.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// One change to the ledger.
#[derive(Debug, Clone)]
pub enum Op {
    RunStarted {
        run_id: String,
        command: String,
        started_at: String,
        parent_run: Option<String>,
        target_version: Option<i64>,
        fleet: String,
    },
    /// Runs still marked running when a coordinator takes the ledger's lock were left by a process
    /// that died; they become interrupted.
    AbandonedRunsInterrupted { at: String },
    /// A paused run continues: it is running again and not finished.
    RunResumed { run_id: String },
    /// The run's tenants, in plan order: `(tenant, wave, wave_index)`, all queued.
    TenantsQueued {
        run_id: String,
        tenants: Vec<(String, String, usize)>,
    },
    TenantStarted {
        run_id: String,
        tenant: String,
        at: String,
    },
    /// One migration on one tenant, after its tracking row committed (or after it failed).
    Attempt {
        run_id: String,
        tenant: String,
        version: i64,
        direction: &'static str,
        status: &'static str,
        error: Option<String>,
        started_at: String,
        duration_ms: u64,
    },
    TenantFinished {
        run_id: String,
        tenant: String,
        status: &'static str,
        from_version: Option<i64>,
        to_version: Option<i64>,
        error_version: Option<i64>,
        error: Option<String>,
        finished_at: String,
        duration_ms: Option<u64>,
    },
    /// What a tenant's tracking table showed when it was read: replaces what the ledger believed.
    Observed {
        tenant: String,
        versions: Vec<i64>,
        dirty_version: Option<i64>,
        at: String,
    },
    RunFinished {
        run_id: String,
        status: &'static str,
        finished_at: String,
    },
}

enum Message {
    Op(Op),
    Finish,
}

/// Handle to the writer thread.
pub struct Writer {
    sender: Sender<Message>,
    thread: Option<JoinHandle<Result<(), LedgerError>>>,
    path: PathBuf,
}

impl Writer {
    /// Opens the ledger (migrating its schema) and starts the writer thread.
    pub fn start(path: &Path) -> Result<Self, LedgerError> {
        let conn = crate::schema::open(path)?;
        let (sender, receiver) = channel();
        let owned = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("flotilla-ledger".into())
            .spawn(move || write_loop(conn, receiver, &owned))
            .at(path)?;
        Ok(Self {
            sender,
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    /// Queues `op`. If the writer has died the error surfaces at `finish`.
    pub fn send(&self, op: Op) {
        let _ = self.sender.send(Message::Op(op));
    }

    /// Commits everything queued and stops the writer, returning its first error.
    pub fn finish(mut self) -> Result<(), LedgerError> {
        let _ = self.sender.send(Message::Finish);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(LedgerError::WriterGone {
                path: self.path.clone(),
            }),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.sender.send(Message::Finish);
            let _ = thread.join();
        }
    }
}

fn write_loop(
    mut conn: Connection,
    receiver: Receiver<Message>,
    path: &Path,
) -> Result<(), LedgerError> {
    let mut first_error = None;
    let mut batch = Vec::new();
    let mut finished = false;
    while !finished {
        match receiver.recv() {
            Ok(Message::Op(op)) => batch.push(op),
            Ok(Message::Finish) | Err(_) => finished = true,
        }
        let deadline = Instant::now() + BATCH_WINDOW;
        while !finished && batch.len() < MAX_BATCH {
            match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Message::Op(op)) => batch.push(op),
                Ok(Message::Finish) => finished = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => finished = true,
            }
        }
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = commit(&mut conn, &batch, path) {
            tracing::error!("{e}");
            first_error.get_or_insert(e);
        }
        batch.clear();
    }
    first_error.map_or(Ok(()), Err)
}

fn commit(conn: &mut Connection, batch: &[Op], path: &Path) -> Result<(), LedgerError> {
    let tx = conn.transaction().at(path)?;
    for op in batch {
        apply(&tx, op).at(path)?;
    }
    tx.commit().at(path)
}

fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::RunStarted {
            run_id,
            command,
            started_at,
            parent_run,
            target_version,
            fleet,
        } => {
            conn.prepare_cached(
                "INSERT INTO runs (run_id, command, status, started_at, parent_run, target_version, fleet, pid)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![run_id, command, started_at, parent_run, target_version, fleet, std::process::id()])?;
        }
        Op::AbandonedRunsInterrupted { at } => {
            conn.prepare_cached(
                "UPDATE runs SET status = 'interrupted', finished_at = ?1 WHERE status = 'running'",
            )?
            .execute(params![at])?;
        }
        Op::RunResumed { run_id } => {
            conn.prepare_cached(
                "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?1",
            )?
            .execute(params![run_id])?;
        }
        Op::TenantsQueued { run_id, tenants } => {
            let mut insert = conn.prepare_cached(
                "INSERT INTO run_tenants (run_id, tenant_id, wave, wave_index, position, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued')",
            )?;
            for (position, (tenant, wave, wave_index)) in tenants.iter().enumerate() {
                insert.execute(params![
                    run_id,
                    tenant,
                    wave,
                    *wave_index as i64,
                    position as i64
                ])?;
            }
        }
        Op::TenantStarted { run_id, tenant, at } => {
            conn.prepare_cached(
                "UPDATE run_tenants SET status = 'running', started_at = ?3 WHERE run_id = ?1 AND tenant_id = ?2",
            )?
            .execute(params![run_id, tenant, at])?;
        }
        Op::Attempt {
            run_id,
            tenant,
            version,
            direction,
            status,
            error,
            started_at,
            duration_ms,
        } => {
            conn.prepare_cached(
                "INSERT INTO attempts (run_id, tenant_id, version, direction, status, error, started_at, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![run_id, tenant, version, direction, status, error, started_at, *duration_ms as i64])?;
            if *status == "succeeded" {
                let sql = if *direction == "up" {
                    "INSERT OR IGNORE INTO tenant_versions (tenant_id, version) VALUES (?1, ?2)"
                } else {
                    "DELETE FROM tenant_versions WHERE tenant_id = ?1 AND version = ?2"
                };
                conn.prepare_cached(sql)?
                    .execute(params![tenant, version])?;
            }
        }
        Op::TenantFinished {
            run_id,
            tenant,
            status,
            from_version,
            to_version,
            error_version,
            error,
            finished_at,
            duration_ms,
        } => {
            conn.prepare_cached(
                "UPDATE run_tenants SET status = ?3, from_version = ?4, to_version = ?5, error_version = ?6, error = ?7,
                 finished_at = ?8, duration_ms = ?9 WHERE run_id = ?1 AND tenant_id = ?2",
            )?
            .execute(params![run_id, tenant, status, from_version, to_version, error_version, error, finished_at, duration_ms.map(|d| d as i64)])?;
            // A tenant that had nothing to do keeps the run that last did something to it.
            if *status == "skipped" {
                return Ok(());
            }
            conn.prepare_cached(
                "INSERT INTO tenants (tenant_id, last_run, last_status) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET last_run = excluded.last_run, last_status = excluded.last_status",
            )?
            .execute(params![tenant, run_id, status])?;
        }
        Op::Observed {
            tenant,
            versions,
            dirty_version,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO tenants (tenant_id, dirty_version, observed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET dirty_version = excluded.dirty_version, observed_at = excluded.observed_at",
            )?
            .execute(params![tenant, dirty_version, at])?;
            conn.prepare_cached("DELETE FROM tenant_versions WHERE tenant_id = ?1")?
                .execute(params![tenant])?;
            let mut insert = conn.prepare_cached(
                "INSERT INTO tenant_versions (tenant_id, version) VALUES (?1, ?2)",
            )?;
            for version in versions {
                insert.execute(params![tenant, version])?;
            }
        }
        Op::RunFinished {
            run_id,
            status,
            finished_at,
        } => {
            conn.prepare_cached("UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1")?
                .execute(params![run_id, status, finished_at])?;
        }
    }
    Ok(())
}
