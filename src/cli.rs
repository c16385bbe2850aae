//! Command-line interface. Kept small: every option here is also documented in the README.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "livescan",
    // The commit comes from build.rs (`unknown` when built from a tarball without .git).
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("LIVESCAN_GIT_COMMIT"), ")"),
    about = "Scan a live Linux system and find what its packages cannot rebuild",
    after_help = concat!(
        "Examples:\n",
        "  livescan scan                          scan this host, report to ./livescan-report.json\n",
        "  livescan export -o /mnt/usb/web01.tar.zst\n",
        "  livescan config check                  validate /etc/livescan/livescan.toml\n",
        "  livescan help upload                   every option of one command\n\n",
        crate::exit_table!()
    )
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  livescan scan\n",
        "  livescan scan -e /srv/scratch -e /var/tmp --report /var/lib/livescan/report.json\n",
        "  livescan scan --root /mnt/image --report - | jq .summary\n",
        "  livescan scan -j 2 --nice 19 --ionice-idle --quiet\n\n",
        crate::exit_table!()
    ))]
    Scan(ScanArgs),
    /// Scan, then write ONE file holding the report and the overlay (a .tar.zst that GNU tar
    /// and bsdtar extract), for upload now or later from another machine
    #[command(after_help = concat!(
        "Examples:\n",
        "  livescan export -o /mnt/usb/web01.tar.zst\n",
        "  livescan export                        into [export] dir of the config file\n",
        "  livescan export -o web01.tar.zst --split 4G --pack-category secret\n",
        "  livescan export -o - --no-overlay | ssh admin@jump 'cat > web01-report.tar.zst'\n\n",
        crate::exit_table!()
    ))]
    Export(ExportArgs),
    /// Check an export file: every section, frame, tar entry and digest
    #[command(after_help = "Examples:\n  livescan verify /mnt/usb/web01.tar.zst\n  \
        livescan verify web01.tar.zst.001     a split export: the parts are read as one\n\n\
        Exit codes: 0 intact, 1 damaged or unreadable (the first bad frame, entry and path are named)")]
    Verify(VerifyArgs),
    /// Summarise an export file (host, packages, counts, sizes) without unpacking it
    #[command(after_help = "Examples:\n  livescan inspect web01.tar.zst\n  \
        livescan inspect web01.tar.zst --json | jq .counts")]
    Inspect(InspectArgs),
    /// Restore an export's overlay into a directory, refusing anything that would escape it
    #[command(
        after_help = "Examples:\n  livescan extract web01.tar.zst --to /mnt/target\n  \
        tar --zstd -xpf web01.tar.zst --xattrs --xattrs-include='*' --acls --selinux   the same with GNU tar"
    )]
    Extract(ExtractArgs),
    /// Send an export to the overlay endpoint in resumable chunks (password from
    /// LIVESCAN_PASSWORD or the systemd credential livescan-password, never argv)
    #[command(after_help = concat!(
        "Examples:\n",
        "  LIVESCAN_PASSWORD=... livescan upload --url https://uforge.example.com/api --user ops\n",
        "  livescan upload                        url, user, ... from [upload] of the config file\n",
        "  livescan upload --from /mnt/usb/web01.tar.zst --bwlimit 10M\n",
        "  LIVESCAN_API_SECRET=... livescan upload --api-key PUBLIC --check\n\n",
        crate::exit_table!()
    ))]
    Upload(UploadArgs),
    /// Work with the configuration file
    #[command(
        subcommand,
        after_help = "Examples:\n  livescan config check\n  livescan config check --config ./livescan.toml"
    )]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file: unknown keys, types, ranges, paths, URL syntax, and
    /// that neither it nor the secret files can be read or changed by other users
    #[command(after_help = "Examples:\n  livescan config check\n  \
        livescan config check --config ./livescan.toml\n\n\
        Exit codes: 0 valid, 2 problems found (one line each on stderr)")]
    Check,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// API base, as UForge users write it: https://host/api [default: [upload] url]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Login (may contain @) [default: [upload] user]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Scanned instance name [default: the scanned host's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The export file (or its first part) made by `livescan export`
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Bytes per chunk (K, M suffixes) [default: 8M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub chunk_size: Option<u64>,
    /// Consecutive failures before giving up [default: 10]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Only check the URL, TLS and credentials
    #[arg(long)]
    pub check: bool,
    /// Sign requests with this UForge API public key instead of a password (the secret comes
    /// from LIVESCAN_API_SECRET or the systemd credential livescan-api-secret)
    #[arg(long, value_name = "PUBLIC")]
    pub api_key: Option<String>,
    /// What the API-key signature base64-encodes: the raw HMAC (UForge's curl example) or
    /// its hex text (UForge's diagram); their docs disagree [default: raw]
    #[arg(long, value_enum)]
    pub api_key_signature: Option<crate::ship::apikey::SignatureForm>,
    /// Trust the CAs in this PEM file [default: the host's CA bundle]
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server's certificate (warns on every run)
    #[arg(long)]
    pub insecure: bool,
    /// HTTP(S) or SOCKS proxy [default: ALL_PROXY/HTTPS_PROXY/HTTP_PROXY, else [upload] proxy]
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Limit the upload to RATE bytes per second (K, M suffixes)
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub bwlimit: Option<u64>,
    /// First retry delay in milliseconds (doubles per failure, ±50 % jitter)
    #[arg(long, value_name = "MS", default_value_t = 500, hide = true)]
    pub backoff_ms: u64,
    /// zstd level of a live upload's overlay [default: [export] level, else 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: Option<i32>,
    /// Without --from: scan this host (these scan options apply) and stream the export
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The export file
    pub file: PathBuf,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The export file
    pub file: PathBuf,
    /// The directory to restore into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The export file to create (refused if it exists); `-` for stdout [default:
    /// DIR/HOST-TIME.tar.zst with [export] dir of the config file]
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the report only, without the overlay
    #[arg(long)]
    pub no_overlay: bool,
    /// zstd level (1-19); the same level gives the same bytes [default: [export] level, else 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: Option<i32>,
    /// Also pack files of this category (secret, host-identity, swap, package-db), which are
    /// listed but not packed by default; repeatable
    #[arg(long = "pack-category", value_name = "NAME")]
    pub pack_category: Vec<String>,
    /// Also pack this path of the scanned system whatever its category; repeatable
    #[arg(long = "pack", value_name = "PATH")]
    pub pack: Vec<PathBuf>,
    /// List but do not pack files larger than this (bytes; K, M, G suffixes)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,
    /// Write FILE.001, FILE.002, … of at most SIZE bytes each (FAT32 media stop at 4G);
    /// verify, inspect, extract and upload --from read the parts as one file
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub split: Option<u64>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export file
    pub file: PathBuf,
}

/// `123`, `10K`, `5M`, `2G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("{s}: unknown unit {c} (K, M, G, T)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s}: not a size"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The livescan report (docs/report-format.md)
    Json,
    /// The scan in UForge's XML (docs/uforge-livescan.xsd)
    Xml,
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
    /// Worker threads for walking and hashing [default: one per core for hashing, four per
    /// core (4-32) for the walk, which waits on the disk when the cache is cold]
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
    /// A /proc-like tree of the scanned system, for live facts of the install profile
    /// (kernel command line, NIC addresses, memory). With --root and no --proc they are
    /// reported as unknown; with the root / the running host's /proc is used
    #[arg(long = "proc", value_name = "DIR")]
    pub proc_dir: Option<PathBuf>,
    /// A /sys-like tree of the scanned system (disks, NICs); as --proc
    #[arg(long = "sys", value_name = "DIR")]
    pub sys_dir: Option<PathBuf>,
    /// Put users' and groups' password hashes (the shadow fields) into the report's profile;
    /// without it only whether a password is set, locked or empty is recorded. Hashes are
    /// never printed in the summary or logs
    #[arg(long)]
    pub include_password_hashes: bool,
    /// Single-instance lock file [default: /run/lock/livescan.lock or a fallback]
    #[arg(long, value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
    /// Directory of the verify cache: digests of the previous scan, reused for files whose
    /// lstat (device, inode, size, mtime, ctime) has not changed [default: /var/lib/livescan]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Hash every file, and neither read nor write the verify cache
    #[arg(long)]
    pub no_cache: bool,
    /// Print no summary
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, at every level, shows examples in its --help.
    #[test]
    fn every_command_has_examples_in_its_help() {
        fn walk(cmd: &mut clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            let help = cmd.render_help().to_string();
            if !help.contains("Examples:") {
                missing.push(path.clone());
            }
            for sub in cmd.get_subcommands_mut() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut cmd = super::Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&mut cmd, "", &mut missing);
        assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
    }

    #[test]
    fn version_names_the_commit() {
        let v = super::Cli::command().render_version();
        assert!(
            v.contains(env!("CARGO_PKG_VERSION")) && v.contains("(commit "),
            "{v}"
        );
    }
}
