//! Loading everything a command needs, completely and before any tenant is opened: the fleet file,
//! the migrations directory and the list of tenants. A problem with the input is exit code 2; a
//! discovery server that cannot be read is exit code 1 (the input was fine, nothing was touched).

use std::path::Path;

use flotilla_fleet::{Fleet, FleetError};
use flotilla_migrations::MigrationSet;
use flotilla_tenant::{Connector, Tenant};

use crate::error::CliError;

pub struct Context {
    pub fleet: Fleet,
    pub set: MigrationSet,
    pub tenants: Vec<Tenant>,
    pub connector: Connector,
}

pub fn load_fleet(path: &Path) -> Result<Fleet, CliError> {
    flotilla_fleet::load(path).map_err(|e| match e {
        FleetError::Unreadable { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => CliError::Invalid(format!(
            "{e}\nrun `flotilla init` to create a starter fleet, or point --fleet (or FLOTILLA_FLEET) at yours"
        )),
        other => other.into(),
    })
}

/// Everything is read and checked before any tenant is opened; only discovery from a server reads
/// that server's catalog, which changes nothing.
pub async fn load(path: &Path) -> Result<Context, CliError> {
    let fleet = load_fleet(path)?;
    let set = flotilla_migrations::load_dir(&fleet.migrations_dir)?;
    let connector = Connector::new(&fleet);
    let tenants = flotilla_tenant::resolve(&fleet, &connector).await?;
    Ok(Context {
        fleet,
        set,
        tenants,
        connector,
    })
}
