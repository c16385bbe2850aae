//! Locks: never block a package manager, never run twice at once.
//!
//! * The single-instance lock is an `flock` on our own lock file: tied to the open file, so it
//!   goes away with the process however it ends, and a second open of the file (even in this
//!   process) cannot take it.
//! * Package-manager locks are only *looked at*, never taken: a lock we held for even a moment
//!   could make `apt` or `rpm` fail with "could not get lock" on a production host.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a held package-manager lock is looked at again.
const POLL: Duration = Duration::from_millis(200);

/// A pid is a few digits; anything longer in a lock file is not one.
const MAX_PID_TEXT: usize = 32;

/// `/proc/locks` holds one line per lock on the host; read at most this much of it.
const MAX_PROC_LOCKS: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another livescan run{} holds {path}", pid_note(.pid))]
    AlreadyRunning { path: PathBuf, pid: Option<i32> },
    #[error(
        "{path} is locked by a package manager{}; gave up after {:.1} s",
        pid_note(.pid),
        .waited.as_secs_f64()
    )]
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

fn pid_note(pid: &Option<i32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Held for the whole run; released when dropped (the flock belongs to the open file).
///
/// The lock file is never removed: unlinking it would let a second run lock a new file
/// while a third still holds the old, unlinked one, and two runs would go ahead.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// `/run/lock/livescan.lock` where `/run/lock` can be written, else `/var/lock/livescan.lock`,
/// else `livescan-<uid>.lock` in the temp dir (per user, since the temp dir is shared).
pub fn default_instance_lock_path() -> PathBuf {
    for dir in ["/run/lock", "/var/lock"] {
        let dir = Path::new(dir);
        // access(2) also refuses a read-only filesystem, which the mode bits do not show.
        let writable = nix::unistd::access(
            dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok();
        if writable && dir.is_dir() {
            return dir.join("livescan.lock");
        }
    }
    std::env::temp_dir().join(format!("livescan-{}.lock", nix::unistd::geteuid()))
}

/// Take the single-instance lock at `path` without waiting, and write our pid into the file
/// (for humans; the lock itself is the flock).
pub fn acquire_instance_lock(path: &Path) -> Result<InstanceLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    // The directory may be world-writable (Debian's /run/lock is 1777, the temp dir always
    // is), and we run as root: O_NOFOLLOW so a planted symlink cannot make us write to
    // another file, O_NONBLOCK and O_NOCTTY so a planted device node cannot hang us or
    // become our terminal. Not truncated on open: the file may be another run's.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let me = nix::unistd::geteuid().as_raw();
    // A hard link in a shared directory is the other way to aim us at someone's file (where
    // protected_hardlinks is off, as on older kernels).
    if !meta.file_type().is_file() || meta.uid() != me || meta.nlink() != 1 {
        return Err(io(std::io::Error::other(format!(
            "not used as the lock file: it must be a regular file owned by uid {me} with one \
             link (it is owned by uid {} and has {} links)",
            meta.uid(),
            meta.nlink()
        ))));
    }
    loop {
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => {
                return Err(LockError::AlreadyRunning {
                    path: path.to_path_buf(),
                    pid: pid_at_start(&file),
                })
            }
            _ => return Err(io(e)),
        }
    }
    let pid = format!("{}\n", std::process::id());
    if let Err(e) = file
        .set_len(0)
        .and_then(|()| file.write_all_at(pid.as_bytes(), 0))
    {
        // The lock is held all the same; only the note for humans is missing.
        log::warn!("{}: could not write our pid: {e}", path.display());
    }
    Ok(InstanceLock { _file: file })
}

/// Wait until none of `lock_files` (host paths) is held by a package manager, at most
/// `max_wait`; then fail naming the first file still held and, where known, its holder.
///
/// * fcntl (POSIX) locks — dpkg's `lock` and `lock-frontend`, rpm's `.rpm.lock`, apk's
///   `lib/apk/db/lock` in older versions — are probed with `F_GETLK` on a read-only
///   descriptor. `F_GETLK` only reports; it never takes the lock, so we never block a package
///   manager. It asks about a *write* lock, so a holder of a read lock counts too: waiting
///   needlessly costs time, reading a database mid-transaction costs correctness.
/// * flock locks — apk — are invisible to `F_GETLK`; they are looked up in `/proc/locks` by
///   device and inode.
/// * pacman's `db.lck` is a lock by existing.
///
/// A missing lock file is not held. A lock file is opened with O_NOFOLLOW|O_NONBLOCK and never
/// created. Note: closing a descriptor drops all fcntl locks *this process* holds on the file;
/// livescan holds none.
pub fn wait_for_db_locks(lock_files: &[PathBuf], max_wait: Duration) -> Result<(), LockError> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        let mut flocks = None;
        let mut held = None;
        for path in lock_files {
            if let Probe::Held(pid) = probe(path, &mut flocks)? {
                held = Some((path, pid));
                break;
            }
        }
        let Some((path, pid)) = held else {
            return Ok(());
        };
        let waited = start.elapsed();
        if waited >= max_wait {
            return Err(LockError::DbLocked {
                path: path.clone(),
                pid,
                waited,
            });
        }
        if !announced {
            log::warn!(
                "{} is locked by a package manager{}; waiting up to {:.0} s",
                path.display(),
                pid_note(&pid),
                max_wait.as_secs_f64()
            );
            announced = true;
        }
        std::thread::sleep(POLL.min(max_wait - waited));
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Probe {
    Free,
    Held(Option<i32>),
}

/// Whether `path` is locked now. `flocks` is `/proc/locks`, read at most once per round.
fn probe(path: &Path, flocks: &mut Option<Vec<ProcLock>>) -> Result<Probe, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.file_name().is_some_and(|n| n == "db.lck") {
        // pacman creates db.lck with O_EXCL and removes it when done. A stale one (pacman
        // was killed) stops pacman itself until someone removes it, so it is reported too.
        return match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(Probe::Held(pid_in_file(path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Probe::Free),
            Err(e) => Err(io(e)),
        };
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Free),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::ELOOP)
            ) =>
        {
            // Not root (dpkg's lock is 0640 root:root), or a symlink where a lock file
            // should be, which we must not follow (with --root it may point out of the
            // scanned system). Waiting would not change either.
            log::warn!(
                "{}: cannot check whether a package manager holds it: {e}",
                path.display()
            );
            return Ok(Probe::Free);
        }
        Err(e) => return Err(io(e)),
    };
    // SAFETY: all-zero is a valid `struct flock`; F_GETLK only writes into it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start = 0 and l_len = 0: the whole file.
    // SAFETY: a descriptor owned by `file`, and a pointer to a live `struct flock`.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) } == -1 {
        return Err(io(std::io::Error::last_os_error()));
    }
    if fl.l_type != libc::F_UNLCK as libc::c_short {
        // 0: the holder is in another pid namespace; -1: an open-file-description lock.
        return Ok(Probe::Held((fl.l_pid > 0).then_some(fl.l_pid)));
    }
    let meta = file.metadata().map_err(io)?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let flocks = flocks.get_or_insert_with(read_proc_locks);
    // /proc/locks names the superblock's device; on btrfs (per-subvolume st_dev) that is not
    // st_dev, and an flock there is not seen. apk runs on Alpine, rarely on btrfs.
    Ok(
        match flocks
            .iter()
            .find(|l| (l.major, l.minor, l.inode) == (major, minor, meta.ino()))
        {
            Some(l) => Probe::Held(l.pid),
            None => Probe::Free,
        },
    )
}

/// A pid written in a lock file (older pacman versions did), if there is one.
fn pid_in_file(path: &Path) -> Option<i32> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let mut text = Vec::new();
    file.take(MAX_PID_TEXT as u64).read_to_end(&mut text).ok()?;
    parse_pid(&text)
}

/// The pid another run wrote at the start of our lock file.
fn pid_at_start(file: &File) -> Option<i32> {
    let mut buf = [0u8; MAX_PID_TEXT];
    let n = file.read_at(&mut buf, 0).ok()?;
    parse_pid(&buf[..n])
}

fn parse_pid(text: &[u8]) -> Option<i32> {
    std::str::from_utf8(text)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

/// One flock from `/proc/locks`.
#[derive(Debug, PartialEq, Eq)]
struct ProcLock {
    major: u32,
    minor: u32,
    inode: u64,
    pid: Option<i32>,
}

fn read_proc_locks() -> Vec<ProcLock> {
    let mut text = Vec::new();
    match File::open("/proc/locks").and_then(|f| f.take(MAX_PROC_LOCKS).read_to_end(&mut text)) {
        Ok(_) => parse_proc_locks(&text),
        Err(e) => {
            log::debug!("/proc/locks: {e}; flock-style package manager locks are not seen");
            Vec::new()
        }
    }
}

/// Held flocks in `/proc/locks` text (`1: FLOCK  ADVISORY  WRITE 20324 fe:00:9838593 0 EOF`;
/// device numbers in hex). Waiters (`1: -> FLOCK …`) hold nothing; POSIX and OFD locks are
/// seen by `F_GETLK` already.
fn parse_proc_locks(text: &[u8]) -> Vec<ProcLock> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().skip(1);
            if f.next()? != "FLOCK" {
                return None; // another kind of lock, or "->" (a waiter)
            }
            let _mode = f.next()?; // ADVISORY / MANDATORY
            if f.next()? != "WRITE" {
                // A shared lock is a reader (rpm's NDB takes LOCK_SH to read): nothing to wait for.
                return None;
            }
            let pid: i32 = f.next()?.parse().ok()?;
            let mut dev = f.next()?.split(':');
            Some(ProcLock {
                major: u32::from_str_radix(dev.next()?, 16).ok()?,
                minor: u32::from_str_radix(dev.next()?, 16).ok()?,
                inode: dev.next()?.parse().ok()?,
                pid: (pid > 0).then_some(pid),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Child, Command, Stdio};

    /// A real second process holding a lock, as a package manager would: fcntl locks of our
    /// own process are invisible to F_GETLK, so it has to be another process. python3 is a
    /// test dependency (test.sh installs it).
    struct Holder {
        child: Child,
    }

    impl Holder {
        /// `how` is Python taking a lock on the open file `f`.
        fn new(path: &Path, how: &str) -> Holder {
            let script = format!(
                "import fcntl,sys\nf=open(sys.argv[1],'r+')\n{how}\n\
                 print('locked',flush=True)\nsys.stdin.read()"
            );
            let mut child = Command::new("python3")
                .arg("-c")
                .arg(script)
                .arg(path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 must be installed for the lock tests (test.sh installs it)");
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "locked");
            Holder { child }
        }

        fn pid(&self) -> Option<i32> {
            Some(self.child.id() as i32)
        }

        /// Close its stdin: it exits, and the kernel drops its locks.
        fn release(&mut self) {
            drop(self.child.stdin.take());
            self.child.wait().unwrap();
        }
    }

    impl Drop for Holder {
        fn drop(&mut self) {
            // A failed assertion must not leave the child behind.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn lock_file(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, b"").unwrap();
        p
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn instance_lock_is_exclusive_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("livescan.lock");
        let first = acquire_instance_lock(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        // flock belongs to the open file, so a second open in this process is refused too.
        let e = acquire_instance_lock(&p).unwrap_err();
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        match e {
            LockError::AlreadyRunning { path, pid } => {
                assert_eq!(path, p);
                assert_eq!(pid, Some(std::process::id() as i32));
            }
            other => panic!("{other}"),
        }
        drop(first);
        // Other tests spawn processes concurrently; until such a child execs it shares our
        // open file (and its flock), so allow a moment for the lock to go.
        let mut last = None;
        for _ in 0..100 {
            match acquire_instance_lock(&p) {
                Ok(_) => return,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(ms(20));
        }
        panic!("lock not released: {last:?}");
    }

    #[test]
    fn instance_lock_refuses_symlinks_hard_links_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious\n").unwrap();

        let link = dir.path().join("symlink.lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = acquire_instance_lock(&link).unwrap_err();
        assert!(
            matches!(&e, LockError::Io { path, .. } if path == &link),
            "{e}"
        );

        let hard = dir.path().join("hard.lock");
        std::fs::hard_link(&victim, &hard).unwrap();
        let e = acquire_instance_lock(&hard).unwrap_err();
        assert!(e.to_string().contains("one link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");

        let sub = dir.path().join("dir.lock");
        std::fs::create_dir(&sub).unwrap();
        assert!(matches!(
            acquire_instance_lock(&sub),
            Err(LockError::Io { .. })
        ));
    }

    #[test]
    fn default_instance_lock_path_is_in_a_writable_directory() {
        let p = default_instance_lock_path();
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name == "livescan.lock" || name == format!("livescan-{}.lock", nix::unistd::geteuid()),
            "{}",
            p.display()
        );
        assert!(p.parent().unwrap().is_dir());
    }

    #[test]
    fn fcntl_write_lock_of_another_process_is_reported_with_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("lock-frontend");
        let p = lock_file(dir.path(), "lock");
        let mut holder = Holder::new(&p, "fcntl.lockf(f, fcntl.LOCK_EX)");
        let files = [missing.clone(), p.clone()];
        let e = wait_for_db_locks(&files, ms(300)).unwrap_err();
        match &e {
            LockError::DbLocked { path, pid, waited } => {
                assert_eq!(path, &p);
                assert_eq!(*pid, holder.pid());
                assert!(*waited >= ms(300), "{waited:?}");
            }
            other => panic!("{other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(&p.display().to_string()) && msg.contains("pid"),
            "{msg}"
        );
        // Looking never creates a lock file.
        assert!(!missing.exists());

        holder.release();
        // Released: Ok, where a held lock would be Err after the 300 ms.
        wait_for_db_locks(&files, ms(300)).unwrap();
    }

    #[test]
    fn waiting_ends_as_soon_as_the_lock_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = lock_file(dir.path(), ".rpm.lock");
        let mut holder = Holder::new(&p, "fcntl.lockf(f, fcntl.LOCK_EX)");
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(ms(500));
                holder.release();
            });
            wait_for_db_locks(std::slice::from_ref(&p), Duration::from_secs(30)).unwrap();
        });
        let waited = started.elapsed();
        assert!(
            waited >= ms(500) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
    }

    #[test]
    fn a_read_lock_counts_as_held() {
        let dir = tempfile::tempdir().unwrap();
        let p = lock_file(dir.path(), "lock");
        let holder = Holder::new(&p, "fcntl.lockf(f, fcntl.LOCK_SH)");
        match wait_for_db_locks(std::slice::from_ref(&p), Duration::ZERO) {
            Err(LockError::DbLocked { pid, .. }) => assert_eq!(pid, holder.pid()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flock_of_another_process_is_seen_through_proc_locks() {
        // apk takes flock(LOCK_EX), which F_GETLK does not see.
        let dir = tempfile::tempdir().unwrap();
        let p = lock_file(dir.path(), "lock");
        let mut holder = Holder::new(&p, "fcntl.flock(f, fcntl.LOCK_EX)");
        match wait_for_db_locks(std::slice::from_ref(&p), ms(100)) {
            Err(LockError::DbLocked { path, pid, .. }) => {
                assert_eq!(path, p);
                assert_eq!(pid, holder.pid());
            }
            other => panic!("{other:?}"),
        }
        holder.release();
        wait_for_db_locks(&[p], Duration::ZERO).unwrap();
    }

    #[test]
    fn pacman_db_lck_is_held_by_existing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.lck");
        wait_for_db_locks(std::slice::from_ref(&p), Duration::ZERO).unwrap();
        assert!(!p.exists());
        std::fs::write(&p, b"").unwrap();
        match wait_for_db_locks(std::slice::from_ref(&p), ms(250)) {
            Err(LockError::DbLocked { path, pid, waited }) => {
                assert_eq!(path, p);
                assert_eq!(pid, None);
                assert!(waited >= ms(250));
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&p, b"4242\n").unwrap();
        assert!(matches!(
            wait_for_db_locks(std::slice::from_ref(&p), Duration::ZERO),
            Err(LockError::DbLocked {
                pid: Some(4242),
                ..
            })
        ));
        // A dangling symlink named db.lck exists all the same (and is not followed).
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &p).unwrap();
        assert!(wait_for_db_locks(&[p], Duration::ZERO).is_err());
    }

    #[test]
    fn unlocked_and_missing_files_do_not_wait() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            lock_file(dir.path(), "lock"),
            dir.path().join("absent"),
            lock_file(dir.path(), "lock-frontend"),
        ];
        // Ok at all means no wait ran out (a wait that wrongly started would end in Err
        // after 30 s); no tighter wall-clock bound, which a loaded machine could break.
        wait_for_db_locks(&files, Duration::from_secs(30)).unwrap();
        wait_for_db_locks(&[], Duration::from_secs(30)).unwrap();
    }

    #[test]
    fn proc_locks_lines() {
        let text = b"1: POSIX  ADVISORY  WRITE 812 fe:01:1234 0 EOF\n\
            2: FLOCK  ADVISORY  WRITE 20324 fe:00:9838593 0 EOF\n\
            2: -> FLOCK  ADVISORY  WRITE 20400 fe:00:9838593 0 EOF\n\
            3: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF\n\
            4: FLOCK  ADVISORY  WRITE  0 103:1f:77 0 EOF\n\
            4: FLOCK  ADVISORY  READ  0 103:1f:78 0 EOF\n\
            5: LEASE  ACTIVE    READ  99 08:01:5 0 EOF\n\
            garbage\n6: FLOCK\n";
        assert_eq!(
            parse_proc_locks(text),
            vec![
                ProcLock {
                    major: 0xfe,
                    minor: 0,
                    inode: 9838593,
                    pid: Some(20324)
                },
                ProcLock {
                    major: 0x103,
                    minor: 0x1f,
                    inode: 77,
                    pid: None
                },
            ]
        );
        // Shared flocks are readers (NDB's LOCK_SH): not a reason to wait.
        let text = b"4: FLOCK  ADVISORY  READ  0 103:1f:77 0 EOF\n";
        assert_eq!(parse_proc_locks(text), vec![]);
        let text = b"4: FLOCK  ADVISORY  WRITE  0 103:1f:77 0 EOF\n";
        assert_eq!(
            parse_proc_locks(text),
            vec![ProcLock {
                major: 0x103,
                minor: 0x1f,
                inode: 77,
                pid: None
            }]
        );
    }
}
