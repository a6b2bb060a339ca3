//! PostgreSQL tenants end to end, on the machine's server: schemas on a shared server and whole
//! databases, each test in schemas or databases of its own.

mod common;

use common::servers::*;
use common::*;
use serde_json::Value;

const V1: i64 = 1;
const V2: i64 = 2;
const V3: i64 = 3;

/// A table, then a multi-statement migration with a dollar-quoted function, a trigger, comments
/// and string literals holding semicolons.
fn pg_migrations(s: &Scratch) {
    s.migration(
        V1,
        "create_orders",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL, note text);",
        Some("DROP TABLE orders;"),
    );
    s.migration(
        V2,
        "audit_trigger",
        "-- every change to orders is audited; note the semicolons in strings and bodies\n\
         CREATE TABLE audit (id bigserial PRIMARY KEY, what text NOT NULL);\n\
         CREATE FUNCTION audit_orders() RETURNS trigger AS $body$\n\
         BEGIN\n  INSERT INTO audit (what) VALUES ('order; ' || NEW.id);\n  RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql;\n\
         /* a block comment; with a semicolon */\n\
         CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_orders();\n\
         INSERT INTO orders (total, note) VALUES (1, 'first; seeded');",
        Some("DROP TRIGGER orders_audit ON orders; DROP FUNCTION audit_orders(); DROP TABLE audit;"),
    );
}

fn server_fleet(extra: &str, tenants: &str) -> String {
    format!(
        "[fleet]\nledger = \"ledger.db\"\n\n{extra}\n[[servers]]\nname = \"pg\"\nurl = \"{PG_URL}\"\nmax_connections = 4\n\n{tenants}"
    )
}

#[test]
fn schema_tenants_apply_once_and_a_failure_rolls_back_completely() {
    if !postgres_up() {
        return;
    }
    let (a, b, c) = (
        PgSchema::create("flt_a"),
        PgSchema::create("flt_b"),
        PgSchema::create("flt_c"),
    );
    let s = Scratch::new();
    pg_migrations(&s);
    s.fleet(&server_fleet(
        "[[waves]]\nname = \"all\"\nmax_failures = 5\n",
        &pg_schema_tenants("pg", &[&a, &b, &c], &[]),
    ));

    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    for schema in [&a, &b, &c] {
        assert_eq!(
            tenant_json(&doc, &schema.name)["applied"],
            serde_json::json!([V1, V2])
        );
        assert_eq!(schema.sql("SELECT string_agg(version::text, ',' ORDER BY version) || ' ' || bool_or(dirty) FROM flotilla_migrations"), "1,2 false");
        // The trigger fired once for the seeded row, with the semicolon in its string intact.
        assert_eq!(schema.sql("SELECT what FROM audit"), "order; 1");
        // Objects went into the tenant's schema, not public.
        assert_eq!(
            psql(
                "test",
                &format!(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = '{}' AND tablename = 'orders'",
                    schema.name
                )
            ),
            "1"
        );
    }
    let (code, again) = s.json(&["apply"]);
    assert_eq!(code, 0);
    assert_eq!(again["run_id"], Value::Null);

    // V3 fails on tenant b only (its data violates the new constraint): nothing of V3 stays there.
    b.sql("INSERT INTO orders (total) VALUES (-5)");
    s.migration(V3, "positive_totals", "CREATE TABLE checked (id int);\nALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);", None);
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    let failed = tenant_json(&doc, &b.name);
    assert_eq!(failed["error"]["version"], V3);
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SQLSTATE 23514"),
        "{failed}"
    );
    assert_eq!(b.sql("SELECT max(version) FROM flotilla_migrations"), "2");
    assert_eq!(b.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'checked' AND schemaname = current_schema()"), "0");
    assert_eq!(
        tenant_json(&doc, &a.name)["applied"],
        serde_json::json!([V3])
    );

    // An edited applied migration: checksum mismatch before any SQL.
    s.migration(
        V1,
        "create_orders",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);",
        None,
    );
    s.migration(4, "later", "CREATE TABLE later (id int);", None);
    let (code, doc) = s.json(&["apply", "--tenant", &a.name]);
    assert_eq!(code, 1);
    assert!(
        tenant_json(&doc, &a.name)["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("checksum mismatch")
    );
    assert_eq!(
        a.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'later'"),
        "0"
    );
}

#[test]
fn database_tenants_and_concurrent_indexes_outside_a_transaction() {
    if !postgres_up() {
        return;
    }
    let (one, two) = (PgDatabase::create("flt_db"), PgDatabase::create("flt_db"));
    let s = Scratch::new();
    pg_migrations(&s);
    s.write(
        "migrations/3_orders_note_idx.sql",
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);\nCREATE INDEX CONCURRENTLY orders_total_idx ON orders (total);\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY orders_note_idx;\n",
    );
    let tenants = format!(
        "[[tenants]]\nid = \"one\"\nurl = \"{}\"\n\n[[tenants]]\nid = \"two\"\nurl = \"{}\"\n",
        one.url(),
        two.url()
    );
    s.fleet(&format!(
        "[fleet]\nledger = \"ledger.db\"\n[policy]\ntransaction = \"tenant\"\n\n{tenants}"
    ));
    let plan = stdout(&s.run(&["plan"]));
    assert!(
        plan.contains("[transactions split at transaction:false migrations]"),
        "{plan}"
    );
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    for db in [&one, &two] {
        assert_eq!(db.sql("SELECT string_agg(version || ':' || dirty, ',' ORDER BY version) FROM flotilla_migrations"), "1:false,2:false,3:false");
        assert_eq!(db.sql("SELECT count(*) FROM pg_indexes WHERE indexname IN ('orders_note_idx', 'orders_total_idx')"), "2");
    }
}

#[test]
fn tenant_transaction_mode_leaves_a_failing_tenant_at_its_previous_version() {
    if !postgres_up() {
        return;
    }
    let schema = PgSchema::create("flt_tx");
    let s = Scratch::new();
    pg_migrations(&s);
    s.migration(
        V3,
        "broken",
        "ALTER TABLE orders ADD COLUMN status text;\nSELECT no_such_function();",
        None,
    );
    s.fleet(&server_fleet(
        "[policy]\ntransaction = \"tenant\"\n",
        &pg_schema_tenants("pg", &[&schema], &[]),
    ));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(tenant_json(&doc, &schema.name)["error"]["version"], V3);
    assert_eq!(tenant_json(&doc, &schema.name)["to_version"], Value::Null);
    assert_eq!(
        psql(
            "test",
            &format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '{}'",
                schema.name
            )
        ),
        "0",
        "V1 and V2 must roll back with V3"
    );
}

#[test]
fn two_coordinators_on_the_same_schemas_apply_each_migration_exactly_once() {
    if !postgres_up() {
        return;
    }
    let schemas: Vec<PgSchema> = (0..12).map(|_| PgSchema::create("flt_race")).collect();
    let refs: Vec<&PgSchema> = schemas.iter().collect();
    let s = Scratch::new();
    s.migration(
        V1,
        "events",
        "CREATE TABLE events (id serial PRIMARY KEY, what text NOT NULL);",
        None,
    );
    s.migration(
        V2,
        "seed",
        "INSERT INTO events (what) VALUES ('seeded once');",
        None,
    );
    s.migration(
        V3,
        "slow_seed",
        "SELECT pg_sleep(0.05);\nINSERT INTO events (what) VALUES ('seeded after a pause');",
        None,
    );
    let tenants = pg_schema_tenants("pg", &refs, &[]);
    let fleet = |ledger: &str| {
        format!(
            "[fleet]\nledger = \"{ledger}\"\n[policy]\nconcurrency = 6\n\n[[servers]]\nname = \"pg\"\nurl = \"{PG_URL}\"\nmax_connections = 6\n\n{tenants}"
        )
    };
    s.write("one.toml", &fleet("one.db"));
    s.write("two.toml", &fleet("two.db"));
    let outputs = apply_concurrently(&s, &["one.toml", "two.toml"]);
    let (one, two) = (&outputs[0], &outputs[1]);
    assert_eq!(code(one), 0, "{}", stderr(one));
    assert_eq!(code(two), 0, "{}", stderr(two));
    for schema in &schemas {
        assert_eq!(
            schema.sql("SELECT count(*) FROM events"),
            "2",
            "{}: a seed ran twice or not at all",
            schema.name
        );
        assert_eq!(schema.sql("SELECT count(*) FROM flotilla_migrations"), "3");
    }
    // No migration lock outlives the runs.
    assert!(eventually(3, || schemas
        .iter()
        .all(|s| s.migration_locks() == "0")));
}

#[test]
fn a_held_lock_makes_the_tenant_fail_as_locked_after_lock_wait() {
    if !postgres_up() {
        return;
    }
    let schema = PgSchema::create("flt_lock");
    let s = Scratch::new();
    pg_migrations(&s);
    s.fleet(&server_fleet(
        "[policy]\nlock_wait = \"300ms\"\n",
        &pg_schema_tenants("pg", &[&schema], &[]),
    ));
    // Another migrator's session holds the tenant's lock while flotilla runs.
    let key = format!("hashtextextended('flotilla:test/' || '{}', 0)", schema.name);
    let mut holder = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c"])
        .arg(format!(
            "SELECT pg_advisory_lock({key}); SELECT pg_sleep(3);"
        ))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        eventually(5, || schema.migration_locks() == "1"),
        "the holder never took the lock"
    );
    let (code, doc) = s.json(&["apply"]);
    let _ = holder.wait();
    assert_eq!(code, 1, "{doc}");
    let message = tenant_json(&doc, &schema.name)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("locked by another migrator"),
        "{message}"
    );
    assert_eq!(
        psql(
            "test",
            &format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '{}'",
                schema.name
            )
        ),
        "0"
    );
}

#[test]
fn statement_and_tenant_timeouts_fail_the_tenant_and_cancel_its_work() {
    if !postgres_up() {
        return;
    }
    let (slow, stuck) = (PgSchema::create("flt_slow"), PgSchema::create("flt_stuck"));
    let s = Scratch::new();
    s.migration(V1, "sleepy", "SELECT pg_sleep(5);", None);
    let fleet = |policy: &str, schema: &PgSchema| {
        format!(
            "[fleet]\nledger = \"ledger.db\"\n[policy]\n{policy}\n\n[[servers]]\nname = \"pg\"\nurl = \"{PG_URL}\"\n\n{}",
            pg_schema_tenants("pg", &[schema], &[])
        )
    };
    s.fleet(&fleet("statement_timeout = \"200ms\"", &slow));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    assert!(
        tenant_json(&doc, &slow.name)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("statement timeout"),
        "{doc}"
    );

    s.fleet(&fleet("tenant_timeout = \"300ms\"", &stuck));
    let started = std::time::Instant::now();
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the timeout did not stop the tenant"
    );
    let error = &tenant_json(&doc, &stuck.name)["error"];
    assert_eq!(error["version"], V1);
    assert!(
        error["message"].as_str().unwrap().starts_with("timeout"),
        "{error}"
    );
    // The server stops running the statement (well before its 5 s), and the lock goes with it.
    assert!(eventually(3, || psql(
        "test",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND state = 'active' AND pid <> pg_backend_pid()"
    ) == "0"));
    assert!(eventually(3, || stuck.migration_locks() == "0"));
}

#[test]
fn a_hostile_schema_name_is_quoted_not_executed() {
    if !postgres_up() {
        return;
    }
    let victim = PgSchema::create("flt_victim");
    victim.sql("CREATE TABLE users (id int)");
    let hostile = PgSchema::create_named(&format!(
        "x\"; DROP TABLE {}.users; --{}",
        victim.name,
        unique("h")
    ));
    let s = Scratch::new();
    s.migration(V1, "create_things", "CREATE TABLE things (id int);", None);
    s.fleet(&server_fleet(
        "",
        &pg_schema_tenants("pg", &[&hostile], &[]),
    ));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(victim.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'users' AND schemaname = current_schema()"), "1");
    assert_eq!(
        psql(
            "test",
            &format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '{}' AND tablename IN ('things', 'flotilla_migrations')",
                hostile.name.replace('\'', "''")
            )
        ),
        "2"
    );
}

#[test]
fn passwords_never_reach_output_logs_json_or_the_ledger() {
    if !postgres_up() {
        return;
    }
    let schema = PgSchema::create("flt_pw");
    let planted = "Planted-Pa55word";
    let s = Scratch::new();
    s.migration(V1, "create_things", "CREATE TABLE things (id int);", None);
    s.migration(V2, "broken", "SELECT no_such_function();", None);
    // Trust authentication ignores the password, so the run works and carries it everywhere it could leak.
    let url = format!("postgres://postgres:{planted}@127.0.0.1:5432/test");
    let unreachable = format!("postgres://postgres:{planted}@127.0.0.1:1/test");
    s.fleet(&format!(
        "[fleet]\nledger = \"ledger.db\"\n[[servers]]\nname = \"pg\"\nurl = \"{url}\"\n\n{}[[tenants]]\nid = \"gone\"\nurl = \"{unreachable}\"\n\n[[waves]]\nname = \"all\"\nmax_failures = 5\n",
        pg_schema_tenants("pg", &[&schema], &[])
    ));
    let mut seen = String::new();
    for args in [
        &["apply", "-vv"][..],
        &["apply", "-vv", "--format", "json"],
        &["status", "--live"],
        &["runs"],
        &["plan", "--format", "json"],
    ] {
        let output = s.run(args);
        seen.push_str(&stdout(&output));
        seen.push_str(&stderr(&output));
    }
    let (_, runs) = s.json(&["runs"]);
    let run_id = runs["runs"][0]["run_id"].as_str().unwrap().to_string();
    seen.push_str(&stdout(&s.run(&["runs", &run_id])));
    assert!(
        seen.contains("no_such_function"),
        "the runs did not fail as planned:\n{seen}"
    );
    assert!(
        seen.contains("127.0.0.1:1"),
        "the unreachable tenant is not named:\n{seen}"
    );
    assert!(!seen.contains(planted), "a password leaked:\n{seen}");
    let ledger = std::fs::read(s.path("ledger.db")).unwrap();
    assert!(
        !ledger
            .windows(planted.len())
            .any(|w| w == planted.as_bytes()),
        "a password is in the ledger"
    );
    assert_eq!(
        schema.sql("SELECT count(*) FROM flotilla_migrations WHERE run_id LIKE '%Pa55%'"),
        "0"
    );
}

#[test]
fn discovery_by_schema_pattern_and_by_catalog_query() {
    if !postgres_up() {
        return;
    }
    let prefix = unique("flt_disc");
    let found: Vec<PgSchema> = (0..3)
        .map(|i| PgSchema::create_named(&format!("{prefix}_{i}")))
        .collect();
    let catalog = PgSchema::create("flt_catalog");
    catalog.sql(&format!(
        "CREATE TABLE tenants (id text, target text, active bool); INSERT INTO tenants VALUES ('q1', '{}', true), ('q-gone', '{prefix}_missing', true), ('off', 'x', false)",
        found[0].name
    ));
    let s = Scratch::new();
    s.migration(V1, "create_things", "CREATE TABLE things (id int);", None);
    s.fleet(&format!(
        "[fleet]\nledger = \"ledger.db\"\n[[servers]]\nname = \"pg\"\nurl = \"{PG_URL}\"\n\n[[discover]]\nserver = \"pg\"\nschemas = \"{prefix}\\\\_%\"\n\n[[discover]]\nserver = \"pg\"\nquery = \"SELECT id, target FROM {}.tenants WHERE active ORDER BY id\"\n\n[[waves]]\nname = \"all\"\nmax_failures = 5\n",
        pg_ident(&catalog.name).replace('"', "\\\"")
    ));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "the missing schema fails its tenant: {doc}");
    let ids: Vec<&str> = doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            found[0].name.as_str(),
            found[1].name.as_str(),
            found[2].name.as_str(),
            "q-gone",
            "q1"
        ]
    );
    let gone = tenant_json(&doc, "q-gone");
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{gone}"
    );
    // q1 names the same schema as a discovered tenant: it found it migrated already, nothing ran twice.
    assert_eq!(
        found[0].sql("SELECT count(*) FROM flotilla_migrations"),
        "1"
    );
    for schema in &found[1..] {
        assert_eq!(schema.sql("SELECT count(*) FROM flotilla_migrations"), "1");
    }
}
