//! The fleet's tenants: those listed in the fleet file plus those found by discovery, checked
//! before anything connects. Discovery from SQLite globs is a directory listing; ids are file stems.

use std::collections::HashMap;

use flotilla_fleet::{DiscoverSource, Fleet, Location, SqliteTarget, Target};

use crate::error::ResolveError;

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
/// by id within each discover entry). A discovered tenant that repeats a listed tenant's id and file
/// is the same tenant; with another file it is an error.
pub fn resolve(fleet: &Fleet) -> Result<Vec<Tenant>, ResolveError> {
    let mut tenants: Vec<Tenant> = Vec::new();
    for spec in &fleet.tenants {
        if !matches!(spec.target, Target::Sqlite(_)) {
            return Err(ResolveError::Unsupported {
                id: spec.id.clone(),
                dialect: spec.target.dialect(),
                at: fleet.at(spec.location),
            });
        }
        tenants.push(Tenant {
            id: spec.id.clone(),
            target: spec.target.clone(),
            tags: spec.tags.clone(),
            origin: Origin::Listed(spec.location),
        });
    }
    let mut index: HashMap<String, usize> = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    for discover in &fleet.discover {
        let (dir, pattern) = match &discover.source {
            DiscoverSource::SqliteGlob { dir, pattern } => (dir, pattern),
            DiscoverSource::Schemas { .. } | DiscoverSource::Query { .. } => {
                return Err(ResolveError::UnsupportedDiscovery {
                    at: fleet.at(discover.location),
                });
            }
        };
        let full = if std::path::Path::new(pattern).is_absolute() {
            pattern.clone()
        } else {
            format!(
                "{}/{pattern}",
                glob::Pattern::escape(&dir.to_string_lossy())
            )
        };
        let paths = glob::glob(&full).map_err(|e| ResolveError::BadGlob {
            at: fleet.at(discover.location),
            pattern: pattern.clone(),
            message: e.msg.to_string(),
        })?;
        let mut found = Vec::new();
        for entry in paths {
            // An unreadable directory would silently shrink the fleet; refuse instead.
            let path = entry.map_err(|e| ResolveError::Unlistable {
                at: fleet.at(discover.location),
                path: e.path().display().to_string(),
                message: e.error().to_string(),
            })?;
            if !path.is_file() {
                continue;
            }
            let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let target = Target::Sqlite(SqliteTarget {
                path,
                create: false,
            });
            found.push(Tenant {
                id,
                target,
                tags: Vec::new(),
                origin: Origin::Discovered(discover.location),
            });
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        for tenant in found {
            if let Some(&i) = index.get(&tenant.id) {
                if same_file(&tenants[i].target, &tenant.target) {
                    continue;
                }
                let first = match tenants[i].origin {
                    Origin::Listed(l) | Origin::Discovered(l) => l.line,
                };
                return Err(ResolveError::DuplicateId {
                    at: fleet.at(discover.location),
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

fn same_file(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (Target::Sqlite(a), Target::Sqlite(b)) => {
            let canonical =
                |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canonical(&a.path) == canonical(&b.path)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(dir: &std::path::Path, text: &str) -> Fleet {
        flotilla_fleet::parse(text, &dir.join("fleet.toml"), &|_| None).unwrap()
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
        let ids: Vec<String> = resolve(&fleet).unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, vec!["c", "a", "b"]);
    }

    #[test]
    fn refuses_same_id_for_another_file_and_server_tenants() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(dir.path().join("t/a.db"), b"").unwrap();
        let clash = fleet(
            dir.path(),
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://other.db\"\n[[discover]]\nsqlite = \"t/*.db\"\n",
        );
        assert!(matches!(
            resolve(&clash),
            Err(ResolveError::DuplicateId { first: 2, .. })
        ));
        let pg = fleet(
            dir.path(),
            "[[tenants]]\nid = \"p\"\nurl = \"postgres://u:s3cret-Pa55@h/db\"\n",
        );
        let message = resolve(&pg).unwrap_err().to_string();
        assert!(
            message.contains("fleet.toml:2:6")
                && message.contains("PostgreSQL")
                && !message.contains("s3cret-Pa55"),
            "{message}"
        );
    }
}
