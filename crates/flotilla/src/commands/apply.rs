//! `flotilla apply`: survey, plan, execute in waves, record in the ledger, report.

use std::io::IsTerminal;

use flotilla_ledger::{Holder, LedgerLock, Writer, new_run_id, now};
use flotilla_report::{
    LedgerRecorder, Log, Progress, plan_json, plan_text, report_json, report_text,
};
use flotilla_rollout::{EventSink, Execution, RunReport, Selection, execute};

use crate::cli::Global;
use crate::error::{CliError, Outcome};

pub async fn run(
    global: &Global,
    to: Option<i64>,
    dry_run: bool,
    resume: Option<String>,
    selection: Selection,
) -> Result<Outcome, CliError> {
    let context = crate::context::load(&global.fleet)?;
    if dry_run {
        let plan = super::plan::build(&context, &selection, to).await?;
        crate::output::print(global, || plan_text(&plan), || plan_json(&plan));
        return Ok(Outcome::Success);
    }
    if let Some(run_id) = resume {
        return Err(CliError::Invalid(format!(
            "cannot resume run {run_id}: resuming paused runs is not available in this release"
        )));
    }
    // Lock before reading any tenant, so a second coordinator leaves at once with exit code 4.
    let ledger = &context.fleet.ledger_path;
    let mut lock = LedgerLock::acquire(ledger)?;
    let run_id = new_run_id();
    lock.announce(&Holder {
        run_id: run_id.clone(),
        command: "apply".into(),
        started_at: now(),
    })?;
    let plan = super::plan::build(&context, &selection, to).await?;
    if plan.is_noop() {
        let report = RunReport::noop("apply", &plan);
        crate::output::print(global, || report_text(&report), || report_json(&report));
        return Ok(Outcome::Success);
    }

    let writer = Writer::start(ledger)?;
    let report = {
        let mut recorder = LedgerRecorder::new(
            &writer,
            &run_id,
            None,
            context.fleet.path.display().to_string(),
        );
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
            policy: &context.fleet.policy,
        };
        execute(&plan, &execution, &mut sinks).await
    };
    writer.finish()?;
    drop(lock);
    crate::output::print(global, || report_text(&report), || report_json(&report));
    Ok(if report.is_failure() {
        Outcome::TenantsFailed
    } else {
        Outcome::Success
    })
}
