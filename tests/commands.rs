//! The smaller commands end to end: init, new, status, runs, and the shape of their output.

mod common;

use assert_cmd::Command;
use common::*;

#[test]
fn init_writes_a_fleet_that_applies_at_once() {
    let s = Scratch::new();
    let init = Command::cargo_bin("flotilla")
        .unwrap()
        .current_dir(s.dir.path())
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    assert!(s.path("fleet.toml").exists());
    let (status, doc) = s.json(&["apply"]);
    assert_eq!(status, 0, "{doc}");
    assert_eq!(doc["tenants"][0]["id"], "example");
    assert_eq!(doc["tenants"][0]["status"], "succeeded");
    assert!(s.has_table("tenants/example.db", "accounts"));
    let again = Command::cargo_bin("flotilla")
        .unwrap()
        .current_dir(s.dir.path())
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(code(&again), 2, "init must not overwrite");
}

#[test]
fn new_writes_a_timestamped_migration_into_the_fleets_directory() {
    let s = Scratch::new();
    s.fleet("[fleet]\nmigrations = \"db/migrations\"\n");
    let output = s.run(&["new", "add_orders"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let files: Vec<_> = std::fs::read_dir(s.path("db/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1);
    let name = &files[0];
    assert!(
        name.ends_with("_add_orders.sql") && name.len() == "20260101000000_add_orders.sql".len(),
        "{name}"
    );
    let text = std::fs::read_to_string(s.path(&format!("db/migrations/{name}"))).unwrap();
    assert!(text.contains("-- migrate:up") && text.contains("-- migrate:down"));
    assert_eq!(code(&s.run(&["new", "bad name"])), 2);
}

#[test]
fn status_and_runs_print_the_documented_json_and_accept_global_options_anywhere() {
    let s = Scratch::new();
    s.migration(1, "one", "CREATE TABLE one (id INTEGER);", None);
    s.migration(2, "two", "CREATE TABLE two (id INTEGER);", None);
    s.fleet(&sqlite_tenants(&["a", "b"], &[]));

    let (_, before) = s.json(&["status"]);
    assert_eq!(
        before["tenants"][0]["pending"],
        serde_json::Value::Null,
        "never seen: unknown, not guessed"
    );
    let (code_apply, applied) = s.json(&["apply", "--to", "1", "--tenant", "a"]);
    assert_eq!(code_apply, 0);
    assert_eq!(applied["tenants"].as_array().unwrap().len(), 1);

    let (_, status) = s.json(&["status"]);
    let row = &status["tenants"][0];
    assert_eq!(
        keys(row),
        vec![
            "id",
            "version",
            "pending",
            "dirty",
            "last_run",
            "last_status",
            "error"
        ]
    );
    assert_eq!(row["error"], serde_json::Value::Null);
    assert_eq!(row["version"], 1);
    assert_eq!(row["pending"], 1);
    let (_, live) = s.json(&["status", "--live"]);
    assert_eq!(live["tenants"][1]["pending"], 2);

    // Global options after the subcommand, as design.md promises.
    let output = Command::cargo_bin("flotilla")
        .unwrap()
        .current_dir(s.dir.path())
        .args(["runs", "--format", "json", "--fleet"])
        .arg(s.path("fleet.toml"))
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &runs["runs"][0];
    assert_eq!(
        keys(run),
        vec![
            "run_id",
            "command",
            "status",
            "started_at",
            "finished_at",
            "parent_run"
        ]
    );

    let (_, recorded) = s.json(&["runs", run["run_id"].as_str().unwrap()]);
    assert_eq!(
        keys(&recorded),
        vec![
            "run_id",
            "command",
            "status",
            "duration_ms",
            "waves",
            "tenants"
        ]
    );
    assert_eq!(recorded["tenants"], applied["tenants"]);
    assert_eq!(recorded["waves"], applied["waves"]);
    assert_eq!(
        keys(&recorded["tenants"][0]),
        vec![
            "id",
            "wave",
            "status",
            "from_version",
            "to_version",
            "applied",
            "error"
        ]
    );
}

#[test]
fn text_output_is_for_people_and_stdout_holds_nothing_else_in_json_mode() {
    let s = Scratch::new();
    s.migration(1, "one", "CREATE TABLE one (id INTEGER);", None);
    s.fleet(&sqlite_tenants(&["a"], &[]));
    let text = stdout(&s.run(&["apply", "-v"]));
    assert!(text.starts_with("apply "), "{text}");
    assert!(text.contains("wave all: 1 tenant: 1 succeeded"), "{text}");
    let output = s.run(&["runs", "-vv", "--format", "json"]);
    serde_json::from_slice::<serde_json::Value>(&output.stdout)
        .expect("only JSON on stdout, logs go to stderr");
}
