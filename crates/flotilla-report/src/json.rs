//! The JSON documents of the design: one per command, printed alone on stdout at the end.

use flotilla_ledger::RunRecord;
use flotilla_rollout::{Plan, RunReport};
use serde_json::{Value, json};

use crate::StatusRow;

/// apply, retry, rollback and `runs RUN`.
pub fn report_json(report: &RunReport) -> Value {
    serde_json::to_value(report).expect("a report always serialises")
}

/// `plan` and `apply --dry-run`.
pub fn plan_json(plan: &Plan) -> Value {
    let waves: Vec<Value> = plan
        .waves
        .iter()
        .map(|wave| {
            let tenants: Vec<Value> = wave
                .tenants
                .iter()
                .map(|t| {
                    json!({
                        "id": t.tenant.id,
                        "version": t.current,
                        "pending": t.pending,
                        "blocked": t.blocked.as_ref().map(|e| e.to_string()),
                    })
                })
                .collect();
            json!({ "name": wave.name, "tenants": tenants })
        })
        .collect();
    json!({
        "target": plan.goal(),
        "waves": waves,
        "unassigned": plan.unassigned,
    })
}

pub fn status_json(rows: &[StatusRow]) -> Value {
    json!({ "tenants": rows })
}

pub fn runs_json(runs: &[RunRecord]) -> Value {
    json!({ "runs": runs })
}
