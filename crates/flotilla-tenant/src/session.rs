//! One open session on one tenant, whatever its dialect. The executor's flow is written once
//! against this; each method forwards to the dialect, which knows what "lock" or "transaction"
//! means for its database.

use std::time::Duration;

use flotilla_migrations::Migration;

use crate::error::TenantError;
use crate::executor::Step;
use crate::mysql::MySqlTenant;
use crate::postgres::PgTenant;
use crate::sqlite::SqliteTenant;
use crate::state::TenantState;

pub(crate) enum Session {
    Sqlite(SqliteTenant),
    Postgres(PgTenant),
    MySql(MySqlTenant),
}

impl Session {
    /// The server's id for this session, used to cancel its statement after a timeout.
    pub(crate) fn backend(&self) -> Option<u64> {
        match self {
            Session::Sqlite(_) => None,
            Session::Postgres(t) => Some(t.backend as u64),
            Session::MySql(t) => Some(t.backend),
        }
    }

    /// Whether migrations can share a transaction with their tracking rows. MySQL commits DDL
    /// implicitly, so there every migration follows the dirty protocol.
    pub(crate) fn transactional_ddl(&self) -> bool {
        !matches!(self, Session::MySql(_))
    }

    /// The tenant's migration lock. SQLite's is its write lock, taken per transaction.
    pub(crate) async fn lock(&mut self, wait: Duration) -> Result<(), TenantError> {
        match self {
            Session::Sqlite(_) => Ok(()),
            Session::Postgres(t) => t.lock(wait).await,
            Session::MySql(t) => t.lock(wait).await,
        }
    }

    pub(crate) async fn read_state(
        &mut self,
        sqlite_path: Option<&std::path::Path>,
    ) -> Result<TenantState, TenantError> {
        match self {
            Session::Sqlite(t) => {
                t.read_state(sqlite_path.unwrap_or(std::path::Path::new("")))
                    .await
            }
            Session::Postgres(t) => t.read_state().await,
            Session::MySql(t) => t.read_state().await,
        }
    }

    pub(crate) async fn apply_group(
        &mut self,
        group: &[&Migration],
        run_id: &str,
    ) -> Result<Vec<Step>, TenantError> {
        match self {
            Session::Sqlite(t) => t.apply_group(group, run_id).await,
            Session::Postgres(t) => t.apply_group(group, run_id).await,
            Session::MySql(t) => {
                let mut steps = Vec::with_capacity(group.len());
                for migration in group {
                    steps.push(t.apply(migration, run_id).await?);
                }
                Ok(steps)
            }
        }
    }

    pub(crate) async fn apply_outside_transaction(
        &mut self,
        migration: &Migration,
        run_id: &str,
    ) -> Result<Option<Step>, TenantError> {
        match self {
            Session::Sqlite(t) => t.apply_outside_transaction(migration, run_id).await,
            Session::Postgres(t) => t
                .apply_outside_transaction(migration, run_id)
                .await
                .map(Some),
            Session::MySql(t) => t.apply(migration, run_id).await.map(Some),
        }
    }

    /// Releases the lock and ends the session; never fails, as there is nothing left to report.
    pub(crate) async fn close(self) {
        match self {
            Session::Sqlite(t) => t.close().await,
            Session::Postgres(t) => t.close().await,
            Session::MySql(t) => t.close().await,
        }
    }
}
