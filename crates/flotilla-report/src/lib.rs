//! Everything that turns a rollout into something a person or a program reads, and the recorder
//! that turns it into ledger rows. All of them consume the coordinator's events or its final
//! report; none of them changes what the run does.

mod json;
mod ledger;
mod log;
mod progress;
mod text;

pub use json::{plan_json, report_json, runs_json, status_json};
pub use ledger::{LedgerRecorder, report_from_ledger};
pub use log::Log;
pub use progress::Progress;
pub use text::{plan_text, report_text, runs_text, status_text};

/// One row of `flotilla status`: a tenant's version and pending count, from the ledger or live.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusRow {
    pub id: String,
    /// Highest applied version; `None` when nothing is applied or nothing is known yet.
    pub version: Option<i64>,
    /// `None` when the tenant was never seen (not in the ledger and not read live).
    pub pending: Option<usize>,
    pub dirty: Option<bool>,
    pub last_run: Option<String>,
    pub last_status: Option<String>,
    /// Why the tenant cannot be migrated as read live (unreachable, dirty, edited migration).
    pub error: Option<String>,
}
