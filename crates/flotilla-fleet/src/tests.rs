//! Validation tests: the design's full example parses, and every refused case names its position.

use std::path::Path;

use crate::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PG_MAIN_URL" => Some("postgres://flotilla:s3cret@db1:5432/app".into()),
        "MYSQL_PW" => Some("hunter2".into()),
        _ => None,
    }
}

fn parse_ok(text: &str) -> Fleet {
    parse(text, Path::new("/srv/app/fleet.toml"), &env).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(text: &str) -> Vec<FleetProblem> {
    match parse(text, Path::new("/srv/app/fleet.toml"), &env) {
        Err(FleetError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("expected the fleet file to be refused"),
    }
}

const FULL: &str = r#"
[fleet]
migrations = "migrations"
ledger = ".flotilla/ledger.db"

[policy]
concurrency = 16
per_server = 4
lock_wait = "10s"
lock_timeout = "5s"
statement_timeout = "15m"
tenant_timeout = "30m"
transaction = "tenant"

[[servers]]
name = "pg-main"
url = "${PG_MAIN_URL}"
max_connections = 8

[[tenants]]
id = "acme"
server = "pg-main"
schema = "tenant_acme"
tags = ["canary", "eu"]

[[tenants]]
id = "globex"
url = "mysql://app:${MYSQL_PW}@db2:3306/globex"

[[tenants]]
id = "local"
url = "sqlite://tenants/local.db?mode=rwc"

[[discover]]
server = "pg-main"
schemas = "tenant_%"
[[discover]]
sqlite = "tenants/*.db"
[[discover]]
server = "pg-main"
query = "SELECT id, url FROM tenants WHERE active"

[[waves]]
name = "canary"
tenants = ["acme"]
tags = ["canary"]
max_failures = 0
[[waves]]
name = "rest"
max_failure_rate = 0.05
min_sample = 20
bake = "60s"
gate = "manual"
"#;

#[test]
fn the_design_example_parses() {
    let fleet = parse_ok(FULL);
    assert_eq!(fleet.migrations_dir, Path::new("/srv/app/migrations"));
    assert_eq!(fleet.ledger_path, Path::new("/srv/app/.flotilla/ledger.db"));
    assert_eq!(fleet.policy.transaction, TransactionMode::Tenant);
    assert_eq!(fleet.policy.statement_timeout.as_secs(), 900);
    assert_eq!(
        fleet.servers[0].url,
        "postgres://flotilla:s3cret@db1:5432/app"
    );
    assert_eq!(
        fleet.servers[0].redacted_url,
        "postgres://flotilla:***@db1:5432/app"
    );
    assert_eq!(fleet.servers[0].max_connections, Some(8));
    assert_eq!(
        fleet.tenants[1].target,
        Target::MySql {
            url: "mysql://app:hunter2@db2:3306/globex".into()
        }
    );
    assert_eq!(
        fleet.tenants[2].target,
        Target::Sqlite(SqliteTarget {
            path: "/srv/app/tenants/local.db".into(),
            create: true
        })
    );
    assert_eq!(fleet.discover.len(), 3);
    assert_eq!(fleet.waves.len(), 2);
    assert!(fleet.waves[1].is_catch_all());
    assert_eq!(fleet.waves[1].budget.max_failure_rate, Some(0.05));
    assert_eq!(fleet.waves[1].gate, Some(Gate::Manual));
    assert_eq!(
        fleet.tenants[0].location,
        Location {
            line: 21,
            column: 6
        }
    );
}

#[test]
fn no_waves_means_one_strict_wave() {
    let fleet = parse_ok("[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\n");
    assert_eq!(fleet.waves.len(), 1);
    assert_eq!(fleet.waves[0].name, "all");
    assert_eq!(fleet.waves[0].budget.max_failures, Some(0));
    assert_eq!(fleet.policy, Policy::default());
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let found = problems("[policy]\nconcurrency = 4\nconcurency = 8\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location, Location { line: 3, column: 1 });
    assert!(
        found[0].message.contains("concurency"),
        "{}",
        found[0].message
    );
}

#[test]
fn every_semantic_problem_is_reported_with_line_and_column() {
    let text = r#"[[servers]]
name = "pg"
url = "postgres://db/app"

[[tenants]]
id = "a"
url = "sqlite://a.db"

[[tenants]]
id = "a"
url = "sqlite://b.db"

[[tenants]]
id = "b"
url = "sqlite://b.db"
schema = "tenant_b"

[[tenants]]
id = "c"
server = "nowhere"
schema = "tenant_c"

[[tenants]]
id = "d"
url = "postgres://u:${NOPE}@db/d"

[[waves]]
name = "canary"
tags = ["canary"]

[[policy]]
"#;
    let found = problems(text);
    // The TOML layer refuses `[[policy]]` before validation runs; check the semantic layer alone.
    assert_eq!(found.len(), 1, "{found:?}");
    let found = problems(text.trim_end_matches("[[policy]]\n"));
    let messages: Vec<String> = found
        .iter()
        .map(|p| format!("{}: {}", p.location, p.message))
        .collect();
    assert_eq!(
        messages,
        vec![
            "10:6: duplicate tenant id \"a\" (first declared at line 6)",
            "15:7: tenant \"b\" has both `url` and `server`/`schema`: a tenant is either a database (url) or a schema on a server",
            "20:10: tenant \"c\" names unknown server \"nowhere\"",
            "25:7: environment variable NOPE is not set",
            "29:9: wave \"canary\" selects tag \"canary\", which no tenant has",
        ]
    );
}

#[test]
fn waves_that_select_nothing_are_refused() {
    let text = r#"[[tenants]]
id = "a"
url = "sqlite://a.db"
tags = ["canary"]

[[waves]]
name = "first"
tenants = ["a"]
[[waves]]
name = "again"
tags = ["canary"]
[[waves]]
name = "rest"
[[waves]]
name = "after-rest"
percent = 10
[[waves]]
name = "ghost"
tenants = ["zed"]
"#;
    let messages: Vec<String> = problems(text)
        .iter()
        .map(|p| format!("{}: {}", p.location, p.message))
        .collect();
    assert_eq!(
        messages,
        vec![
            "10:8: wave \"again\" selects nothing: every tenant it names was taken by an earlier wave",
            "15:8: wave \"after-rest\" selects nothing: the earlier wave \"rest\" has no selector and takes every remaining tenant",
            "18:8: wave \"ghost\" selects nothing: the earlier wave \"rest\" has no selector and takes every remaining tenant",
            "19:12: wave \"ghost\" names unknown tenant \"zed\"",
        ]
    );
}

#[test]
fn bad_values_are_refused() {
    let text = r#"[policy]
concurrency = 0
lock_wait = "ten seconds"
transaction = "sometimes"

[[tenants]]
id = "a"
url = "sqlite://a.db?mode=ro"

[[tenants]]
id = "b"
url = "ftp://x"

[[waves]]
name = "w"
percent = 150
max_failure_rate = 2.0
gate = "auto"
"#;
    let lines: Vec<usize> = problems(text).iter().map(|p| p.location.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 8, 12, 16, 17, 18]);
}

#[test]
fn sqlite_urls_resolve_against_the_fleet_directory() {
    let fleet = parse_ok(
        "[[tenants]]\nid = \"a\"\nurl = \"sqlite:data/a.db\"\n[[tenants]]\nid = \"b\"\nurl = \"sqlite:///abs/b.db\"\n",
    );
    assert_eq!(
        fleet.tenants[0].target,
        Target::Sqlite(SqliteTarget {
            path: "/srv/app/data/a.db".into(),
            create: false
        })
    );
    assert_eq!(
        fleet.tenants[1].target,
        Target::Sqlite(SqliteTarget {
            path: "/abs/b.db".into(),
            create: false
        })
    );
}
