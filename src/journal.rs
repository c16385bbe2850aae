//! Priorities for the systemd journal. Under systemd, stderr is a stream to journald and
//! `$JOURNAL_STREAM` holds its `device:inode`; a line that starts with `<N>` (sd-daemon(3):
//! 3 = err, 4 = warning, 6 = info) is stored with that priority, so `journalctl -p warning`
//! finds what needs a look. Anywhere else (a terminal, a file, a pipe) no prefix is written.

use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

pub use log::Level;

/// Whether stderr is the journal stream systemd gave us (not merely inherited variables:
/// a child with stderr redirected must not write prefixes into a file).
pub fn stderr_is_journal() -> bool {
    static IS: OnceLock<bool> = OnceLock::new();
    *IS.get_or_init(|| {
        let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
            return false;
        };
        let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
            return false;
        };
        // fd 2 is open for the whole process; File::from would close it, so fstat by path.
        std::fs::metadata("/proc/self/fd/2")
            .map(|m| m.dev() == dev && m.ino() == ino)
            .unwrap_or(false)
    })
}

/// The `<N>` prefix for a line of this level, or "" when stderr is not the journal.
pub fn prefix(level: log::Level) -> &'static str {
    if !stderr_is_journal() {
        return "";
    }
    match level {
        log::Level::Error => "<3>",
        log::Level::Warn => "<4>",
        log::Level::Info => "<6>",
        log::Level::Debug | log::Level::Trace => "<7>",
    }
}

/// `eprintln!` for an error line: `<3>` first when stderr is the journal.
#[macro_export]
macro_rules! errorln {
    ($($arg:tt)*) => {
        eprintln!("{}{}", $crate::journal::prefix($crate::journal::Level::Error), format_args!($($arg)*))
    };
}
