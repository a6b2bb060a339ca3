//! What can go wrong with one tenant, and with turning the fleet file into a list of tenants.

use flotilla_fleet::Location;

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
    #[error("version {version} failed: {message}")]
    Migration { version: i64, message: String },
    #[error("version {version} failed outside a transaction and left the tenant dirty: {message}")]
    Dirtied { version: i64, message: String },
    #[error("locked by another migrator: {0}")]
    Locked(String),
    #[error("tracking table: {0}")]
    Tracking(String),
    #[error("timeout: the tenant did not finish within {0}")]
    Timeout(String),
}

impl TenantError {
    /// The migration version the error belongs to, when it belongs to one.
    pub fn version(&self) -> Option<i64> {
        match self {
            TenantError::ChecksumMismatch { version, .. }
            | TenantError::Dirty { version }
            | TenantError::Migration { version, .. }
            | TenantError::Dirtied { version, .. } => Some(*version),
            _ => None,
        }
    }
}

/// The fleet's tenants could not be listed. Nothing has been touched.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "{at}: tenant {id:?} is a {dialect} tenant; this release of flotilla migrates SQLite tenants only, so the fleet is refused rather than partly migrated"
    )]
    Unsupported {
        id: String,
        dialect: &'static str,
        at: String,
    },
    #[error(
        "{at}: discovery from a database server is not available in this release (SQLite globs are)"
    )]
    UnsupportedDiscovery { at: String },
    #[error("{at}: invalid glob {pattern:?}: {message}")]
    BadGlob {
        at: String,
        pattern: String,
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

pub(crate) fn at(fleet: &flotilla_fleet::Fleet, location: Location) -> String {
    fleet.at(location)
}
