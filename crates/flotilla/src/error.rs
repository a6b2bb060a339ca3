//! The one place where errors become exit codes (0 success, 1 tenant failure or halt, 2 invalid
//! input, 3 drift, 4 ledger or lock held elsewhere).

use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad fleet file, migrations, or arguments: nothing was touched.
    #[error("{0}")]
    Invalid(String),
    /// Another run holds the ledger.
    #[error("{0}")]
    Busy(String),
    /// The run could not be carried out or recorded (e.g. the ledger cannot be written).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Failed(_) => ExitCode::from(1),
            CliError::Invalid(_) => ExitCode::from(2),
            CliError::Busy(_) => ExitCode::from(4),
        }
    }
}

macro_rules! invalid_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Invalid(e.to_string())
            }
        }
    )*};
}

invalid_from!(
    flotilla_fleet::FleetError,
    flotilla_migrations::LoadError,
    flotilla_migrations::NewError,
    flotilla_rollout::PlanError
);

impl From<flotilla_tenant::ResolveError> for CliError {
    fn from(e: flotilla_tenant::ResolveError) -> Self {
        match e {
            // Nothing was touched, but the input was fine: the server could not be read.
            flotilla_tenant::ResolveError::Discovery { .. } => CliError::Failed(e.to_string()),
            other => CliError::Invalid(other.to_string()),
        }
    }
}

impl From<flotilla_ledger::LedgerError> for CliError {
    fn from(e: flotilla_ledger::LedgerError) -> Self {
        match e {
            flotilla_ledger::LedgerError::Busy { .. } => CliError::Busy(e.to_string()),
            flotilla_ledger::LedgerError::NoSuchRun { .. } => CliError::Invalid(e.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

/// What a command reports back to `main`: success, or a run in which tenants failed (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    TenantsFailed,
}
