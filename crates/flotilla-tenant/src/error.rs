//! What can go wrong with one tenant, and with turning the fleet file into a list of tenants.

/// Why a tenant did not reach its target. The message is what the operator reads in the summary,
/// the JSON document and the ledger, so it names the version and carries the database's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error(
        "checksum mismatch: version {version} ({name}) was applied with checksum {applied}, the file now has {file}; restore the file as it was applied, or add the change as a new migration"
    )]
    ChecksumMismatch {
        version: i64,
        name: String,
        applied: String,
        file: String,
    },
    #[error(
        "dirty at version {version}: a non-transactional migration did not finish; check the tenant by hand, then delete or fix its row in flotilla_migrations"
    )]
    Dirty { version: i64 },
    #[error("version {version} ({name}) failed: {message}")]
    Migration {
        version: i64,
        name: String,
        message: String,
    },
    #[error(
        "version {version} ({name}) failed outside a transaction and left the tenant dirty: {message}"
    )]
    Dirtied {
        version: i64,
        name: String,
        message: String,
    },
    #[error("locked by another migrator: {0}")]
    Locked(String),
    #[error("tracking table: {0}")]
    Tracking(String),
    #[error("timeout: the tenant did not finish within tenant_timeout ({after}){}", version.map(|v| format!(" while applying version {v}")).unwrap_or_default())]
    Timeout { version: Option<i64>, after: String },
}

impl TenantError {
    /// Reading or writing the tracking table itself failed.
    pub(crate) fn tracking(e: sqlx::Error) -> Self {
        TenantError::Tracking(db_message(&e))
    }

    /// `migration` failed inside its transaction, which rolled back.
    pub(crate) fn migration(migration: &flotilla_migrations::Migration, message: String) -> Self {
        TenantError::Migration {
            version: migration.version,
            name: migration.name.clone(),
            message,
        }
    }

    /// The dirty row of a `transaction:false` (or MySQL) migration could not be committed; nothing of
    /// the migration ran.
    pub(crate) fn dirty_row(migration: &flotilla_migrations::Migration, e: &sqlx::Error) -> Self {
        Self::migration(
            migration,
            format!("recording its dirty row: {}", db_message(e)),
        )
    }

    /// `migration` failed after its dirty row was committed.
    pub(crate) fn dirtied(migration: &flotilla_migrations::Migration, message: String) -> Self {
        TenantError::Dirtied {
            version: migration.version,
            name: migration.name.clone(),
            message,
        }
    }

    /// The migration version the error belongs to, when it belongs to one.
    pub fn version(&self) -> Option<i64> {
        match self {
            TenantError::ChecksumMismatch { version, .. }
            | TenantError::Dirty { version }
            | TenantError::Migration { version, .. }
            | TenantError::Dirtied { version, .. } => Some(*version),
            TenantError::Timeout { version, .. } => *version,
            _ => None,
        }
    }
}

/// The fleet's tenants could not be listed. Nothing has been touched.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{at}: discovery on server {server:?} failed: {message}")]
    Discovery {
        at: String,
        server: String,
        message: String,
    },
    #[error("{at}: invalid glob {pattern:?}: {message}")]
    BadGlob {
        at: String,
        pattern: String,
        message: String,
    },
    #[error("{at}: cannot list {path}: {message}")]
    Unlistable {
        at: String,
        path: String,
        message: String,
    },
    #[error(
        "{at}: discovered tenant {id:?} ({path}) has the same id as the tenant declared at line {first}"
    )]
    DuplicateId {
        at: String,
        id: String,
        path: String,
        first: usize,
    },
}

impl ResolveError {
    pub(crate) fn discovery(at: &str, server: &str, message: String) -> Self {
        ResolveError::Discovery {
            at: at.to_string(),
            server: server.to_string(),
            message,
        }
    }
}

/// The database's own words, with its error code: SQLSTATE for PostgreSQL, the error number and
/// SQLSTATE for MySQL, the result code for SQLite.
pub(crate) fn db_message(e: &sqlx::Error) -> String {
    let Some(db) = e.as_database_error() else {
        return e.to_string();
    };
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return match my.code() {
            Some(state) => format!("{} (error {}, SQLSTATE {state})", my.message(), my.number()),
            None => format!("{} (error {})", my.message(), my.number()),
        };
    }
    let label = if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        "SQLSTATE"
    } else {
        "code"
    };
    match db.code() {
        Some(code) => format!("{} ({label} {code})", db.message()),
        None => db.message().to_string(),
    }
}
