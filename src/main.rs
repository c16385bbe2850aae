//! `livescan`: parse the command line, load the configuration, run the command, and map
//! every failure to one exit code of [`livescan::exit_code::Exit`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[cfg(target_env = "musl")]
mod allocator;
mod commands;
// memcpy, memmove, memcmp: exported on musl only; compiled for the tests everywhere on x86_64.
#[cfg(all(target_arch = "x86_64", any(target_env = "musl", test)))]
mod libc_mem;

use clap::Parser;
use livescan::cli::{Cli, Command, ConfigCommand, Format, ScanArgs};
use livescan::exit_code::Exit;
use livescan::report::summary::{self, SummaryInput};
use livescan::report::{self, DbReport, ReportInput, ScanInfo};
use livescan::{config, lock, scan};

const DEFAULT_REPORT: &str = "livescan-report.json";
const DEFAULT_XML_REPORT: &str = "livescan-report.xml";
const DEFAULT_LOCK_WAIT_SECS: u64 = 60;

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    allocator::return_freed_memory_at_once();
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    logger.format_target(false);
    if livescan::journal::stderr_is_journal() {
        // The journal stamps time and unit itself; it wants the priority as `<N>` first.
        logger.format(|f, r| {
            writeln!(
                f,
                "{}livescan: {}",
                livescan::journal::prefix(r.level()),
                r.args()
            )
        });
    }
    logger.init();
    livescan::huge_pages::disable();
    let cli = Cli::parse();
    if let Command::Config(ConfigCommand::Check) = cli.command {
        return commands::config_check::run(cli.config.as_deref()).into();
    }
    let cfg = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            livescan::errorln!("livescan: configuration: {e}");
            return Exit::Usage.into();
        }
    };
    match cli.command {
        Command::Scan(args) => run_scan(args, cfg).into(),
        Command::Export(args) => commands::export::run(args, cfg).into(),
        Command::Verify(args) => commands::verify::run(args).into(),
        Command::Inspect(args) => commands::inspect::run(args).into(),
        Command::Extract(args) => commands::extract::run(args).into(),
        Command::Upload(args) => commands::upload::run(args, cfg).into(),
        Command::Config(ConfigCommand::Check) => Exit::Ok.into(), // handled above
    }
}

/// A finished scan, with what the outputs need.
pub struct ScanRun {
    pub result: scan::ScanResult,
    pub scan_info: ScanInfo,
    /// Held until the outputs are written.
    pub _instance: lock::InstanceLock,
}

/// Everything up to a classified scan: thread pool, gentleness, instance lock, excludes,
/// the scan itself. `own_files` are paths livescan itself writes (never packed).
pub fn scan_phase(args: &ScanArgs, cfg: &config::Config) -> Result<ScanRun, Exit> {
    let jobs = args.jobs.or(cfg.scan.jobs).unwrap_or(0);
    // Before any thread exists: on Linux the nice value and the I/O priority belong to
    // each thread, and a new thread inherits its creator's. Set after the pool was built,
    // they reached only the main thread, not the workers that do the scan.
    be_gentle(
        args.nice.or(cfg.scan.nice),
        args.ionice_idle || cfg.scan.ionice_idle == Some(true),
    );
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_global()
    {
        livescan::errorln!("livescan: thread pool: {e}");
        return Err(Exit::Fatal);
    }
    if args.root == Path::new("/") && !nix::unistd::geteuid().is_root() {
        log::warn!("not running as root: files only root can read will be reported as errors");
    }

    let lock_path = args
        .lock_file
        .clone()
        .unwrap_or_else(lock::default_instance_lock_path);
    let instance = match lock::acquire_instance_lock(&lock_path) {
        Ok(l) => l,
        Err(e @ lock::LockError::AlreadyRunning { .. }) => {
            livescan::errorln!("livescan: {e}");
            return Err(Exit::AlreadyRunning);
        }
        Err(e) => {
            livescan::errorln!("livescan: single-instance lock: {e}");
            return Err(Exit::Fatal);
        }
    };

    let mut excludes: Vec<Vec<u8>> = cfg
        .scan
        .exclude
        .iter()
        .map(|e| e.as_bytes().to_vec())
        .collect();
    for e in &args.exclude {
        if !e.is_absolute() {
            livescan::errorln!(
                "livescan: --exclude {}: must be an absolute path of the scanned system",
                e.display()
            );
            return Err(Exit::Usage);
        }
        excludes.push(e.as_os_str().as_bytes().to_vec());
    }
    let started = now_rfc3339();
    let opts = scan::ScanOptions {
        root: args.root.clone(),
        excludes: excludes.clone(),
        lock_wait: Duration::from_secs(
            args.lock_wait
                .or(cfg.scan.lock_wait_secs)
                .unwrap_or(DEFAULT_LOCK_WAIT_SECS),
        ),
        mountinfo: args.mountinfo.clone(),
        proc_dir: args.proc_dir.clone(),
        sys_dir: args.sys_dir.clone(),
        profile: livescan::profile::ProfileOptions {
            include_password_hashes: args.include_password_hashes,
        },
        cache_dir: (!args.no_cache && cfg.scan.verify_cache != Some(false)).then(|| {
            args.cache_dir
                .clone()
                .or(cfg.scan.cache_dir.clone())
                .unwrap_or_else(|| PathBuf::from(livescan::classify::verify_cache::DEFAULT_DIR))
        }),
        // `--jobs N` is a promise about CPU; without it the walk may wait on more disks.
        walk_threads: (jobs == 0).then(scan::default_walk_threads),
    };
    let result = match scan::run(&opts) {
        Ok(r) => r,
        Err(scan::ScanError::Locked(e)) => {
            livescan::errorln!("livescan: {e}");
            return Err(match e {
                lock::LockError::DbLocked { .. } => Exit::DbLocked,
                _ => Exit::Fatal,
            });
        }
        Err(e) => {
            livescan::errorln!("livescan: {e}");
            return Err(Exit::Fatal);
        }
    };

    let scan_info = ScanInfo {
        // Absolute, so a report read elsewhere says which tree was scanned.
        root: std::fs::canonicalize(&args.root)
            .unwrap_or_else(|_| args.root.clone())
            .as_os_str()
            .as_bytes()
            .to_vec(),
        excludes: excludes
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect(),
        started,
        jobs: rayon::current_num_threads(),
        live: result.root.is_host_root(),
    };
    Ok(ScanRun {
        result,
        scan_info,
        _instance: instance,
    })
}

/// Call `f` with the report input of a finished scan (the one place it is assembled).
pub fn with_report_input<T>(run: &ScanRun, f: impl FnOnce(&ReportInput) -> T) -> T {
    let result = &run.result;
    let db_reports: Vec<DbReport> = result
        .database_infos
        .iter()
        .zip(&result.databases)
        .map(|(info, c)| DbReport::new(info.clone(), &c.packages))
        .collect();
    let c = &result.classification;
    f(&ReportInput {
        scan: &run.scan_info,
        host: &result.host,
        profile: &result.profile,
        databases: &db_reports,
        walked_mounts: &result.mounts.walked,
        skipped_mounts: &result.mounts.skipped,
        files: &c.files,
        errors: &result.errors,
        totals: &c.totals,
        timings: &result.timings,
        accounts: &result.accounts,
        verify_cache: &result.cache,
    })
}

fn run_scan(args: ScanArgs, cfg: config::Config) -> Exit {
    let run = match scan_phase(&args, &cfg) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let ScanRun { result, .. } = &run;
    let c = &result.classification;
    let report_path = args
        .report
        .clone()
        .or(cfg.scan.report.clone())
        .unwrap_or_else(|| {
            PathBuf::from(match args.format {
                Format::Json => DEFAULT_REPORT,
                Format::Xml => DEFAULT_XML_REPORT,
            })
        });
    let to_stdout = report_path == Path::new("-");
    let t = std::time::Instant::now();
    let written = if to_stdout {
        let stdout = std::io::stdout();
        let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
        with_report_input(&run, |input| write_in(args.format, &mut w, input))
            .map(|_| "standard output".to_string())
    } else {
        with_report_input(&run, |input| {
            write_report_file(&report_path, args.format, input)
        })
    };
    log::debug!("report written in {:.3} s", t.elapsed().as_secs_f64());
    let report_to = match written {
        Ok(where_) => where_,
        Err(e) => {
            livescan::errorln!(
                "livescan: writing the report to {}: {e}",
                report_path.display()
            );
            return Exit::OutputIncomplete;
        }
    };

    if !args.quiet {
        let packages: Vec<(String, usize)> = result
            .database_infos
            .iter()
            .map(|d| (format!("{:?}", d.format).to_lowercase(), d.packages))
            .collect();
        let root_text = args.root.display().to_string();
        let text = summary::render(&SummaryInput {
            root: &root_text,
            distro: result.host.pretty_name(),
            profile: Some(&result.profile),
            packages: &packages,
            files: &c.files,
            totals: &c.totals,
            skipped_mounts: &result.mounts.skipped,
            errors: &result.errors,
            excluded: result.excluded,
            seconds: result.timings.total_s,
            report_to: &report_to,
        });
        // The summary never mixes with a report on stdout.
        if to_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    let exit = if result.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    };
    // The process ends next: freeing a host's half-million records one by one cost a few
    // tenths of a second on one core, for memory the exit returns anyway. The instance
    // lock is released as usual.
    let ScanRun {
        result, _instance, ..
    } = run;
    drop(_instance);
    std::mem::forget(result);
    exit
}

/// Write the report in the chosen format.
fn write_in<W: Write>(format: Format, w: &mut W, input: &ReportInput) -> std::io::Result<()> {
    match format {
        Format::Json => report::write_report(w, input),
        Format::Xml => report::uforge_xml::write_scan(w, input),
    }
}

/// Write next to the target and rename, so a reader never sees half a report and a full
/// disk leaves the previous report intact.
fn write_report_file(path: &Path, format: Format, input: &ReportInput) -> std::io::Result<String> {
    // `--report /dev/stdout`, a FIFO, a device: write into it as it is. Renaming a
    // temporary file over it would replace the node (as root, even /dev/stdout itself).
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            let file = std::fs::OpenOptions::new().write(true).open(path)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            write_in(format, &mut w, input)?;
            w.flush()?;
            return Ok(path.display().to_string());
        }
        _ => {}
    }
    // A symlink to a regular file: replace the file it points to, keep the link.
    let resolved;
    let path = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) {
        resolved = std::fs::canonicalize(path)?;
        resolved.as_path()
    } else {
        path
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write_in(format, &mut w, input)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        let size = std::fs::metadata(path)?.len();
        Ok(format!(
            "{} ({})",
            path.display(),
            summary::human_bytes(size)
        ))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn be_gentle(nice: Option<i32>, ionice_idle: bool) {
    if let Some(n) = nice {
        // SAFETY: setpriority only changes this process's scheduling priority.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n.clamp(0, 19)) } != 0 {
            log::warn!("setpriority({n}): {}", std::io::Error::last_os_error());
        }
    }
    if ionice_idle {
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_IDLE: libc::c_long = 3;
        const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
        // SAFETY: ioprio_set on our own process; no memory is passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                0,
                IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
            )
        };
        if r != 0 {
            log::warn!("ioprio_set(idle): {}", std::io::Error::last_os_error());
        }
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant), to avoid a date crate for one timestamp.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[allow(dead_code)]
fn flush_stdout() {
    let _ = std::io::stdout().flush();
}
