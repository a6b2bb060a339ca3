//! From raw TOML to a validated `Fleet`, collecting every problem with its position.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::error::{FleetError, FleetProblem};
use crate::interpolate::interpolate;
use crate::location::Location;
use crate::model::*;
use crate::raw::*;
use crate::url::{Scheme, redact_url, scheme, target_from_url};

/// Reads and validates the fleet file at `path`, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Fleet, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|source| FleetError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, &|name| std::env::var(name).ok())
}

/// Validates fleet-file `text` as if read from `path`; `env` resolves `${VAR}` references.
pub fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Fleet, FleetError> {
    let invalid = |problems| FleetError::Invalid {
        path: path.to_path_buf(),
        problems,
    };
    let raw: RawFleet = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| Location::of_offset(text, span.start))
            .unwrap_or_default();
        invalid(vec![FleetProblem {
            location,
            message: e.message().trim().to_string(),
        }])
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let mut checker = Checker {
        text,
        env,
        dir: &dir,
        problems: Vec::new(),
    };
    let fleet = checker.fleet(raw, path);
    let mut problems = checker.problems;
    if problems.is_empty() {
        Ok(fleet)
    } else {
        problems.sort_by_key(|p| p.location);
        Err(invalid(problems))
    }
}

struct Checker<'a> {
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    dir: &'a Path,
    problems: Vec<FleetProblem>,
}

impl Checker<'_> {
    fn at<T>(&self, value: &Spanned<T>) -> Location {
        Location::of_offset(self.text, value.span().start)
    }

    fn problem(&mut self, location: Location, message: impl Into<String>) {
        self.problems.push(FleetProblem {
            location,
            message: message.into(),
        });
    }

    /// The string with `${VAR}` expanded, or `None` after recording why not.
    fn expand(&mut self, value: &Spanned<String>) -> Option<String> {
        match interpolate(value.get_ref(), self.env) {
            Ok(expanded) => Some(expanded),
            Err(message) => {
                let location = self.at(value);
                self.problem(location, message);
                None
            }
        }
    }

    fn path(&mut self, value: &Spanned<String>) -> Option<PathBuf> {
        self.expand(value).map(|p| self.dir.join(p))
    }

    fn duration(&mut self, value: Option<&Spanned<String>>, default: Duration) -> Duration {
        let Some(value) = value else { return default };
        match humantime::parse_duration(value.get_ref()) {
            Ok(duration) => duration,
            Err(e) => {
                let location = self.at(value);
                self.problem(
                    location,
                    format!(
                        "invalid duration {:?}: {e} (use e.g. \"500ms\", \"10s\", \"15m\", \"1h\")",
                        value.get_ref()
                    ),
                );
                default
            }
        }
    }

    /// A limit of zero would fail every tenant at once; it is refused rather than obeyed.
    fn positive_duration(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let duration = self.duration(value, default);
        if let Some(value) = value.filter(|_| duration.is_zero()) {
            let location = self.at(value);
            self.problem(location, format!("{key} must be greater than zero"));
            return default;
        }
        duration
    }

    fn count(
        &mut self,
        value: Option<&Spanned<i64>>,
        key: &str,
        min: i64,
        default: usize,
    ) -> usize {
        let Some(value) = value else { return default };
        if *value.get_ref() < min {
            let location = self.at(value);
            self.problem(location, format!("{key} must be at least {min}"));
            return default;
        }
        *value.get_ref() as usize
    }

    fn fleet(&mut self, raw: RawFleet, path: &Path) -> Fleet {
        let section = raw.fleet.unwrap_or(RawFleetSection {
            migrations: None,
            ledger: None,
        });
        let migrations_dir = section
            .migrations
            .as_ref()
            .and_then(|m| self.path(m))
            .unwrap_or_else(|| self.dir.join("migrations"));
        let ledger_path = section
            .ledger
            .as_ref()
            .and_then(|l| self.path(l))
            .unwrap_or_else(|| self.dir.join(".flotilla/ledger.db"));
        let policy = self.policy(raw.policy);
        let servers = self.servers(&raw.servers);
        let tenants = self.tenants(&raw.tenants, &servers);
        let discover = self.discover(&raw.discover, &servers);
        let waves = self.waves(&raw.waves, &tenants);
        Fleet {
            path: path.to_path_buf(),
            dir: self.dir.to_path_buf(),
            migrations_dir,
            ledger_path,
            policy,
            servers,
            tenants,
            discover,
            waves,
        }
    }

    fn policy(&mut self, raw: Option<RawPolicy>) -> Policy {
        let defaults = Policy::default();
        let Some(raw) = raw else { return defaults };
        let transaction = match raw.transaction.as_ref() {
            None => defaults.transaction,
            Some(value) => match value.get_ref().as_str() {
                "migration" => TransactionMode::Migration,
                "tenant" => TransactionMode::Tenant,
                other => {
                    let location = self.at(value);
                    self.problem(location, format!("unknown transaction mode {other:?} (expected \"migration\" or \"tenant\")"));
                    defaults.transaction
                }
            },
        };
        Policy {
            concurrency: self.count(
                raw.concurrency.as_ref(),
                "concurrency",
                1,
                defaults.concurrency,
            ),
            per_server: self.count(
                raw.per_server.as_ref(),
                "per_server",
                1,
                defaults.per_server,
            ),
            lock_wait: self.duration(raw.lock_wait.as_ref(), defaults.lock_wait),
            lock_timeout: self.positive_duration(
                raw.lock_timeout.as_ref(),
                "lock_timeout",
                defaults.lock_timeout,
            ),
            statement_timeout: self.positive_duration(
                raw.statement_timeout.as_ref(),
                "statement_timeout",
                defaults.statement_timeout,
            ),
            tenant_timeout: self.positive_duration(
                raw.tenant_timeout.as_ref(),
                "tenant_timeout",
                defaults.tenant_timeout,
            ),
            transaction,
        }
    }

    fn servers(&mut self, raw: &[Spanned<RawServer>]) -> Vec<Server> {
        let mut seen: HashMap<String, Location> = HashMap::new();
        let mut servers = Vec::new();
        for entry in raw {
            let server = entry.get_ref();
            let location = self.at(&server.name);
            let name = server.name.get_ref().clone();
            if let Some(first) = seen.get(&name) {
                self.problem(
                    location,
                    format!(
                        "duplicate server name {name:?} (first declared at line {})",
                        first.line
                    ),
                );
                continue;
            }
            seen.insert(name.clone(), location);
            // A server whose URL cannot be used is still a server: the tenants naming it must not
            // each add an "unknown server" error to the one that matters.
            let url = self.expand(&server.url).unwrap_or_default();
            if !url.is_empty() && !matches!(scheme(&url), Some(Scheme::Postgres | Scheme::MySql)) {
                let at = self.at(&server.url);
                self.problem(
                    at,
                    format!(
                        "server {name:?}: url must start with postgres:// or mysql:// (got {})",
                        redact_url(&url)
                    ),
                );
                continue;
            }
            let max_connections = server
                .max_connections
                .as_ref()
                .map(|m| self.count(Some(m), "max_connections", 1, 1));
            servers.push(Server {
                name,
                redacted_url: redact_url(&url),
                url,
                max_connections,
                location,
            });
        }
        servers
    }

    fn tenants(&mut self, raw: &[Spanned<RawTenant>], servers: &[Server]) -> Vec<TenantSpec> {
        let mut seen: HashMap<String, Location> = HashMap::new();
        let mut tenants = Vec::new();
        for entry in raw {
            let tenant = entry.get_ref();
            let location = self.at(&tenant.id);
            let id = tenant.id.get_ref().trim().to_string();
            if id.is_empty() {
                self.problem(location, "tenant id is empty");
                continue;
            }
            if let Some(first) = seen.get(&id) {
                self.problem(
                    location,
                    format!(
                        "duplicate tenant id {id:?} (first declared at line {})",
                        first.line
                    ),
                );
                continue;
            }
            seen.insert(id.clone(), location);
            let Some(target) = self.target(&id, tenant, location, servers) else {
                continue;
            };
            let tags = tenant.tags.iter().map(|t| t.get_ref().clone()).collect();
            tenants.push(TenantSpec {
                id,
                target,
                tags,
                location,
            });
        }
        tenants
    }

    fn target(
        &mut self,
        id: &str,
        tenant: &RawTenant,
        location: Location,
        servers: &[Server],
    ) -> Option<Target> {
        match (&tenant.url, &tenant.server, &tenant.schema) {
            (Some(url), None, None) => {
                let expanded = self.expand(url)?;
                let at = self.at(url);
                match target_from_url(&expanded, self.dir) {
                    Ok(target) => Some(target),
                    Err(message) => {
                        self.problem(at, format!("tenant {id:?}: {message}"));
                        None
                    }
                }
            }
            (Some(url), _, _) => {
                let at = self.at(url);
                self.problem(at, format!("tenant {id:?} has both `url` and `server`/`schema`: a tenant is either a database (url) or a schema on a server"));
                None
            }
            (None, Some(server), Some(schema)) => {
                let name = server.get_ref();
                if !servers.iter().any(|s| &s.name == name) {
                    let at = self.at(server);
                    self.problem(at, format!("tenant {id:?} names unknown server {name:?}"));
                    return None;
                }
                if schema.get_ref().is_empty() {
                    let at = self.at(schema);
                    self.problem(at, format!("tenant {id:?} has an empty schema name"));
                    return None;
                }
                if servers
                    .iter()
                    .any(|s| &s.name == name && scheme(&s.url) == Some(Scheme::MySql))
                {
                    let at = self.at(server);
                    self.problem(at, format!("tenant {id:?}: server {name:?} is a MySQL server, and schema tenants live on PostgreSQL (give a MySQL tenant its own `url`)"));
                    return None;
                }
                Some(Target::Schema {
                    server: name.clone(),
                    schema: schema.get_ref().clone(),
                })
            }
            (None, Some(server), None) => {
                let at = self.at(server);
                self.problem(at, format!("tenant {id:?} names a server but no `schema`"));
                None
            }
            (None, None, Some(schema)) => {
                let at = self.at(schema);
                self.problem(at, format!("tenant {id:?} has a `schema` but no `server`"));
                None
            }
            (None, None, None) => {
                self.problem(
                    location,
                    format!("tenant {id:?} needs either `url` or `server` and `schema`"),
                );
                None
            }
        }
    }

    fn discover(&mut self, raw: &[Spanned<RawDiscover>], servers: &[Server]) -> Vec<Discover> {
        let mut out = Vec::new();
        for entry in raw {
            let location = self.at(entry);
            let d = entry.get_ref();
            let known_server =
                |name: &Spanned<String>| servers.iter().any(|s| &s.name == name.get_ref());
            let source = match (&d.sqlite, &d.server, &d.schemas, &d.query) {
                (Some(glob), None, None, None) => {
                    self.expand(glob).map(|pattern| DiscoverSource::SqliteGlob {
                        dir: self.dir.to_path_buf(),
                        pattern,
                    })
                }
                (None, Some(server), Some(_), None)
                    if servers.iter().any(|s| {
                        &s.name == server.get_ref() && scheme(&s.url) == Some(Scheme::MySql)
                    }) =>
                {
                    let at = self.at(server);
                    self.problem(at, format!("discover `schemas` needs a PostgreSQL server; {:?} is a MySQL server (use `query` returning (id, url))", server.get_ref()));
                    None
                }
                (None, Some(server), Some(like), None) if known_server(server) => {
                    Some(DiscoverSource::Schemas {
                        server: server.get_ref().clone(),
                        like: like.get_ref().clone(),
                    })
                }
                (None, Some(server), None, Some(query)) if known_server(server) => {
                    Some(DiscoverSource::Query {
                        server: server.get_ref().clone(),
                        query: query.get_ref().clone(),
                    })
                }
                (None, Some(server), _, _) if !known_server(server) => {
                    let at = self.at(server);
                    self.problem(
                        at,
                        format!("discover names unknown server {:?}", server.get_ref()),
                    );
                    None
                }
                _ => {
                    self.problem(location, "discover needs exactly one of: `sqlite = \"glob\"`, `server` + `schemas`, or `server` + `query`");
                    None
                }
            };
            if let Some(source) = source {
                out.push(Discover { source, location });
            }
        }
        out
    }

    fn waves(&mut self, raw: &[Spanned<RawWave>], tenants: &[TenantSpec]) -> Vec<WaveSpec> {
        if raw.is_empty() {
            return vec![WaveSpec {
                name: "all".into(),
                ids: Vec::new(),
                tags: Vec::new(),
                percent: None,
                budget: Budget::default(),
                bake: None,
                gate: None,
                location: Location::default(),
            }];
        }
        let mut names: HashMap<String, Location> = HashMap::new();
        let mut claimed: HashSet<&str> = HashSet::new();
        let mut catch_all: Option<String> = None;
        let mut waves = Vec::new();
        for entry in raw {
            let w = entry.get_ref();
            let location = self.at(&w.name);
            let name = w.name.get_ref().clone();
            if let Some(first) = names.get(&name) {
                self.problem(
                    location,
                    format!(
                        "duplicate wave name {name:?} (first declared at line {})",
                        first.line
                    ),
                );
            }
            names.insert(name.clone(), location);
            if let Some(previous) = &catch_all {
                self.problem(location, format!("wave {name:?} selects nothing: the earlier wave {previous:?} has no selector and takes every remaining tenant"));
            }

            let problems_before = self.problems.len();
            let ids: Vec<String> = w
                .tenants
                .iter()
                .flatten()
                .map(|t| t.get_ref().clone())
                .collect();
            for id in w.tenants.iter().flatten() {
                if !tenants.iter().any(|t| &t.id == id.get_ref()) {
                    let at = self.at(id);
                    self.problem(
                        at,
                        format!("wave {name:?} names unknown tenant {:?}", id.get_ref()),
                    );
                }
            }
            let tags: Vec<String> = w
                .tags
                .iter()
                .flatten()
                .map(|t| t.get_ref().clone())
                .collect();
            for tag in w.tags.iter().flatten() {
                if !tenants.iter().any(|t| t.tags.contains(tag.get_ref())) {
                    let at = self.at(tag);
                    self.problem(
                        at,
                        format!(
                            "wave {name:?} selects tag {:?}, which no tenant has",
                            tag.get_ref()
                        ),
                    );
                }
            }
            let percent = w.percent.as_ref().and_then(|p| {
                let value = *p.get_ref();
                if value > 0.0 && value <= 100.0 {
                    Some(value)
                } else {
                    let at = self.at(p);
                    self.problem(at, format!("wave {name:?}: percent must be greater than 0 and at most 100 (got {value})"));
                    None
                }
            });
            // Listed tenants this wave would take from those earlier waves left; a wave selecting
            // only by ids or tags that takes none of them can never select anything.
            let takes: Vec<&str> = tenants
                .iter()
                .filter(|t| !claimed.contains(t.id.as_str()))
                .filter(|t| ids.contains(&t.id) || t.tags.iter().any(|tag| tags.contains(tag)))
                .map(|t| t.id.as_str())
                .collect();
            let selectors_valid = self.problems.len() == problems_before;
            if (!ids.is_empty() || !tags.is_empty())
                && percent.is_none()
                && takes.is_empty()
                && selectors_valid
            {
                self.problem(location, format!("wave {name:?} selects nothing: every tenant it names was taken by an earlier wave"));
            }
            claimed.extend(takes);

            let budget = self.budget(w, &name);
            let bake = w
                .bake
                .as_ref()
                .map(|b| self.duration(Some(b), Duration::ZERO));
            let gate = w.gate.as_ref().and_then(|g| match g.get_ref().as_str() {
                "manual" => Some(Gate::Manual),
                other => {
                    let at = self.at(g);
                    self.problem(
                        at,
                        format!("wave {name:?}: unknown gate {other:?} (expected \"manual\")"),
                    );
                    None
                }
            });
            let wave = WaveSpec {
                name: name.clone(),
                ids,
                tags,
                percent,
                budget,
                bake,
                gate,
                location,
            };
            // Judged on what was written: a wave whose percent was refused is not a catch-all.
            let written_catch_all = w.tenants.is_none() && w.tags.is_none() && w.percent.is_none();
            if written_catch_all && catch_all.is_none() {
                catch_all = Some(name);
            }
            if let (Some(g), Some(_), true) = (&w.gate, wave.gate, waves.is_empty()) {
                let at = self.at(g);
                self.problem(at, format!("wave {:?} is the first wave: a gate stops a run before a later wave, and starting the run approves the first", wave.name));
            }
            waves.push(wave);
        }
        waves
    }

    fn budget(&mut self, w: &RawWave, name: &str) -> Budget {
        let max_failures = w.max_failures.as_ref().and_then(|m| {
            if *m.get_ref() < 0 {
                let at = self.at(m);
                self.problem(at, format!("wave {name:?}: max_failures must be 0 or more"));
                None
            } else {
                Some(*m.get_ref() as u64)
            }
        });
        let max_failure_rate = w.max_failure_rate.as_ref().and_then(|r| {
            let value = *r.get_ref();
            if (0.0..=1.0).contains(&value) {
                Some(value)
            } else {
                let at = self.at(r);
                self.problem(
                    at,
                    format!(
                        "wave {name:?}: max_failure_rate must be between 0 and 1 (got {value})"
                    ),
                );
                None
            }
        });
        let min_sample = w.min_sample.as_ref().map_or(0, |m| {
            if *m.get_ref() < 0 {
                let at = self.at(m);
                self.problem(at, format!("wave {name:?}: min_sample must be 0 or more"));
                0
            } else {
                *m.get_ref() as u64
            }
        });
        if let Some(sample) = &w.min_sample
            && w.max_failure_rate.is_none()
        {
            let at = self.at(sample);
            self.problem(
                at,
                format!("wave {name:?}: min_sample only applies together with max_failure_rate"),
            );
        }
        match (max_failures, max_failure_rate) {
            (None, None) if w.max_failures.is_none() && w.max_failure_rate.is_none() => {
                Budget::default()
            }
            (max_failures, max_failure_rate) => Budget {
                max_failures,
                max_failure_rate,
                min_sample,
            },
        }
    }
}
