//! Command-line interface. Kept small: every option here is also documented in the README.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "livescan",
    version,
    about = "Scan a live Linux system and find what its packages cannot rebuild",
    after_help = crate::exit_code::TABLE
)]
pub struct Cli {
    /// Configuration file [default: /etc/livescan/livescan.toml, if present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk the filesystem, read the package databases, classify every path, write the report
    #[command(after_help = crate::exit_code::TABLE)]
    Scan(ScanArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The system to scan, mounted at DIR; package databases, symlinks and user names are
    /// all resolved inside it
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Leave out this absolute path of the scanned system and everything below it (whole
    /// path components, no globs; repeatable; adds to the config file's list). `-e /` scans
    /// packages only
    #[arg(short = 'e', long = "exclude", value_name = "PATH")]
    pub exclude: Vec<PathBuf>,
    /// Where the full report goes; `-` for stdout
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Worker threads for walking and hashing [default: all cores]
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds to wait for a package manager holding its database lock
    #[arg(long, value_name = "SECS")]
    pub lock_wait: Option<u64>,
    /// Lower the scan's CPU priority to this niceness (0-19)
    #[arg(long, value_name = "N")]
    pub nice: Option<i32>,
    /// Use the idle I/O scheduling class, so the workload's I/O always goes first
    #[arg(long)]
    pub ionice_idle: bool,
    /// Use this captured mount table instead of /proc/self/mountinfo (for tests and --root)
    #[arg(long, value_name = "FILE", hide = true)]
    pub mountinfo: Option<PathBuf>,
    /// Single-instance lock file [default: /run/lock/livescan.lock or a fallback]
    #[arg(long, value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
    /// Print no summary
    #[arg(short, long)]
    pub quiet: bool,
}
