//! `flotilla init`: a starter fleet that works at once. It declares one SQLite tenant created on
//! first apply, discovers any further SQLite files under tenants/, and shows the other kinds of
//! tenants and the wave settings as comments.

use std::path::Path;

use crate::cli::Global;
use crate::error::{CliError, Outcome};

const FLEET: &str = r#"# Flotilla fleet file. Reference: docs/fleet-file.md
[fleet]
migrations = "migrations"
ledger = ".flotilla/ledger.db"

[policy]
concurrency = 16          # tenants in flight across the fleet
transaction = "migration" # or "tenant": all of a tenant's pending migrations in one transaction

# A SQLite tenant, created on first apply because its URL says mode=rwc.
[[tenants]]
id = "example"
url = "sqlite://tenants/example.db?mode=rwc"
tags = ["canary"]

# Every other SQLite file under tenants/ is a tenant too; its id is the file name without .db.
[[discover]]
sqlite = "tenants/*.db"

[[waves]]
name = "canary"
tags = ["canary"]
max_failures = 0

[[waves]]
name = "rest"             # no selector: every remaining tenant
max_failure_rate = 0.05
min_sample = 20
"#;

const FIRST_MIGRATION: &str = "-- migrate:up
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- migrate:down
DROP TABLE accounts;
";

pub fn run(global: &Global) -> Result<Outcome, CliError> {
    let fleet = Path::new("fleet.toml");
    if fleet.exists() {
        return Err(CliError::Invalid(
            "fleet.toml already exists here; init leaves existing files alone".into(),
        ));
    }
    let migrations = Path::new("migrations");
    if migrations.exists() {
        return Err(CliError::Invalid(
            "migrations/ already exists here; init leaves existing files alone".into(),
        ));
    }
    let io = |what: &str, e: std::io::Error| CliError::Failed(format!("cannot write {what}: {e}"));
    std::fs::create_dir_all(migrations).map_err(|e| io("migrations/", e))?;
    let version = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let first = migrations.join(format!("{version}_create_accounts.sql"));
    std::fs::write(&first, FIRST_MIGRATION).map_err(|e| io(&first.display().to_string(), e))?;
    std::fs::write(fleet, FLEET).map_err(|e| io("fleet.toml", e))?;
    crate::output::print(
        global,
        || {
            format!(
                "Created fleet.toml and {}.\nNext: `flotilla plan` to see what would run, `flotilla apply` to run it.\n",
                first.display()
            )
        },
        || serde_json::json!({ "fleet": "fleet.toml", "migrations": [first] }),
    );
    Ok(Outcome::Success)
}
