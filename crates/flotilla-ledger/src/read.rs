//! Reading the ledger for `status` and `runs`. A missing ledger file reads as empty history rather
//! than being created, so a read-only command leaves no trace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{Context, LedgerError};

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub command: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub parent_run: Option<String>,
    #[serde(skip)]
    pub target_version: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TenantRunRecord {
    pub tenant: String,
    pub wave: String,
    pub wave_index: usize,
    pub status: String,
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub applied: Vec<i64>,
    pub error_version: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
}

/// The last state the ledger holds of a tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantRecord {
    /// False when no run could read the tenant's tracking table yet (it was unreachable): its
    /// versions are then unknown, not empty.
    pub observed: bool,
    pub versions: Vec<i64>,
    pub dirty_version: Option<i64>,
    pub last_run: Option<String>,
    pub last_status: Option<String>,
}

pub struct Reader {
    conn: Option<Connection>,
    path: PathBuf,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let conn = if path.exists() {
            Some(crate::schema::open(path)?)
        } else {
            None
        };
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, LedgerError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        let mut stmt = conn
            .prepare(&format!(
                "{RUN_COLUMNS} ORDER BY started_at DESC, rowid DESC"
            ))
            .at(&self.path)?;
        let rows = stmt.query_map([], run_record).at(&self.path)?;
        rows.collect::<Result<_, _>>().at(&self.path)
    }

    pub fn run(&self, run_id: &str) -> Result<RunRecord, LedgerError> {
        let missing = || LedgerError::NoSuchRun {
            path: self.path.clone(),
            run_id: run_id.to_string(),
        };
        let Some(conn) = &self.conn else {
            return Err(missing());
        };
        conn.query_row(
            &format!("{RUN_COLUMNS} WHERE run_id = ?1"),
            params![run_id],
            run_record,
        )
        .optional()
        .at(&self.path)?
        .ok_or_else(missing)
    }

    /// A run's tenants in plan order, with the versions each one applied in that run.
    pub fn run_tenants(&self, run_id: &str) -> Result<Vec<TenantRunRecord>, LedgerError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        let mut applied: HashMap<String, Vec<i64>> = HashMap::new();
        let mut stmt = conn
            .prepare(
                "SELECT tenant_id, version FROM attempts WHERE run_id = ?1 AND status = 'succeeded' ORDER BY id",
            )
            .at(&self.path)?;
        for row in stmt
            .query_map(params![run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .at(&self.path)?
        {
            let (tenant, version) = row.at(&self.path)?;
            applied.entry(tenant).or_default().push(version);
        }
        let mut stmt = conn
            .prepare(
                "SELECT tenant_id, wave, wave_index, status, from_version, to_version, error_version, error, duration_ms
                 FROM run_tenants WHERE run_id = ?1 ORDER BY position",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                let tenant: String = r.get(0)?;
                Ok(TenantRunRecord {
                    applied: applied.get(&tenant).cloned().unwrap_or_default(),
                    tenant,
                    wave: r.get(1)?,
                    wave_index: r.get::<_, i64>(2)? as usize,
                    status: r.get(3)?,
                    from_version: r.get(4)?,
                    to_version: r.get(5)?,
                    error_version: r.get(6)?,
                    error: r.get(7)?,
                    duration_ms: r.get::<_, Option<i64>>(8)?.map(|d| d as u64),
                })
            })
            .at(&self.path)?;
        rows.collect::<Result<_, _>>().at(&self.path)
    }

    /// The last known state of every tenant the ledger has seen.
    pub fn tenants(&self) -> Result<HashMap<String, TenantRecord>, LedgerError> {
        let Some(conn) = &self.conn else {
            return Ok(HashMap::new());
        };
        let mut out: HashMap<String, TenantRecord> = HashMap::new();
        let mut stmt = conn
            .prepare("SELECT tenant_id, dirty_version, last_run, last_status, observed_at IS NOT NULL FROM tenants")
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    TenantRecord {
                        observed: r.get(4)?,
                        versions: Vec::new(),
                        dirty_version: r.get(1)?,
                        last_run: r.get(2)?,
                        last_status: r.get(3)?,
                    },
                ))
            })
            .at(&self.path)?;
        for row in rows {
            let (tenant, record) = row.at(&self.path)?;
            out.insert(tenant, record);
        }
        let mut stmt = conn
            .prepare("SELECT tenant_id, version FROM tenant_versions ORDER BY tenant_id, version")
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .at(&self.path)?;
        for row in rows {
            let (tenant, version) = row.at(&self.path)?;
            out.entry(tenant).or_default().versions.push(version);
        }
        Ok(out)
    }
}

const RUN_COLUMNS: &str =
    "SELECT run_id, command, status, started_at, finished_at, parent_run, target_version FROM runs";

fn run_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        run_id: r.get(0)?,
        command: r.get(1)?,
        status: r.get(2)?,
        started_at: r.get(3)?,
        finished_at: r.get(4)?,
        parent_run: r.get(5)?,
        target_version: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::{Op, Writer};

    #[test]
    fn writes_and_reads_back_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/ledger.db");
        assert!(Reader::open(&path).unwrap().runs().unwrap().is_empty());
        assert!(!path.exists(), "reading must not create the ledger");

        let writer = Writer::start(&path).unwrap();
        let run_id = "20260101-000000-abcd".to_string();
        writer.send(Op::RunStarted {
            run_id: run_id.clone(),
            command: "apply".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            parent_run: None,
            target_version: None,
            fleet: "fleet.toml".into(),
        });
        writer.send(Op::TenantsQueued {
            run_id: run_id.clone(),
            tenants: vec![
                ("a".into(), "canary".into(), 0),
                ("b".into(), "rest".into(), 1),
            ],
        });
        writer.send(Op::Observed {
            tenant: "a".into(),
            versions: vec![1],
            dirty_version: None,
            at: "t".into(),
        });
        writer.send(Op::Attempt {
            run_id: run_id.clone(),
            tenant: "a".into(),
            version: 2,
            direction: "up",
            status: "succeeded",
            error: None,
            started_at: "t".into(),
            duration_ms: 3,
        });
        writer.send(Op::TenantFinished {
            run_id: run_id.clone(),
            tenant: "a".into(),
            status: "succeeded",
            from_version: Some(1),
            to_version: Some(2),
            error_version: None,
            error: None,
            finished_at: "t".into(),
            duration_ms: Some(4),
        });
        writer.send(Op::RunFinished {
            run_id: run_id.clone(),
            status: "succeeded",
            finished_at: "t2".into(),
        });
        writer.finish().unwrap();

        let reader = Reader::open(&path).unwrap();
        let runs = reader.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        let tenants = reader.run_tenants(&run_id).unwrap();
        assert_eq!(tenants[0].applied, vec![2]);
        assert_eq!(tenants[1].status, "queued");
        let states = reader.tenants().unwrap();
        assert_eq!(states["a"].versions, vec![1, 2]);
        assert_eq!(states["a"].last_status.as_deref(), Some("succeeded"));
        assert!(matches!(
            reader.run("nope"),
            Err(LedgerError::NoSuchRun { .. })
        ));
    }
}
