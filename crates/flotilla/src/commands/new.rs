//! `flotilla new NAME`.

use std::path::PathBuf;

use crate::cli::Global;
use crate::error::{CliError, Outcome};

pub fn run(global: &Global, name: &str) -> Result<Outcome, CliError> {
    // The fleet file decides where migrations live; without one, ./migrations.
    let dir = if global.fleet.exists() {
        crate::context::load_fleet(&global.fleet)?.migrations_dir
    } else {
        PathBuf::from("migrations")
    };
    let path = flotilla_migrations::create_migration(&dir, name, chrono::Utc::now())?;
    crate::output::print(
        global,
        || format!("Created {}\n", path.display()),
        || serde_json::json!({ "path": path }),
    );
    Ok(Outcome::Success)
}
