//! One coordinator per ledger. The lock is an OS file lock on `<ledger>.lock`, so it disappears with
//! the process that held it, even after SIGKILL; the file's text names the holder for the message
//! the second coordinator prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Context, LedgerError};

/// Who holds the ledger.
#[derive(Debug, Clone)]
pub struct Holder {
    pub run_id: String,
    pub command: String,
    pub started_at: String,
}

/// Held for as long as a coordinator runs; dropping it releases the ledger.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
    path: PathBuf,
}

impl LedgerLock {
    /// Takes the ledger's lock or fails at once with `LedgerError::Busy` naming the holder.
    pub fn acquire(ledger: &Path) -> Result<Self, LedgerError> {
        let path = lock_path(ledger);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { file, path }),
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = if text.trim().is_empty() {
                    "another flotilla process that is starting a run".to_string()
                } else {
                    text.trim().to_string()
                };
                Err(LedgerError::Busy {
                    path: ledger.to_path_buf(),
                    holder,
                })
            }
            Err(TryLockError::Error(e)) => Err(e).at(&path),
        }
    }

    /// Records the holder in the lock file for anyone who finds the ledger busy.
    pub fn announce(&mut self, holder: &Holder) -> Result<(), LedgerError> {
        let text = format!(
            "run {} ({}, pid {}, started {})\n",
            holder.run_id,
            holder.command,
            std::process::id(),
            holder.started_at
        );
        self.file.set_len(0).at(&self.path)?;
        self.file.rewind().at(&self.path)?;
        self.file.write_all(text.as_bytes()).at(&self.path)?;
        self.file.flush().at(&self.path)
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    ledger.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_run() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.db");
        let mut first = LedgerLock::acquire(&ledger).unwrap();
        first
            .announce(&Holder {
                run_id: "r1".into(),
                command: "apply".into(),
                started_at: "t0".into(),
            })
            .unwrap();
        match LedgerLock::acquire(&ledger) {
            Err(LedgerError::Busy { holder, .. }) => {
                assert!(holder.contains("run r1 (apply"), "{holder}")
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        LedgerLock::acquire(&ledger).unwrap();
    }
}
