//! The PostgreSQL and MariaDB servers of the machine, for end-to-end tests. Every test creates its
//! own schemas or databases with unique names and drops them when it ends, so tests run in parallel
//! and leave nothing behind. Without a server a test skips with a message, except under `CI=true`,
//! where it fails: CI must prove the database paths, not skip them.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MY_URL: &str = "mysql://root@127.0.0.1:3306";

/// A name no other test, process or earlier run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn available(what: &str, probe: &mut Command) -> bool {
    let up = probe.output().map(|o| o.status.success()).unwrap_or(false);
    if !up {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{what} is not reachable, and under CI=true database tests must run");
        }
        eprintln!("SKIPPED: {what} is not reachable on this machine");
    }
    up
}

/// `psql` on the `test` database (or another), returning unaligned, tuples-only output.
pub fn psql(database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-At",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `mariadb` as root, in `database` when given, batch output without headers.
pub fn mariadb(database: Option<&str>, sql: &str) -> String {
    let mut command = Command::new("mariadb");
    command.args([
        "--protocol=tcp",
        "-h",
        "127.0.0.1",
        "-u",
        "root",
        "-N",
        "-B",
    ]);
    if let Some(database) = database {
        command.arg(database);
    }
    let output = command.args(["-e", sql]).output().expect("mariadb runs");
    assert!(
        output.status.success(),
        "mariadb failed on {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Polls `check` until it holds or `seconds` pass: for effects the server completes on its own
/// time (a cancelled backend going away), never a blind sleep.
pub fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn postgres_up() -> bool {
    available(
        "PostgreSQL (127.0.0.1:5432)",
        Command::new("psql").args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-c",
            "SELECT 1",
        ]),
    )
}

pub fn mariadb_up() -> bool {
    available(
        "MariaDB (127.0.0.1:3306)",
        Command::new("mariadb").args([
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-e",
            "SELECT 1",
        ]),
    )
}

/// A schema in the `test` database, dropped with everything in it at the end of the test.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    pub fn create(prefix: &str) -> Self {
        Self::create_named(&unique(prefix))
    }

    pub fn create_named(name: &str) -> Self {
        psql("test", &format!("CREATE SCHEMA {}", pg_ident(name)));
        Self {
            name: name.to_string(),
        }
    }

    /// Advisory locks held on this schema's migration lock (key derived from database and schema),
    /// so the check is not disturbed by other tests' locks.
    pub fn migration_locks(&self) -> String {
        psql(
            "test",
            &format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
                 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('flotilla:test/' || '{}', 0)",
                self.name.replace('\'', "''")
            ),
        )
    }

    /// `psql` in the test database with this schema first on the search_path.
    pub fn sql(&self, sql: &str) -> String {
        psql(
            "test",
            &format!("SET search_path TO {}; {sql}", pg_ident(&self.name)),
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c"])
            .arg(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                pg_ident(&self.name)
            ))
            .output();
    }
}

/// A PostgreSQL database of its own, dropped at the end of the test.
pub struct PgDatabase {
    pub name: String,
}

impl PgDatabase {
    pub fn create(prefix: &str) -> Self {
        let name = unique(prefix);
        psql("test", &format!("CREATE DATABASE {}", pg_ident(&name)));
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub fn sql(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_ident(&self.name)
            ))
            .output();
    }
}

/// A MariaDB database, dropped at the end of the test.
pub struct MyDatabase {
    pub name: String,
}

impl MyDatabase {
    pub fn create(prefix: &str) -> Self {
        let name = unique(prefix);
        mariadb(None, &format!("CREATE DATABASE `{name}`"));
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("{MY_URL}/{}", self.name)
    }

    pub fn sql(&self, sql: &str) -> String {
        mariadb(Some(&self.name), sql)
    }
}

impl Drop for MyDatabase {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .output();
    }
}

pub fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A `[[servers]]` entry for the local PostgreSQL and schema tenants on it.
pub fn pg_schema_tenants(server: &str, schemas: &[&PgSchema], tags: &[&str]) -> String {
    let tags = tags
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    schemas
        .iter()
        .map(|s| {
            format!(
                "[[tenants]]\nid = {}\nserver = \"{server}\"\nschema = {}\ntags = [{tags}]\n\n",
                toml_string(&s.name),
                toml_string(&s.name)
            )
        })
        .collect()
}

/// A TOML basic string holding `text` exactly.
pub fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
