//! One tenant at a time: finding the fleet's tenants, reading a tenant's `flotilla_migrations`
//! tracking table, and advancing it.
//!
//! The tracking table inside each tenant is the truth of what it holds, so everything that decides
//! what to run re-reads it under the tenant's lock. The flow (verify, compute pending, group into
//! transactions, record) lives in `executor` once; a dialect module only knows how to talk to its
//! database. Errors are values: a failing tenant produces a `TenantRun` with an error, never a panic
//! or an early return that would skip its bookkeeping.

mod connect;
mod error;
mod executor;
mod mysql;
mod postgres;
mod resolve;
mod session;
mod sql;
mod sqlite;
mod state;

pub use connect::Connector;
pub use error::{ResolveError, TenantError};
pub use executor::{ExecOptions, Step, TenantRun, apply, probe};
pub use resolve::{Origin, Tenant, resolve};
pub use state::{AppliedRow, TenantState};
