//! URL handling that must never leak credentials: classification by scheme and redaction.

use std::path::Path;

use crate::model::{SqliteTarget, Target};

/// The URL with any password replaced by `***`, both in the user-info part and in a `password=`
/// query parameter. Everything Flotilla prints, logs or records goes through this.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                out.replace_range(start..authority_start + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("pass") =>
                {
                    format!("{key}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// The tenant a URL names: a SQLite file (a relative path is taken from `dir`, the fleet file's
/// directory), a PostgreSQL database or a MySQL database. The error message never holds a password.
pub fn target_from_url(url: &str, dir: &Path) -> Result<Target, String> {
    match scheme(url) {
        Some(Scheme::Sqlite) => sqlite_target(url, dir).map(Target::Sqlite),
        Some(Scheme::Postgres) => Ok(Target::Postgres {
            url: url.to_string(),
        }),
        Some(Scheme::MySql) => Ok(Target::MySql {
            url: url.to_string(),
        }),
        None => Err(format!(
            "url must start with postgres://, mysql:// or sqlite:// (got {})",
            redact_url(url)
        )),
    }
}

/// `sqlite://path?mode=...` (or `sqlite:path`). Only `mode=rwc` allows creating a missing file.
fn sqlite_target(url: &str, dir: &Path) -> Result<SqliteTarget, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(
            "a SQLite tenant needs a file path (in-memory databases are not tenants)".into(),
        );
    }
    let mut create = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("mode", "rwc")) => create = true,
            Some(("mode", "rw")) => create = false,
            Some(("mode", other)) => {
                return Err(format!("unsupported SQLite mode {other:?} (use rw or rwc)"));
            }
            _ => {
                return Err(format!(
                    "unsupported SQLite URL parameter {pair:?} (only mode=rw|rwc)"
                ));
            }
        }
    }
    Ok(SqliteTarget {
        path: dir.join(path),
        create,
    })
}

/// The database family a URL points at, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Postgres,
    MySql,
    Sqlite,
}

pub(crate) fn scheme(url: &str) -> Option<Scheme> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Some(Scheme::Postgres)
    } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        Some(Scheme::MySql)
    } else if lower.starts_with("sqlite:") {
        Some(Scheme::Sqlite)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact_url("mysql://app:p@ss@db/x"), "mysql://app:***@db/x");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=s3cret"),
            "postgres://db/x?user=a&password=***"
        );
        assert_eq!(
            redact_url("sqlite://tenants/a.db?mode=rwc"),
            "sqlite://tenants/a.db?mode=rwc"
        );
    }
}
