//! The ledger recorder: an event subscriber that turns the coordinator's events into ledger rows,
//! and the way back, from ledger rows to the report `runs RUN` prints.

use flotilla_ledger::{Op, RunRecord, TenantRunRecord, Writer, now};
use flotilla_rollout::{
    ErrorInfo, Event, EventSink, RunReport, RunStatus, TenantResult, TenantStatus,
};

pub struct LedgerRecorder<'a> {
    writer: &'a Writer,
    run_id: String,
    parent_run: Option<String>,
    fleet: String,
    /// The run already exists in the ledger (a paused run being resumed).
    resuming: bool,
}

impl<'a> LedgerRecorder<'a> {
    /// Records a new run.
    pub fn new(
        writer: &'a Writer,
        run_id: &str,
        parent_run: Option<String>,
        fleet: String,
    ) -> Self {
        Self {
            writer,
            run_id: run_id.to_string(),
            parent_run,
            fleet,
            resuming: false,
        }
    }

    /// Records the continuation of a run that is already in the ledger with its tenants queued.
    pub fn resuming(writer: &'a Writer, run_id: &str, fleet: String) -> Self {
        Self {
            writer,
            run_id: run_id.to_string(),
            parent_run: None,
            fleet,
            resuming: true,
        }
    }
}

impl LedgerRecorder<'_> {
    fn record_start(&self, command: &str, plan: &flotilla_rollout::Plan, at: &str) {
        self.writer.send(Op::RunStarted {
            run_id: self.run_id.clone(),
            command: command.to_string(),
            started_at: at.to_string(),
            parent_run: self.parent_run.clone(),
            target_version: plan.target,
            fleet: self.fleet.clone(),
        });
        let tenants = plan
            .waves
            .iter()
            .enumerate()
            .flat_map(|(index, wave)| {
                wave.tenants
                    .iter()
                    .map(move |t| (t.tenant.id.clone(), wave.name.clone(), index))
            })
            .collect();
        self.writer.send(Op::TenantsQueued {
            run_id: self.run_id.clone(),
            tenants,
        });
    }
}

impl EventSink for LedgerRecorder<'_> {
    fn event(&mut self, event: &Event<'_>) {
        let run_id = self.run_id.clone();
        match event {
            Event::RunStarted { command, plan, .. } => {
                let at = now();
                if self.resuming {
                    self.writer.send(Op::RunResumed {
                        run_id: run_id.clone(),
                    });
                } else {
                    self.record_start(command, plan, &at);
                }
                // What the survey read is the truth the ledger starts from.
                for planned in plan.tenants() {
                    if let Some(state) = &planned.state {
                        self.writer.send(Op::Observed {
                            tenant: planned.tenant.id.clone(),
                            versions: state.applied.iter().map(|r| r.version).collect(),
                            dirty_version: state.dirty(),
                            at: at.clone(),
                        });
                    }
                }
            }
            Event::TenantStarted { tenant, .. } => {
                self.writer.send(Op::TenantStarted {
                    run_id,
                    tenant: tenant.to_string(),
                    at: now(),
                });
            }
            Event::MigrationApplied { tenant, step } => {
                self.writer.send(Op::Attempt {
                    run_id,
                    tenant: tenant.to_string(),
                    version: step.version,
                    direction: "up",
                    status: "succeeded",
                    error: None,
                    started_at: step
                        .started_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    duration_ms: step.duration_ms,
                });
            }
            Event::TenantFinished {
                result,
                observed,
                duration_ms,
            } => {
                let at = now();
                if let Some(ErrorInfo {
                    version: Some(version),
                    message,
                }) = &result.error
                    && result.status == TenantStatus::Failed
                {
                    self.writer.send(Op::Attempt {
                        run_id: run_id.clone(),
                        tenant: result.id.clone(),
                        version: *version,
                        direction: "up",
                        status: "failed",
                        error: Some(message.clone()),
                        started_at: at.clone(),
                        duration_ms: 0,
                    });
                }
                if let Some((versions, dirty_version)) = observed {
                    self.writer.send(Op::Observed {
                        tenant: result.id.clone(),
                        versions: versions.to_vec(),
                        dirty_version: *dirty_version,
                        at: at.clone(),
                    });
                }
                self.writer.send(Op::TenantFinished {
                    run_id,
                    tenant: result.id.clone(),
                    status: result.status.as_str(),
                    from_version: result.from_version,
                    to_version: result.to_version,
                    error_version: result.error.as_ref().and_then(|e| e.version),
                    error: result.error.as_ref().map(|e| e.message.clone()),
                    finished_at: at,
                    duration_ms: *duration_ms,
                });
            }
            Event::RunFinished { report } => {
                self.writer.send(Op::RunFinished {
                    run_id,
                    status: report.status.as_str(),
                    finished_at: now(),
                });
            }
            Event::WaveStarted { .. }
            | Event::Baking { .. }
            | Event::WaveFinished { .. }
            | Event::Paused { .. } => {}
        }
    }
}

/// Rebuilds a run's report from the ledger, for `runs RUN`.
pub fn report_from_ledger(run: &RunRecord, tenants: &[TenantRunRecord]) -> RunReport {
    let results: Vec<TenantResult> = tenants
        .iter()
        .map(|t| TenantResult {
            id: t.tenant.clone(),
            wave: t.wave.clone(),
            status: TenantStatus::parse(&t.status).unwrap_or(TenantStatus::Queued),
            from_version: t.from_version,
            to_version: t.to_version,
            applied: t.applied.clone(),
            error: t.error.as_ref().map(|message| ErrorInfo {
                version: t.error_version,
                message: message.clone(),
            }),
        })
        .collect();
    let duration_ms = run
        .finished_at
        .as_deref()
        .and_then(|end| {
            let start = chrono::DateTime::parse_from_rfc3339(&run.started_at).ok()?;
            let end = chrono::DateTime::parse_from_rfc3339(end).ok()?;
            u64::try_from((end - start).num_milliseconds()).ok()
        })
        .unwrap_or(0);
    RunReport {
        run_id: Some(run.run_id.clone()),
        command: run.command.clone(),
        status: RunStatus::parse(&run.status).unwrap_or(RunStatus::Interrupted),
        duration_ms,
        waves: RunReport::tally(&results),
        tenants: results,
    }
}
