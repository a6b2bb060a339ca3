//! The fleet file exactly as written: serde structs that refuse unknown keys and keep the byte span
//! of every value that a later check may need to point at.

use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFleet {
    pub fleet: Option<RawFleetSection>,
    pub policy: Option<RawPolicy>,
    #[serde(default)]
    pub servers: Vec<S<RawServer>>,
    #[serde(default)]
    pub tenants: Vec<S<RawTenant>>,
    #[serde(default)]
    pub discover: Vec<S<RawDiscover>>,
    #[serde(default)]
    pub waves: Vec<S<RawWave>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFleetSection {
    pub migrations: Option<S<String>>,
    pub ledger: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub concurrency: Option<S<i64>>,
    pub per_server: Option<S<i64>>,
    pub lock_wait: Option<S<String>>,
    pub lock_timeout: Option<S<String>>,
    pub statement_timeout: Option<S<String>>,
    pub tenant_timeout: Option<S<String>>,
    pub transaction: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub name: S<String>,
    pub url: S<String>,
    pub max_connections: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTenant {
    pub id: S<String>,
    pub server: Option<S<String>>,
    pub schema: Option<S<String>>,
    pub url: Option<S<String>>,
    #[serde(default)]
    pub tags: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscover {
    pub server: Option<S<String>>,
    pub schemas: Option<S<String>>,
    pub sqlite: Option<S<String>>,
    pub query: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWave {
    pub name: S<String>,
    pub tenants: Option<Vec<S<String>>>,
    pub tags: Option<Vec<S<String>>>,
    pub percent: Option<S<f64>>,
    pub max_failures: Option<S<i64>>,
    pub max_failure_rate: Option<S<f64>>,
    pub min_sample: Option<S<i64>>,
    pub bake: Option<S<String>>,
    pub gate: Option<S<String>>,
}
