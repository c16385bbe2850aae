//! One scan, end to end: mounts → (walk ∥ package databases) → classify.
//! The caller writes the report; this module only gathers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::accounts::Accounts;
use crate::classify::verify_cache::{self, CacheInfo};
use crate::classify::{self, Classification};
use crate::lock;
use crate::pkgdb::{self, DbContents, DbError, PackageDb};
use crate::profile::{self, LiveSources, Profile};
use crate::report::{DatabaseInfo, HostInfo, Timings};
use crate::rootfs::RootFs;
use crate::walk::mounts::{self, MountPlan};
use crate::walk::{self, Excludes, WalkError};

pub struct ScanOptions {
    pub root: PathBuf,
    pub excludes: Vec<Vec<u8>>,
    pub lock_wait: Duration,
    /// A captured mountinfo to use instead of `/proc/self/mountinfo` (tests).
    pub mountinfo: Option<PathBuf>,
    /// `/proc`- and `/sys`-like trees of the scanned system (`--proc`, `--sys`); with the
    /// root `/` the running host's are used when these are not given.
    pub proc_dir: Option<PathBuf>,
    pub sys_dir: Option<PathBuf>,
    /// What goes into the install profile (`--include-password-hashes`).
    pub profile: profile::ProfileOptions,
    /// Directory of the verify cache (`--cache-dir`); `None` = `--no-cache`.
    pub cache_dir: Option<PathBuf>,
    /// Threads of the walk's own pool; `None` = walk on the current rayon pool.
    pub walk_threads: Option<usize>,
}

/// Walk threads when `--jobs` is not given: four per core (4 to 32). A cold walk waits
/// on the disk for every directory and inode block; with two threads on this 2-core test
/// host a cold host walk took 6.2 s, with eight 5.2 s, and a warm one the same 2.0 s either
/// way (the walk's CPU is the kernel's, and the threads it adds are idle when the cache is
/// warm). Hashing does not need more threads: it reads ahead ([`crate::classify::open_ahead`]).
pub fn default_walk_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).clamp(4, 32)
}

pub struct ScanResult {
    pub root: RootFs,
    pub host: HostInfo,
    pub profile: Profile,
    pub accounts: Accounts,
    pub mounts: MountPlan,
    /// One entry per database found, in the same order as `databases`.
    pub database_infos: Vec<DatabaseInfo>,
    /// Packages and warnings; `files` is emptied once the classification has used it.
    pub databases: Vec<DbContents>,
    pub classification: Classification,
    /// Walk errors plus read errors from classification.
    pub errors: Vec<WalkError>,
    pub excluded: u64,
    pub timings: Timings,
    /// What happened to the verify cache, for the report and the summary.
    pub cache: CacheInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("root {0}: not a directory")]
    BadRoot(PathBuf),
    #[error("reading the mount table: {0}")]
    Mounts(String),
    #[error(transparent)]
    Locked(#[from] lock::LockError),
    #[error("package database: {0}")]
    Database(#[from] DbError),
}

pub fn run(opts: &ScanOptions) -> Result<ScanResult, ScanError> {
    let started = Instant::now();
    let scan_start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if !opts.root.is_dir() {
        return Err(ScanError::BadRoot(opts.root.clone()));
    }
    let root = RootFs::new(opts.root.clone());
    let mountinfo_path = opts
        .mountinfo
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/mountinfo"));
    let mount_text = std::fs::read(&mountinfo_path)
        .map_err(|e| ScanError::Mounts(format!("{}: {e}", mountinfo_path.display())))?;
    let mount_table = mounts::parse_mountinfo(&mount_text)
        .map_err(|e| ScanError::Mounts(format!("{}: {e}", mountinfo_path.display())))?;
    let plan = mounts::plan(&mount_table, root.root());
    let skip = Excludes::new(plan.skipped.iter().map(|m| m.mount_point.clone()));
    let excludes = Excludes::new(&opts.excludes);

    let dbs = pkgdb::detect(&root);
    let lock_files: Vec<PathBuf> = dbs
        .iter()
        .flat_map(|d| d.lock_files())
        .map(|p| root.host_path(p.as_os_str().as_encoded_bytes()))
        .collect();
    lock::wait_for_db_locks(&lock_files, opts.lock_wait)?;

    let walk_opts = walk::WalkOptions {
        root: &root,
        excludes: &excludes,
        skip_mounts: &skip,
    };
    let walk_pool = opts.walk_threads.and_then(|n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("walk-{i}"))
            .build()
            .map_err(|e| log::warn!("walk thread pool of {n}: {e}; walking on the main pool"))
            .ok()
    });
    let ((mut walked, walk_s), (indexed, db_s)) = rayon::join(
        || {
            let t = Instant::now();
            let walked = match &walk_pool {
                Some(pool) => pool.install(|| walk::walk(&walk_opts)),
                None => walk::walk(&walk_opts),
            };
            crate::memory_use::log_after("the walk");
            (walked, t.elapsed().as_secs_f64())
        },
        || {
            let t = Instant::now();
            let read: Result<Vec<DbContents>, DbError> = dbs
                .iter()
                .map(|d| {
                    d.read(&root).map(|mut c| {
                        // rpm, apk and pacman grow their file lists by appending: drop the
                        // slack (up to half the list) before it is held through the scan.
                        c.files.shrink_to_fit();
                        c
                    })
                })
                .collect();
            let db_s = t.elapsed().as_secs_f64();
            crate::memory_use::log_after("reading the package databases");
            // Built while the walk still runs: canonicalising and sorting every packaged
            // path kept one core busy, the other idle, between the walk and pass 1.
            let indexed = read.map(|contents| {
                let index = classify::PathIndex::build(&root, &contents);
                crate::memory_use::log_after("indexing the packaged paths");
                (contents, index)
            });
            (indexed, db_s)
        },
    );
    drop(walk_pool);
    let (mut databases, index) = indexed?;
    let database_infos: Vec<DatabaseInfo> = dbs
        .iter()
        .zip(&databases)
        .map(|(db, contents)| db_info(db.as_ref(), contents))
        .collect();

    let accounts = Accounts::load(&root);
    let swap_files = swap_files(&root);
    let mut cache_info = CacheInfo::default();
    let mut root_id = None;
    let t = Instant::now();
    let prelink = classify::prelink::Prelink::detect(&root);
    let ctx = classify::Context {
        root: &root,
        accounts: &accounts,
        excludes: &excludes,
        skipped_mounts: &skip,
        swap_files: &swap_files,
        prelink: prelink.as_ref(),
        scan_start,
    };
    // The walk's records are consumed by the classification (what is reported moves out of
    // them, the rest is freed as it goes).
    let mut classification = classify::classify(
        &ctx,
        std::mem::take(&mut walked.entries),
        &walked.errors,
        &databases,
        index,
        || {
            let cache;
            (cache, cache_info, root_id) = load_cache(opts, &root);
            cache
        },
    );
    let classify_s = t.elapsed().as_secs_f64();
    // The file records were for the classification; what comes next (profile, report)
    // needs only the packages. 96 bytes and a path each (64 MB for the 1 M-file tree's
    // half million), held otherwise until exit.
    for db in &mut databases {
        db.files = Vec::new();
    }
    // Give the memory back before the report and the overlay are written.
    release_free_memory();
    crate::memory_use::log_after("the classification");
    save_cache(&mut cache_info, root_id.as_ref(), &mut classification);

    let mut errors = walked.errors;
    errors.extend(classification.errors.iter().cloned());
    errors.sort_by(|a, b| crate::path_order::cmp(&a.path, &b.path));
    let live = LiveSources::for_root(&root, opts.proc_dir.clone(), opts.sys_dir.clone());
    let t = Instant::now();
    let host = HostInfo::collect(&root);
    let profile = profile::collect(&root, &live, &databases, &opts.profile);
    log::debug!(
        "host and profile collected in {:.3} s",
        t.elapsed().as_secs_f64()
    );
    Ok(ScanResult {
        host,
        profile,
        root,
        accounts,
        mounts: plan,
        database_infos,
        databases,
        classification,
        errors,
        excluded: walked.excluded,
        cache: cache_info,
        timings: Timings {
            walk_s,
            databases_s: db_s,
            classify_s,
            total_s: started.elapsed().as_secs_f64(),
        },
    })
}

/// The previous scan's verify cache, if there is a usable one. A damaged file is
/// reported with a warning and rebuilt; one for another root or version is rebuilt quietly.
fn load_cache(
    opts: &ScanOptions,
    root: &RootFs,
) -> (
    Option<classify::verify_cache::VerifyCache>,
    CacheInfo,
    Option<verify_cache::RootId>,
) {
    let Some(dir) = &opts.cache_dir else {
        return (None, CacheInfo::default(), None);
    };
    let file = dir.join(verify_cache::FILE_NAME);
    let mut info = CacheInfo {
        file: Some(file.clone()),
        ..Default::default()
    };
    let root_id = match verify_cache::RootId::of(root.root()) {
        Ok(id) => id,
        Err(e) => {
            log::warn!("verify cache not used: root {}: {e}", root.root().display());
            return (None, info, None);
        }
    };
    let cache = match verify_cache::VerifyCache::load(&file, &root_id) {
        Ok(c) => {
            info.loaded = c.len();
            c
        }
        Err(verify_cache::LoadError::Absent) => Default::default(),
        Err(e) => {
            if e.is_damage() {
                log::warn!(
                    "verify cache {}: {e}; ignored, every file is hashed and the cache rebuilt",
                    file.display()
                );
            } else {
                log::info!("verify cache {}: {e}; rebuilt", file.display());
            }
            info.rebuilt_because = Some(e.to_string());
            Default::default()
        }
    };
    (Some(cache), info, Some(root_id))
}

/// Write what this scan hashed (or found in the cache) for the next one. A cache that
/// cannot be written costs the next scan time, never correctness: a warning, no error.
fn save_cache(
    info: &mut CacheInfo,
    root_id: Option<&verify_cache::RootId>,
    classification: &mut Classification,
) {
    let entries = std::mem::take(&mut classification.cache_entries);
    let (Some(file), Some(root_id)) = (&info.file, root_id) else {
        return;
    };
    let Some(dir) = file.parent() else { return };
    let bytes = verify_cache::encode(root_id, entries.iter().map(|(k, c)| (*k, c.computed())));
    match verify_cache::save(dir, &bytes) {
        Ok(_) => info.saved = entries.len().min(verify_cache::MAX_ENTRIES),
        Err(e) => log::warn!(
            "verify cache not written to {}: {e} (--cache-dir DIR or --no-cache)",
            file.display()
        ),
    }
}

/// glibc keeps freed memory in its per-thread arenas; hand it back to the system. musl
/// (the shipped build) returns large frees by itself.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn db_info(db: &dyn PackageDb, c: &DbContents) -> DatabaseInfo {
    DatabaseInfo {
        format: db.format(),
        location: db.location().display().to_string(),
        packages: c.packages.len(),
        packaged_paths: c.files.len(),
        warnings: c.warnings.clone(),
    }
}

/// Active swap files from `/proc/swaps`, only when scanning the running host (with `--root`
/// the host's swap says nothing about the image).
fn swap_files(root: &RootFs) -> Vec<Vec<u8>> {
    if !root.is_host_root() {
        return Vec::new();
    }
    let Ok(text) = std::fs::read("/proc/swaps") else {
        return Vec::new();
    };
    text.split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let mut f = line
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|f| !f.is_empty());
            let name = f.next()?;
            let kind = f.next()?;
            (kind == b"file").then(|| unescape_octal(name))
        })
        .collect()
}

/// `/proc` escapes spaces and the like as `\040`.
pub fn unescape_octal(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && i + 3 < s.len()
            && s[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (s[i + 1] - b'0') as u32 * 64
                + (s[i + 2] - b'0') as u32 * 8
                + (s[i + 3] - b'0') as u32;
            if let Ok(b) = u8::try_from(v) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}
