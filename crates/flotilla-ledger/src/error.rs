//! Ledger errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ledger {} is held by {holder}; wait for it to finish or stop it first", path.display())]
    Busy { path: PathBuf, holder: String },
    #[error(
        "ledger {} has schema version {found}, newer than this flotilla understands ({known}); upgrade flotilla",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("ledger {}: the writer stopped unexpectedly", path.display())]
    WriterGone { path: PathBuf },
    #[error("no run {run_id:?} in ledger {}", path.display())]
    NoSuchRun { path: PathBuf, run_id: String },
}

pub(crate) trait Context<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LedgerError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn at(self, path: &std::path::Path) -> Result<T, LedgerError> {
        self.map_err(|source| LedgerError::Sqlite {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn at(self, path: &std::path::Path) -> Result<T, LedgerError> {
        self.map_err(|source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
