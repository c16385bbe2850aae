//! Writing the export in one pass: report section, tar entries in zstd frames, manifest,
//! trailer, footer. Small files are read in parallel batches and their frames compressed in
//! parallel; a large file is streamed through a multi-threaded encoder in a frame of its
//! own, so memory stays bounded whatever the overlay's size.

use std::io::Write;
use std::os::unix::fs::MetadataExt;

use rayon::prelude::*;
use serde::Serialize;

use super::container::{self, CountingWriter, FrameInfo, Trailer};
use super::frames::Frames;
use super::plan::{NotPacked, Plan, PlanEntry};
use super::source::{self, Event};
use super::spool::{self, Fill, Spool};
use super::tar_header::{self, EntryType, Member};
use crate::accounts::Accounts;
use crate::rootfs::RootFs;
use crate::walk::{FileKind, Meta};

/// Fixed parameters: the same plan and files give the same bytes.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub level: i32,
    /// Write the tar frames (false: report only, `--no-overlay`).
    pub overlay: bool,
    /// Where sections are spooled before they are written (`pack/spool.rs`): the export's
    /// directory. It does not change the bytes.
    pub spool_dir: std::path::PathBuf,
}

/// Members with more data than this are streamed in their own frame.
const BIG_MEMBER: u64 = 8 << 20;
/// Small files read ahead per batch.
const BATCH_BYTES: u64 = 24 << 20;

/// One line of the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestEntry {
    #[serde(with = "crate::path_bytes")]
    pub path: Vec<u8>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bytes of member data in the tar stream (sparse: map + data runs).
    pub data_size: u64,
    /// The file's size (sparse files: the logical size).
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// A reported path that is not in the archive after all (it vanished or could not be read).
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    #[serde(with = "crate::path_bytes")]
    pub path: Vec<u8>,
    pub event: Event,
}

#[derive(Debug, Default, Serialize)]
pub struct ExportSummary {
    pub entries: u64,
    pub tar_bytes: u64,
    pub file_bytes: u64,
    pub frames: usize,
    pub bytes_written: u64,
    /// Packed, but something happened while reading (the run is partial).
    pub events: Vec<(Vec<u8>, Event)>,
    pub skipped: Vec<Skipped>,
    pub not_packed: usize,
    /// The trailer's whole-file BLAKE3 (what an upload announces on its last chunk).
    pub blake3: String,
}

/// An entry ready to be written.
enum Prepared {
    /// Header and data in memory.
    Small {
        header: Vec<u8>,
        data: Vec<u8>,
        manifest: ManifestEntry,
    },
    /// A large regular file, opened; streamed by the writer.
    Big {
        header: Vec<u8>,
        file: std::fs::File,
        /// Its fstat at open (what the header says): changes from then on are events.
        opened: std::fs::Metadata,
        size: u64,
        runs: Option<Vec<(u64, u64)>>,
        manifest: ManifestEntry,
    },
    Skip(Skipped),
}

fn archive_path(path: &[u8]) -> Vec<u8> {
    path.strip_prefix(b"/").unwrap_or(path).to_vec()
}

fn base_member(e: &PlanEntry, meta: &Meta, accounts: &Accounts) -> Member {
    Member {
        path: archive_path(&e.path),
        kind: None,
        mode: meta.mode & 0o7777,
        uid: meta.uid,
        gid: meta.gid,
        uname: accounts.user_name(meta.uid).map(str::to_string),
        gname: accounts.group_name(meta.gid).map(str::to_string),
        mtime: meta.mtime,
        mtime_nsec: meta.mtime_nsec,
        size: 0,
        link: None,
        records: Vec::new(),
    }
}

fn manifest_for(m: &Member, kind: &'static str, size: u64) -> ManifestEntry {
    ManifestEntry {
        path: m.path.clone(),
        kind,
        data_size: m.size,
        size,
        blake3: None,
        event: None,
    }
}

fn open_error(path: &[u8], e: std::io::Error) -> Prepared {
    let event = if e.kind() == std::io::ErrorKind::NotFound {
        Event::Vanished
    } else {
        Event::Unreadable {
            error: e.to_string(),
        }
    };
    Prepared::Skip(Skipped {
        path: path.to_vec(),
        event,
    })
}

fn prepare(root: &RootFs, accounts: &Accounts, e: &PlanEntry) -> Prepared {
    let host = root.host_path(&e.path);
    let mut m = base_member(e, &e.meta, accounts);
    let (records, _warnings) = source::xattr_records(&host);
    m.records = records;
    if let Some(first) = &e.hardlink_to {
        m.kind = Some(EntryType::HardLink);
        m.link = Some(archive_path(first));
        let manifest = manifest_for(&m, "hardlink", 0);
        // Links carry no xattrs of their own in tar; the first name has them.
        m.records.clear();
        return Prepared::Small {
            header: tar_header::encode(&m),
            data: Vec::new(),
            manifest,
        };
    }
    match e.meta.kind {
        FileKind::Dir => {
            m.kind = Some(EntryType::Directory);
            let manifest = manifest_for(&m, "directory", 0);
            Prepared::Small {
                header: tar_header::encode(&m),
                data: Vec::new(),
                manifest,
            }
        }
        FileKind::Symlink => {
            let target = match std::fs::read_link(&host) {
                Ok(t) => t.into_os_string().into_encoded_bytes(),
                Err(err) => return open_error(&e.path, err),
            };
            m.kind = Some(EntryType::Symlink);
            m.link = Some(target);
            let manifest = manifest_for(&m, "symlink", 0);
            Prepared::Small {
                header: tar_header::encode(&m),
                data: Vec::new(),
                manifest,
            }
        }
        _ => prepare_regular(&host, e, m, accounts),
    }
}

fn prepare_regular(
    host: &std::path::Path,
    e: &PlanEntry,
    mut m: Member,
    accounts: &Accounts,
) -> Prepared {
    let file = match source::open(host) {
        Ok(f) => f,
        Err(err) => return open_error(&e.path, err),
    };
    let now = match file.metadata() {
        Ok(md) => md,
        Err(err) => return open_error(&e.path, err),
    };
    if !now.is_file() {
        return open_error(&e.path, std::io::Error::other("no longer a regular file"));
    }
    let replaced = now.ino() != e.meta.ino || now.dev() != e.meta.dev;
    let meta = Meta::from_std(&now);
    if replaced {
        // Pack what is there now, with its own attributes.
        let records = std::mem::take(&mut m.records);
        m = base_member(e, &meta, accounts);
        m.records = records;
    }
    let size = meta.size;
    let runs = source::sparse_runs(&file, size, meta.blocks);
    m.kind = Some(EntryType::Regular);
    m.size = source::data_size(size, runs.as_deref());
    if runs.is_some() {
        m.records.extend([
            ("GNU.sparse.major".to_string(), b"1".to_vec()),
            ("GNU.sparse.minor".to_string(), b"0".to_vec()),
            ("GNU.sparse.name".to_string(), m.path.clone()),
            (
                "GNU.sparse.realsize".to_string(),
                size.to_string().into_bytes(),
            ),
        ]);
    }
    let mut manifest = manifest_for(&m, "regular", size);
    if replaced {
        manifest.event = Some(Event::Replaced);
    }
    let header = tar_header::encode(&m);
    if m.size > BIG_MEMBER {
        return Prepared::Big {
            header,
            file,
            opened: now,
            size,
            runs,
            manifest,
        };
    }
    match source::read_small(&file, &now, size, runs.as_deref()) {
        Ok((data, event)) => {
            manifest.blake3 = Some(blake3::hash(&data).to_hex().to_string());
            if event.is_some() {
                manifest.event = event;
            }
            Prepared::Small {
                header,
                data,
                manifest,
            }
        }
        Err(err) => open_error(&e.path, err),
    }
}

/// Batches of consecutive entries: up to [`BATCH_BYTES`] of small-file data each.
fn batches(entries: &[PlanEntry]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, e) in entries.iter().enumerate() {
        let size = if e.meta.kind == FileKind::Regular && e.hardlink_to.is_none() {
            e.meta.size.min(BIG_MEMBER)
        } else {
            0
        };
        if bytes + size > BATCH_BYTES && i > start {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entries.len() {
        out.push(start..entries.len());
    }
    out
}

/// Write a whole export to `out`. `report_json` and `uforge_xml` write the report's JSON
/// and its UForge XML when called: each goes through a spool (`pack/spool.rs`), so neither
/// is held in memory.
pub fn write_export<W: Write + Send>(
    out: W,
    report_json: Fill<'_>,
    uforge_xml: Option<Fill<'_>>,
    root: &RootFs,
    accounts: &Accounts,
    plan: &Plan,
    opts: &ExportOptions,
) -> std::io::Result<(W, ExportSummary)> {
    let level = opts.level.max(3);
    let ranges = if opts.overlay {
        batches(&plan.entries)
    } else {
        Vec::new()
    };
    std::thread::scope(|scope| {
        // The UForge XML comes last in the file but depends on nothing packed: it is
        // written into its spool on a thread of its own while the overlay is packed (on
        // the test host it took 0.15 s with a core idle at the end), and only copied in
        // at the end.
        let xml = match uforge_xml {
            Some(fill) => Some(
                std::thread::Builder::new()
                    .name("export-xml".into())
                    .spawn_scoped(scope, move || -> std::io::Result<Spool> {
                        let mut spool = Spool::new(&opts.spool_dir, level)?;
                        fill(&mut spool)?;
                        Ok(spool)
                    })?,
            ),
            None => None,
        };
        // Files are read on the pool, a batch ahead of the thread that packs them, from the
        // start: the first batch is read while the report section is compressed and
        // written (0.09 s of one core on the test host). A rendezvous channel: the reader
        // holds the batch it read until the packer takes it, so two batches are in memory
        // at most.
        let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(0);
        let ranges = &ranges;
        let reader = std::thread::Builder::new()
            .name("export-read".into())
            .spawn_scoped(scope, move || {
                // Owned here, so a panic while reading ends the packer's wait too.
                let batch_tx = batch_tx;
                for r in ranges {
                    let batch = plan.entries[r.clone()]
                        .par_iter()
                        .map(|e| prepare(root, accounts, e))
                        .collect();
                    // The packer stopped (it failed): nothing more to read for.
                    if batch_tx.send(batch).is_err() {
                        break;
                    }
                }
            })?;
        let overlay = Overlay {
            plan,
            root,
            accounts,
            ranges,
            batches: batch_rx,
            reader,
        };
        write_sections(out, report_json, xml, overlay, opts)
    })
}

/// What is packed, and its files read a batch at a time by the `export-read` thread.
struct Overlay<'a, 'scope> {
    plan: &'a Plan,
    root: &'a RootFs,
    accounts: &'a Accounts,
    ranges: &'a [std::ops::Range<usize>],
    /// Dropped by the packer when it stops early: the reader ends at its next send.
    batches: std::sync::mpsc::Receiver<Vec<Prepared>>,
    reader: std::thread::ScopedJoinHandle<'scope, ()>,
}

/// [`write_export`] once the UForge XML and the overlay's files are on their way.
fn write_sections<W: Write + Send>(
    out: W,
    report_json: Fill<'_>,
    xml: Option<std::thread::ScopedJoinHandle<'_, std::io::Result<Spool>>>,
    overlay: Overlay<'_, '_>,
    opts: &ExportOptions,
) -> std::io::Result<(W, ExportSummary)> {
    let plan = overlay.plan;
    let mut out = CountingWriter::new(out);
    let mut summary = ExportSummary {
        not_packed: plan.not_packed.len(),
        ..ExportSummary::default()
    };

    let level = opts.level.max(3);
    let report = spool::section(
        &mut out,
        container::TAG_REPORT,
        level,
        &opts.spool_dir,
        report_json,
    )?;

    let mut manifest = Spool::new(&opts.spool_dir, level)?;
    let mut frames_info = Vec::new();
    let (mut entries, mut tar_bytes) = (0, 0);
    if opts.overlay {
        (frames_info, entries, tar_bytes) =
            pack_overlay(&mut out, overlay, &mut manifest, &mut summary, opts.level)?;
    }
    for n in &plan.not_packed {
        serde_json::to_writer(&mut manifest, &NotPackedLine::from(n))?;
        manifest.write_all(b"\n")?;
    }
    for s in &summary.skipped {
        serde_json::to_writer(&mut manifest, s)?;
        manifest.write_all(b"\n")?;
    }

    let manifest_span = manifest.write_section(&mut out, container::TAG_MANIFEST)?;
    let uforge_xml = match xml {
        Some(handle) => {
            let spool = handle
                .join()
                .map_err(|_| std::io::Error::other("the UForge XML's writer panicked"))??;
            Some(spool.write_section(&mut out, container::TAG_UFORGE_XML)?)
        }
        None => None,
    };

    let trailer_offset = out.written;
    let trailer = Trailer {
        format: container::FORMAT.into(),
        version: container::VERSION,
        report,
        frames: frames_info,
        manifest: Some(manifest_span),
        uforge_xml,
        entries,
        tar_bytes,
        zstd_level: opts.level,
        blake3: out.hasher.finalize().to_hex().to_string(),
    };
    summary.frames = trailer.frames.len();
    summary.blake3 = trailer.blake3.clone();
    summary.entries = entries;
    summary.tar_bytes = tar_bytes;
    out.write_all(&container::skippable(
        container::TAG_TRAILER,
        &serde_json::to_vec(&trailer)?,
    )?)?;
    out.write_all(&container::footer(trailer_offset)?)?;
    out.flush()?;
    summary.bytes_written = out.written;
    Ok((out.into_inner(), summary))
}

/// The overlay's frames: every batch as the reader hands it over, each member's manifest
/// line into `manifest`. Returns the frames, the entries and the tar bytes written.
fn pack_overlay<W: Write>(
    out: &mut CountingWriter<W>,
    overlay: Overlay<'_, '_>,
    manifest: &mut Spool,
    summary: &mut ExportSummary,
    level: i32,
) -> std::io::Result<(Vec<FrameInfo>, u64, u64)> {
    let Overlay {
        plan,
        root,
        accounts,
        ranges,
        batches,
        reader,
    } = overlay;
    let mut frames = Frames::new(out, level);
    // Archive paths of first names actually written, for their hardlinks.
    let mut written_paths: std::collections::HashSet<Vec<u8>> = Default::default();
    for range in ranges {
        let prepared = batches
            .recv()
            .map_err(|_| std::io::Error::other("the export's reader stopped"))?;
        for (p, e) in prepared.into_iter().zip(&plan.entries[range.clone()]) {
            let p = match p {
                // The first name vanished: this name carries the data instead.
                Prepared::Small { manifest, .. }
                    if manifest.kind == "hardlink"
                        && e.hardlink_to
                            .as_ref()
                            .is_some_and(|f| !written_paths.contains(f)) =>
                {
                    let mut alone = e.clone();
                    alone.hardlink_to = None;
                    prepare(root, accounts, &alone)
                }
                p => p,
            };
            let entry = match p {
                Prepared::Skip(s) => {
                    summary.skipped.push(s);
                    continue;
                }
                Prepared::Small {
                    header,
                    data,
                    manifest,
                } => {
                    frames.add(&header, &data)?;
                    manifest
                }
                Prepared::Big {
                    header,
                    file,
                    opened,
                    size,
                    runs,
                    mut manifest,
                } => {
                    let data_size = manifest.data_size;
                    let (event, digest) = frames.stream(&header, data_size, |w| {
                        source::write_data(&file, &opened, size, runs.as_deref(), w)
                    })?;
                    manifest.blake3 = Some(digest);
                    if event.is_some() {
                        manifest.event = event;
                    }
                    manifest
                }
            };
            written_paths.insert(e.path.clone());
            if entry.kind == "regular" {
                summary.file_bytes += entry.size;
            }
            if let Some(ev) = &entry.event {
                summary.events.push((e.path.clone(), ev.clone()));
            }
            serde_json::to_writer(&mut *manifest, &entry)?;
            manifest.write_all(b"\n")?;
        }
    }
    let packed = frames.finish()?;
    drop(batches);
    reader
        .join()
        .map_err(|_| std::io::Error::other("the export's reader panicked"))?;
    Ok(packed)
}

#[derive(Serialize)]
struct NotPackedLine<'a> {
    #[serde(with = "crate::path_bytes")]
    path: &'a Vec<u8>,
    packed: bool,
    reason: &'a str,
}

impl<'a> From<&'a NotPacked> for NotPackedLine<'a> {
    fn from(n: &'a NotPacked) -> Self {
        NotPackedLine {
            path: &n.path,
            packed: false,
            reason: &n.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::plan::{build, PackPolicy};
    use crate::walk::{self, Excludes, WalkOptions};

    /// The same plan and files give the same bytes, frame for frame (what resuming an
    /// interrupted upload by offset relies on).
    #[test]
    fn same_input_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("srv/a")).unwrap();
        for i in 0..300 {
            std::fs::write(r.join(format!("srv/a/f{i}")), format!("{i}\n").repeat(5000)).unwrap();
        }
        std::fs::write(r.join("srv/big"), vec![7u8; 12 << 20]).unwrap();
        let root = RootFs::new(r);
        let skip = Excludes::default();
        let walked = walk::walk(&WalkOptions {
            root: &root,
            excludes: &skip,
            skip_mounts: &skip,
        });
        let files: Vec<crate::classify::Classified> = walked
            .entries
            .map(|e| crate::classify::Classified {
                path: e.path.to_vec(),
                change: crate::classify::Change::Added,
                meta: Some(e.meta),
                link_target: e.link_target.as_deref().map(<[u8]>::to_vec),
                verify: None,
                config: false,
                marker: None,
                owners: Vec::new(),
                category: Some(crate::classify::Category::Unowned),
                reason: "test",
            })
            .collect();
        let plan = build(&root, &files, &PackPolicy::default());
        let opts = ExportOptions {
            level: 3,
            overlay: true,
            spool_dir: dir.path().to_path_buf(),
        };
        let acc = Accounts::default();
        let report: Fill = &|w| w.write_all(b"{}");
        let (a, sa) = write_export(Vec::new(), report, None, &root, &acc, &plan, &opts).unwrap();
        let (b, _) = write_export(Vec::new(), report, None, &root, &acc, &plan, &opts).unwrap();
        assert_eq!(a, b);
        assert!(
            sa.frames >= 3,
            "small frames and a streamed one: {}",
            sa.frames
        );
        assert_eq!(sa.entries, 303);
    }
}
