//! The result of a run, as the JSON document of the design describes it. Built by the coordinator
//! as a run proceeds, and rebuilt from the ledger for `runs RUN`, so both print the same shape.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Halted,
    Paused,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Halted => "halted",
            RunStatus::Paused => "paused",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Halted,
            Self::Paused,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Halted,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Queued => "queued",
            TenantStatus::Running => "running",
            TenantStatus::Succeeded => "succeeded",
            TenantStatus::Failed => "failed",
            TenantStatus::Skipped => "skipped",
            TenantStatus::Halted => "halted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Skipped,
            Self::Halted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    pub version: Option<i64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantResult {
    pub id: String,
    pub wave: String,
    pub status: TenantStatus,
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub applied: Vec<i64>,
    pub error: Option<ErrorInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WaveReport {
    pub name: String,
    pub tenants: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub halted: usize,
}

impl WaveReport {
    pub fn count(&mut self, status: TenantStatus) {
        match status {
            TenantStatus::Succeeded => self.succeeded += 1,
            TenantStatus::Failed => self.failed += 1,
            TenantStatus::Skipped => self.skipped += 1,
            TenantStatus::Halted => self.halted += 1,
            TenantStatus::Queued | TenantStatus::Running => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// `None` when there was nothing to do and so no run was recorded.
    pub run_id: Option<String>,
    pub command: String,
    pub status: RunStatus,
    pub duration_ms: u64,
    pub waves: Vec<WaveReport>,
    pub tenants: Vec<TenantResult>,
}

impl RunReport {
    /// Waves counted from the tenants' statuses, in the order the waves first appear.
    pub fn tally(tenants: &[TenantResult]) -> Vec<WaveReport> {
        let mut waves: Vec<WaveReport> = Vec::new();
        for tenant in tenants {
            let index = match waves.iter().position(|w| w.name == tenant.wave) {
                Some(index) => index,
                None => {
                    waves.push(WaveReport {
                        name: tenant.wave.clone(),
                        ..Default::default()
                    });
                    waves.len() - 1
                }
            };
            waves[index].tenants += 1;
            waves[index].count(tenant.status);
        }
        waves
    }

    /// The report of an apply that found every selected tenant up to date: no run is recorded, so
    /// repeating an apply leaves the ledger exactly as it was.
    pub fn noop(command: &str, plan: &crate::plan::Plan) -> Self {
        let tenants: Vec<TenantResult> = plan
            .waves
            .iter()
            .flat_map(|wave| {
                wave.tenants.iter().map(|t| TenantResult {
                    id: t.tenant.id.clone(),
                    wave: wave.name.clone(),
                    status: TenantStatus::Skipped,
                    from_version: t.current,
                    to_version: t.current,
                    applied: Vec::new(),
                    error: None,
                })
            })
            .collect();
        Self {
            run_id: None,
            command: command.to_string(),
            status: RunStatus::Succeeded,
            duration_ms: 0,
            waves: Self::tally(&tenants),
            tenants,
        }
    }

    /// Exit code 1 territory: a tenant failed or the rollout halted. A run that paused after a
    /// failure within budget is a failure too.
    pub fn is_failure(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Failed | RunStatus::Halted | RunStatus::Interrupted
        ) || self
            .tenants
            .iter()
            .any(|t| t.status == TenantStatus::Failed)
    }
}
