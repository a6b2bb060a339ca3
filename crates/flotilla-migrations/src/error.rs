//! Errors of the migration source. Loading never stops at the first problem: a `LoadError` carries
//! every problem found, each naming its file and, where it has one, its line.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with the migrations directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// The migrations directory could not be loaded; every problem found is listed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read migrations directory {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(problems))]
    Invalid { problems: Vec<Problem> },
}

fn render(problems: &[Problem]) -> String {
    let mut out = format!(
        "{} problem{} in the migrations directory:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

/// `flotilla new` could not write a migration.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error(
        "invalid migration name {0:?}: use letters, digits, '_' and '-' (for example add_orders_note)"
    )]
    InvalidName(String),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
