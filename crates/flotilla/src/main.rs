//! The `flotilla` binary: parses arguments, sets up logging, runs one command, and turns its result
//! into an exit code. The work lives in the library crates; this crate only wires them together.

mod cli;
mod commands;
mod context;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::Outcome;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let global = &cli.global;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init => commands::init::run(global),
            Command::New { name } => commands::new::run(global, &name),
            Command::Plan { to, selection } => {
                commands::plan::run(global, to, selection.into()).await
            }
            Command::Apply {
                to,
                dry_run,
                resume,
                selection,
            } => commands::apply::run(global, to, dry_run, resume, selection.into()).await,
            Command::Status { live, selection } => {
                commands::status::run(global, live, selection.into()).await
            }
            Command::Runs { run } => commands::runs::run(global, run.as_deref()),
        }
    });
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::TenantsFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Logs go to stderr. Default: warnings; `-v` info, `-vv` debug; `-q` errors only. `RUST_LOG`
/// overrides all of it. Database drivers stay at warn so their statement logs never leak SQL noise.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},sqlx=warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
