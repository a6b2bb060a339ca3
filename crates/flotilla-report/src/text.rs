//! Human-readable output. Short lines, the tenant first, versions in full: an operator greps these.

use std::fmt::Write;

use flotilla_fleet::{Target, TransactionMode};
use flotilla_ledger::RunRecord;
use flotilla_migrations::MigrationSet;
use flotilla_rollout::{Plan, RunReport, RunStatus, TenantStatus};

use crate::StatusRow;

fn version(v: Option<i64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// What apply would do, per wave and tenant. In `transaction = "tenant"` mode each tenant line
/// says whether its migrations will share one transaction: MySQL commits DDL implicitly, so its
/// tenants go one migration at a time whatever the policy.
pub fn plan_text(plan: &Plan, mode: TransactionMode, set: &MigrationSet) -> String {
    let mut out = String::new();
    let tenants = plan.tenants().count();
    let with_work = plan.tenants().filter(|t| t.has_work()).count();
    let blocked = plan.tenants().filter(|t| t.blocked.is_some()).count();
    let migrations: usize = plan
        .tenants()
        .filter(|t| t.has_work())
        .map(|t| t.pending.len())
        .sum();
    let _ = writeln!(
        out,
        "Plan: {} in {}, target version {}",
        plural(tenants, "tenant"),
        plural(plan.waves.len(), "wave"),
        version(plan.goal())
    );
    for wave in &plan.waves {
        let _ = writeln!(
            out,
            "wave {} ({}):",
            wave.name,
            plural(wave.tenants.len(), "tenant")
        );
        for t in &wave.tenants {
            let line = if let Some(error) = &t.blocked {
                format!("blocked: {error}")
            } else if t.pending.is_empty() {
                format!("up to date at {}", version(t.current))
            } else {
                let list: Vec<String> = t.pending.iter().map(i64::to_string).collect();
                let grouping = match (mode, &t.tenant.target) {
                    (TransactionMode::Migration, _) => "",
                    (TransactionMode::Tenant, Target::MySql { .. }) => {
                        " [one migration at a time: MySQL commits DDL implicitly]"
                    }
                    (TransactionMode::Tenant, _)
                        if t.pending
                            .iter()
                            .all(|v| set.get(*v).is_none_or(|m| m.up.transactional)) =>
                    {
                        " [one transaction]"
                    }
                    (TransactionMode::Tenant, _) => {
                        " [transactions split at transaction:false migrations]"
                    }
                };
                format!(
                    "{} -> {}: {} pending ({}){grouping}",
                    version(t.current),
                    t.pending.last().expect("not empty"),
                    t.pending.len(),
                    list.join(", ")
                )
            };
            let _ = writeln!(out, "  {}  {line}", t.tenant.id);
        }
    }
    if !plan.unassigned.is_empty() {
        let _ = writeln!(
            out,
            "not in any wave (will not be migrated): {}",
            plan.unassigned.join(", ")
        );
    }
    if with_work == 0 && blocked == 0 {
        let _ = writeln!(out, "Nothing to do: every selected tenant is up to date.");
    } else {
        let _ = writeln!(
            out,
            "{} to apply on {}; {} blocked.",
            plural(migrations, "migration"),
            plural(with_work, "tenant"),
            blocked
        );
    }
    out
}

/// The end-of-run summary of apply, retry and rollback, and of `runs RUN`.
pub fn report_text(report: &RunReport) -> String {
    let mut out = String::new();
    let all_skipped = report
        .tenants
        .iter()
        .all(|t| t.status == TenantStatus::Skipped);
    if report.status == RunStatus::Succeeded && all_skipped {
        let versions: std::collections::BTreeSet<String> = report
            .tenants
            .iter()
            .map(|t| version(t.to_version))
            .collect();
        let at = if versions.len() == 1 {
            format!(" at version {}", versions.first().expect("one"))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "Nothing to do: {} already up to date{at}.",
            plural(report.tenants.len(), "tenant")
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} {}: {} in {:.2}s",
        report.command,
        report.run_id.as_deref().unwrap_or("(not recorded)"),
        report.status.as_str(),
        report.duration_ms as f64 / 1000.0
    );
    for wave in &report.waves {
        let mut parts = Vec::new();
        for (n, label) in [
            (wave.succeeded, "succeeded"),
            (wave.failed, "failed"),
            (wave.skipped, "up to date"),
            (wave.halted, "halted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        let queued = wave.tenants - wave.succeeded - wave.failed - wave.skipped - wave.halted;
        if queued > 0 {
            parts.push(format!("{queued} waiting"));
        }
        let _ = writeln!(
            out,
            "  wave {}: {}: {}",
            wave.name,
            plural(wave.tenants, "tenant"),
            parts.join(", ")
        );
    }
    let failed: Vec<_> = report
        .tenants
        .iter()
        .filter(|t| t.status == TenantStatus::Failed)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "failed:");
        for t in failed {
            let message = t
                .error
                .as_ref()
                .map_or("unknown error", |e| e.message.as_str());
            let _ = writeln!(out, "  {} (wave {}): {message}", t.id, t.wave);
        }
    }
    let halted = report
        .tenants
        .iter()
        .filter(|t| t.status == TenantStatus::Halted)
        .count();
    if halted > 0 {
        let _ = writeln!(
            out,
            "halted: {} not started because a wave's failure budget was exceeded",
            plural(halted, "tenant")
        );
    }
    if report.status == RunStatus::Paused
        && let Some(next) = report
            .tenants
            .iter()
            .find(|t| t.status == TenantStatus::Queued)
    {
        let _ = writeln!(
            out,
            "paused before wave {} (gate = \"manual\"); continue with: flotilla apply --resume {}",
            next.wave,
            report.run_id.as_deref().unwrap_or("RUN")
        );
    }
    out
}

pub fn status_text(rows: &[StatusRow], live: bool) -> String {
    let mut out = String::new();
    let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(6).max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:<16} {:>7}  {:<5}  {:<22} RESULT",
        "TENANT", "VERSION", "PENDING", "DIRTY", "LAST RUN"
    );
    for row in rows {
        let pending = row
            .pending
            .map_or_else(|| "?".to_string(), |p| p.to_string());
        let dirty = match row.dirty {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let result = match &row.error {
            Some(error) => error.clone(),
            None => row.last_status.clone().unwrap_or_else(|| "-".into()),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<16} {:>7}  {:<5}  {:<22} {}",
            row.id,
            version(row.version),
            pending,
            dirty,
            row.last_run.as_deref().unwrap_or("-"),
            result
        );
    }
    let unknown = rows.iter().filter(|r| r.pending.is_none()).count();
    if unknown > 0 && !live {
        let _ = writeln!(
            out,
            "{} not yet seen by any run; `flotilla status --live` reads them.",
            plural(unknown, "tenant")
        );
    }
    out
}

pub fn runs_text(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "No runs recorded yet.\n".to_string();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<9} {:<12} {:<25} PARENT",
        "RUN", "COMMAND", "STATUS", "STARTED"
    );
    for run in runs {
        let _ = writeln!(
            out,
            "{:<22} {:<9} {:<12} {:<25} {}",
            run.run_id,
            run.command,
            run.status,
            run.started_at,
            run.parent_run.as_deref().unwrap_or("-")
        );
    }
    out
}
