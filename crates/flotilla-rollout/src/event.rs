//! The coordinator's typed events. Subscribers (progress bars, the ledger recorder, log lines) only
//! consume them; new behaviour is a new variant and a handler, never a change to the loop.

use flotilla_tenant::Step;

use crate::plan::{Plan, PlannedWave};
use crate::report::{RunReport, TenantResult, WaveReport};

#[derive(Debug)]
pub enum Event<'a> {
    RunStarted {
        run_id: &'a str,
        command: &'a str,
        plan: &'a Plan,
    },
    WaveStarted {
        index: usize,
        wave: &'a PlannedWave,
    },
    /// The wave waits `bake` before starting, after the previous wave finished.
    Baking {
        index: usize,
        wave: &'a PlannedWave,
    },
    TenantStarted {
        wave: &'a str,
        tenant: &'a str,
    },
    /// A migration committed on a tenant, with its tracking row.
    MigrationApplied {
        tenant: &'a str,
        step: &'a Step,
    },
    TenantFinished {
        result: &'a TenantResult,
        /// The tenant's tracking table as it now stands (versions, dirty version), when known.
        observed: Option<(&'a [i64], Option<i64>)>,
        duration_ms: Option<u64>,
    },
    WaveFinished {
        index: usize,
        report: &'a WaveReport,
        halted: bool,
    },
    /// The run stopped before a `gate = "manual"` wave.
    Paused {
        wave: &'a str,
    },
    RunFinished {
        report: &'a RunReport,
    },
}

pub trait EventSink {
    fn event(&mut self, event: &Event<'_>);
}
