//! The fleet's tenants: those listed in the fleet file plus those found by discovery, checked
//! before anything connects. Discovery from SQLite globs is a directory listing; ids are file stems.

use std::collections::HashMap;

use flotilla_fleet::{DiscoverSource, Fleet, Location, SqliteTarget, Target};

use sqlx::AssertSqlSafe;

use crate::connect::Connector;
use crate::error::{ResolveError, db_message};

/// Where a tenant came from, so messages can point at the fleet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Listed(Location),
    Discovered(Location),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub target: Target,
    pub tags: Vec<String>,
    pub origin: Origin,
}

impl Tenant {
    /// How the tenant is shown to people: a file path or a redacted URL, never a password.
    pub fn display_target(&self) -> String {
        match &self.target {
            Target::Sqlite(t) => t.path.display().to_string(),
            Target::Postgres { url } | Target::MySql { url } => flotilla_fleet::redact_url(url),
            Target::Schema { server, schema } => format!("{server}/{schema}"),
        }
    }
}

/// Lists every tenant of the fleet, listed ones first (in file order), then discovered ones (sorted
/// by id within each discover entry). A discovered tenant that repeats a listed tenant's id and
/// target is the same tenant; with another target it is an error. Discovery from a server reads
/// its catalog (or runs its query) and changes nothing.
pub async fn resolve(fleet: &Fleet, connector: &Connector) -> Result<Vec<Tenant>, ResolveError> {
    let mut tenants: Vec<Tenant> = fleet
        .tenants
        .iter()
        .map(|spec| Tenant {
            id: spec.id.clone(),
            target: spec.target.clone(),
            tags: spec.tags.clone(),
            origin: Origin::Listed(spec.location),
        })
        .collect();
    let mut index: HashMap<String, usize> = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    for discover in &fleet.discover {
        let at = fleet.at(discover.location);
        let origin = Origin::Discovered(discover.location);
        let mut found = match &discover.source {
            DiscoverSource::SqliteGlob { dir, pattern } => glob_tenants(dir, pattern, &at, origin)?,
            DiscoverSource::Schemas { server, like } => {
                schema_tenants(connector, server, like, &at, origin).await?
            }
            DiscoverSource::Query { server, query } => {
                query_tenants(fleet, connector, server, query, &at, origin).await?
            }
        };
        found.sort_by(|a, b| a.id.cmp(&b.id));
        for tenant in found {
            if let Some(&i) = index.get(&tenant.id) {
                if same_target(&tenants[i].target, &tenant.target) {
                    continue;
                }
                let first = match tenants[i].origin {
                    Origin::Listed(l) | Origin::Discovered(l) => l.line,
                };
                return Err(ResolveError::DuplicateId {
                    at,
                    id: tenant.id.clone(),
                    path: tenant.display_target(),
                    first,
                });
            }
            index.insert(tenant.id.clone(), tenants.len());
            tenants.push(tenant);
        }
    }
    Ok(tenants)
}

fn glob_tenants(
    dir: &std::path::Path,
    pattern: &str,
    at: &str,
    origin: Origin,
) -> Result<Vec<Tenant>, ResolveError> {
    let full = if std::path::Path::new(pattern).is_absolute() {
        pattern.to_string()
    } else {
        format!(
            "{}/{pattern}",
            glob::Pattern::escape(&dir.to_string_lossy())
        )
    };
    let paths = glob::glob(&full).map_err(|e| ResolveError::BadGlob {
        at: at.to_string(),
        pattern: pattern.to_string(),
        message: e.msg.to_string(),
    })?;
    let mut found = Vec::new();
    for entry in paths {
        // An unreadable directory would silently shrink the fleet; refuse instead.
        let path = entry.map_err(|e| ResolveError::Unlistable {
            at: at.to_string(),
            path: e.path().display().to_string(),
            message: e.error().to_string(),
        })?;
        if !path.is_file() {
            continue;
        }
        let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        found.push(Tenant {
            id,
            target: Target::Sqlite(SqliteTarget {
                path,
                create: false,
            }),
            tags: Vec::new(),
            origin,
        });
    }
    Ok(found)
}

/// Schemas of a PostgreSQL server whose name matches a `LIKE` pattern; id = schema name.
async fn schema_tenants(
    connector: &Connector,
    server: &str,
    like: &str,
    at: &str,
    origin: Origin,
) -> Result<Vec<Tenant>, ResolveError> {
    let failed = |message: String| ResolveError::discovery(at, server, message);
    let pool = connector
        .pg_pool(server)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 \
         AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname",
    )
    .bind(like)
    .fetch_all(&pool)
    .await
    .map_err(|e| failed(db_message(&e)))?;
    Ok(names
        .into_iter()
        .map(|schema| Tenant {
            id: schema.clone(),
            target: Target::Schema {
                server: server.to_string(),
                schema,
            },
            tags: Vec::new(),
            origin,
        })
        .collect())
}

/// Rows `(id, url)` or `(id, schema)` from a query on a catalog server. A second column holding
/// `://` is a URL (a relative `sqlite://` path is taken from the fleet file's directory); anything
/// else is a schema on that server.
async fn query_tenants(
    fleet: &Fleet,
    connector: &Connector,
    server: &str,
    query: &str,
    at: &str,
    origin: Origin,
) -> Result<Vec<Tenant>, ResolveError> {
    let failed = |message: String| ResolveError::discovery(at, server, message);
    let url = connector
        .server(server)
        .map(|s| s.url.clone())
        .unwrap_or_default();
    let rows: Vec<(String, String)> =
        if is_mysql(&url) || url.to_ascii_lowercase().starts_with("mariadb") {
            let pool = connector
                .my_pool(server)
                .await
                .map_err(|e| failed(e.to_string()))?;
            sqlx::query_as(AssertSqlSafe(query))
                .fetch_all(&pool)
                .await
                .map_err(|e| failed(db_message(&e)))?
        } else {
            let pool = connector
                .pg_pool(server)
                .await
                .map_err(|e| failed(e.to_string()))?;
            sqlx::query_as(AssertSqlSafe(query))
                .fetch_all(&pool)
                .await
                .map_err(|e| failed(db_message(&e)))?
        };
    let mut found = Vec::with_capacity(rows.len());
    for (id, second) in rows {
        let target = if second.contains("://") || second.starts_with("sqlite:") {
            flotilla_fleet::target_from_url(&second, &fleet.dir)
                .map_err(|message| failed(format!("tenant {id:?}: {message}")))?
        } else {
            if is_mysql(&url) {
                return Err(failed(format!(
                    "tenant {id:?}: a MySQL server has no schemas; the query must return (id, url)"
                )));
            }
            Target::Schema {
                server: server.to_string(),
                schema: second,
            }
        };
        found.push(Tenant {
            id,
            target,
            tags: Vec::new(),
            origin,
        });
    }
    Ok(found)
}

fn is_mysql(url: &str) -> bool {
    matches!(
        flotilla_fleet::target_from_url(url, std::path::Path::new(".")),
        Ok(Target::MySql { .. })
    )
}

fn same_target(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (Target::Sqlite(a), Target::Sqlite(b)) => {
            let canonical =
                |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canonical(&a.path) == canonical(&b.path)
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(dir: &std::path::Path, text: &str) -> Fleet {
        flotilla_fleet::parse(text, &dir.join("fleet.toml"), &|_| None).unwrap()
    }

    fn resolve_now(fleet: &Fleet) -> Result<Vec<Tenant>, ResolveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(resolve(fleet, &Connector::new(fleet)))
    }

    #[test]
    fn discovers_sqlite_files_and_merges_listed_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        for name in ["b.db", "a.db", "c.db"] {
            std::fs::write(dir.path().join("t").join(name), b"").unwrap();
        }
        let fleet = fleet(
            dir.path(),
            "[[tenants]]\nid = \"c\"\nurl = \"sqlite://t/c.db\"\n[[discover]]\nsqlite = \"t/*.db\"\n",
        );
        let ids: Vec<String> = resolve_now(&fleet)
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, vec!["c", "a", "b"]);
    }

    #[test]
    fn refuses_the_same_id_for_another_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(dir.path().join("t/a.db"), b"").unwrap();
        let clash = fleet(
            dir.path(),
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://other.db\"\n[[discover]]\nsqlite = \"t/*.db\"\n",
        );
        assert!(matches!(
            resolve_now(&clash),
            Err(ResolveError::DuplicateId { first: 2, .. })
        ));
    }

    #[test]
    fn an_unreachable_discovery_server_fails_without_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let fleet = fleet(
            dir.path(),
            "[[servers]]\nname = \"pg\"\nurl = \"postgres://u:s3cret-Pa55@127.0.0.1:1/db?connect_timeout=2\"\n[[discover]]\nserver = \"pg\"\nschemas = \"tenant_%\"\n",
        );
        let message = resolve_now(&fleet).unwrap_err().to_string();
        assert!(
            message.contains("fleet.toml:4:1")
                && message.contains("discovery on server \"pg\" failed"),
            "{message}"
        );
        assert!(!message.contains("s3cret-Pa55"), "{message}");
    }
}
