//! Locks: never block a package manager, never run twice at once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

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

/// Held for the whole run; released when dropped (flock is tied to the open file).
pub struct InstanceLock {
    _file: File,
}

/// `/run/lock/livescan.lock` where it can be written, else `/var/lock`, else the temp dir.
pub fn default_instance_lock_path() -> PathBuf {
    for dir in ["/run/lock", "/var/lock"] {
        let d = Path::new(dir);
        if d.is_dir() && nix::unistd::access(d, nix::unistd::AccessFlags::W_OK).is_ok() {
            return d.join("livescan.lock");
        }
    }
    std::env::temp_dir().join(format!("livescan-{}.lock", nix::unistd::geteuid()))
}

/// Take the single-instance lock at `path` without waiting.
pub fn acquire_instance_lock(path: &Path) -> Result<InstanceLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(io)?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            LockError::AlreadyRunning {
                path: path.to_path_buf(),
            }
        } else {
            io(e)
        });
    }
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}", std::process::id());
    Ok(InstanceLock { _file: file })
}

/// Who holds a lock on `path`, without taking it: `F_GETLK` for fcntl locks (dpkg, rpm,
/// apk); for pacman's `db.lck` the file's existence is the lock.
fn holder(path: &Path) -> Result<Option<Option<i32>>, LockError> {
    if path.file_name().is_some_and(|n| n == "db.lck") {
        return Ok(path.exists().then_some(None));
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    // SAFETY: a zeroed flock struct is valid; F_GETLK only fills it in.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: valid fd and a pointer to a live flock struct.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) } != 0 {
        return Err(LockError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok((fl.l_type != libc::F_UNLCK as libc::c_short).then_some(Some(fl.l_pid)))
}

/// Wait until none of `lock_files` (host paths) is held, at most `max_wait`.
pub fn wait_for_db_locks(lock_files: &[PathBuf], max_wait: Duration) -> Result<(), LockError> {
    let start = Instant::now();
    loop {
        let mut held = None;
        for p in lock_files {
            if let Some(pid) = holder(p)? {
                held = Some((p.clone(), pid));
                break;
            }
        }
        let Some((path, pid)) = held else {
            return Ok(());
        };
        let waited = start.elapsed();
        if waited >= max_wait {
            return Err(LockError::DbLocked { path, pid, waited });
        }
        log::warn!("{} is locked by a package manager; waiting", path.display());
        std::thread::sleep(POLL.min(max_wait - waited));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn instance_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let first = acquire_instance_lock(&p).unwrap();
        assert!(matches!(
            acquire_instance_lock(&p),
            Err(LockError::AlreadyRunning { .. })
        ));
        drop(first);
        // Another test forks a child concurrently; until it execs it shares our open file
        // description, so allow a moment for the lock to be released.
        let mut last = None;
        for _ in 0..50 {
            match acquire_instance_lock(&p) {
                Ok(_) => return,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("lock not released: {last:?}");
    }

    #[test]
    fn fcntl_lock_of_another_process_is_seen_and_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        std::fs::write(&p, b"").unwrap();
        // A real second process holds a POSIX write lock, as dpkg does.
        let mut child = match Command::new("python3")
            .arg("-c")
            .arg("import fcntl,sys;f=open(sys.argv[1],'w');fcntl.lockf(f,fcntl.LOCK_EX);print('ok',flush=True);sys.stdin.read()")
            .arg(&p)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => return eprintln!("SKIP: python3 not available"),
        };
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ok");
        let e =
            wait_for_db_locks(std::slice::from_ref(&p), Duration::from_millis(300)).unwrap_err();
        match e {
            LockError::DbLocked { path, pid, .. } => {
                assert_eq!(path, p);
                assert_eq!(pid, Some(child.id() as i32));
            }
            other => panic!("{other}"),
        }
        drop(child.stdin.take());
        child.wait().unwrap();
        wait_for_db_locks(&[p], Duration::from_millis(300)).unwrap();
    }

    #[test]
    fn pacman_lock_is_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.lck");
        wait_for_db_locks(std::slice::from_ref(&p), Duration::ZERO).unwrap();
        std::fs::write(&p, b"").unwrap();
        assert!(wait_for_db_locks(&[p], Duration::ZERO).is_err());
    }
}
