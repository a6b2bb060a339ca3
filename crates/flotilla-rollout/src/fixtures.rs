//! Builders shared by the crate's unit tests.

use flotilla_fleet::{Budget, Location, SqliteTarget, Target, WaveSpec};
use flotilla_migrations::{Migration, MigrationSet, Section, checksum};
use flotilla_tenant::{Origin, Tenant};

pub(crate) fn tenant(id: &str, tags: &[&str]) -> Tenant {
    Tenant {
        id: id.into(),
        target: Target::Sqlite(SqliteTarget {
            path: format!("{id}.db").into(),
            create: false,
        }),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        origin: Origin::Listed(Location::default()),
    }
}

pub(crate) fn wave(name: &str, ids: &[&str], tags: &[&str], percent: Option<f64>) -> WaveSpec {
    WaveSpec {
        name: name.into(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        percent,
        budget: Budget::default(),
        bake: None,
        gate: None,
        location: Location::default(),
    }
}

/// Migrations `SELECT <version>;` for each version.
pub(crate) fn set(versions: &[i64]) -> MigrationSet {
    let migrations = versions
        .iter()
        .map(|&v| {
            let sql = format!("SELECT {v};");
            let up = Section {
                sql: sql.clone(),
                transactional: true,
                path: "x.sql".into(),
                line: 2,
            };
            Migration {
                version: v,
                name: format!("m{v}"),
                checksum: checksum(&sql),
                up,
                down: None,
            }
        })
        .collect();
    MigrationSet::new("migrations".into(), migrations)
}
