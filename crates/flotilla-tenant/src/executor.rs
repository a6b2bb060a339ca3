//! The per-tenant flow, shared by every dialect: connect, read the tracking table, refuse a dirty or
//! edited tenant before any SQL runs, work out what is pending, then apply it in transactions shaped
//! by `policy.transaction`. The result is always a `TenantRun`: what was committed, and the error
//! that stopped the tenant, if any.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_fleet::{Target, TransactionMode};
use flotilla_migrations::{Migration, MigrationSet};

use crate::connect::Connector;
use crate::error::TenantError;
use crate::resolve::Tenant;
use crate::session::Session;
use crate::sqlite::humanize;
use crate::state::TenantState;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub run_id: String,
    pub mode: TransactionMode,
    pub lock_wait: Duration,
    pub tenant_timeout: Duration,
}

/// One migration committed on a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub version: i64,
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// What happened on one tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantRun {
    /// Highest version after the run, as committed.
    pub to_version: Option<i64>,
    /// Migrations this run heard commit, in order.
    pub applied: Vec<Step>,
    pub error: Option<TenantError>,
    /// The tracking table as read before applying, when it could be read.
    pub state: Option<TenantState>,
    /// The tracking table as re-read after a failure: the truth when the failure left the run
    /// unsure (a timeout can land between a COMMIT being sent and its answer, a non-transactional
    /// migration can leave a dirty row).
    pub after: Option<TenantState>,
    /// The first version of the unit of work in progress, for errors that interrupt it.
    in_progress: Option<i64>,
    /// The server's id for the tenant's session, to cancel its statement after a timeout.
    backend: Option<u64>,
}

impl TenantRun {
    /// Highest version before the run.
    pub fn from_version(&self) -> Option<i64> {
        self.state.as_ref().and_then(TenantState::version)
    }

    /// Versions this run applied: those heard committing, plus, after a failure, any clean row the
    /// re-read found that was not there before.
    pub fn applied_versions(&self) -> Vec<i64> {
        let mut versions: Vec<i64> = self.applied.iter().map(|s| s.version).collect();
        if let (Some(before), Some(after)) = (&self.state, &self.after) {
            for row in after
                .applied
                .iter()
                .filter(|r| !r.dirty && !before.is_applied(r.version))
            {
                if !versions.contains(&row.version) {
                    versions.push(row.version);
                }
            }
        }
        versions
    }
}

/// Reads a tenant's tracking table without changing anything: no file, table or row is created.
pub async fn probe(connector: &Connector, tenant: &Tenant) -> Result<TenantState, TenantError> {
    match connector.open(tenant, true).await? {
        Some(mut session) => {
            let state = session.read_state(sqlite_path(tenant)).await;
            session.close().await;
            state
        }
        None => Ok(TenantState::default()),
    }
}

/// Brings `tenant` up to `target` (every migration when `None`). `on_step` hears of each migration
/// as soon as it is committed, so progress and the ledger never run ahead of the tracking table.
pub async fn apply(
    connector: &Connector,
    tenant: &Tenant,
    set: &MigrationSet,
    target: Option<i64>,
    options: &ExecOptions,
    on_step: &mut (dyn FnMut(&Step) + Send),
) -> TenantRun {
    let mut run = TenantRun::default();
    // Waiting for a pooled session or for a slot on the tenant's host is not the tenant's work:
    // the timeout starts once its session is open (connecting has a bound of its own).
    let session = match connector.open(tenant, false).await {
        Ok(session) => session.expect("a writable session always opens"),
        Err(error) => {
            run.error = Some(error);
            return run;
        }
    };
    run.backend = session.backend();
    let work = apply_inner(session, tenant, set, target, options, &mut run, on_step);
    let outcome = tokio::time::timeout(options.tenant_timeout, work).await;
    // Dropping the unfinished future rolls back the open transaction and closes the connection;
    // the server is asked to stop the statement it may still be running.
    run.error = match outcome {
        Ok(result) => result.err(),
        Err(_) => {
            if let Some(backend) = run.backend {
                connector.cancel(tenant, backend).await;
            }
            Some(TenantError::Timeout {
                version: run.in_progress,
                after: humanize(options.tenant_timeout),
            })
        }
    };
    if run
        .error
        .as_ref()
        .is_some_and(|e| !matches!(e, TenantError::Unreachable(_)))
    {
        // Bounded, so a timeout stays close to tenant_timeout even when the abandoned statement
        // still holds the database.
        let grace = options.lock_wait.min(Duration::from_secs(2));
        run.after = tokio::time::timeout(grace, probe(connector, tenant))
            .await
            .ok()
            .and_then(Result::ok);
    }
    let highest_after = run.after.as_ref().and_then(|a| {
        a.applied
            .iter()
            .filter(|r| !r.dirty)
            .map(|r| r.version)
            .max()
    });
    run.to_version = run
        .applied
        .iter()
        .map(|s| s.version)
        .chain(run.from_version())
        .chain(highest_after)
        .max();
    run
}

async fn apply_inner(
    mut session: Session,
    tenant: &Tenant,
    set: &MigrationSet,
    target: Option<i64>,
    options: &ExecOptions,
    run: &mut TenantRun,
    on_step: &mut (dyn FnMut(&Step) + Send),
) -> Result<(), TenantError> {
    let result = async {
        session.lock(options.lock_wait).await?;
        let state = session.read_state(sqlite_path(tenant)).await?;
        run.state = Some(state.clone());
        state.verify(set)?;
        let pending = state.pending(set, target);
        let mode = if session.transactional_ddl() {
            options.mode
        } else {
            TransactionMode::Migration
        };
        for group in groups(&pending, mode) {
            run.in_progress = Some(group.migrations[0].version);
            let steps = if group.transactional && session.transactional_ddl() {
                session
                    .apply_group(&group.migrations, &options.run_id)
                    .await?
            } else {
                session
                    .apply_outside_transaction(group.migrations[0], &options.run_id)
                    .await?
                    .into_iter()
                    .collect()
            };
            for step in steps {
                on_step(&step);
                run.applied.push(step);
            }
        }
        Ok(())
    }
    .await;
    // Releases the migration lock on every path that gets here; a cancelled tenant's session is
    // closed by its drop instead, which releases the lock on the server.
    session.close().await;
    result
}

fn sqlite_path(tenant: &Tenant) -> Option<&std::path::Path> {
    match &tenant.target {
        Target::Sqlite(t) => Some(&t.path),
        _ => None,
    }
}

/// A unit of work that commits at once: transactional migrations (one, or a run of them in tenant
/// mode), or a single `transaction:false` migration under the dirty protocol.
#[derive(Debug)]
struct Group<'a> {
    transactional: bool,
    migrations: Vec<&'a Migration>,
}

fn groups<'a>(pending: &[&'a Migration], mode: TransactionMode) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for &migration in pending {
        let transactional = migration.up.transactional;
        match out.last_mut() {
            Some(last)
                if mode == TransactionMode::Tenant && transactional && last.transactional =>
            {
                last.migrations.push(migration)
            }
            _ => out.push(Group {
                transactional,
                migrations: vec![migration],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_migrations::{Section, checksum};

    fn migration(version: i64, transactional: bool) -> Migration {
        let up = Section {
            sql: "SELECT 1;".into(),
            transactional,
            path: "x.sql".into(),
            line: 2,
        };
        Migration {
            version,
            name: "m".into(),
            checksum: checksum("SELECT 1;"),
            up,
            down: None,
        }
    }

    #[test]
    fn tenant_mode_groups_until_a_non_transactional_migration() {
        let all: Vec<Migration> = [(1, true), (2, true), (3, false), (4, true), (5, true)]
            .into_iter()
            .map(|(v, t)| migration(v, t))
            .collect();
        let pending: Vec<&Migration> = all.iter().collect();
        let shape = |mode| {
            groups(&pending, mode)
                .iter()
                .map(|g| {
                    (
                        g.transactional,
                        g.migrations.iter().map(|m| m.version).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shape(TransactionMode::Tenant),
            vec![(true, vec![1, 2]), (false, vec![3]), (true, vec![4, 5])]
        );
        assert_eq!(shape(TransactionMode::Migration).len(), 5);
    }
}
