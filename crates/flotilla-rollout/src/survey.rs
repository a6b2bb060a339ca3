//! Reading every selected tenant's tracking table before planning, with the fleet's concurrency.

use std::time::Duration;

use flotilla_tenant::{Tenant, TenantError, TenantState, probe};
use futures::StreamExt;

/// The state of each tenant, in the order given. Reading changes nothing on any tenant.
pub async fn survey<'a>(
    tenants: impl IntoIterator<Item = &'a Tenant>,
    concurrency: usize,
    lock_wait: Duration,
) -> Vec<Result<TenantState, TenantError>> {
    futures::stream::iter(tenants)
        .map(|tenant| probe(tenant, lock_wait))
        .buffered(concurrency.max(1))
        .collect()
        .await
}
