//! `flotilla new`: writing an empty migration with a UTC timestamp version.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::NewError;

/// Checks a migration name: letters, digits, `_` and `-`, not empty.
pub fn validate_name(name: &str) -> Result<(), NewError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(NewError::InvalidName(name.to_string()))
    }
}

/// Writes `<dir>/<YYYYMMDDHHMMSS>_<name>.sql` with empty up and down sections and returns its path.
///
/// Two migrations created within the same second would share a version, so the timestamp moves
/// forward a second at a time until it is free.
pub fn create_migration(dir: &Path, name: &str, now: DateTime<Utc>) -> Result<PathBuf, NewError> {
    validate_name(name)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NewError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let taken: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut at = now;
    loop {
        let version = at.format("%Y%m%d%H%M%S").to_string();
        let prefix = format!("{version}_");
        if !taken.iter().any(|f| f.starts_with(&prefix)) {
            let path = dir.join(format!("{version}_{name}.sql"));
            let template = "-- migrate:up\n\n\n-- migrate:down\n\n";
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, template.as_bytes()))
                .map_err(io(&path))?;
            return Ok(path);
        }
        at += chrono::Duration::seconds(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_a_timestamped_file_and_avoids_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let first = create_migration(dir.path(), "add_users", now).unwrap();
        let second = create_migration(dir.path(), "add_orders", now).unwrap();
        assert!(first.ends_with("20260102030405_add_users.sql"));
        assert!(second.ends_with("20260102030406_add_orders.sql"));
        assert!(matches!(
            create_migration(dir.path(), "bad name", now),
            Err(NewError::InvalidName(_))
        ));
    }
}
