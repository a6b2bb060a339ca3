//! Executing a plan. The coordinator is the single owner of the run's state: tenant work runs as
//! futures it polls, and everything they learn comes back as messages or return values.
//!
//! As in cargo's job queue, an error never breaks out of the loop: a failing tenant becomes a
//! `TenantResult`, the wave's failure budget decides whether to stop starting tenants, and tenants
//! already in flight always finish (their transactions commit or roll back on their own) before the
//! remaining ones are recorded as halted.

use std::collections::BTreeSet;
use std::time::Instant;

use flotilla_fleet::{Gate, Policy};
use flotilla_migrations::MigrationSet;
use flotilla_tenant::{Connector, ExecOptions, Step, TenantError, TenantRun, apply};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::event::{Event, EventSink};
use crate::plan::{Plan, PlannedTenant};
use crate::report::{ErrorInfo, RunReport, RunStatus, TenantResult, TenantStatus, WaveReport};

/// What the coordinator needs besides the plan.
pub struct Execution<'a> {
    pub run_id: String,
    pub command: String,
    pub set: &'a MigrationSet,
    pub policy: &'a Policy,
    pub connector: &'a Connector,
    /// Tenants that failed in this run before it paused; a resumed run that ends without further
    /// failures is still `failed`.
    pub earlier_failures: usize,
}

/// Executes `plan` wave by wave and returns the run's report; every step is also told to `sinks`.
pub async fn execute(
    plan: &Plan,
    execution: &Execution<'_>,
    sinks: &mut [&mut dyn EventSink],
) -> RunReport {
    let started = Instant::now();
    let mut emit = |event: Event<'_>| {
        for sink in sinks.iter_mut() {
            sink.event(&event);
        }
    };
    emit(Event::RunStarted {
        run_id: &execution.run_id,
        command: &execution.command,
        plan,
    });

    let options = ExecOptions {
        run_id: execution.run_id.clone(),
        mode: execution.policy.transaction,
        lock_wait: execution.policy.lock_wait,
        tenant_timeout: execution.policy.tenant_timeout,
    };
    let mut results: Vec<TenantResult> = Vec::new();
    let mut stopped: Option<RunStatus> = None;
    let mut earlier_wave = false;
    let mut any_started = false;
    for (index, wave) in plan.waves.iter().enumerate() {
        match stopped {
            Some(RunStatus::Halted) => {
                let mut report = WaveReport {
                    name: wave.name.clone(),
                    tenants: wave.tenants.len(),
                    ..Default::default()
                };
                for planned in &wave.tenants {
                    results.push(halt(planned, &wave.name, &mut report, &mut emit));
                }
                emit(Event::WaveFinished {
                    index,
                    report: &report,
                    halted: true,
                });
                continue;
            }
            Some(_) => {
                results.extend(
                    wave.tenants
                        .iter()
                        .map(|t| unstarted(t, &wave.name, TenantStatus::Queued)),
                );
                continue;
            }
            None => {}
        }
        // A wave the selection left empty neither gates nor bakes: there is nothing to approve.
        if wave.tenants.is_empty() {
            continue;
        }
        // Starting a run approves its first wave; a gate stops the run before any later one.
        if wave.gate == Some(Gate::Manual) && earlier_wave {
            stopped = Some(RunStatus::Paused);
            emit(Event::Paused { wave: &wave.name });
            results.extend(
                wave.tenants
                    .iter()
                    .map(|t| unstarted(t, &wave.name, TenantStatus::Queued)),
            );
            continue;
        }
        earlier_wave = true;
        if let Some(bake) = wave.bake.filter(|_| any_started) {
            emit(Event::Baking { index, wave });
            tokio::time::sleep(bake).await;
        }
        emit(Event::WaveStarted { index, wave });
        let outcome = run_wave(plan, wave, execution, &options, &mut emit).await;
        any_started |= outcome.started;
        if outcome.halted {
            stopped = Some(RunStatus::Halted);
        }
        emit(Event::WaveFinished {
            index,
            report: &outcome.report,
            halted: outcome.halted,
        });
        results.extend(outcome.results);
    }

    let failed =
        execution.earlier_failures > 0 || results.iter().any(|r| r.status == TenantStatus::Failed);
    let status = match stopped {
        Some(stop) => stop,
        None if failed => RunStatus::Failed,
        None => RunStatus::Succeeded,
    };
    let report = RunReport {
        run_id: Some(execution.run_id.clone()),
        command: execution.command.clone(),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        waves: RunReport::tally(&results),
        tenants: results,
    };
    emit(Event::RunFinished { report: &report });
    report
}

struct WaveOutcome {
    results: Vec<TenantResult>,
    report: WaveReport,
    halted: bool,
    /// Whether any tenant of the wave was started (and so a later wave's bake means something).
    started: bool,
}

async fn run_wave(
    plan: &Plan,
    wave: &crate::plan::PlannedWave,
    execution: &Execution<'_>,
    options: &ExecOptions,
    emit: &mut impl FnMut(Event<'_>),
) -> WaveOutcome {
    let (set, connector, concurrency) = (
        execution.set,
        execution.connector,
        execution.policy.concurrency,
    );
    let mut results: Vec<Option<TenantResult>> = vec![None; wave.tenants.len()];
    let mut report = WaveReport {
        name: wave.name.clone(),
        tenants: wave.tenants.len(),
        ..Default::default()
    };
    let (step_tx, mut step_rx) = mpsc::unbounded_channel::<(usize, Step)>();
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0;
    let mut stop = false;
    let mut started = false;
    let target = plan.target;
    // A rate is only judged after `min_sample` tenants finished, but a wave smaller than that must
    // still be judged once it is done, or a canary wave where everything failed would let the next
    // wave start.
    let judged = wave
        .tenants
        .iter()
        .filter(|t| t.blocked.is_some() || t.has_work())
        .count() as u64;
    let budget = flotilla_fleet::Budget {
        min_sample: wave.budget.min_sample.min(judged),
        ..wave.budget
    };

    // Records a finished tenant and applies the wave's failure budget to it.
    let mut finish = |i: usize,
                      result: TenantResult,
                      observed: Option<(Vec<i64>, Option<i64>)>,
                      duration_ms,
                      report: &mut WaveReport,
                      emit: &mut dyn FnMut(Event<'_>)| {
        report.count(result.status);
        emit(Event::TenantFinished {
            result: &result,
            observed: observed.as_ref().map(|(v, d)| (v.as_slice(), *d)),
            duration_ms,
        });
        results[i] = Some(result);
        let finished = (report.succeeded + report.failed) as u64;
        budget.exceeded(report.failed as u64, finished)
    };

    loop {
        while !stop && in_flight.len() < concurrency.max(1) && next < wave.tenants.len() {
            let i = next;
            next += 1;
            let planned = &wave.tenants[i];
            if let Some(error) = &planned.blocked {
                let mut result = unstarted(planned, &wave.name, TenantStatus::Failed);
                result.error = Some(error_info(error));
                stop |= finish(i, result, None, None, &mut report, &mut *emit);
            } else if !planned.has_work() {
                let result = unstarted(planned, &wave.name, TenantStatus::Skipped);
                stop |= finish(i, result, None, None, &mut report, &mut *emit);
            } else {
                started = true;
                emit(Event::TenantStarted {
                    wave: &wave.name,
                    tenant: &planned.tenant.id,
                });
                let tx = step_tx.clone();
                in_flight.push(async move {
                    let started = Instant::now();
                    let mut on_step = |step: &Step| {
                        let _ = tx.send((i, step.clone()));
                    };
                    let run = apply(
                        connector,
                        &planned.tenant,
                        set,
                        target,
                        options,
                        &mut on_step,
                    )
                    .await;
                    (i, run, started.elapsed().as_millis() as u64)
                });
            }
        }
        if in_flight.is_empty() && (stop || next >= wave.tenants.len()) {
            break;
        }
        tokio::select! {
            biased;
            Some((i, step)) = step_rx.recv() => {
                emit(Event::MigrationApplied { tenant: &wave.tenants[i].tenant.id, step: &step });
            }
            Some((i, run, duration_ms)) = in_flight.next() => {
                let planned = &wave.tenants[i];
                let observed = observed_state(&run);
                let result = ran(planned, &wave.name, run);
                stop |= finish(i, result, observed, Some(duration_ms), &mut report, &mut *emit);
            }
        }
    }
    // Messages still queued belong to tenants that already finished; deliver them in order.
    while let Ok((i, step)) = step_rx.try_recv() {
        emit(Event::MigrationApplied {
            tenant: &wave.tenants[i].tenant.id,
            step: &step,
        });
    }

    let results = results
        .into_iter()
        .zip(&wave.tenants)
        .map(|(result, planned)| {
            result.unwrap_or_else(|| halt(planned, &wave.name, &mut report, &mut *emit))
        })
        .collect();
    // Exceeding the budget halts the rollout even when it happens on the wave's last tenant: later
    // waves must not start.
    WaveOutcome {
        results,
        report,
        halted: stop,
        started,
    }
}

/// Records a tenant that will not start because the rollout halted.
fn halt(
    planned: &PlannedTenant,
    wave: &str,
    report: &mut WaveReport,
    emit: &mut dyn FnMut(Event<'_>),
) -> TenantResult {
    // A tenant that had nothing to do loses nothing to the halt: it is up to date, not halted.
    let status = if planned.blocked.is_none() && planned.pending.is_empty() {
        TenantStatus::Skipped
    } else {
        TenantStatus::Halted
    };
    let result = unstarted(planned, wave, status);
    report.count(status);
    emit(Event::TenantFinished {
        result: &result,
        observed: None,
        duration_ms: None,
    });
    result
}

/// A tenant that did not run: skipped, halted, queued behind a gate, or refused by the survey.
fn unstarted(planned: &PlannedTenant, wave: &str, status: TenantStatus) -> TenantResult {
    TenantResult {
        id: planned.tenant.id.clone(),
        wave: wave.to_string(),
        status,
        from_version: planned.current,
        to_version: planned.current,
        applied: Vec::new(),
        error: None,
    }
}

fn ran(planned: &PlannedTenant, wave: &str, run: TenantRun) -> TenantResult {
    let status = if run.error.is_some() {
        TenantStatus::Failed
    } else {
        TenantStatus::Succeeded
    };
    TenantResult {
        id: planned.tenant.id.clone(),
        wave: wave.to_string(),
        status,
        from_version: run.state.as_ref().map_or(planned.current, |s| s.version()),
        to_version: run.to_version,
        applied: run.applied_versions(),
        error: run.error.as_ref().map(error_info),
    }
}

fn error_info(error: &TenantError) -> ErrorInfo {
    ErrorInfo {
        version: error.version(),
        message: error.to_string(),
    }
}

/// What the tenant's tracking table holds after the run: as re-read after a failure, or else as
/// read before plus what committed.
fn observed_state(run: &TenantRun) -> Option<(Vec<i64>, Option<i64>)> {
    if let Some(after) = &run.after {
        return Some((
            after.applied.iter().map(|r| r.version).collect(),
            after.dirty(),
        ));
    }
    let state = run.state.as_ref()?;
    let mut versions: BTreeSet<i64> = state.applied.iter().map(|r| r.version).collect();
    versions.extend(run.applied.iter().map(|s| s.version));
    Some((versions.into_iter().collect(), state.dirty()))
}
