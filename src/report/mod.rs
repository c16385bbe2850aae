//! The scan report: one JSON document (schema `livescan-report`, version [`SCHEMA_VERSION`]),
//! written as a stream: one array element per line, so a report of millions of files is
//! written without building it in memory and can be read line by line (`grep`, `jq -c`).
//! The schema is documented in `docs/report-format.md`.

pub mod host;
pub mod summary;
pub mod uforge_xml;

use std::io::{self, Write};

use serde::Serialize;

use crate::accounts::Accounts;
use crate::classify::verify_cache::CacheInfo;
use crate::classify::{Category, Change, Classified, Reported, Totals};
use crate::pkgdb::{DbFormat, Owner, Package};
use crate::profile::Profile;
use crate::walk::mounts::SkippedMount;
use crate::walk::{FileKind, WalkError};

pub use host::HostInfo;

pub const SCHEMA: &str = "livescan-report";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    #[serde(with = "crate::path_bytes")]
    pub root: Vec<u8>,
    pub excludes: Vec<String>,
    pub started: String,
    pub jobs: usize,
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub format: DbFormat,
    pub location: String,
    pub packages: usize,
    pub packaged_paths: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub walk_s: f64,
    pub databases_s: f64,
    pub classify_s: f64,
    pub total_s: f64,
}

#[derive(Serialize)]
struct SkippedMountView<'a> {
    #[serde(with = "crate::path_bytes")]
    mount_point: &'a [u8],
    fstype: &'a str,
    source: &'a str,
    #[serde(flatten)]
    reason: &'a crate::walk::mounts::SkipReason,
}

#[derive(Serialize)]
struct WalkedMountView<'a> {
    #[serde(with = "crate::path_bytes")]
    mount_point: &'a [u8],
    fstype: &'a str,
}

#[derive(Serialize)]
struct PackageView<'a> {
    manager: DbFormat,
    #[serde(flatten)]
    package: &'a Package,
}

/// One package database as the report and the owner lists need it.
pub struct DbReport<'a> {
    pub info: DatabaseInfo,
    pub packages: &'a [Package],
    /// Display name per package: `name`, or `name:arch` when a name is installed twice.
    pub display_names: Vec<String>,
}

impl<'a> DbReport<'a> {
    pub fn new(info: DatabaseInfo, packages: &'a [Package]) -> DbReport<'a> {
        let mut count = std::collections::HashMap::new();
        for p in packages {
            *count.entry(p.name.as_str()).or_insert(0) += 1;
        }
        let display_names = packages
            .iter()
            .map(|p| {
                if count[p.name.as_str()] > 1 {
                    format!("{}:{}", p.name, p.arch)
                } else {
                    p.name.clone()
                }
            })
            .collect();
        DbReport {
            info,
            packages,
            display_names,
        }
    }
}

/// A file entry as it appears in the report.
#[derive(Serialize)]
struct FileView<'a> {
    #[serde(with = "crate::path_bytes")]
    path: &'a [u8],
    change: Change,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<FileKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Permission bits in octal (`"4755"`); the type is in `type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime_nsec: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nlink: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rdev: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::path_bytes::option"
    )]
    link_target: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    config: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<crate::pkgdb::Marker>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    packages: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<Category>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pack: Option<bool>,
}

pub struct ReportInput<'a> {
    pub scan: &'a ScanInfo,
    pub host: &'a HostInfo,
    pub profile: &'a Profile,
    pub databases: &'a [DbReport<'a>],
    pub walked_mounts: &'a [(Vec<u8>, String)],
    pub skipped_mounts: &'a [SkippedMount],
    pub files: &'a Reported,
    pub errors: &'a [WalkError],
    pub totals: &'a Totals,
    pub timings: &'a Timings,
    pub accounts: &'a Accounts,
    pub verify_cache: &'a CacheInfo,
}

fn field<W: Write, T: Serialize + ?Sized>(
    w: &mut W,
    name: &str,
    value: &T,
    last: bool,
) -> io::Result<()> {
    write!(w, "\"{name}\": ")?;
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(if last { b"\n" } else { b",\n" })
}

fn array<W: Write, T: Serialize, I: IntoIterator<Item = T>>(
    w: &mut W,
    name: &str,
    items: I,
) -> io::Result<()> {
    write!(w, "\"{name}\": [")?;
    let mut first = true;
    for item in items {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer(&mut *w, &item)?;
    }
    w.write_all(if first { b"],\n" } else { b"\n],\n" })
}

/// The `files` array, serialised in parallel: on one core, a host's 350 k entries (100 MB
/// of JSON) took a second while the other core idled.
fn files_array<W: Write>(w: &mut W, r: &ReportInput) -> io::Result<()> {
    const CHUNK: usize = 2048;
    ordered_array(w, "files", r.files.iter(), CHUNK, 8 * CHUNK, |f, buf| {
        serde_json::to_writer(buf, &file_view(f, r)).map_err(io::Error::from)
    })
}

/// What [`array`] writes, with the elements serialised by `element` on the rayon pool a
/// window of `window` at a time (`chunk` per task) and written in order. The next window is
/// serialised, from a thread of its own, while this one writes the previous: the kernel's
/// copy of a report into the page cache cost as much as the serialising. At most three
/// windows exist at once (written, queued, being serialised).
fn ordered_array<W, T, I, F>(
    w: &mut W,
    name: &str,
    items: I,
    chunk: usize,
    window: usize,
    element: F,
) -> io::Result<()>
where
    W: Write,
    T: Send + Sync,
    I: Iterator<Item = T> + Send,
    F: Fn(&T, &mut Vec<u8>) -> io::Result<()> + Sync,
{
    use rayon::prelude::*;
    let serialise = |batch: Vec<T>| -> io::Result<Vec<Vec<u8>>> {
        batch
            .par_chunks(chunk.max(1))
            .map(|c| {
                let mut buf = Vec::with_capacity(c.len() * 320);
                for item in c {
                    buf.extend_from_slice(b",\n");
                    element(item, &mut buf)?;
                }
                Ok(buf)
            })
            .collect()
    };
    write!(w, "\"{name}\": [")?;
    let mut first = true;
    {
        let mut emit = |parts: Vec<Vec<u8>>| -> io::Result<()> {
            for part in parts {
                if first {
                    // The first element is not preceded by a comma.
                    w.write_all(b"\n")?;
                    w.write_all(part.get(2..).unwrap_or_default())?;
                    first = false;
                } else {
                    w.write_all(&part)?;
                }
            }
            Ok(())
        };
        let mut items = items;
        let window = window.max(1);
        if rayon::current_thread_index().is_some() || rayon::current_num_threads() == 1 {
            // On a worker of the pool: waiting here for a serialising thread would hold a
            // worker it needs (with one, for ever). With a pool of one (`--jobs 1`, a promise
            // of one core's CPU), writing beside the serialising would be a second core.
            // Serialise in place, window by window.
            loop {
                let batch: Vec<T> = items.by_ref().take(window).collect();
                if batch.is_empty() {
                    break;
                }
                emit(serialise(batch)?)?;
            }
        } else {
            let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<Vec<u8>>>>(1);
            std::thread::scope(|scope| -> io::Result<()> {
                scope.spawn(move || loop {
                    let batch: Vec<T> = items.by_ref().take(window).collect();
                    if batch.is_empty() {
                        break;
                    }
                    let parts = serialise(batch);
                    let failed = parts.is_err();
                    // Stop when the writer has gone (it failed) or after sending an error.
                    if tx.send(parts).is_err() || failed {
                        break;
                    }
                });
                // Returning early drops the receiver: the serialiser stops at its next send.
                for parts in rx {
                    emit(parts?)?;
                }
                Ok(())
            })?;
        }
    }
    w.write_all(if first { b"],\n" } else { b"\n],\n" })
}

/// Write the whole report to `w` (buffer it: one `write` per entry otherwise).
pub fn write_report<W: Write>(w: &mut W, r: &ReportInput) -> io::Result<()> {
    w.write_all(b"{\n")?;
    field(w, "schema", SCHEMA, false)?;
    field(w, "schema_version", &SCHEMA_VERSION, false)?;
    field(
        w,
        "tool",
        &serde_json::json!({"name": "livescan", "version": env!("CARGO_PKG_VERSION")}),
        false,
    )?;
    field(w, "scan", r.scan, false)?;
    field(w, "host", r.host, false)?;
    field(w, "profile", r.profile, false)?;
    field(
        w,
        "databases",
        &r.databases.iter().map(|d| &d.info).collect::<Vec<_>>(),
        false,
    )?;
    array(
        w,
        "packages",
        r.databases.iter().flat_map(|d| {
            d.packages.iter().map(move |p| PackageView {
                manager: d.info.format,
                package: p,
            })
        }),
    )?;
    field(
        w,
        "mounts",
        &serde_json::json!({
            "walked": r.walked_mounts.iter().map(|(m, t)| WalkedMountView { mount_point: m, fstype: t }).collect::<Vec<_>>(),
            "skipped": r.skipped_mounts.iter().map(|s| SkippedMountView {
                mount_point: &s.mount_point, fstype: &s.fstype, source: &s.source, reason: &s.reason,
            }).collect::<Vec<_>>(),
        }),
        false,
    )?;
    files_array(w, r)?;
    array(w, "errors", r.errors.iter())?;
    field(w, "totals", r.totals, false)?;
    field(w, "verify_cache", r.verify_cache, false)?;
    field(w, "timings", r.timings, true)?;
    w.write_all(b"}\n")?;
    w.flush()
}

fn file_view<'a>(f: &'a Classified, r: &'a ReportInput) -> FileView<'a> {
    let m = f.meta.as_ref();
    let packages = f
        .owners
        .iter()
        .map(|o| match o.owner {
            Owner::Package(i) => r
                .databases
                .get(usize::from(o.db))
                .and_then(|d| d.display_names.get(i as usize))
                .map(String::as_str)
                .unwrap_or("?"),
            Owner::Alternatives => "(alternatives)",
        })
        .collect();
    FileView {
        path: &f.path,
        change: f.change,
        kind: m.map(|m| m.kind),
        size: m.filter(|m| m.kind == FileKind::Regular).map(|m| m.size),
        mode: m.map(|m| format!("{:04o}", m.mode & 0o7777)),
        uid: m.map(|m| m.uid),
        gid: m.map(|m| m.gid),
        user: m.and_then(|m| r.accounts.user_name(m.uid)),
        group: m.and_then(|m| r.accounts.group_name(m.gid)),
        mtime: m.map(|m| m.mtime),
        mtime_nsec: m.map(|m| m.mtime_nsec),
        nlink: m
            .filter(|m| m.kind != FileKind::Dir && m.nlink > 1)
            .map(|m| u64::from(m.nlink)),
        rdev: m
            .filter(|m| matches!(m.kind, FileKind::CharDevice | FileKind::BlockDevice))
            .map(|m| u64::from(m.rdev)),
        link_target: f.link_target.clone(),
        verify: match f.change {
            Change::Deleted => Some("missing".to_string()),
            _ => f.verify.map(|v| v.render()),
        },
        config: f.config,
        marker: f.marker,
        packages,
        category: f.category,
        reason: f.reason,
        pack: f.category.map(Category::packed_by_default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("item \"{i}\"\n")).collect()
    }

    fn sequential(v: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        array(&mut out, "a", v.iter()).unwrap();
        out
    }

    fn ordered(v: &[String], chunk: usize, window: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ordered_array(&mut out, "a", v.iter(), chunk, window, |s, buf| {
            serde_json::to_writer(buf, s).map_err(io::Error::from)
        })?;
        Ok(out)
    }

    #[test]
    fn ordered_array_writes_what_array_writes_across_chunks_and_windows() {
        for n in [0, 1, 2, 3, 6, 7, 8, 21, 100] {
            let v = items(n);
            for (chunk, window) in [(3, 7), (1, 1), (4, 4), (1000, 1000)] {
                assert_eq!(
                    ordered(&v, chunk, window).unwrap(),
                    sequential(&v),
                    "{n} items, chunk {chunk}, window {window}"
                );
            }
        }
    }

    #[test]
    fn ordered_array_on_a_pools_worker_serialises_on_that_pool() {
        // A worker waiting for a thread that needs its pool would wait for ever on a
        // one-thread pool (the global one under --jobs 1): the elements must be serialised
        // by the caller's own pool, here named so that it can be told apart.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "one-worker".to_string())
            .build()
            .unwrap();
        let v = items(50);
        let threads = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let out = pool
            .install(|| {
                let mut out = Vec::new();
                ordered_array(&mut out, "a", v.iter(), 3, 7, |s, buf| {
                    let name = std::thread::current().name().map(str::to_string);
                    threads.lock().unwrap().insert(name);
                    serde_json::to_writer(buf, s).map_err(io::Error::from)
                })
                .map(|()| out)
            })
            .unwrap();
        assert_eq!(out, sequential(&v));
        let threads = threads.into_inner().unwrap();
        assert_eq!(threads.len(), 1, "{threads:?}");
        assert_eq!(threads.first(), Some(&Some("one-worker".to_string())));
    }

    #[test]
    fn ordered_array_stops_at_an_element_or_writer_error() {
        let v = items(100);
        let mut out = Vec::new();
        let e = ordered_array(&mut out, "a", v.iter(), 3, 7, |s, buf| {
            if s.contains("\"42\"") {
                return Err(io::Error::other("element 42"));
            }
            serde_json::to_writer(buf, s).map_err(io::Error::from)
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "element 42");

        /// Accepts `left` bytes, then fails.
        struct Full {
            left: usize,
        }
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.left == 0 {
                    return Err(io::Error::other("disk full"));
                }
                let n = b.len().min(self.left);
                self.left -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut full = Full { left: 200 };
        let e = ordered_array(&mut full, "a", v.iter(), 3, 7, |s, buf| {
            serde_json::to_writer(buf, s).map_err(io::Error::from)
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }
}
