//! A tenant's tracking table as read, and the pure decisions made from it: is it safe to migrate
//! (not dirty, no edited migration), and which versions are pending up to a target.

use flotilla_migrations::{Migration, MigrationSet};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::TenantError;

/// One row of `flotilla_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub dirty: bool,
}

/// Everything the tracking table says about a tenant, ordered by version. A tenant without a
/// tracking table (or without a database file yet) has an empty state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantState {
    pub applied: Vec<AppliedRow>,
}

impl TenantState {
    pub fn new(mut applied: Vec<AppliedRow>) -> Self {
        applied.sort_by_key(|r| r.version);
        Self { applied }
    }

    /// The highest version applied cleanly; a dirty row is a migration that did not finish.
    pub fn version(&self) -> Option<i64> {
        self.applied
            .iter()
            .rev()
            .find(|r| !r.dirty)
            .map(|r| r.version)
    }

    pub fn dirty(&self) -> Option<i64> {
        self.applied.iter().find(|r| r.dirty).map(|r| r.version)
    }

    pub fn is_applied(&self, version: i64) -> bool {
        self.applied
            .binary_search_by_key(&version, |r| r.version)
            .is_ok()
    }

    /// Refuses a tenant that must not be migrated: dirty, or holding a migration whose file was
    /// edited after it was applied. Versions unknown to the directory are not refused here; they are
    /// drift, reported by `drift`, and migrating the rest is still safe.
    pub fn verify(&self, set: &MigrationSet) -> Result<(), TenantError> {
        if let Some(version) = self.dirty() {
            return Err(TenantError::Dirty { version });
        }
        for row in &self.applied {
            if let Some(file) = set.get(row.version)
                && file.checksum != row.checksum
            {
                return Err(TenantError::ChecksumMismatch {
                    version: row.version,
                    name: file.name.clone(),
                    applied: short(&row.checksum),
                    file: short(&file.checksum),
                });
            }
        }
        Ok(())
    }

    /// Migrations not yet applied, up to and including `target`, oldest first. A version older than
    /// the tenant's newest (added late on a branch) is pending too, as with dbmate.
    pub fn pending<'a>(&self, set: &'a MigrationSet, target: Option<i64>) -> Vec<&'a Migration> {
        set.all()
            .iter()
            .filter(|m| target.is_none_or(|t| m.version <= t))
            .filter(|m| !self.is_applied(m.version))
            .collect()
    }
}

/// The state from rows `(version, name, checksum, dirty)` of a tracking table, in any dialect. A
/// tracking table whose columns have other types is an error, not a panic.
pub(crate) fn state_of<R: Row>(rows: &[R]) -> Result<TenantState, TenantError>
where
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let row = |row: &R| -> Result<AppliedRow, sqlx::Error> {
        Ok(AppliedRow {
            version: row.try_get(0)?,
            name: row.try_get(1)?,
            checksum: row.try_get(2)?,
            dirty: row.try_get(3)?,
        })
    };
    let applied = rows
        .iter()
        .map(row)
        .collect::<Result<_, _>>()
        .map_err(TenantError::tracking)?;
    Ok(TenantState::new(applied))
}

fn short(checksum: &str) -> String {
    checksum.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_migrations::{Section, checksum};

    fn migration(version: i64, sql: &str) -> Migration {
        let up = Section {
            sql: sql.into(),
            transactional: true,
            path: "x.sql".into(),
            line: 2,
        };
        Migration {
            version,
            name: format!("m{version}"),
            checksum: checksum(sql),
            up,
            down: None,
        }
    }

    fn row(version: i64, sql: &str) -> AppliedRow {
        AppliedRow {
            version,
            name: format!("m{version}"),
            checksum: checksum(sql),
            dirty: false,
        }
    }

    #[test]
    fn pending_respects_target_and_gaps() {
        let set = MigrationSet::new(
            "m".into(),
            vec![migration(1, "a"), migration(2, "b"), migration(3, "c")],
        );
        let state = TenantState::new(vec![row(2, "b")]);
        let versions = |t| {
            state
                .pending(&set, t)
                .iter()
                .map(|m| m.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(None), vec![1, 3]);
        assert_eq!(versions(Some(2)), vec![1]);
        assert_eq!(state.version(), Some(2));
    }

    #[test]
    fn verify_refuses_dirty_and_edited() {
        let set = MigrationSet::new("m".into(), vec![migration(1, "a"), migration(2, "b")]);
        assert_eq!(TenantState::new(vec![row(1, "a")]).verify(&set), Ok(()));
        let edited = TenantState::new(vec![row(1, "a"), row(2, "B")]);
        assert!(matches!(
            edited.verify(&set),
            Err(TenantError::ChecksumMismatch { version: 2, .. })
        ));
        let mut dirty = row(2, "b");
        dirty.dirty = true;
        let dirty = TenantState::new(vec![row(1, "a"), dirty]);
        assert_eq!(dirty.verify(&set), Err(TenantError::Dirty { version: 2 }));
        let ahead = TenantState::new(vec![row(1, "a"), row(9, "z")]);
        assert_eq!(ahead.verify(&set), Ok(()));
    }
}
