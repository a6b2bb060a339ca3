//! Errors of the fleet file. Every problem carries its position; a `FleetError` lists them all so
//! the operator fixes the file in one pass rather than one error per attempt.

use std::fmt;
use std::path::PathBuf;

use crate::location::Location;

/// One thing wrong with the fleet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetProblem {
    pub location: Location,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot read fleet file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<FleetProblem>,
    },
}

fn render(path: &std::path::Path, problems: &[FleetProblem]) -> String {
    let mut lines = problems
        .iter()
        .map(|p| format!("{}:{}: {}", path.display(), p.location, p.message));
    let mut out = lines.next().unwrap_or_default();
    for line in lines {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

impl fmt::Display for FleetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
