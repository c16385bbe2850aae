//! `rpmdb.sqlite` (rpm ≥ 4.16: Fedora ≥ 33, RHEL/Rocky/Alma 9, Amazon Linux 2023, Mariner 2):
//! `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`, one header blob per row.
//!
//! rpm keeps the database in WAL mode, so committed transactions may still sit in
//! `rpmdb.sqlite-wal`: open read-only *with* the WAL. Reading through the WAL needs the
//! `-shm` file; on a read-only snapshot it cannot be created, and then (only then) fall back
//! to `immutable=1`, which ignores the WAL — and say so in the warnings.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::bdb::Record;

pub struct SqliteRead {
    pub records: Vec<Record>,
    /// Set when the immutable fallback was used (committed WAL content may be missing).
    pub warning: Option<String>,
}

pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"SQLite format 3\0")
}

pub fn read(path: &Path) -> Result<SqliteRead, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    match Connection::open_with_flags(path, flags).and_then(|c| query(&c)) {
        Ok(records) => Ok(SqliteRead {
            records,
            warning: None,
        }),
        Err(first) => {
            let records = read_immutable(path)?;
            Ok(SqliteRead {
                records,
                warning: Some(format!(
                    "{}: opened immutable (WAL ignored) because a normal read-only open failed: {first}",
                    path.display()
                )),
            })
        }
    }
}

/// Read ignoring the WAL and all locks: for read-only snapshots only.
fn read_immutable(path: &Path) -> Result<Vec<Record>, rusqlite::Error> {
    let uri = format!(
        "file:{}?immutable=1",
        percent_encode(path.as_os_str().as_bytes())
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    query(&Connection::open_with_flags(uri, flags)?)
}

fn query(conn: &Connection) -> Result<Vec<Record>, rusqlite::Error> {
    // rpm may be writing: wait a little for its lock instead of failing at once.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
    let rows = stmt.query_map([], |row| {
        let hnum: i64 = row.get(0)?;
        let blob: Vec<u8> = row.get(1)?;
        Ok((u32::try_from(hnum).unwrap_or(u32::MAX), blob))
    })?;
    rows.collect()
}

/// Percent-encode everything but unreserved characters and `/`, for a `file:` URI.
fn percent_encode(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkgdb::rpm::header::{tag, Header};
    use crate::shared_fixtures::pkgdb_fixture;

    /// Fixtures are read-only and may not be written (rpm would create -wal/-shm): copy first.
    fn copy_fixture(rel: &str) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
        let src = pkgdb_fixture(rel)?;
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("rpmdb.sqlite");
        std::fs::copy(src, &dst).unwrap();
        Some((dir, dst))
    }

    #[test]
    fn mariner_has_129_packages() {
        let Some((_d, p)) = copy_fixture("rpm-sqlite/cbl-mariner-2.0/rpmdb.sqlite") else {
            return;
        };
        let r = read(&p).unwrap();
        assert_eq!(r.records.len(), 129);
        let curl = r
            .records
            .iter()
            .map(|(_, b)| Header::parse(b).unwrap())
            .find(|h| h.string(tag::NAME) == Some(&b"curl"[..]))
            .unwrap();
        assert_eq!(curl.string_array(tag::BASENAMES).unwrap().len(), 6);
    }

    #[test]
    fn committed_rows_in_the_wal_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rpmdb.sqlite");
        let writer = Connection::open(&p).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
            )
            .unwrap();
        // Checkpoint the schema, then commit a row that stays in the WAL while the
        // writer (like a running rpm) keeps the database open.
        writer
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        writer
            .execute("INSERT INTO Packages (blob) VALUES (x'0102')", [])
            .unwrap();
        assert!(
            std::fs::metadata(dir.path().join("rpmdb.sqlite-wal"))
                .unwrap()
                .len()
                > 0
        );
        let r = read(&p).unwrap();
        assert_eq!(r.records, vec![(1, vec![1, 2])]);
        assert!(r.warning.is_none());
        // The immutable fallback would have missed it: that is why it is only a fallback.
        assert!(read_immutable(&p).unwrap().is_empty());
        drop(writer);
    }

    #[test]
    fn not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rpmdb.sqlite");
        std::fs::write(&p, b"SQLite format 3\0garbage garbage garbage").unwrap();
        assert!(read(&p).is_err());
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode(b"/a b/%?#"), "/a%20b/%25%3F%23");
    }
}
