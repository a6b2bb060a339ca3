//! The validated fleet: what the planner, the executor and the reporters work from. Paths are
//! resolved against the fleet file's directory, environment variables are expanded, and
//! every entry remembers where it was declared so later errors can still point at the file.

use std::path::PathBuf;
use std::time::Duration;

use crate::location::Location;

#[derive(Debug, Clone)]
pub struct Fleet {
    /// The fleet file itself, and the directory relative paths resolve against.
    pub path: PathBuf,
    pub dir: PathBuf,
    pub migrations_dir: PathBuf,
    pub ledger_path: PathBuf,
    pub policy: Policy,
    pub servers: Vec<Server>,
    pub tenants: Vec<TenantSpec>,
    pub discover: Vec<Discover>,
    /// Never empty: a file without `[[waves]]` gets one catch-all wave `all` with `max_failures = 0`.
    pub waves: Vec<WaveSpec>,
}

impl Fleet {
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// `fleet.toml:LINE:COL`, for messages about an entry of this file.
    pub fn at(&self, location: Location) -> String {
        format!("{}:{}", self.path.display(), location)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionMode {
    /// Each migration and its tracking row commit together.
    Migration,
    /// All of a tenant's pending migrations commit together, where the dialect allows it.
    Tenant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub concurrency: usize,
    pub per_server: usize,
    pub lock_wait: Duration,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub tenant_timeout: Duration,
    pub transaction: TransactionMode,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            concurrency: 16,
            per_server: 4,
            lock_wait: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(15 * 60),
            tenant_timeout: Duration::from_secs(30 * 60),
            transaction: TransactionMode::Migration,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    /// The URL with variables expanded. Secret: print `redacted_url` instead.
    pub url: String,
    pub redacted_url: String,
    pub max_connections: Option<usize>,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteTarget {
    pub path: PathBuf,
    /// True only when the URL says `mode=rwc`: a missing file is then created, otherwise the tenant
    /// is unreachable, so a typo never creates an empty tenant.
    pub create: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(SqliteTarget),
    /// A whole PostgreSQL database; the URL is secret.
    Postgres {
        url: String,
    },
    /// A whole MySQL/MariaDB database; the URL is secret.
    MySql {
        url: String,
    },
    /// A PostgreSQL schema on a shared server.
    Schema {
        server: String,
        schema: String,
    },
}

impl Target {
    pub fn dialect(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres { .. } | Target::Schema { .. } => "PostgreSQL",
            Target::MySql { .. } => "MySQL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub id: String,
    pub target: Target,
    pub tags: Vec<String>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub enum DiscoverSource {
    /// A glob relative to `dir` (the fleet file's directory) unless absolute; every match is a SQLite
    /// tenant whose id is the file stem. Kept apart from `dir` so that a directory name holding
    /// `[`, `*` or `?` is not read as a pattern.
    SqliteGlob { dir: PathBuf, pattern: String },
    /// Schemas of `server` whose name is `LIKE` the pattern; id = schema name.
    Schemas { server: String, like: String },
    /// Rows `(id, url)` or `(id, schema)` from a query on `server`.
    Query { server: String, query: String },
}

#[derive(Debug, Clone)]
pub struct Discover {
    pub source: DiscoverSource,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Halt when failures exceed this.
    pub max_failures: Option<u64>,
    /// Halt when failed / finished exceeds this, once `min_sample` tenants have finished.
    pub max_failure_rate: Option<f64>,
    pub min_sample: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_failures: Some(0),
            max_failure_rate: None,
            min_sample: 0,
        }
    }
}

impl Budget {
    /// True when `failed` failures among `finished` tenants (those that ran or failed) exceed the
    /// budget. Tenants that had nothing to do do not count as finished: they say nothing about
    /// whether the migrations are safe.
    pub fn exceeded(&self, failed: u64, finished: u64) -> bool {
        let by_count = self.max_failures.is_some_and(|max| failed > max);
        let by_rate = self.max_failure_rate.is_some_and(|rate| {
            finished > 0 && finished >= self.min_sample && (failed as f64 / finished as f64) > rate
        });
        by_count || by_rate
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Manual,
}

#[derive(Debug, Clone)]
pub struct WaveSpec {
    pub name: String,
    pub ids: Vec<String>,
    pub tags: Vec<String>,
    pub percent: Option<f64>,
    pub budget: Budget,
    pub bake: Option<Duration>,
    pub gate: Option<Gate>,
    pub location: Location,
}

impl WaveSpec {
    /// A wave with no selector takes every tenant that no earlier wave took.
    pub fn is_catch_all(&self) -> bool {
        self.ids.is_empty() && self.tags.is_empty() && self.percent.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// One more failure never brings a wave back within budget, and the count limit is exact.
        #[test]
        fn budgets_are_monotone_in_failures(
            max_failures in proptest::option::of(0u64..10),
            rate in proptest::option::of(0.0f64..1.0),
            min_sample in 0u64..30,
            finished in 0u64..100,
            failed_fraction in 0.0f64..1.0,
        ) {
            let budget = Budget { max_failures, max_failure_rate: rate, min_sample };
            let failed = (finished as f64 * failed_fraction) as u64;
            if budget.exceeded(failed, finished) && failed < finished {
                prop_assert!(budget.exceeded(failed + 1, finished));
            }
            if let (Some(max), None) = (max_failures, rate) {
                prop_assert_eq!(budget.exceeded(failed, finished), failed > max);
            }
            if max_failures.is_none() && finished < min_sample {
                prop_assert!(!budget.exceeded(failed, finished), "judged before min_sample");
            }
        }
    }

    #[test]
    fn budget_by_count_and_by_rate() {
        let strict = Budget::default();
        assert!(!strict.exceeded(0, 10));
        assert!(strict.exceeded(1, 10));
        let rate = Budget {
            max_failures: None,
            max_failure_rate: Some(0.05),
            min_sample: 20,
        };
        assert!(
            !rate.exceeded(5, 19),
            "below min_sample the rate is not judged"
        );
        assert!(rate.exceeded(2, 20));
        assert!(!rate.exceeded(1, 20), "exactly the rate is within budget");
        assert!(!rate.exceeded(2, 40));
        assert!(rate.exceeded(5, 40));
    }
}
