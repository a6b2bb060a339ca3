//! apply, plan and status end to end on real SQLite tenant files: the tracking tables and the ledger
//! agree, failures roll back and halt, budgets count, and nothing runs twice.

mod common;

use common::*;
use serde_json::Value;

const V1: i64 = 20240101000000;
const V2: i64 = 20240102000000;
const V3: i64 = 20240103000000;
const V4: i64 = 20240104000000;
const V5: i64 = 20240105000000;
const V6: i64 = 20240106000000;
const ALL: [i64; 6] = [V1, V2, V3, V4, V5, V6];

/// Six realistic migrations: tables, a foreign key, a column with a default, an index, reference
/// data and a backfill.
fn six_migrations(s: &Scratch) {
    s.migration(V1, "create_accounts", "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL DEFAULT 'free');", Some("DROP TABLE accounts;"));
    s.migration(V2, "create_users", "CREATE TABLE users (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id), email TEXT NOT NULL);", Some("DROP TABLE users;"));
    s.migration(
        V3,
        "add_users_role",
        "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';",
        Some("ALTER TABLE users DROP COLUMN role;"),
    );
    s.migration(
        V4,
        "index_users_email",
        "CREATE INDEX users_email_idx ON users (email);",
        Some("DROP INDEX users_email_idx;"),
    );
    s.migration(V5, "create_plans", "CREATE TABLE plans (code TEXT PRIMARY KEY, seats INTEGER NOT NULL);\nINSERT INTO plans VALUES ('free', 3), ('team', 25);", Some("DROP TABLE plans;"));
    s.migration(V6, "backfill_plan_code", "ALTER TABLE accounts ADD COLUMN plan_code TEXT REFERENCES plans (code);\nUPDATE accounts SET plan_code = plan;", Some("ALTER TABLE accounts DROP COLUMN plan_code;"));
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

fn two_wave_fleet(s: &Scratch, n: usize) {
    let ids = ids(n);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut fleet =
        String::from("[fleet]\nledger = \"state/ledger.db\"\n[policy]\nconcurrency = 4\n\n");
    fleet.push_str(&sqlite_tenants(&refs[..2], &["canary"]));
    fleet.push_str(&sqlite_tenants(&refs[2..], &[]));
    fleet.push_str("[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\nmax_failures = 0\n\n[[waves]]\nname = \"rest\"\n");
    s.fleet(&fleet);
}

#[test]
fn a_fresh_fleet_reaches_the_newest_version_and_a_second_apply_changes_nothing() {
    let s = Scratch::new();
    six_migrations(&s);
    two_wave_fleet(&s, 12);

    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["status"], "succeeded");
    assert_eq!(doc["waves"][0]["name"], "canary");
    assert_eq!(doc["waves"][0]["succeeded"], 2);
    assert_eq!(doc["waves"][1]["succeeded"], 10);
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    for id in ids(12) {
        let t = tenant_json(&doc, &id);
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["from_version"], Value::Null);
        assert_eq!(t["to_version"], V6);
        assert_eq!(t["applied"], serde_json::json!(ALL));
        let file = format!("tenants/{id}.db");
        assert_eq!(
            s.tracking(&file),
            ALL.iter().map(|&v| (v, false)).collect::<Vec<_>>()
        );
        assert_eq!(
            s.ledger_versions("state/ledger.db", &id),
            ALL.to_vec(),
            "ledger and tracking table disagree for {id}"
        );
        assert!(s.has_table(&file, "plans"));
    }
    // Every attempt of the run is in the ledger with its timing.
    let ledger = s.sqlite("state/ledger.db");
    let attempts: i64 = ledger
        .query_row("SELECT count(*) FROM attempts WHERE run_id = ?1 AND status = 'succeeded' AND direction = 'up'", [&run_id], |r| r.get(0))
        .unwrap();
    assert_eq!(attempts, 72);

    let mtimes = || -> Vec<_> {
        ids(12)
            .iter()
            .map(|id| {
                std::fs::metadata(s.path(&format!("tenants/{id}.db")))
                    .unwrap()
                    .modified()
                    .unwrap()
            })
            .collect()
    };
    let modified = mtimes();
    let (code, again) = s.json(&["apply"]);
    assert_eq!(code, 0);
    assert_eq!(again["run_id"], Value::Null, "a no-op apply records no run");
    assert!(
        again["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "skipped" && t["applied"] == serde_json::json!([]))
    );
    let after = mtimes();
    assert_eq!(modified, after, "a no-op apply wrote to a tenant");
    let text = stdout(&s.run(&["apply"]));
    assert!(
        text.starts_with("Nothing to do: 12 tenants already up to date at version 20240106000000"),
        "{text}"
    );

    let (_, runs) = s.json(&["runs"]);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    let (_, status) = s.json(&["status"]);
    for row in status["tenants"].as_array().unwrap() {
        assert_eq!(row["version"], V6);
        assert_eq!(row["pending"], 0);
        assert_eq!(row["dirty"], false);
        assert_eq!(row["last_run"], run_id.as_str());
        assert_eq!(row["last_status"], "succeeded");
    }
}

#[test]
fn a_failing_canary_is_rolled_back_and_halts_the_rollout() {
    let s = Scratch::new();
    six_migrations(&s);
    two_wave_fleet(&s, 6);
    let (code, _) = s.json(&["apply", "--to", &V2.to_string()]);
    assert_eq!(code, 0);
    // t01 is a canary whose data violates the unique index V3 now builds.
    s.migration(V3, "add_users_role", "CREATE TABLE audit (id INTEGER PRIMARY KEY);\nALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';\nCREATE UNIQUE INDEX users_email_unique ON users (email);", None);
    let canary = s.sqlite("tenants/t01.db");
    canary.execute_batch("INSERT INTO accounts (id, name) VALUES (1, 'a'); INSERT INTO users (account_id, email) VALUES (1, 'x@example.com'), (1, 'x@example.com');").unwrap();
    drop(canary);

    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["status"], "halted");
    let failed = tenant_json(&doc, "t01");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["version"], V3);
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("UNIQUE constraint failed: users.email"),
        "{message}"
    );
    assert_eq!(failed["to_version"], V2);
    // Nothing of the failed migration is left behind on that tenant.
    assert_eq!(s.versions("tenants/t01.db"), vec![V1, V2]);
    assert!(!s.has_table("tenants/t01.db", "audit"));
    // The second wave never started.
    assert_eq!(doc["waves"][1]["halted"], 4);
    for id in ["t02", "t03", "t04", "t05"] {
        assert_eq!(tenant_json(&doc, id)["status"], "halted");
        assert_eq!(
            s.versions(&format!("tenants/{id}.db")),
            vec![V1, V2],
            "{id} was touched"
        );
    }
    // The ledger holds the failure with the database's message, and nothing more than the tenant.
    let ledger = s.sqlite("state/ledger.db");
    let (version, error): (i64, String) = ledger
        .query_row(
            "SELECT version, error FROM attempts WHERE tenant_id = 't01' AND status = 'failed'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, V3);
    assert!(error.contains("UNIQUE constraint failed"));
    assert_eq!(s.ledger_versions("state/ledger.db", "t01"), vec![V1, V2]);
    let run_id = doc["run_id"].as_str().unwrap();
    let (_, recorded) = s.json(&["runs", run_id]);
    assert_eq!(recorded["status"], "halted");
    assert_eq!(tenant_json(&recorded, "t01")["error"], failed["error"]);
    assert_eq!(recorded["waves"], doc["waves"]);
}

/// 40 tenants in one wave with `max_failure_rate = 0.05` and `min_sample = 20`; the first
/// `failing` of them already hold a table that V2 creates, so V2 fails on exactly those.
fn rate_fleet(failing: usize) -> (Scratch, Value, i32) {
    let s = Scratch::new();
    six_migrations(&s);
    let ids = ids(40);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut fleet = String::from("[policy]\nconcurrency = 2\n\n");
    fleet.push_str(&sqlite_tenants(&refs, &[]));
    fleet.push_str("[[waves]]\nname = \"everyone\"\nmax_failure_rate = 0.05\nmin_sample = 20\n");
    s.fleet(&fleet);
    std::fs::create_dir_all(s.path("tenants")).unwrap();
    for id in &ids[..failing] {
        let conn = rusqlite::Connection::open(s.path(&format!("tenants/{id}.db"))).unwrap();
        conn.execute_batch("CREATE TABLE users (legacy INTEGER);")
            .unwrap();
    }
    let (code, doc) = s.json(&["apply"]);
    (s, doc, code)
}

#[test]
fn one_failure_in_forty_stays_within_a_five_percent_budget() {
    let (_s, doc, code) = rate_fleet(1);
    assert_eq!(code, 1, "a failed tenant still makes the exit code 1");
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["waves"][0]["failed"], 1);
    assert_eq!(doc["waves"][0]["succeeded"], 39);
    assert_eq!(doc["waves"][0]["halted"], 0);
    assert!(
        tenant_json(&doc, "t00")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("table users already exists")
    );
}

#[test]
fn five_failures_in_forty_exceed_a_five_percent_budget_and_halt() {
    let (s, doc, code) = rate_fleet(5);
    assert_eq!(code, 1);
    assert_eq!(doc["status"], "halted");
    let wave = &doc["waves"][0];
    assert_eq!(wave["failed"], 5);
    let halted = wave["halted"].as_u64().unwrap();
    // The budget is judged from the 20th finished tenant; at most `concurrency` more finish after.
    assert!(halted >= 18, "{wave}");
    assert_eq!(wave["succeeded"].as_u64().unwrap() + 5 + halted, 40);
    for t in doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "halted")
    {
        let id = t["id"].as_str().unwrap();
        assert!(
            !s.path(&format!("tenants/{id}.db")).exists(),
            "halted tenant {id} was touched"
        );
    }
}

#[test]
fn an_edited_migration_fails_that_tenant_with_checksum_mismatch_before_any_sql() {
    let s = Scratch::new();
    six_migrations(&s);
    s.fleet(&format!(
        "{}[[waves]]\nname = \"all\"\nmax_failures = 1\n",
        sqlite_tenants(&["ahead", "behind"], &[])
    ));
    assert_eq!(s.json(&["apply", "--to", &V2.to_string()]).0, 0);
    // "behind" is rolled back to V1 by hand, so only "ahead" holds V2 when its file is edited.
    let behind = s.sqlite("tenants/behind.db");
    behind
        .execute_batch(&format!(
            "DROP TABLE users; DELETE FROM flotilla_migrations WHERE version = {V2};"
        ))
        .unwrap();
    drop(behind);
    s.migration(V2, "create_users", "CREATE TABLE users (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, email TEXT NOT NULL, name TEXT);", None);

    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    let ahead = tenant_json(&doc, "ahead");
    assert_eq!(ahead["status"], "failed");
    assert_eq!(ahead["error"]["version"], V2);
    assert!(
        ahead["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("checksum mismatch"),
        "{ahead}"
    );
    assert_eq!(ahead["applied"], serde_json::json!([]));
    assert_eq!(s.versions("tenants/ahead.db"), vec![V1, V2]);
    assert!(
        !s.has_table("tenants/ahead.db", "plans"),
        "SQL ran on a tenant with an edited migration"
    );
    // The other tenant never applied the old text, so it takes the new one and the rest.
    assert_eq!(tenant_json(&doc, "behind")["status"], "succeeded");
    assert_eq!(s.versions("tenants/behind.db"), ALL.to_vec());
}

#[test]
fn tenant_transaction_mode_leaves_a_failing_tenant_exactly_where_it_was() {
    for (mode, expected) in [("tenant", vec![V1]), ("migration", vec![V1, V2, V3])] {
        let s = Scratch::new();
        six_migrations(&s);
        s.migration(
            V4,
            "index_users_email",
            "CREATE INDEX users_email_idx ON users (no_such_column);",
            None,
        );
        s.fleet(&format!(
            "[policy]\ntransaction = \"{mode}\"\n\n{}",
            sqlite_tenants(&["solo"], &[])
        ));
        assert_eq!(s.json(&["apply", "--to", &V1.to_string()]).0, 0);

        let (code, doc) = s.json(&["apply"]);
        assert_eq!(code, 1, "{mode}: {doc}");
        let solo = tenant_json(&doc, "solo");
        assert_eq!(solo["error"]["version"], V4, "{mode}");
        assert_eq!(s.versions("tenants/solo.db"), expected, "{mode}");
        assert_eq!(
            s.has_table("tenants/solo.db", "users"),
            mode == "migration",
            "{mode}: partial objects left"
        );
        assert_eq!(solo["to_version"], *expected.last().unwrap(), "{mode}");
    }
}

#[test]
fn a_non_transactional_failure_leaves_the_tenant_dirty_and_later_runs_refuse_it() {
    let s = Scratch::new();
    s.migration(
        V1,
        "create_accounts",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY);",
        None,
    );
    s.write(&format!("migrations/{V2}_rebuild.sql"), "-- migrate:up transaction:false\nCREATE TABLE rebuilt (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n");
    s.migration(V3, "later", "CREATE TABLE later (id INTEGER);", None);
    s.fleet(&sqlite_tenants(&["solo"], &[]));

    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    let message = tenant_json(&doc, "solo")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("left the tenant dirty") && message.contains("no such table: nowhere"),
        "{message}"
    );
    assert_eq!(s.tracking("tenants/solo.db"), vec![(V1, false), (V2, true)]);

    let (code, again) = s.json(&["apply"]);
    assert_eq!(code, 1);
    let refused = tenant_json(&again, "solo");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("dirty at version {V2}")),
        "{refused}"
    );
    assert!(!s.has_table("tenants/solo.db", "later"));
    let (_, status) = s.json(&["status", "--live"]);
    assert_eq!(status["tenants"][0]["dirty"], true);
    let (_, status) = s.json(&["status"]);
    assert_eq!(
        status["tenants"][0]["dirty"], true,
        "the ledger knows the tenant is dirty"
    );
}

#[test]
fn two_coordinators_with_separate_ledgers_apply_each_migration_once() {
    let s = Scratch::new();
    s.migration(
        V1,
        "create_events",
        "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT NOT NULL);",
        None,
    );
    for (i, v) in [V2, V3, V4, V5, V6].into_iter().enumerate() {
        s.migration(
            v,
            &format!("seed_{i}"),
            &format!("INSERT INTO events (what) VALUES ('seed {v}');"),
            None,
        );
    }
    let ids = ids(16);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let tenants = sqlite_tenants(&refs, &[]);
    s.write(
        "one.toml",
        &format!("[fleet]\nledger = \"one.db\"\n[policy]\nconcurrency = 4\n\n{tenants}"),
    );
    s.write(
        "two.toml",
        &format!("[fleet]\nledger = \"two.db\"\n[policy]\nconcurrency = 4\n\n{tenants}"),
    );
    let outputs = apply_concurrently(&s, &["one.toml", "two.toml"]);
    let (one, two) = (&outputs[0], &outputs[1]);
    assert_eq!(code(one), 0, "{}", stderr(one));
    assert_eq!(code(two), 0, "{}", stderr(two));
    for id in &ids {
        let conn = s.sqlite(&format!("tenants/{id}.db"));
        let seeds: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seeds, 5, "{id}: a seed ran twice or not at all");
        assert_eq!(s.versions(&format!("tenants/{id}.db")).len(), 6);
    }
}

#[test]
fn a_second_coordinator_on_the_same_ledger_exits_4_naming_the_holder() {
    let s = Scratch::new();
    six_migrations(&s);
    s.fleet(&format!(
        "[fleet]\nledger = \"state/ledger.db\"\n\n{}",
        sqlite_tenants(&["solo"], &[])
    ));
    let mut lock = flotilla_ledger::LedgerLock::acquire(&s.path("state/ledger.db")).unwrap();
    lock.announce(&flotilla_ledger::Holder {
        run_id: "20260101-000000-beef".into(),
        command: "apply".into(),
        started_at: "then".into(),
    })
    .unwrap();
    let output = s.run(&["apply"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run 20260101-000000-beef (apply"),
        "{}",
        stderr(&output)
    );
    assert!(
        !s.path("tenants/solo.db").exists(),
        "a refused coordinator touched a tenant"
    );
    drop(lock);
    assert_eq!(code(&s.run(&["apply"])), 0);
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let s = Scratch::new();
    six_migrations(&s);
    two_wave_fleet(&s, 4);
    let before = files_under(s.dir.path());
    let plan = s.run(&["plan"]);
    let dry = s.run(&["apply", "--dry-run"]);
    assert_eq!(code(&plan), 0, "{}", stderr(&plan));
    assert_eq!(stdout(&plan), stdout(&dry));
    assert!(
        stdout(&plan).contains("t00  none -> 20240106000000: 6 pending"),
        "{}",
        stdout(&plan)
    );
    let (_, doc) = s.json(&["apply", "--dry-run", "--to", &V3.to_string()]);
    assert_eq!(
        doc["waves"][0]["tenants"][0]["pending"],
        serde_json::json!([V1, V2, V3])
    );
    assert_eq!(
        files_under(s.dir.path()),
        before,
        "plan or dry-run created a file"
    );
}

#[test]
fn discovered_files_are_tenants_and_a_missing_file_is_unreachable_not_created() {
    let s = Scratch::new();
    six_migrations(&s);
    std::fs::create_dir_all(s.path("found")).unwrap();
    for id in ["zeta", "alpha"] {
        rusqlite::Connection::open(s.path(&format!("found/{id}.db"))).unwrap();
    }
    s.fleet("[[tenants]]\nid = \"typo\"\nurl = \"sqlite://missing/typo.db\"\n\n[[discover]]\nsqlite = \"found/*.db\"\n");
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    let ids: Vec<&str> = doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["typo", "alpha", "zeta"]);
    let typo = tenant_json(&doc, "typo");
    assert!(
        typo["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{typo}"
    );
    assert!(!s.path("missing").exists());
    // The strict default budget halts the wave at the first failure, so the order matters: the
    // listed tenant comes first and the discovered ones are halted, untouched.
    assert_eq!(tenant_json(&doc, "alpha")["status"], "halted");
    // A tenant no run could read has unknown versions in the ledger, not an empty list.
    let (_, status) = s.json(&["status"]);
    let typo = tenant_json(&status, "typo");
    assert_eq!(typo["last_status"], "failed");
    assert_eq!(typo["pending"], Value::Null, "{typo}");
    assert_eq!(typo["dirty"], Value::Null, "{typo}");
}

#[test]
fn a_manual_gate_pauses_the_run_and_resume_finishes_it() {
    let s = Scratch::new();
    six_migrations(&s);
    let mut fleet = sqlite_tenants(&["c1"], &["canary"]);
    fleet.push_str(&sqlite_tenants(&["r1", "r2"], &[]));
    fleet.push_str("[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\n\n[[waves]]\nname = \"rest\"\ngate = \"manual\"\n");
    s.fleet(&fleet);
    let (status, doc) = s.json(&["apply"]);
    assert_eq!(status, 0);
    assert_eq!(doc["status"], "paused");
    assert_eq!(tenant_json(&doc, "r1")["status"], "queued");
    assert!(!s.path("tenants/r1.db").exists());
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    assert!(stdout(&s.run(&["runs"])).contains("paused"));

    let (status, resumed) = s.json(&["apply", "--resume", &run_id]);
    assert_eq!(status, 0, "{resumed}");
    assert_eq!(resumed["run_id"], run_id.as_str());
    assert_eq!(resumed["status"], "succeeded");
    assert_eq!(s.versions("tenants/r2.db"), ALL.to_vec());
    let (_, recorded) = s.json(&["runs", &run_id]);
    assert_eq!(recorded["status"], "succeeded");
    assert!(
        recorded["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "succeeded")
    );
    let again = s.run(&["apply", "--resume", &run_id]);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("only a paused run can be resumed"));
}

/// c1 and c2 are canaries, r1 and r2 the gated rest; `canary_budget` is the canary wave's extra keys.
fn gated_fleet(s: &Scratch, canary_budget: &str) {
    six_migrations(s);
    let mut fleet = sqlite_tenants(&["c1", "c2"], &["canary"]);
    fleet.push_str(&sqlite_tenants(&["r1", "r2"], &[]));
    fleet.push_str(&format!(
        "[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\n{canary_budget}\n\n[[waves]]\nname = \"rest\"\ngate = \"manual\"\nbake = \"1h\"\n"
    ));
    s.fleet(&fleet);
}

#[test]
fn a_wave_the_selection_leaves_empty_neither_gates_nor_bakes() {
    let s = Scratch::new();
    gated_fleet(&s, "");
    // The rest wave bakes for an hour and is gated: were it not skipped, this would pause or hang.
    let (code, doc) = s.json(&["apply", "--tenant", "c1"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["status"], "succeeded");
    assert_eq!(doc["tenants"].as_array().unwrap().len(), 1);
    assert!(
        !s.path("tenants/c2.db").exists(),
        "a tenant outside the selection was touched"
    );
}

#[test]
fn a_failure_before_a_gate_is_not_forgotten_when_the_run_resumes() {
    let s = Scratch::new();
    gated_fleet(&s, "max_failures = 1");
    std::fs::create_dir_all(s.path("tenants")).unwrap();
    rusqlite::Connection::open(s.path("tenants/c2.db"))
        .unwrap()
        .execute_batch("CREATE TABLE users (legacy INTEGER);")
        .unwrap();
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(
        code, 1,
        "a paused run with a failed tenant still exits 1: {doc}"
    );
    assert_eq!(doc["status"], "paused");
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let (code, resumed) = s.json(&["apply", "--resume", &run_id]);
    assert_eq!(code, 1, "{resumed}");
    assert_eq!(resumed["status"], "failed");
    assert_eq!(tenant_json(&resumed, "r1")["status"], "succeeded");
    let (_, recorded) = s.json(&["runs", &run_id]);
    assert_eq!(recorded["status"], "failed");
    assert_eq!(tenant_json(&recorded, "c2")["status"], "failed");
}

#[test]
fn a_rate_budget_still_judges_a_wave_smaller_than_its_min_sample() {
    let s = Scratch::new();
    gated_fleet(&s, "max_failure_rate = 0.05\nmin_sample = 20");
    std::fs::create_dir_all(s.path("tenants")).unwrap();
    for id in ["c1", "c2"] {
        rusqlite::Connection::open(s.path(&format!("tenants/{id}.db")))
            .unwrap()
            .execute_batch("CREATE TABLE users (legacy INTEGER);")
            .unwrap();
    }
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    assert_eq!(doc["status"], "halted", "{doc}");
    assert_eq!(tenant_json(&doc, "r1")["status"], "halted");
}

#[test]
fn a_timeout_outside_a_transaction_reports_the_version_and_the_dirty_row() {
    let s = Scratch::new();
    s.migration(
        V1,
        "create_accounts",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY);",
        None,
    );
    // A statement that runs for many seconds, outside a transaction.
    s.write(
        &format!("migrations/{V2}_slow.sql"),
        "-- migrate:up transaction:false\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c;\n",
    );
    s.fleet(&format!(
        "[policy]\ntenant_timeout = \"300ms\"\n\n{}",
        sqlite_tenants(&["solo"], &[])
    ));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 1);
    let solo = tenant_json(&doc, "solo");
    assert_eq!(solo["error"]["version"], V2, "{solo}");
    assert!(
        solo["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("timeout"),
        "{solo}"
    );
    assert_eq!(solo["applied"], serde_json::json!([V1]));
    let (_, status) = s.json(&["status"]);
    assert_eq!(
        status["tenants"][0]["dirty"], true,
        "the ledger must know about the dirty row: {status}"
    );
}
