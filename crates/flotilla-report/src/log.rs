//! Log lines for `-v`: the coordinator's events as tracing records on stderr.

use flotilla_rollout::{Event, EventSink};

#[derive(Debug, Default)]
pub struct Log;

impl EventSink for Log {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted {
                run_id,
                command,
                plan,
            } => {
                tracing::info!(
                    run_id,
                    command,
                    tenants = plan.tenants().count(),
                    "run started"
                )
            }
            Event::Baking { wave, .. } => {
                tracing::info!(wave = %wave.name, bake = ?wave.bake, "baking before wave")
            }
            Event::WaveStarted { wave, .. } => {
                tracing::info!(wave = %wave.name, tenants = wave.tenants.len(), "wave started")
            }
            Event::TenantStarted { wave, tenant } => {
                tracing::debug!(wave, tenant, "tenant started")
            }
            Event::MigrationApplied { tenant, step } => {
                tracing::debug!(
                    tenant,
                    version = step.version,
                    duration_ms = step.duration_ms,
                    "migration applied"
                )
            }
            Event::TenantFinished {
                result,
                duration_ms,
                ..
            } => match &result.error {
                Some(error) => {
                    tracing::info!(tenant = %result.id, status = result.status.as_str(), error = %error.message, "tenant finished")
                }
                None => {
                    tracing::debug!(tenant = %result.id, status = result.status.as_str(), ?duration_ms, "tenant finished")
                }
            },
            Event::WaveFinished { report, halted, .. } => tracing::info!(
                wave = %report.name,
                succeeded = report.succeeded,
                failed = report.failed,
                skipped = report.skipped,
                halted = report.halted,
                budget_exceeded = halted,
                "wave finished"
            ),
            Event::Paused { wave } => tracing::info!(wave, "paused at manual gate"),
            Event::RunFinished { report } => {
                tracing::info!(run_id = ?report.run_id, status = report.status.as_str(), duration_ms = report.duration_ms, "run finished")
            }
        }
    }
}
