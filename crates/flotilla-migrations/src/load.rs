//! Loading a migrations directory into a validated, version-ordered `MigrationSet`.
//!
//! File names are the index: `<version>_<name>.sql` (native) or `<version>_<name>.up.sql` /
//! `.down.sql` (sqlx pairs). A `.sql` file whose name does not parse is an error rather than being
//! skipped, because a migration that silently never runs is the worst outcome. Files that are not
//! `.sql` (a README, `.gitkeep`) and subdirectories are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checksum::checksum;
use crate::error::{LoadError, Problem};
use crate::parse::{LineError, RawSection, is_empty_sql, parse_native, parse_pair_half};

/// One section (up or down) of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub sql: String,
    /// False when the section line says `transaction:false` (or the pair file starts with
    /// `-- no-transaction`): it then runs outside a transaction under the dirty protocol.
    pub transactional: bool,
    /// File holding this section and the 1-based line where its body starts.
    pub path: PathBuf,
    pub line: usize,
}

/// A versioned migration shared by every tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub up: Section,
    /// `None` makes the migration irreversible.
    pub down: Option<Section>,
    /// Hex SHA-256 of the normalised up section.
    pub checksum: String,
}

impl Migration {
    /// `<version>_<name>`, the way files and messages name a migration.
    pub fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Every migration of a directory, ordered by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationSet {
    pub dir: PathBuf,
    migrations: Vec<Migration>,
}

impl MigrationSet {
    pub fn new(dir: PathBuf, mut migrations: Vec<Migration>) -> Self {
        migrations.sort_by_key(|m| m.version);
        Self { dir, migrations }
    }

    pub fn all(&self) -> &[Migration] {
        &self.migrations
    }

    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.migrations[i])
    }

    pub fn latest(&self) -> Option<i64> {
        self.migrations.last().map(|m| m.version)
    }

    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }

    pub fn len(&self) -> usize {
        self.migrations.len()
    }
}

enum FileKind {
    Native,
    Up,
    Down,
}

struct ParsedName {
    version: i64,
    name: String,
    kind: FileKind,
}

fn parse_file_name(file_name: &str) -> Result<ParsedName, String> {
    // Suffixes are matched without regard to case, as the directory listing picks files: a
    // `1_a.SQL` is read like `1_a.sql`, not refused with a puzzling message.
    let lower = file_name.to_ascii_lowercase();
    let (suffix, kind) = if lower.ends_with(".up.sql") {
        (".up.sql", FileKind::Up)
    } else if lower.ends_with(".down.sql") {
        (".down.sql", FileKind::Down)
    } else if lower.ends_with(".sql") {
        (".sql", FileKind::Native)
    } else {
        return Err("not a .sql file".into());
    };
    let stem = &file_name[..file_name.len() - suffix.len()];
    let expected = "expected <version>_<name>.sql or <version>_<name>.up.sql/.down.sql, where version is digits and name is letters, digits, '_' or '-'";
    let Some((digits, name)) = stem.split_once('_') else {
        return Err(format!("file name does not parse: {expected}"));
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "file name does not parse: version {digits:?} is not digits; {expected}"
        ));
    }
    if crate::new::validate_name(name).is_err() {
        return Err(format!(
            "file name does not parse: name {name:?} is not valid; {expected}"
        ));
    }
    let version = digits
        .parse::<i64>()
        .map_err(|_| format!("version {digits} does not fit in a 64-bit integer"))?;
    Ok(ParsedName {
        version,
        name: name.to_string(),
        kind,
    })
}

#[derive(Default)]
struct Entry {
    name: String,
    native: Option<PathBuf>,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
    /// Every file that claimed this version, for the duplicate message.
    files: Vec<PathBuf>,
    /// An up/down pair whose names differ (`1_a.up.sql` with `1_b.down.sql`).
    mismatched: bool,
}

/// Loads and validates every migration in `dir`. Every problem in the directory is reported at once.
pub fn load_dir(dir: &Path) -> Result<MigrationSet, LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let file_type = entry.file_type().map_err(unreadable)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_type.is_dir()
            || file_name.starts_with('.')
            || !file_name.to_ascii_lowercase().ends_with(".sql")
        {
            continue;
        }
        names.push(file_name);
    }
    names.sort();

    let mut problems = Vec::new();
    let mut by_version: BTreeMap<i64, Entry> = BTreeMap::new();
    for file_name in names {
        let path = dir.join(&file_name);
        let parsed = match parse_file_name(&file_name) {
            Ok(parsed) => parsed,
            Err(message) => {
                problems.push(Problem {
                    path,
                    line: None,
                    message,
                });
                continue;
            }
        };
        let entry = by_version.entry(parsed.version).or_default();
        entry.files.push(path.clone());
        let slot = match parsed.kind {
            FileKind::Native => &mut entry.native,
            FileKind::Up => &mut entry.up,
            FileKind::Down => &mut entry.down,
        };
        if slot.is_none() {
            *slot = Some(path);
        }
        if entry.name.is_empty() {
            entry.name = parsed.name;
        } else if entry.name != parsed.name {
            entry.mismatched = true;
        }
    }

    let mut migrations = Vec::new();
    for (version, entry) in by_version {
        if let Some(problem) = duplicate_problem(version, &entry) {
            problems.push(problem);
            continue;
        }
        if entry.mismatched {
            let names: Vec<String> = entry
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            problems.push(Problem {
                path: entry.files[0].clone(),
                line: None,
                message: format!(
                    "the up and down files of version {version} have different names: {}",
                    names.join(" and ")
                ),
            });
            continue;
        }
        match build(version, entry) {
            Ok(migration) => migrations.push(migration),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(MigrationSet::new(dir.to_path_buf(), migrations))
    } else {
        Err(LoadError::Invalid { problems })
    }
}

/// A version may be claimed by one native file, or by one `.up.sql` with at most one `.down.sql`.
fn duplicate_problem(version: i64, entry: &Entry) -> Option<Problem> {
    let count = |suffix: &str| {
        entry
            .files
            .iter()
            .filter(|p| p.to_string_lossy().to_ascii_lowercase().ends_with(suffix))
            .count()
    };
    let (ups, downs) = (count(".up.sql"), count(".down.sql"));
    let natives = entry.files.len() - ups - downs;
    let valid = if natives > 0 {
        entry.files.len() == 1
    } else {
        ups <= 1 && downs <= 1
    };
    if valid {
        return None;
    }
    let names: Vec<String> = entry
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Some(Problem {
        path: entry.files[0].clone(),
        line: None,
        message: format!("duplicate version {version}: {}", names.join(" and ")),
    })
}

fn build(version: i64, entry: Entry) -> Result<Migration, Vec<Problem>> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| {
            vec![Problem {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot read: {e}"),
            }]
        })
    };
    let located = |path: &Path, errors: Vec<LineError>| -> Vec<Problem> {
        errors
            .into_iter()
            .map(|(line, message)| Problem {
                path: path.to_path_buf(),
                line,
                message,
            })
            .collect()
    };
    let section = |raw: RawSection, path: &Path| Section {
        sql: raw.sql,
        transactional: raw.transactional,
        path: path.to_path_buf(),
        line: raw.line,
    };

    let (up, down) = if let Some(path) = &entry.native {
        let file = parse_native(&read(path)?).map_err(|errors| located(path, errors))?;
        let up = file.up.expect("parse_native guarantees an up section");
        (section(up, path), file.down.map(|d| section(d, path)))
    } else if let Some(up_path) = &entry.up {
        let up = parse_pair_half(&read(up_path)?, true).map_err(|errors| located(up_path, errors));
        let down = match &entry.down {
            Some(path) => parse_pair_half(&read(path)?, false)
                .map(Some)
                .map_err(|errors| located(path, errors)),
            None => Ok(None),
        };
        match (up, down) {
            (Ok(up), Ok(down)) => {
                let down = down.filter(|d| !is_empty_sql(&d.sql));
                (
                    section(up, up_path),
                    down.map(|d| section(d, entry.down.as_deref().expect("down path"))),
                )
            }
            (up, down) => {
                let mut problems = up.err().unwrap_or_default();
                problems.extend(down.err().unwrap_or_default());
                return Err(problems);
            }
        }
    } else {
        let path = entry.down.expect("an entry has at least one file");
        return Err(vec![Problem {
            path,
            line: None,
            message: format!(
                "down file without a matching {version}_{}.up.sql",
                entry.name
            ),
        }]);
    };
    let checksum = checksum(&up.sql);
    Ok(Migration {
        version,
        name: entry.name,
        up,
        down,
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn problems(dir: &tempfile::TempDir) -> Vec<Problem> {
        match load_dir(dir.path()) {
            Err(LoadError::Invalid { problems }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn loads_native_and_pairs_in_version_order() {
        let dir = dir_with(&[
            (
                "20240102000000_second.up.sql",
                "ALTER TABLE a ADD COLUMN b int;\n",
            ),
            (
                "20240102000000_second.down.sql",
                "ALTER TABLE a DROP COLUMN b;\n",
            ),
            (
                "20240101000000_first.sql",
                "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
            ),
            ("README.md", "not a migration"),
        ]);
        let set = load_dir(dir.path()).unwrap();
        let versions: Vec<i64> = set.all().iter().map(|m| m.version).collect();
        assert_eq!(versions, vec![20240101000000, 20240102000000]);
        assert_eq!(set.all()[1].name, "second");
        assert!(set.all()[1].down.is_some());
        assert_eq!(
            set.all()[0].checksum,
            checksum("CREATE TABLE a (id int);\n")
        );
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let dir = dir_with(&[
            ("001_a.sql", "-- migrate:up\nSELECT 1;\n"),
            ("1_b.sql", "-- migrate:up\nSELECT 2;\n"),
        ]);
        let found = problems(&dir);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("001_a.sql") && found[0].message.contains("1_b.sql"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_pair_must_share_its_name() {
        let dir = dir_with(&[
            ("1_a.up.sql", "SELECT 1;\n"),
            ("1_b.down.sql", "SELECT 2;\n"),
        ]);
        let found = problems(&dir);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("different names"), "{}", found[0]);
    }

    #[test]
    fn unparseable_names_are_errors_not_skipped() {
        let dir = dir_with(&[
            ("init.sql", "-- migrate:up\nSELECT 1;\n"),
            ("2_bad name.sql", "-- migrate:up\nSELECT 1;\n"),
        ]);
        let found = problems(&dir);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|p| p.message.contains("does not parse")));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = dir_with(&[
            ("1_a.sql", "CREATE TABLE a (id int);\n"),
            ("2_b.sql", "-- migrate:up nope\nSELECT 1;\n"),
            ("3_c.down.sql", "DROP TABLE c;\n"),
        ]);
        let found = problems(&dir);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[1].line, Some(1));
        assert!(found[2].message.contains("without a matching"));
    }

    #[test]
    fn crlf_and_bom_files_checksum_like_plain_ones() {
        let plain = dir_with(&[("1_a.sql", "-- migrate:up\nCREATE TABLE a (id int);\n")]);
        let windows = dir_with(&[(
            "1_a.sql",
            "\u{feff}-- migrate:up\r\nCREATE TABLE a (id int);\r\n",
        )]);
        assert_eq!(
            load_dir(plain.path()).unwrap().all()[0].checksum,
            load_dir(windows.path()).unwrap().all()[0].checksum
        );
    }
}
