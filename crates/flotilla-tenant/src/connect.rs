//! Connections to tenants, shared by a whole command.
//!
//! Schema-per-tenant tenants share their server: one pool per `[[servers]]` entry, capped by the
//! entry's `max_connections` (or `policy.per_server`), so a thousand schemas cost a handful of
//! sessions rather than a connect each. Pooled sessions are recycled after a while, because a
//! PostgreSQL session that has visited thousands of schemas carries their catalog caches and slows
//! down. Database-per-tenant tenants need a connection of their own; a semaphore per host caps
//! how many are open at once on one server. SQLite tenants are files and need neither.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_fleet::{Fleet, Policy, Server, Target};
use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;
use sqlx::{ConnectOptions, MySql, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::TenantError;
use crate::mysql::MySqlTenant;
use crate::postgres::PgTenant;
use crate::resolve::Tenant;
use crate::session::Session;
use crate::sqlite::SqliteTenant;

/// How long a pooled session serves tenants before it is replaced.
const SESSION_LIFETIME: Duration = Duration::from_secs(10);

/// How long connecting to a server may take (sqlx retries a refused connection until then).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens sessions to tenants for one command.
pub struct Connector {
    policy: Policy,
    servers: HashMap<String, ServerEntry>,
    /// Caps on connections per host for database-per-tenant tenants, created on first use.
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

struct ServerEntry {
    server: Server,
    pg: tokio::sync::OnceCell<PgPool>,
    my: tokio::sync::OnceCell<MySqlPool>,
    /// One permit per pooled session. Waiting for a free session can take as long as other
    /// tenants' migrations; waiting for a *connection* must not, so the two are kept apart: the
    /// pool's own acquire timeout only bounds connecting.
    slots: Arc<Semaphore>,
    /// Whether the server could be reached, learnt once with a connection of its own: a pool
    /// only says it timed out, while this keeps the real cause, and every other tenant of a
    /// server that is down fails at once instead of waiting its turn to time out.
    reachable: tokio::sync::OnceCell<Result<(), String>>,
}

impl Connector {
    pub fn new(fleet: &Fleet) -> Self {
        let servers = fleet
            .servers
            .iter()
            .map(|s| {
                let cap = s.max_connections.unwrap_or(fleet.policy.per_server).max(1);
                let entry = ServerEntry {
                    server: s.clone(),
                    pg: Default::default(),
                    my: Default::default(),
                    slots: Arc::new(Semaphore::new(cap)),
                    reachable: Default::default(),
                };
                (s.name.clone(), entry)
            })
            .collect();
        Self {
            policy: fleet.policy.clone(),
            servers,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A session on `tenant`. `read_only` sessions never create anything (no SQLite file, no table).
    pub(crate) async fn open(
        &self,
        tenant: &Tenant,
        read_only: bool,
    ) -> Result<Option<Session>, TenantError> {
        let policy = &self.policy;
        match &tenant.target {
            Target::Sqlite(target) => Ok(SqliteTenant::open(target, policy.lock_wait, read_only)
                .await?
                .map(Session::Sqlite)),
            Target::Schema { server, schema } => {
                let pool = self.pg_pool(server).await?;
                let entry = &self.servers[server];
                let permit =
                    entry.slots.clone().acquire_owned().await.map_err(|_| {
                        TenantError::Unreachable("connection limiter closed".into())
                    })?;
                let conn = pool
                    .acquire()
                    .await
                    .map_err(|e| unreachable(&entry.server.redacted_url, &e))?;
                let tenant = PgTenant::start(
                    crate::postgres::PgConn::Pooled {
                        conn,
                        _permit: permit,
                    },
                    Some(schema.clone()),
                    policy,
                )
                .await?;
                Ok(Some(Session::Postgres(tenant)))
            }
            Target::Postgres { url } => {
                let permit = self.host_permit(url).await?;
                let conn = connect_url::<sqlx::PgConnection>(url).await?;
                let tenant = PgTenant::start(
                    crate::postgres::PgConn::Own {
                        conn,
                        _permit: permit,
                    },
                    None,
                    policy,
                )
                .await?;
                Ok(Some(Session::Postgres(tenant)))
            }
            Target::MySql { url } => {
                let permit = self.host_permit(url).await?;
                let conn = connect_url::<sqlx::MySqlConnection>(url).await?;
                Ok(Some(Session::MySql(
                    MySqlTenant::start(conn, permit, policy).await?,
                )))
            }
        }
    }

    /// Asks the server to cancel what a session is running, from another connection: a session
    /// whose tenant timed out may be stuck in a statement that dropping the client side would not
    /// stop.
    pub(crate) async fn cancel(&self, tenant: &Tenant, backend: u64) {
        // A connection of its own: the pool may be full of the sessions being waited on.
        let result = match &tenant.target {
            Target::Schema { server, .. } => match self.servers.get(server) {
                Some(entry) => cancel_pg(&entry.server.url, backend).await,
                None => return,
            },
            Target::Postgres { url } => cancel_pg(url, backend).await,
            Target::MySql { url } => match connect_url::<sqlx::MySqlConnection>(url).await {
                Ok(mut conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL QUERY {backend}")))
                    .execute(&mut conn)
                    .await
                    .map(|_| ()),
                Err(e) => {
                    tracing::warn!(tenant = %tenant.id, "could not cancel the timed-out session: {e}");
                    return;
                }
            },
            Target::Sqlite(_) => return,
        };
        if let Err(e) = result {
            tracing::warn!(tenant = %tenant.id, "could not cancel the timed-out session: {}", crate::error::db_message(&e));
        }
    }

    pub(crate) async fn pg_pool(&self, server: &str) -> Result<PgPool, TenantError> {
        let entry = self.entry(server)?;
        reachable::<sqlx::PgConnection>(entry).await?;
        let pool = entry
            .pg
            .get_or_try_init(|| async { lazy_pool::<Postgres>(&entry.server, self.cap(entry)) })
            .await?;
        Ok(pool.clone())
    }

    pub(crate) async fn my_pool(&self, server: &str) -> Result<MySqlPool, TenantError> {
        let entry = self.entry(server)?;
        reachable::<sqlx::MySqlConnection>(entry).await?;
        let pool = entry
            .my
            .get_or_try_init(|| async { lazy_pool::<MySql>(&entry.server, self.cap(entry)) })
            .await?;
        Ok(pool.clone())
    }

    fn entry(&self, server: &str) -> Result<&ServerEntry, TenantError> {
        self.servers.get(server).ok_or_else(|| {
            TenantError::Unreachable(format!("no server {server:?} in the fleet file"))
        })
    }

    fn cap(&self, entry: &ServerEntry) -> u32 {
        entry
            .server
            .max_connections
            .unwrap_or(self.policy.per_server)
            .max(1) as u32
    }

    pub(crate) fn server(&self, name: &str) -> Option<&Server> {
        self.servers.get(name).map(|e| &e.server)
    }

    /// A permit to open one more connection to the host of `url`. The cap is the `max_connections`
    /// of a `[[servers]]` entry on the same host and port, or `policy.per_server`.
    async fn host_permit(&self, url: &str) -> Result<OwnedSemaphorePermit, TenantError> {
        let host = host_of(url);
        let semaphore = {
            let mut hosts = self.hosts.lock().expect("the host map is never poisoned");
            hosts
                .entry(host.clone())
                .or_insert_with(|| {
                    let cap = self
                        .servers
                        .values()
                        .find(|e| host_of(&e.server.url) == host)
                        .and_then(|e| e.server.max_connections)
                        .unwrap_or(self.policy.per_server);
                    Arc::new(Semaphore::new(cap.max(1)))
                })
                .clone()
        };
        semaphore
            .acquire_owned()
            .await
            .map_err(|_| TenantError::Unreachable("connection limiter closed".into()))
    }
}

async fn cancel_pg(url: &str, backend: u64) -> Result<(), sqlx::Error> {
    let mut conn = match connect_url::<sqlx::PgConnection>(url).await {
        Ok(conn) => conn,
        Err(e) => return Err(sqlx::Error::Protocol(e.to_string())),
    };
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(backend as i32)
        .execute(&mut conn)
        .await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

/// Connects once to the server of `entry` to learn whether it can be reached at all.
async fn reachable<C: sqlx::Connection>(entry: &ServerEntry) -> Result<(), TenantError>
where
    C::Options: FromStr<Err = sqlx::Error>,
{
    let result = entry
        .reachable
        .get_or_init(|| async {
            match connect_url::<C>(&entry.server.url).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    result.clone().map_err(|message| {
        TenantError::Unreachable(
            message
                .strip_prefix("unreachable: ")
                .unwrap_or(&message)
                .to_string(),
        )
    })
}

/// A connection of its own to the database at `url`, failing as unreachable with the URL redacted.
async fn connect_url<C: sqlx::Connection>(url: &str) -> Result<C, TenantError>
where
    C::Options: FromStr<Err = sqlx::Error>,
{
    let options = C::Options::from_str(url)
        .map_err(|e| bad_url(url, &e))?
        .disable_statement_logging();
    let redacted = flotilla_fleet::redact_url(url);
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(&redacted, &e)),
        Err(_) => Err(TenantError::Unreachable(format!(
            "{redacted}: no connection within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// A pool that connects on first use, capped at `max` sessions, each replaced after
/// `SESSION_LIFETIME`. Its acquire timeout bounds connecting only: waiting for a free session is
/// the job of the server's slots.
fn lazy_pool<DB: sqlx::Database>(server: &Server, max: u32) -> Result<sqlx::Pool<DB>, TenantError>
where
    <DB::Connection as sqlx::Connection>::Options: FromStr<Err = sqlx::Error>,
{
    let options = <DB::Connection as sqlx::Connection>::Options::from_str(&server.url)
        .map_err(|e| bad_url(&server.url, &e))?
        .disable_statement_logging();
    Ok(sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(max)
        .min_connections(0)
        .max_lifetime(SESSION_LIFETIME)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options))
}

/// `host:port` of a server URL, without credentials, for grouping connections.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_ascii_lowercase()
}

fn unreachable(redacted: &str, e: &sqlx::Error) -> TenantError {
    TenantError::Unreachable(format!("{redacted}: {}", crate::error::db_message(e)))
}

fn bad_url(url: &str, e: &sqlx::Error) -> TenantError {
    // sqlx may quote the URL in its message; only the redacted form may appear.
    let message = e.to_string().replace(url, &flotilla_fleet::redact_url(url));
    TenantError::Unreachable(format!(
        "invalid URL {}: {message}",
        flotilla_fleet::redact_url(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_group_without_credentials() {
        assert_eq!(host_of("postgres://u:p@DB1:5432/a?x=1"), "db1:5432");
        assert_eq!(host_of("mysql://db2/b"), "db2");
    }
}
