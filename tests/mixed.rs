//! One fleet file mixing every kind of tenant: PostgreSQL schemas on a shared server, PostgreSQL
//! databases, MariaDB databases and SQLite files, migrated in one run.

mod common;

use common::servers::*;
use common::*;

#[test]
fn a_mixed_fleet_migrates_in_one_run() {
    if !(postgres_up() && mariadb_up()) {
        return;
    }
    let (schema_a, schema_b) = (PgSchema::create("flt_mix"), PgSchema::create("flt_mix"));
    let pg_db = PgDatabase::create("flt_mix");
    let my_db = MyDatabase::create("flt_mix");
    let s = Scratch::new();
    // SQL every dialect reads alike.
    s.migration(
        1,
        "create_accounts",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);",
        Some("DROP TABLE accounts;"),
    );
    s.migration(
        2,
        "seed_accounts",
        "INSERT INTO accounts (id, name) VALUES (1, 'first; account');",
        Some("DELETE FROM accounts;"),
    );
    s.migration(
        3,
        "index_names",
        "CREATE INDEX accounts_name_idx ON accounts (name);",
        Some("DROP INDEX accounts_name_idx;"),
    );
    s.fleet(&format!(
        "[fleet]\nledger = \"ledger.db\"\n\n[[servers]]\nname = \"pg\"\nurl = \"{PG_URL}\"\n\n{}[[tenants]]\nid = \"pg-db\"\nurl = \"{}\"\ntags = [\"canary\"]\n\n[[tenants]]\nid = \"maria\"\nurl = \"{}\"\n\n[[tenants]]\nid = \"file\"\nurl = \"sqlite://tenants/file.db?mode=rwc\"\n\n[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\n\n[[waves]]\nname = \"rest\"\n",
        pg_schema_tenants("pg", &[&schema_a, &schema_b], &[]),
        pg_db.url(),
        my_db.url()
    ));
    let (code, doc) = s.json(&["apply"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["waves"][0]["succeeded"], 1);
    assert_eq!(doc["waves"][1]["succeeded"], 4);
    assert!(
        doc["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["applied"] == serde_json::json!([1, 2, 3])),
        "{doc}"
    );
    for schema in [&schema_a, &schema_b] {
        assert_eq!(schema.sql("SELECT name FROM accounts"), "first; account");
    }
    assert_eq!(
        pg_db.sql("SELECT count(*) FROM flotilla_migrations WHERE NOT dirty"),
        "3"
    );
    assert_eq!(
        my_db.sql("SELECT COUNT(*) FROM flotilla_migrations WHERE NOT dirty"),
        "3"
    );
    assert_eq!(s.versions("tenants/file.db"), vec![1, 2, 3]);
    let (_, status) = s.json(&["status", "--live"]);
    assert!(
        status["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["version"] == 3 && t["pending"] == 0 && t["dirty"] == false),
        "{status}"
    );
    assert_eq!(s.json(&["apply"]).1["run_id"], serde_json::Value::Null);
}
