//! MariaDB tenants end to end, on the machine's server, each test in databases of its own: every
//! migration follows the dirty protocol because DDL commits implicitly.

mod common;

use common::servers::*;
use common::*;
use serde_json::Value;

fn my_migrations(s: &Scratch) {
    s.migration(
        1,
        "create_orders",
        "CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2) NOT NULL);",
        Some("DROP TABLE orders;"),
    );
    // A stored procedure whose body holds semicolons, and a string literal with one.
    s.migration(
        2,
        "order_procedure",
        "CREATE TABLE audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100) NOT NULL);\n\
         CREATE PROCEDURE add_order(IN amount DECIMAL(10,2))\nBEGIN\n  INSERT INTO orders (total) VALUES (amount);\n  INSERT INTO audit (what) VALUES ('added; by procedure');\nEND;\n\
         CALL add_order(12.50);\n-- a trailing comment; with a semicolon",
        Some("DROP PROCEDURE add_order; DROP TABLE audit;"),
    );
}

#[test]
fn database_tenants_apply_once_and_a_failure_leaves_the_tenant_dirty() {
    if !mariadb_up() {
        return;
    }
    let (a, b) = (MyDatabase::create("flt_my"), MyDatabase::create("flt_my"));
    let s = Scratch::new();
    my_migrations(&s);
    s.fleet(&format!(
        "[fleet]\nledger = \"ledger.db\"\n[policy]\ntransaction = \"tenant\"\n\n[[tenants]]\nid = \"a\"\nurl = \"{}\"\n\n[[tenants]]\nid = \"b\"\nurl = \"{}\"\n\n[[waves]]\nname = \"all\"\nmax_failures = 2\n",
        a.url(),
        b.url()
    ));
    let plan = stdout(&s.run(&["plan"]));
    assert!(
        plan.contains("[one migration at a time: MySQL commits DDL implicitly]"),
        "{plan}"
    );
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    for db in [&a, &b] {
        assert_eq!(db.sql("SELECT GROUP_CONCAT(CONCAT(version, ':', dirty) ORDER BY version) FROM flotilla_migrations"), "1:0,2:0");
        assert_eq!(
            db.sql("SELECT CONCAT(COUNT(*), ' ', MAX(what)) FROM audit"),
            "1 added; by procedure"
        );
    }
    assert_eq!(s.json(&["apply"]).1["run_id"], Value::Null);

    // A migration that fails half-way on b: the statement before the failure has committed (DDL),
    // so the tenant is left dirty and refused until someone looks at it.
    b.sql("INSERT INTO orders (total) VALUES (-1)");
    s.migration(3, "positive", "CREATE TABLE notes (id INT);\nALTER TABLE orders ADD CONSTRAINT orders_positive CHECK (total >= 0);", None);
    s.migration(4, "later", "CREATE TABLE later (id INT);", None);
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    let failed = tenant_json(&doc, "b");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("left the tenant dirty") && message.contains("SQLSTATE"),
        "{message}"
    );
    assert_eq!(b.sql("SELECT GROUP_CONCAT(CONCAT(version, ':', dirty) ORDER BY version) FROM flotilla_migrations"), "1:0,2:0,3:1");
    assert_eq!(tenant_json(&doc, "a")["applied"], serde_json::json!([3, 4]));
    let (code, again) = s.json(&["apply"]);
    assert_eq!(code, 1);
    assert!(
        tenant_json(&again, "b")["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("dirty at version 3")
    );
    assert_eq!(b.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'later'"), "0");
    let (_, status) = s.json(&["status", "--live"]);
    assert_eq!(tenant_json(&status, "b")["dirty"], true);

    // An edited applied migration on a: checksum mismatch before any SQL.
    s.migration(
        1,
        "create_orders",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY);",
        None,
    );
    let (_, doc) = s.json(&["apply", "--tenant", "a"]);
    assert!(
        tenant_json(&doc, "a")["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("checksum mismatch")
    );
}

#[test]
fn two_coordinators_on_the_same_databases_apply_each_migration_exactly_once() {
    if !mariadb_up() {
        return;
    }
    let dbs: Vec<MyDatabase> = (0..6).map(|_| MyDatabase::create("flt_myrace")).collect();
    let s = Scratch::new();
    s.migration(
        1,
        "events",
        "CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(50) NOT NULL);",
        None,
    );
    s.migration(
        2,
        "seed",
        "DO SLEEP(0.05);\nINSERT INTO events (what) VALUES ('seeded once');",
        None,
    );
    let tenants: String = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| format!("[[tenants]]\nid = \"t{i}\"\nurl = \"{}\"\n\n", db.url()))
        .collect();
    s.write(
        "one.toml",
        &format!("[fleet]\nledger = \"one.db\"\n[policy]\nconcurrency = 3\n\n{tenants}"),
    );
    s.write(
        "two.toml",
        &format!("[fleet]\nledger = \"two.db\"\n[policy]\nconcurrency = 3\n\n{tenants}"),
    );
    let outputs = apply_concurrently(&s, &["one.toml", "two.toml"]);
    let (one, two) = (&outputs[0], &outputs[1]);
    assert_eq!(code(one), 0, "{}", stderr(one));
    assert_eq!(code(two), 0, "{}", stderr(two));
    for db in &dbs {
        assert_eq!(
            db.sql("SELECT COUNT(*) FROM events"),
            "1",
            "{}: the seed ran twice or not at all",
            db.name
        );
    }
}

#[test]
fn a_statement_over_the_limit_fails_the_tenant() {
    if !mariadb_up() {
        return;
    }
    let db = MyDatabase::create("flt_mytime");
    let s = Scratch::new();
    s.migration(1, "slow", "SELECT SLEEP(3);", None);
    s.fleet(&format!("[fleet]\nledger = \"ledger.db\"\n[policy]\nstatement_timeout = \"1s\"\n\n[[tenants]]\nid = \"t\"\nurl = \"{}\"\n", db.url()));
    let started = std::time::Instant::now();
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2900),
        "the statement limit did not apply"
    );
    assert!(
        tenant_json(&doc, "t")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_statement_time"),
        "{doc}"
    );
}

#[test]
fn a_tenant_timeout_kills_the_statement_on_the_server() {
    if !mariadb_up() {
        return;
    }
    let db = MyDatabase::create("flt_mykill");
    let s = Scratch::new();
    s.migration(1, "stuck", "SELECT SLEEP(5);", None);
    s.fleet(&format!("[fleet]\nledger = \"ledger.db\"\n[policy]\ntenant_timeout = \"300ms\"\n\n[[tenants]]\nid = \"t\"\nurl = \"{}\"\n", db.url()));
    let started = std::time::Instant::now();
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the timeout did not stop the tenant"
    );
    let error = &tenant_json(&doc, "t")["error"];
    assert_eq!(error["version"], 1);
    assert!(
        error["message"].as_str().unwrap().starts_with("timeout"),
        "{error}"
    );
    let running = format!(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND info LIKE '%SLEEP(5)%'",
        db.name
    );
    assert!(
        eventually(3, || mariadb(None, &running) == "0"),
        "the statement still runs on the server"
    );
    // The dirty row says the migration did not finish, and the ledger knows it.
    assert_eq!(
        db.sql("SELECT dirty FROM flotilla_migrations WHERE version = 1"),
        "1"
    );
    let (_, status) = s.json(&["status"]);
    assert_eq!(status["tenants"][0]["dirty"], true, "{status}");
}
