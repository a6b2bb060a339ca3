//! The fleet file (`fleet.toml`): which tenants exist, how they group into waves, and the policy a
//! rollout follows.
//!
//! Loading happens in two steps, in the manner of ripgrep's low-level and high-level arguments: serde
//! reads the TOML into `raw` structs that only know the shape of the file (unknown keys are refused
//! there, with their position), then `validate` turns them into the `model` that the rest of Flotilla
//! uses, collecting every semantic problem with its line and column. Nothing here opens a connection.

mod error;
mod interpolate;
mod location;
mod model;
mod raw;
mod url;
mod validate;

pub use error::{FleetError, FleetProblem};
pub use location::Location;
pub use model::{
    Budget, Discover, DiscoverSource, Fleet, Gate, Policy, Server, SqliteTarget, Target,
    TenantSpec, TransactionMode, WaveSpec,
};
pub use url::{redact_url, target_from_url};
pub use validate::{load, parse};

#[cfg(test)]
mod tests;
