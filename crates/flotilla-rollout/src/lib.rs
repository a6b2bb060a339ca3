//! A rollout, from plan to result, in the shape of nextest's runner: a pure `plan` decides which
//! tenant is in which wave and what it lacks; the `coordinator` executes a plan and alone owns the
//! run's state; everything else (progress bars, the ledger, summaries, JSON) subscribes to its typed
//! `Event`s. `plan`, `apply --dry-run` and `apply` all use the same `Plan`.

mod coordinator;
mod event;
#[cfg(test)]
mod fixtures;
mod plan;
mod report;
mod survey;
mod waves;

pub use coordinator::{Execution, execute};
pub use event::{Event, EventSink};
pub use plan::{
    Layout, Plan, PlanError, PlannedTenant, PlannedWave, Selection, check_target, plan,
};
pub use report::{ErrorInfo, RunReport, RunStatus, TenantResult, TenantStatus, WaveReport};
pub use survey::survey;
pub use waves::{assign_waves, sample_key};
