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

/// The `files` array, serialised in parallel a window of chunks at a time and written in
/// order: on one core, a host's 350 k entries (100 MB of JSON) took a second while the
/// other core idled. A window is serialised (by the rayon pool, from a thread of its own)
/// while the previous one is written here: the kernel's copy of 100 MB into the page cache
/// cost as much as the serialising and no longer waits for it. Same bytes as [`array`]
/// would write.
fn files_array<W: Write>(w: &mut W, r: &ReportInput) -> io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 2048;
    const WINDOW: usize = 8 * CHUNK;
    w.write_all(b"\"files\": [")?;
    let mut first = true;
    // One window queued while one is written and the next serialised: ~15 MB of JSON
    // in flight at most.
    let (parts_tx, parts_rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<Vec<u8>>>>(1);
    std::thread::scope(|scope| -> io::Result<()> {
        scope.spawn(move || {
            let mut records = r.files.iter();
            loop {
                // Decoded a window at a time (most records are packed: `Reported`).
                let window: Vec<Classified> = records.by_ref().take(WINDOW).collect();
                if window.is_empty() {
                    break;
                }
                let parts: io::Result<Vec<Vec<u8>>> = window
                    .par_chunks(CHUNK)
                    .map(|chunk| {
                        let mut buf = Vec::with_capacity(chunk.len() * 320);
                        for f in chunk {
                            buf.extend_from_slice(b",\n");
                            serde_json::to_writer(&mut buf, &file_view(f, r))?;
                        }
                        Ok(buf)
                    })
                    .collect();
                let failed = parts.is_err();
                // The writer gone (it failed) or a serialising error sent: stop.
                if parts_tx.send(parts).is_err() || failed {
                    break;
                }
            }
        });
        // Dropping the receiver on an error ends the serialising thread at its next send.
        for parts in parts_rx {
            for part in parts? {
                if first {
                    // The first element is not preceded by a comma.
                    w.write_all(b"\n")?;
                    w.write_all(part.get(2..).unwrap_or_default())?;
                    first = false;
                } else {
                    w.write_all(&part)?;
                }
            }
        }
        Ok(())
    })?;
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
