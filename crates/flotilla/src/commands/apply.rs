//! `flotilla apply`: survey, plan, execute in waves, record in the ledger, report. With `--resume`
//! it continues a run that stopped at a manual gate, under the same run id.

use std::collections::HashSet;
use std::io::IsTerminal;

use flotilla_ledger::{Holder, LedgerLock, Op, Reader, Writer, new_run_id, now};
use flotilla_report::{
    LedgerRecorder, Log, Progress, plan_json, plan_text, report_json, report_text,
};
use flotilla_rollout::{EventSink, Execution, Layout, RunReport, Selection, execute, survey};

use crate::cli::Global;
use crate::context::Context;
use crate::error::{CliError, Outcome};

pub async fn run(
    global: &Global,
    to: Option<i64>,
    dry_run: bool,
    resume: Option<String>,
    selection: Selection,
) -> Result<Outcome, CliError> {
    let context = crate::context::load(&global.fleet).await?;
    if dry_run {
        let plan = super::plan::build(&context, &selection, to).await?;
        crate::output::print(
            global,
            || plan_text(&plan, context.fleet.policy.transaction, &context.set),
            || plan_json(&plan),
        );
        return Ok(Outcome::Success);
    }
    let prepare = || match &resume {
        Some(run_id) => resumed_layout(&context, run_id, &selection).map(|r| (run_id.clone(), r)),
        None => {
            let layout = selection.layout(&context.fleet.waves, &context.tenants)?;
            flotilla_rollout::check_target(&context.set, to)?;
            Ok((
                new_run_id(),
                Resumed {
                    layout,
                    to,
                    earlier_failures: 0,
                },
            ))
        }
    };
    // Invalid input is refused before the ledger's lock file is even created; the lock is taken
    // before any tenant is read, so a second coordinator leaves at once with exit code 4. A run to
    // resume is looked up again under the lock, where no one else can change it.
    prepare()?;
    let ledger = &context.fleet.ledger_path;
    let mut lock = LedgerLock::acquire(ledger)?;
    let (
        run_id,
        Resumed {
            layout,
            to,
            earlier_failures,
        },
    ) = prepare()?;
    lock.announce(&Holder {
        run_id: run_id.clone(),
        command: "apply".into(),
        started_at: now(),
    })?;
    let policy = &context.fleet.policy;
    let states = survey(&context.connector, layout.tenants()).await;
    let plan = flotilla_rollout::plan(layout, states.into_iter(), &context.set, to)?;
    if !plan.unassigned.is_empty() {
        tracing::warn!(
            "{} tenant(s) belong to no wave and are not migrated (add a wave without a selector to take them): {}",
            plan.unassigned.len(),
            plan.unassigned.join(", ")
        );
    }
    if plan.is_noop() && resume.is_none() {
        let report = RunReport::noop("apply", &plan);
        crate::output::print(global, || report_text(&report), || report_json(&report));
        return Ok(Outcome::Success);
    }

    let writer = Writer::start(ledger)?;
    // Holding the lock proves no other coordinator is alive: a run still marked running died.
    writer.send(Op::AbandonedRunsInterrupted { at: now() });
    let report = {
        let fleet = context.fleet.path.display().to_string();
        let mut recorder = match resume {
            Some(_) => LedgerRecorder::resuming(&writer, &run_id, fleet),
            None => LedgerRecorder::new(&writer, &run_id, None, fleet),
        };
        let mut log = Log;
        let mut progress = Progress::new();
        let mut sinks: Vec<&mut dyn EventSink> = vec![&mut recorder, &mut log];
        if !global.no_progress && std::io::stderr().is_terminal() {
            sinks.push(&mut progress);
        }
        let execution = Execution {
            run_id: run_id.clone(),
            command: "apply".into(),
            set: &context.set,
            policy,
            connector: &context.connector,
            earlier_failures,
        };
        execute(&plan, &execution, &mut sinks).await
    };
    // The tenants' tracking tables already hold the outcome, so the report is printed even when
    // the ledger could not record all of it; the ledger error then decides the exit code.
    let recorded = writer.finish();
    drop(lock);
    crate::output::print(global, || report_text(&report), || report_json(&report));
    recorded?;
    Ok(if report.is_failure() {
        Outcome::TenantsFailed
    } else {
        Outcome::Success
    })
}

/// What a run works on: its layout, its target version, and (when resumed) how many of its
/// tenants failed before it paused.
struct Resumed {
    layout: Layout,
    to: Option<i64>,
    earlier_failures: usize,
}

/// The rest of a paused run: its tenants still queued, in the fleet's waves from the gated one on,
/// with that gate opened (resuming is the operator's approval), and the run's original target.
fn resumed_layout(
    context: &Context,
    run_id: &str,
    selection: &Selection,
) -> Result<Resumed, CliError> {
    if !selection.is_everything() {
        return Err(CliError::Invalid(
            "--resume continues a run with the tenants it selected; --tenant, --tag and --wave do not apply".into(),
        ));
    }
    let reader = Reader::open(&context.fleet.ledger_path)?;
    let run = reader.run(run_id)?;
    if run.status != "paused" {
        return Err(CliError::Invalid(format!(
            "run {run_id} is {}; only a paused run can be resumed",
            run.status
        )));
    }
    let tenants = reader.run_tenants(run_id)?;
    let earlier_failures = tenants.iter().filter(|t| t.status == "failed").count();
    let queued: HashSet<&str> = tenants
        .iter()
        .filter(|t| t.status == "queued")
        .map(|t| t.tenant.as_str())
        .collect();
    if queued.is_empty() {
        return Err(CliError::Invalid(format!(
            "run {run_id} has no queued tenants left to resume"
        )));
    }
    if let Some(gone) = queued
        .iter()
        .find(|id| !context.tenants.iter().any(|t| t.id == **id))
    {
        return Err(CliError::Invalid(format!(
            "run {run_id} cannot be resumed: its tenant {gone:?} is no longer in the fleet"
        )));
    }
    // Waves are assigned over the whole fleet, as when the run started, then narrowed to exactly
    // the run's queued tenants.
    let mut layout = Selection::default().layout(&context.fleet.waves, &context.tenants)?;
    for (_, members) in &mut layout.waves {
        members.retain(|t| queued.contains(t.id.as_str()));
    }
    layout.unassigned.clear();
    let first = layout
        .waves
        .iter()
        .position(|(_, members)| !members.is_empty())
        .unwrap_or(layout.waves.len());
    layout.waves.drain(..first);
    if let Some((wave, _)) = layout.waves.first_mut() {
        wave.gate = None;
        wave.bake = None;
    }
    Ok(Resumed {
        layout,
        to: run.target_version,
        earlier_failures,
    })
}
