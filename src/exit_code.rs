//! The one exit-code table of livescan (also printed by `--help` and in the README).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Scan complete, every entry read.
    Ok = 0,
    /// Fatal error: nothing useful was produced (bad root, corrupt package database, …).
    Fatal = 1,
    /// Bad command line or configuration file.
    Usage = 2,
    /// Complete report, but some entries were unreadable or changed while read (listed in it).
    Partial = 3,
    /// A package manager held its database lock for longer than `--lock-wait`.
    DbLocked = 4,
    /// Another livescan run holds the single-instance lock.
    AlreadyRunning = 5,
    /// The report or archive could not be written completely (disk full, closed pipe).
    OutputIncomplete = 6,
    /// Upload failed but may succeed when retried (network, 5xx).
    UploadRetryable = 7,
    /// Upload rejected by the server (4xx: credentials, quota, conflict).
    UploadRejected = 8,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The table as a string literal, so `--help` texts can `concat!` examples before it.
#[macro_export]
macro_rules! exit_table {
    () => {
        "\
Exit codes:
  0  ok: scan complete
  1  fatal error: no usable result (bad root, corrupt package database, ...)
  2  usage: bad command line or configuration file
  3  partial: report complete, but some files were unreadable or changed while read
  4  a package manager held its database lock longer than --lock-wait
  5  another livescan run is in progress
  6  output incomplete: the report could not be written (disk full, closed pipe)
  7  upload failed, retryable (network, server 5xx)
  8  upload rejected by the server (4xx)"
    };
}

/// The table as text, for `--help`.
pub const TABLE: &str = exit_table!();
