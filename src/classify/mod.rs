//! Classify every walked path and every packaged path: `added` (no package owns it),
//! `modified` (owned, differs from what the database records), `deleted` (owned, recorded,
//! missing), or unchanged (counted, not listed).
//!
//! Hashing is the expensive part, so only files whose database records a digest are read,
//! each inode once (hardlinks), in parallel on the rayon pool.

pub mod added;
pub mod caps;
pub mod category;
pub mod digest;
pub mod md5_multi;
pub mod open_ahead;
mod owned_index;
pub mod prelink;
pub mod verify;
pub mod verify_cache;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Serialize;

pub use added::{AddedFiles, AddedRecord};
pub use category::Category;
pub use owned_index::PathIndex;
pub use verify::VerifyFlags;

use crate::accounts::Accounts;
use crate::path_order;
use crate::pkgdb::digest::AlgoSet;
use crate::pkgdb::{DbContents, Digest, Marker, Owner, PackagedFile, Presence};
use crate::rootfs::{DirResolver, RootFs};
use crate::walk::{Excludes, FileKind, LinkTarget, Meta, WalkError, WalkedEntry};
use owned_index::{OwnedIndex, Records, Seen};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

/// Which database and which owner inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnerRef {
    pub db: u16,
    pub owner: Owner,
}

/// One reported path.
#[derive(Debug, Clone)]
pub struct Classified {
    pub path: Vec<u8>,
    pub change: Change,
    /// `lstat` of the path; `None` for deleted paths.
    pub meta: Option<Meta>,
    pub link_target: Option<Vec<u8>>,
    /// rpm -V style attribute result, for modified paths.
    pub verify: Option<VerifyFlags>,
    pub config: bool,
    /// rpm's marker letter (config, doc, ghost, license, readme) where the database has one.
    pub marker: Option<Marker>,
    pub owners: Vec<OwnerRef>,
    /// For added paths.
    pub category: Option<Category>,
    pub reason: &'static str,
}

/// Everything the classifier needs besides the walk and the databases.
pub struct Context<'a> {
    pub root: &'a RootFs,
    pub accounts: &'a Accounts,
    /// User excludes: packaged paths below them are "not checked", never "deleted".
    pub excludes: &'a Excludes,
    /// Skipped mount points: same.
    pub skipped_mounts: &'a Excludes,
    /// Active swap files (scanned paths), from `/proc/swaps`.
    pub swap_files: &'a [Vec<u8>],
    /// Set when the root uses prelink: size/digest mismatches of ELF files are re-checked
    /// on the un-prelinked content.
    pub prelink: Option<&'a prelink::Prelink>,
    /// When the scan started (seconds since the epoch): files changed later are not cached.
    pub scan_start: i64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CategoryTotal {
    pub files: u64,
    pub bytes: u64,
    pub packed_by_default: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    pub walked_entries: u64,
    pub walked_bytes: u64,
    pub packaged_paths: u64,
    pub unchanged: u64,
    pub added: u64,
    pub added_bytes: u64,
    pub modified: u64,
    pub modified_bytes: u64,
    pub deleted: u64,
    /// Recorded, absent, and legitimately so (dpkg path-exclude, localepurge, …), by reason.
    pub not_installed: BTreeMap<&'static str, u64>,
    /// Recorded paths below an exclude, a skipped mount or an unreadable directory.
    pub not_checked: u64,
    /// Files (inodes) actually read and hashed, and their bytes.
    pub hashed_files: u64,
    pub hashed_bytes: u64,
    /// Files whose digests came from the verify cache (unchanged since the last scan).
    pub cached_files: u64,
    pub cached_bytes: u64,
    /// Prelinked files whose original (prelink undone) matches the package.
    pub prelinked_unchanged: u64,
    pub changed_while_read: u64,
    pub added_by_category: BTreeMap<Category, CategoryTotal>,
}

pub struct Classification {
    pub files: Reported,
    pub totals: Totals,
    /// Files that could not be read or changed while read (they make the run "partial").
    pub errors: Vec<WalkError>,
    /// What the next scan's verify cache should hold (empty without a cache).
    pub cache_entries: Vec<(verify_cache::Key, verify_cache::Cached)>,
}

/// The reported paths: modified and deleted ones as records, added ones packed (most of
/// a large scan's report, and the bulk of its memory as records).
pub struct Reported {
    /// Sorted by path.
    pub records: Vec<Classified>,
    pub added: AddedFiles,
}

impl Reported {
    pub fn len(&self) -> usize {
        self.records.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every reported path's record, in path order (the added ones decoded as they come).
    pub fn iter(&self) -> impl Iterator<Item = Classified> + '_ {
        let mut records = self.records.iter().peekable();
        let mut added = self
            .added
            .iter()
            .map(AddedRecord::into_classified)
            .peekable();
        std::iter::from_fn(move || match (records.peek(), added.peek()) {
            (Some(r), Some(a)) if path_order::cmp(&a.path, &r.path).is_lt() => added.next(),
            (Some(_), _) => records.next().cloned(),
            (None, _) => added.next(),
        })
    }
}

/// Records as they are, none packed (tests, and callers that build their own).
impl From<Vec<Classified>> for Reported {
    fn from(records: Vec<Classified>) -> Reported {
        Reported {
            records,
            added: AddedFiles::default(),
        }
    }
}

/// What reading one inode gave.
type HashResult = Result<digest::HashOutcome, String>;

/// A [`HashResult`] as held from hashing to pass 3, one per hashed inode: the digests as
/// the next verify cache keeps them (an MD5 inline), or why there are none. 24 bytes, 32
/// in its `OnceLock`, where a `HashResult` took 56: 12 MB of a 1 M-file tree's peak.
enum HashSlot {
    Digests(verify_cache::Cached),
    /// The file changed while read.
    Changed(&'static str),
    /// It could not be read.
    Failed(Box<str>),
}

impl HashSlot {
    fn new(r: HashResult) -> HashSlot {
        match r {
            Ok(digest::HashOutcome::Digests(d)) => HashSlot::Digests(verify_cache::Cached::of(d)),
            Ok(digest::HashOutcome::Changed(why)) => HashSlot::Changed(why),
            Err(msg) => HashSlot::Failed(msg.into_boxed_str()),
        }
    }
}

/// The hash result of the inode `meta` names, if it was one of `jobs` (sorted by inode;
/// `hashed` holds their results in the same order).
fn hash_slot<'h>(
    jobs: &[HashJob],
    hashed: &'h [OnceLock<HashSlot>],
    meta: &Meta,
) -> Option<&'h HashSlot> {
    jobs.binary_search_by_key(&(meta.dev, meta.ino), |j| (j.dev, j.ino))
        .ok()
        .and_then(|i| hashed.get(i)?.get())
}

/// What must be hashed for one walked, owned regular file. 24 bytes (one per hashed
/// file, held through hashing): the walk's index fits in 32 bits, as no 4 G records fit in
/// memory.
struct HashJob {
    entry: u32,
    algos: AlgoSet,
    dev: u64,
    ino: u64,
}

impl HashJob {
    fn entry(&self) -> usize {
        self.entry as usize
    }
}

/// `index` is [`PathIndex::build`] of `dbs`. `load_cache` gives the digests of the previous
/// scan, `None` with `--no-cache` (then nothing is collected for the next one either). It
/// is called once pass 1 has packed the added entries, whose walk records the cache was
/// held beside otherwise (a 1 M-file tree's rescan peaked there); the cache is consumed,
/// and freed as soon as it has been looked up.
pub fn classify(
    ctx: &Context,
    walked: impl IntoIterator<Item = WalkedEntry, IntoIter: ExactSizeIterator>,
    walk_errors: &[WalkError],
    dbs: &[DbContents],
    index: PathIndex,
    load_cache: impl FnOnce() -> Option<verify_cache::VerifyCache>,
) -> Classification {
    let index = OwnedIndex::with_parts(dbs, index);
    // Directories the walker could not read: their recorded children are not checked.
    let unreadable = Excludes::new(
        walk_errors
            .iter()
            .filter(|e| e.operation == "readdir")
            .map(|e| e.path.clone()),
    );

    let walked = walked.into_iter();
    let walked_entries = walked.len() as u64;
    let FirstPass {
        mut walked,
        verdicts,
        added,
        added_totals,
        walked_bytes,
    } = first_pass(ctx, &index, walked);
    log::debug!(
        "{} added paths packed in {} bytes",
        added.len(),
        added.packed_bytes()
    );
    crate::memory_use::log_after("pass 1 (ownership and attributes)");
    let cache = load_cache();

    // Pass 2: hash each needed inode once, in parallel, in inode order for locality.
    let mut jobs: Vec<HashJob> = verdicts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Verdict { hash, .. } if !hash.is_empty() => Some(HashJob {
                entry: u32::try_from(i).ok()?,
                dev: walked[i].meta.dev,
                ino: walked[i].meta.ino,
                algos: *hash,
            }),
            _ => None,
        })
        .collect();
    jobs.sort_unstable_by_key(|j| (j.dev, j.ino));
    // Hardlinks recorded by packages with different algorithms: one read, every algorithm.
    jobs.dedup_by(|later, kept| {
        let same = (later.dev, later.ino) == (kept.dev, kept.ino);
        if same {
            kept.algos = kept.algos.union(later.algos);
        }
        same
    });
    // A file unchanged since the last scan (same lstat key, ctime included) is not read.
    // One result per job, in the jobs' (inode) order (pass 3 finds a file's by binary
    // search on the inode: a HashMap keyed by inode took about twice the bytes), each set
    // once: by the cache here or by the hashing worker that read the file.
    let collect_cache = cache.is_some();
    let hashed: Vec<OnceLock<HashSlot>> = match cache {
        // Jobs are one per inode, in inode order: in key order, as the cache is.
        Some(cache) => cache
            .answers(
                jobs.iter()
                    .map(|j| (verify_cache::Key::of(&walked[j.entry()].meta), j.algos)),
            )
            .map(|cached| match cached {
                Some(d) => OnceLock::from(HashSlot::Digests(verify_cache::Cached::of(d))),
                None => OnceLock::new(),
            })
            .collect(),
        None => jobs.iter().map(|_| OnceLock::new()).collect(),
    };
    let from_cache: Vec<bool> = hashed.iter().map(|h| h.get().is_some()).collect();
    // What must be read: MD5 alone (dpkg, rpm's md5 packages) goes several files per
    // thread in SIMD lanes; everything else one file per task.
    let (md5_only, others): (Vec<usize>, Vec<usize>) = (0..jobs.len())
        .filter(|&i| !from_cache[i])
        .partition(|&i| jobs[i].algos == md5_multi::md5_only());
    let store = |job: usize, r: std::io::Result<digest::HashOutcome>| {
        // Each job is handed to one worker once: the slot is empty.
        let _ = hashed[job].set(HashSlot::new(r.map_err(|e| e.to_string())));
    };
    open_ahead::hash_each(
        others.len(),
        |k| {
            let e = &walked[jobs[others[k]].entry()];
            (ctx.root.host_path(e.path(&index)), &e.meta)
        },
        |k| jobs[others[k]].algos,
        |k, r| store(others[k], r),
    );
    md5_multi::hash_files(
        md5_multi::Engine::detect(),
        md5_only.len(),
        |k| {
            let e = &walked[jobs[md5_only[k]].entry()];
            (ctx.root.host_path(e.path(&index)), &e.meta)
        },
        |k, r| store(md5_only[k], r),
    );
    drop((md5_only, others));
    crate::memory_use::log_after("pass 2 (hashing)");

    let mut totals = Totals {
        walked_entries,
        walked_bytes,
        packaged_paths: index.paths as u64,
        added: added_totals.files,
        added_bytes: added_totals.bytes,
        added_by_category: added_totals.by_category,
        ..Default::default()
    };
    for (j, &cached) in jobs.iter().zip(&from_cache) {
        if cached {
            totals.cached_files += 1;
            totals.cached_bytes += walked[j.entry()].meta.size;
        } else {
            totals.hashed_files += 1;
            totals.hashed_bytes += walked[j.entry()].meta.size;
        }
    }

    // Recorded paths that the walk did not find, marked before the loop below consumes
    // the walk: one bit per index record, where a list of the index's groups to search
    // the walk for took 32 bytes a path (16 MB of a 1 M-file tree's peak).
    let mut seen = Seen::new(&index);
    for e in &walked {
        seen.insert(e.group);
    }

    // Pass 3: the report records, in parallel, one chunk of `CHUNK` entries at a time
    // from the end: the walk's records are drained and their memory handed back while the
    // report's grow by as much, so the two never peak together (they were the two largest
    // allocations of a scan, held at once). Reported paths and link targets move from one
    // to the other, not copied.
    const CHUNK: usize = 1 << 15;
    let mut chunks: Vec<Vec<Classified>> = Vec::new();
    let mut errors = Vec::new();
    // The next scan's cache, collected here rather than from the hash results before this
    // pass: held beside the walk's records it was the peak of a 1 M-file scan (48 MB).
    // At most one per job but for hardlinks: reserved, as growing by doubling held the
    // old and the new buffer at once (24 + 48 MB at 500 k entries).
    let mut cache_entries = Vec::with_capacity(if collect_cache { jobs.len() } else { 0 });
    let mut verdicts = verdicts;
    while !walked.is_empty() {
        let start = walked.len().saturating_sub(CHUNK);
        let outcomes: Vec<Outcome> = walked
            .par_drain(start..)
            .zip(verdicts.par_drain(start..))
            .map(|(e, v)| {
                let slot = hash_slot(&jobs, &hashed, &e.meta);
                report_entry(ctx, &index, slot, collect_cache, e, v)
            })
            .collect();
        // The drained tail's pages go back now (shrink_to_fit does not with mimalloc).
        crate::spare_capacity::release(&mut walked);
        crate::spare_capacity::release(&mut verdicts);
        let mut records =
            Vec::with_capacity(outcomes.iter().filter(|o| o.record.is_some()).count());
        for o in outcomes {
            totals.changed_while_read += u64::from(o.changed_while_read);
            totals.prelinked_unchanged += u64::from(o.prelinked_unchanged);
            errors.extend(o.error.map(|e| *e));
            cache_entries.extend(o.cache_entry);
            let Some(c) = o.record.map(|c| *c) else {
                totals.unchanged += 1;
                continue;
            };
            totals.modified += 1;
            totals.modified_bytes += match c.meta {
                Some(m) if m.kind == FileKind::Regular => m.size,
                _ => 0,
            };
            records.push(c);
        }
        chunks.push(records);
    }

    drop(hashed);
    drop(verdicts);
    drop(walked);
    // In the cache file's order; a hardlinked inode was reached by each of its paths.
    cache_entries.par_sort_unstable_by_key(|(k, _)| *k);
    cache_entries.dedup_by_key(|(k, _)| *k);

    crate::memory_use::log_after("pass 3 (report records)");
    let mut deleted = Vec::new();
    for (at, path, group) in index.groups() {
        if seen.contains(at) {
            continue;
        }
        if ctx.excludes.covers(path) || ctx.skipped_mounts.covers(path) || unreadable.covers(path) {
            totals.not_checked += 1;
            continue;
        }
        let recs = index.records(group);
        if recs.iter().any(|(_, f)| f.presence == Presence::Required) {
            totals.deleted += 1;
            deleted.push(Classified {
                path: path.to_vec(),
                change: Change::Deleted,
                meta: None,
                link_target: None,
                verify: None,
                config: recs.iter().any(|(_, f)| f.conffile),
                marker: recs.iter().find_map(|(_, f)| f.marker),
                owners: owners_of(&recs),
                category: None,
                reason: "recorded by the package database, missing on disk",
            });
        } else {
            let reason = recs
                .iter()
                .find_map(|(_, f)| match f.presence {
                    Presence::NotInstalled(r) => Some(r.reason()),
                    _ => None,
                })
                .unwrap_or("optional (obsolete conffile, leftover or alternative)");
            *totals.not_installed.entry(reason).or_default() += 1;
        }
    }
    // The chunks came from the end of the sorted walk, so in reverse they are sorted; the
    // deleted paths are sorted too (the index's order): a merge, not a sort.
    let records = merge_sorted(chunks, deleted);
    errors.sort_by(|a, b| path_order::cmp(&a.path, &b.path));
    Classification {
        files: Reported { records, added },
        totals,
        errors,
        cache_entries,
    }
}

/// An owned walked entry, held from pass 1 to pass 3 (a million of them on a large
/// host). It does not hold its path: that is its index group's key, found by position.
struct OwnedEntry {
    /// Position of the path's records in the [`OwnedIndex`], or [`UNRECORDED`].
    group: usize,
    meta: Meta,
    link_target: LinkTarget,
}

/// The group of an owned entry that no database records: the root directory, owned by
/// the system itself.
const UNRECORDED: usize = usize::MAX;

impl OwnedEntry {
    fn path<'i>(&self, index: &'i OwnedIndex) -> &'i [u8] {
        if self.group == UNRECORDED {
            b"/"
        } else {
            index.path_at(self.group)
        }
    }
}

/// An owned entry's verdict and its [`OwnedEntry::group`].
type OwnedVerdict = (Verdict, usize);

/// What pass 1 leaves for the others.
struct FirstPass {
    /// The owned entries, in path order, and what pass 1 found of each.
    walked: Vec<OwnedEntry>,
    verdicts: Vec<Verdict>,
    added: AddedFiles,
    added_totals: AddedTotals,
    /// Bytes of the walked regular files.
    walked_bytes: u64,
}

#[derive(Default)]
struct AddedTotals {
    files: u64,
    bytes: u64,
    by_category: BTreeMap<Category, CategoryTotal>,
}

impl AddedTotals {
    fn count(&mut self, e: &WalkedEntry, category: Category) {
        let size = if e.meta.kind == FileKind::Regular {
            e.meta.size
        } else {
            0
        };
        self.files += 1;
        self.bytes += size;
        let t = self.by_category.entry(category).or_default();
        t.files += 1;
        t.bytes += size;
        t.packed_by_default = category.packed_by_default();
    }

    fn add(&mut self, other: AddedTotals) {
        self.files += other.files;
        self.bytes += other.bytes;
        for (category, t) in other.by_category {
            let mine = self.by_category.entry(category).or_default();
            mine.files += t.files;
            mine.bytes += t.bytes;
            mine.packed_by_default = t.packed_by_default;
        }
    }
}

/// Pass 1 (parallel): owned or not, and the checks that need no reading. The added
/// entries leave the walk here, packed ([`added`]), rather than idling through the
/// hashing as walk records (half a 1 M-file tree's walk). The walk is taken `CHUNK`
/// entries at a time, in path order, as it frees its directories' batches: it and what
/// replaces it are not held at once.
fn first_pass(
    ctx: &Context,
    index: &OwnedIndex,
    mut walked: impl ExactSizeIterator<Item = WalkedEntry>,
) -> FirstPass {
    const CHUNK: usize = 1 << 15;
    // Both the walk and the index are sorted by path: each part finds its first path by
    // binary search, then walks the index forward with it (a merge join; a binary search
    // per entry was 5 % of a host scan's CPU).
    const PART: usize = 4096;
    // Reserved for every entry: only the pages the owned ones fill become resident, and
    // growing by doubling held two copies.
    let mut owned = Vec::with_capacity(walked.len());
    let mut verdicts = Vec::with_capacity(walked.len());
    let mut blocks = Vec::new();
    let mut added_totals = AddedTotals::default();
    let mut walked_bytes = 0;
    loop {
        let chunk: Vec<WalkedEntry> = walked.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        walked_bytes += chunk
            .iter()
            .filter(|e| e.meta.kind == FileKind::Regular)
            .map(|e| e.meta.size)
            .sum::<u64>();
        let parts: Vec<(Vec<Option<OwnedVerdict>>, added::Block, AddedTotals)> = chunk
            .par_chunks(PART)
            .map(|part| {
                let mut cursor = part.first().map_or(0, |e| index.lower_bound(&e.path));
                let mut block = added::BlockWriter::default();
                let mut totals = AddedTotals::default();
                let verdicts = part
                    .iter()
                    .map(|e| {
                        let group = index.advance(&mut cursor, &e.path);
                        let at = if group.is_empty() {
                            UNRECORDED
                        } else {
                            cursor - group.len()
                        };
                        let recs = (!group.is_empty()).then(|| index.records(group));
                        let verdict = first_look(ctx, e, recs.as_deref());
                        if verdict.is_none() {
                            let rule = category::rule_for(&e.path, ctx.swap_files);
                            totals.count(e, rule.category());
                            block.push(e, rule);
                        }
                        verdict.map(|v| (v, at))
                    })
                    .collect();
                (verdicts, block.finish(), totals)
            })
            .collect();
        // One verdict per entry, in the entries' order (the verdicts zipped first: `zip`
        // takes from its left side before it learns the right one has ended).
        let mut entries = chunk.into_iter();
        for (part_verdicts, block, totals) in parts {
            for (v, e) in part_verdicts.into_iter().zip(entries.by_ref()) {
                if let Some((v, group)) = v {
                    // The path is the index's (the walked path is its key): not kept twice.
                    owned.push(OwnedEntry {
                        group,
                        meta: e.meta,
                        link_target: e.link_target,
                    });
                    verdicts.push(v);
                }
            }
            if !block.is_empty() {
                blocks.push(block);
            }
            added_totals.add(totals);
        }
    }
    FirstPass {
        walked: owned,
        verdicts,
        added: AddedFiles::new(blocks),
        added_totals,
        walked_bytes,
    }
}

/// What pass 3 made of one walked entry.
struct Outcome {
    /// The report record of a modified path; `None` = unchanged (added paths were
    /// packed in pass 1). Boxed, as the error: most outcomes have neither, and a chunk's
    /// outcomes are held at once (328 bytes each inline, 96 boxed).
    record: Option<Box<Classified>>,
    error: Option<Box<WalkError>>,
    /// The digests read (or found in the cache) for the next scan's cache.
    cache_entry: Option<(verify_cache::Key, verify_cache::Cached)>,
    changed_while_read: bool,
    prelinked_unchanged: bool,
}

/// The report record of one walked entry, from its verdict and (for owned files that had
/// to be read) its hash result.
fn report_entry(
    ctx: &Context,
    index: &OwnedIndex,
    hashed: Option<&HashSlot>,
    collect_cache: bool,
    e: OwnedEntry,
    v: Verdict,
) -> Outcome {
    let mut out = Outcome {
        record: None,
        error: None,
        cache_entry: None,
        changed_while_read: false,
        prelinked_unchanged: false,
    };
    let Verdict {
        mut flags,
        hash,
        config,
        marker,
    } = v;
    // Looked up again (when needed) rather than kept in the verdict: on a million entries
    // the owners and digests of every owned one were the verdicts' bulk.
    let path = e.path(index);
    let records = || index.records(index.group_at(e.group));
    let mut recs = Records::new();
    if !hash.is_empty() {
        recs = records();
        match hashed {
            Some(HashSlot::Digests(d)) => {
                let ok = pending_digests(&e.meta, &recs)
                    .all(|want| d.get(want.algo).is_some_and(|c| want.matches(c)));
                flags.digest = flags.digest.and(verify::Check::from_ok(ok));
                if collect_cache && verify_cache::cacheable(&e.meta, ctx.scan_start) {
                    out.cache_entry = Some((verify_cache::Key::of(&e.meta), d.clone()));
                }
            }
            Some(HashSlot::Changed(why)) => {
                out.changed_while_read = true;
                flags.digest = verify::Check::Unknown;
                out.error = Some(Box::new(WalkError {
                    path: path.to_vec(),
                    operation: "hash",
                    error: why.to_string(),
                }));
            }
            Some(HashSlot::Failed(msg)) => {
                flags.digest = verify::Check::Unknown;
                out.error = Some(Box::new(WalkError {
                    path: path.to_vec(),
                    operation: "hash",
                    error: msg.to_string(),
                }));
            }
            None => flags.digest = verify::Check::Unknown,
        }
    }
    let mut reason = "differs from the package database";
    if (flags.size == verify::Check::Failed || flags.digest == verify::Check::Failed)
        && e.meta.kind == FileKind::Regular
    {
        if let Some(pl) = ctx.prelink {
            if recs.is_empty() {
                recs = records();
            }
            if let Some(r) = recheck_prelinked(ctx, pl, path, &recs, &mut flags) {
                reason = r;
                out.prelinked_unchanged = !flags.any_failed() && r == PRELINK_MATCHES;
            }
        }
    }
    if flags.any_failed() || reason == PRELINK_UNVERIFIABLE {
        if recs.is_empty() {
            recs = records();
        }
        out.record = Some(Box::new(Classified {
            path: path.to_vec(),
            change: Change::Modified,
            meta: Some(e.meta),
            link_target: e.link_target.into_vec(),
            verify: Some(flags),
            config,
            marker,
            owners: owners_of(&recs),
            category: None,
            reason,
        }));
    }
    out
}

/// One sorted list from the pass-3 chunks (each sorted, the list of chunks in descending
/// order) and the sorted deleted paths. No path is in both (deleted = not walked).
fn merge_sorted(mut chunks: Vec<Vec<Classified>>, deleted: Vec<Classified>) -> Vec<Classified> {
    let total = chunks.iter().map(Vec::len).sum::<usize>() + deleted.len();
    let mut files = Vec::with_capacity(total);
    let mut deleted = deleted.into_iter().peekable();
    while let Some(chunk) = chunks.pop() {
        for c in chunk {
            while let Some(d) = deleted.next_if(|d| path_order::cmp(&d.path, &c.path).is_lt()) {
                files.push(d);
            }
            files.push(c);
        }
    }
    files.extend(deleted);
    files
}

/// For a symlink where a record expects a directory: the directory it resolves to inside
/// the root, if the link is root's or its owner owns the directory too (rpm's rule,
/// lib/verify.cc, matching what rpm itself follows when installing).
fn symlinked_dir(
    ctx: &Context,
    e: &WalkedEntry,
    recs: &[(u16, &PackagedFile)],
) -> Option<(Meta, std::path::PathBuf)> {
    if e.meta.kind != FileKind::Symlink {
        return None;
    }
    let expects_dir = recs.iter().any(|(_, f)| {
        f.expected
            .mode
            .is_some_and(|m| m & libc::S_IFMT == libc::S_IFDIR)
    });
    if !expects_dir {
        return None;
    }
    let target = DirResolver::new(ctx.root).canonical_dir(&e.path);
    let host = ctx.root.host_path(&target);
    let meta = Meta::from_std(&std::fs::symlink_metadata(&host).ok()?);
    (meta.kind == FileKind::Dir && (e.meta.uid == 0 || e.meta.uid == meta.uid))
        .then_some((meta, host))
}

const PRELINK_MATCHES: &str = "prelinked; matches the package once prelink is undone";
const PRELINK_UNVERIFIABLE: &str =
    "prelinked; prelink is not available here to undo it, so its content cannot be verified";
const PRELINK_DIFFERS: &str = "prelinked, and differs from the package even with prelink undone";

/// Size or digest failed on a file of a root that uses prelink: if the file is prelinked,
/// compare what `prelink -y` restores instead (rpm -V does the same). Returns the reason
/// to report, or `None` when the file is not prelinked.
fn recheck_prelinked(
    ctx: &Context,
    pl: &prelink::Prelink,
    path: &[u8],
    recs: &[(u16, &PackagedFile)],
    flags: &mut VerifyFlags,
) -> Option<&'static str> {
    if recs.is_empty() {
        return None;
    }
    let host = ctx.root.host_path(path);
    if !prelink::is_prelinked(&host).unwrap_or(false) {
        return None;
    }
    let Some(cmd) = &pl.undo_cmd else {
        flags.size = verify::Check::Unknown;
        flags.digest = verify::Check::Unknown;
        return Some(PRELINK_UNVERIFIABLE);
    };
    let mut algos = AlgoSet::default();
    for (_, f) in recs {
        if let Some(d) = &f.digest {
            algos.insert(d.algo);
        }
    }
    match prelink::undo_and_hash(cmd, &host, algos) {
        Ok((size, computed)) => {
            let mut size_check = verify::Check::Unknown;
            let mut digest_check = verify::Check::Unknown;
            for (_, f) in recs {
                if let Some(want) = f.expected.size {
                    size_check = size_check.and(verify::Check::from_ok(want == size));
                }
                if let Some(want) = &f.digest {
                    let ok = computed.get(want.algo).is_some_and(|c| want.matches(c));
                    digest_check = digest_check.and(verify::Check::from_ok(ok));
                }
            }
            flags.size = size_check;
            flags.digest = digest_check;
            Some(
                if size_check == verify::Check::Failed || digest_check == verify::Check::Failed {
                    PRELINK_DIFFERS
                } else if flags.any_failed() {
                    "differs from the package database"
                } else {
                    PRELINK_MATCHES
                },
            )
        }
        // prelink -y refuses files changed after prelinking.
        Err(_) => {
            flags.digest = verify::Check::Failed;
            Some(PRELINK_DIFFERS)
        }
    }
}

/// What pass 1 found of an owned entry, held to pass 3: kept small (12 bytes, one per
/// owned entry).
struct Verdict {
    flags: VerifyFlags,
    /// Algorithms the file must be read with; empty = no read needed. The digests to
    /// compare are [`pending_digests`] of the path's records.
    hash: AlgoSet,
    config: bool,
    marker: Option<Marker>,
}

/// The recorded digests of a walked regular file that only reading it can check: those
/// of records whose size (if recorded) matches (same content has the same size).
fn pending_digests<'r>(
    meta: &'r Meta,
    recs: &'r [(u16, &PackagedFile)],
) -> impl Iterator<Item = &'r Digest> {
    recs.iter().filter_map(move |(_, f)| {
        let want = f.digest.as_ref()?;
        (meta.kind == FileKind::Regular && f.expected.size.is_none_or(|s| s == meta.size))
            .then_some(want)
    })
}

fn owners_of(recs: &[(u16, &PackagedFile)]) -> Vec<OwnerRef> {
    let mut owners: Vec<OwnerRef> = recs
        .iter()
        .map(|(db, f)| OwnerRef {
            db: *db,
            owner: f.owner,
        })
        .collect();
    owners.dedup();
    owners
}

/// `None`: no package owns the entry.
fn first_look(
    ctx: &Context,
    e: &WalkedEntry,
    recs: Option<&[(u16, &PackagedFile)]>,
) -> Option<Verdict> {
    let Some(recs) = recs else {
        if *e.path == *b"/" {
            // The root directory always exists on the target too; nothing to pack or report.
            return Some(Verdict {
                flags: VerifyFlags::unchecked(),
                hash: AlgoSet::default(),
                config: false,
                marker: None,
            });
        }
        return None;
    };
    // rpm -V does not compare mtimes of a path that several installed packages own.
    let shared = owners_of(recs).len() > 1;
    let mut host_path = ctx.root.host_path(&e.path);
    let mut disk_meta = e.meta;
    let mut disk_link = e.link_target.as_deref();
    if let Some((meta, host)) = symlinked_dir(ctx, e, recs) {
        // rpm -V: a directory replaced by a symlink to a directory (a root-owned link, or one
        // whose owner owns the target: not a redirection planted by someone else) is checked
        // as that directory — admins move /var/log and the like to other disks this way.
        disk_meta = meta;
        disk_link = None;
        host_path = host;
    }
    let disk = verify::OnDisk {
        meta: &disk_meta,
        link_target: disk_link,
        host_path: &host_path,
    };
    let mut flags = VerifyFlags::unchecked();
    let mut hash = AlgoSet::default();
    let mut type_changed = false;
    for (_, f) in recs {
        verify::check_attrs(&mut flags, &f.expected, &disk, shared, ctx.accounts);
        let Some(want) = &f.digest else { continue };
        match e.meta.kind {
            FileKind::Regular => {
                if f.expected.size.is_some_and(|s| s != e.meta.size) {
                    // Same content has the same size: no need to read the file to know.
                    flags.digest = flags.digest.and(verify::Check::Failed);
                } else {
                    // Compared in pass 3, as one of `pending_digests`.
                    hash.insert(want.algo);
                }
            }
            FileKind::Symlink if f.expected.symlink_digest => {
                let target = e.link_target.as_deref().unwrap_or_default();
                let mut algos = AlgoSet::default();
                algos.insert(want.algo);
                let computed = digest::hash_bytes(target, algos);
                let ok = computed.get(want.algo).is_some_and(|c| want.matches(c));
                flags.digest = flags.digest.and(verify::Check::from_ok(ok));
            }
            // A digest is recorded, so a regular file was installed.
            _ => type_changed = true,
        }
    }
    if type_changed && !flags.any_failed() {
        // Nothing else the database records shows the change of type (dpkg records only a
        // digest): report it as a mode change, as `dpkg --verify` does.
        flags.mode = verify::Check::Failed;
    }
    Some(Verdict {
        flags,
        hash,
        config: recs.iter().any(|(_, f)| f.conffile),
        marker: recs.iter().find_map(|(_, f)| f.marker),
    })
}

#[cfg(test)]
mod tests;
