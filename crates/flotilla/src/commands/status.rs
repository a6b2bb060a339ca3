//! `flotilla status`: per tenant, what the ledger last saw (or, with `--live`, what the tenant's
//! tracking table says now). Read-only either way.

use std::collections::HashSet;

use flotilla_ledger::Reader;
use flotilla_report::{StatusRow, status_json, status_text};
use flotilla_rollout::{Selection, survey};

use crate::cli::Global;
use crate::error::{CliError, Outcome};

pub async fn run(global: &Global, live: bool, selection: Selection) -> Result<Outcome, CliError> {
    let context = crate::context::load(&global.fleet).await?;
    let layout = selection.layout(&context.fleet.waves, &context.tenants)?;
    let mut tenants: Vec<_> = layout.tenants().collect();
    if selection.is_everything() {
        // Tenants outside every wave still have a status.
        let unassigned: HashSet<&str> = layout.unassigned.iter().map(String::as_str).collect();
        tenants.extend(
            context
                .tenants
                .iter()
                .filter(|t| unassigned.contains(t.id.as_str())),
        );
    }
    let ledger = Reader::open(&context.fleet.ledger_path)?.tenants()?;
    let known: HashSet<i64> = context.set.all().iter().map(|m| m.version).collect();
    // A dirty version did not finish: it is still pending, and never the tenant's version.
    let pending_of = |versions: &[i64], dirty: Option<i64>| {
        let applied: HashSet<i64> = versions
            .iter()
            .copied()
            .filter(|v| Some(*v) != dirty)
            .collect();
        known.difference(&applied).count()
    };

    let mut rows = Vec::with_capacity(tenants.len());
    if live {
        let states = survey(&context.connector, tenants.iter().copied()).await;
        for (tenant, state) in tenants.iter().zip(states) {
            let record = ledger.get(&tenant.id);
            let mut row = StatusRow {
                id: tenant.id.clone(),
                version: None,
                pending: None,
                dirty: None,
                last_run: record.and_then(|r| r.last_run.clone()),
                last_status: record.and_then(|r| r.last_status.clone()),
                error: None,
            };
            match state {
                Ok(state) => {
                    let versions: Vec<i64> = state.applied.iter().map(|r| r.version).collect();
                    row.version = state.version();
                    row.pending = Some(pending_of(&versions, state.dirty()));
                    row.dirty = Some(state.dirty().is_some());
                    row.error = state.verify(&context.set).err().map(|e| e.to_string());
                }
                Err(e) => row.error = Some(e.to_string()),
            }
            rows.push(row);
        }
    } else {
        for tenant in tenants {
            let row = match ledger.get(&tenant.id) {
                Some(record) => StatusRow {
                    id: tenant.id.clone(),
                    version: record
                        .versions
                        .iter()
                        .copied()
                        .filter(|v| Some(*v) != record.dirty_version)
                        .max(),
                    pending: record
                        .observed
                        .then(|| pending_of(&record.versions, record.dirty_version)),
                    dirty: record.observed.then_some(record.dirty_version.is_some()),
                    last_run: record.last_run.clone(),
                    last_status: record.last_status.clone(),
                    error: None,
                },
                None => StatusRow {
                    id: tenant.id.clone(),
                    version: None,
                    pending: None,
                    dirty: None,
                    last_run: None,
                    last_status: None,
                    error: None,
                },
            };
            rows.push(row);
        }
    }
    crate::output::print(global, || status_text(&rows, live), || status_json(&rows));
    Ok(Outcome::Success)
}
