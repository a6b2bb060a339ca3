//! Reading every selected tenant's tracking table before planning, with the fleet's concurrency.

use flotilla_tenant::{Connector, Tenant, TenantError, TenantState, probe};
use futures::StreamExt;

/// The state of each tenant, in the order given. Reading changes nothing on any tenant.
pub async fn survey<'a>(
    connector: &Connector,
    tenants: impl IntoIterator<Item = &'a Tenant>,
) -> Vec<Result<TenantState, TenantError>> {
    let concurrency = connector.policy().concurrency.max(1);
    futures::stream::iter(tenants)
        .map(|tenant| probe(connector, tenant))
        .buffered(concurrency)
        .collect()
        .await
}
