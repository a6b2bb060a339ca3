//! Command-line arguments. Global options may come before or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "flotilla",
    version,
    about = "Roll SQL schema migrations across a fleet of tenant databases",
    long_about = "Roll SQL schema migrations across a fleet of tenant databases: canary waves first, \
bounded concurrency, a failure budget that halts the rollout, and a local ledger of every run.\n\n\
Exit codes: 0 success or nothing to do, 1 a tenant failed or the rollout halted, 2 invalid input \
(nothing was touched), 4 another run holds the ledger."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The fleet file
    #[arg(
        long,
        global = true,
        env = "FLOTILLA_FLEET",
        default_value = "fleet.toml",
        value_name = "PATH"
    )]
    pub fleet: PathBuf,
    /// Output format; json prints one document on stdout at the end
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Never draw progress bars (they are drawn on stderr, and only on a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// More log output on stderr (-v: progress of waves, -vv: every tenant and migration)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter fleet.toml and migrations/ in the current directory
    Init,
    /// Write a new migration file with empty up and down sections
    New {
        /// Letters, digits, '_' and '-'; the version is the current UTC time (YYYYMMDDHHMMSS)
        name: String,
    },
    /// Show what apply would do, per wave and tenant; touches nothing
    Plan {
        /// Plan up to and including this version
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Roll pending migrations forward, wave by wave
    Apply {
        /// Apply up to and including this version
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the plan and touch nothing
        #[arg(long)]
        dry_run: bool,
        /// Continue a run that paused at a manual gate
        #[arg(long, value_name = "RUN", conflicts_with_all = ["dry_run", "to"])]
        resume: Option<String>,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Per tenant: version, pending migrations, dirty flag and last run (from the ledger)
    Status {
        /// Read every tenant's tracking table instead of the ledger
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Ledger history, newest first; with RUN, that run's tenants and errors
    Runs { run: Option<String> },
}

#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// Only this tenant (repeatable)
    #[arg(long = "tenant", value_name = "ID")]
    pub tenants: Vec<String>,
    /// Only tenants with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only this wave
    #[arg(long, value_name = "NAME")]
    pub wave: Option<String>,
}

impl From<SelectionArgs> for flotilla_rollout::Selection {
    fn from(args: SelectionArgs) -> Self {
        Self {
            tenants: args.tenants,
            tags: args.tags,
            wave: args.wave,
        }
    }
}
