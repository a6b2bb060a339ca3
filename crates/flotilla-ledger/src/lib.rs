//! The ledger: a local SQLite file with every run, every tenant attempt, timings and errors, and the
//! last state seen of each tenant.
//!
//! It is history and a fast index, never the truth: rows about a tenant's versions are written only
//! after the tenant's own tracking table has committed them, and are replaced by whatever a later
//! read of the tracking table shows. Writes go through one `Writer` thread fed by a channel, which
//! commits whatever has queued up in one transaction, so a fleet of thousands of tenants costs a
//! handful of commits rather than one per event. Readers (`status`, `runs`) open their own
//! connection; WAL mode lets them read while a run writes.

mod error;
mod lock;
mod read;
mod schema;
mod writer;

pub use error::LedgerError;
pub use lock::{Holder, LedgerLock};
pub use read::{Reader, RunRecord, TenantRecord, TenantRunRecord};
pub use writer::{Op, Writer};

/// A new run id: UTC time to the second plus four hex digits, sortable and short enough to type.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = chrono::Utc::now();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    format!(
        "{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        hasher.finish() & 0xffff
    )
}

/// Current UTC time as stored in the ledger (RFC 3339, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
