//! Shared fixtures for the end-to-end tests: a scratch directory holding a fleet file, a migrations
//! directory and SQLite tenant files, and helpers that run the real `flotilla` binary against it and
//! read the tenants and the ledger back with rusqlite.

#![allow(dead_code)]

pub mod servers;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A native migration file `migrations/<version>_<name>.sql`.
    pub fn migration(&self, version: i64, name: &str, up: &str, down: Option<&str>) -> PathBuf {
        let mut text = format!("-- migrate:up\n{up}\n");
        if let Some(down) = down {
            text.push_str(&format!("\n-- migrate:down\n{down}\n"));
        }
        self.write(&format!("migrations/{version}_{name}.sql"), &text)
    }

    pub fn fleet(&self, text: &str) -> PathBuf {
        self.write("fleet.toml", text)
    }

    /// Runs `flotilla --fleet <scratch>/fleet.toml ARGS...` from the scratch directory.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::cargo_bin("flotilla").expect("binary built");
        command
            .current_dir(self.dir.path())
            .arg("--fleet")
            .arg(self.path("fleet.toml"))
            .args(args);
        command.env_remove("FLOTILLA_FLEET").env_remove("RUST_LOG");
        command.output().expect("flotilla runs")
    }

    /// Runs with `--format json` and parses stdout as the single JSON document it must be.
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let output = self.run(&all);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), value)
    }

    pub fn sqlite(&self, relative: &str) -> rusqlite::Connection {
        let path = self.path(relative);
        assert!(path.exists(), "{} does not exist", path.display());
        rusqlite::Connection::open(path).unwrap()
    }

    /// Versions in a tenant's tracking table, with their dirty flags.
    pub fn tracking(&self, relative: &str) -> Vec<(i64, bool)> {
        let conn = self.sqlite(relative);
        let mut stmt = conn
            .prepare("SELECT version, dirty FROM flotilla_migrations ORDER BY version")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    pub fn versions(&self, relative: &str) -> Vec<i64> {
        self.tracking(relative)
            .into_iter()
            .map(|(v, _)| v)
            .collect()
    }

    pub fn has_table(&self, relative: &str, table: &str) -> bool {
        let conn = self.sqlite(relative);
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            > 0
    }

    /// Versions the ledger believes each tenant holds.
    pub fn ledger_versions(&self, ledger: &str, tenant: &str) -> Vec<i64> {
        let conn = self.sqlite(ledger);
        let mut stmt = conn
            .prepare("SELECT version FROM tenant_versions WHERE tenant_id = ?1 ORDER BY version")
            .unwrap();
        stmt.query_map([tenant], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// `[[tenants]]` entries for SQLite files `tenants/<id>.db` created on first apply.
pub fn sqlite_tenants(ids: &[&str], tags: &[&str]) -> String {
    let tags = tags
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    ids.iter()
        .map(|id| format!("[[tenants]]\nid = \"{id}\"\nurl = \"sqlite://tenants/{id}.db?mode=rwc\"\ntags = [{tags}]\n\n"))
        .collect()
}

/// Every file below `dir`, for checking that a refused command touched nothing.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The keys of a JSON object, in document order.
pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The entry for tenant `id` in an apply, status or runs document.
pub fn tenant_json<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["tenants"]
        .as_array()
        .expect("a tenants array")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no tenant {id} in {doc}"))
}

/// Runs `apply --format json` with each fleet file at the same time, as separate coordinators, and
/// waits for all of them.
pub fn apply_concurrently(s: &Scratch, fleets: &[&str]) -> Vec<Output> {
    let children: Vec<_> = fleets
        .iter()
        .map(|fleet| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("flotilla"))
                .current_dir(s.dir.path())
                .args(["--fleet", fleet, "apply", "--format", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("flotilla starts")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("flotilla finishes"))
        .collect()
}
