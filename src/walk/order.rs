//! The walk's records in path order, from the directories' batches, without sorting the
//! whole walk.
//!
//! Everything downstream (the merge join with the package index, the report) wants the
//! walk sorted by path bytes ([`crate::path_order`]). A parallel sort of every record by
//! full path was 5 % of a warm host scan's CPU samples: a million comparisons of long,
//! scattered paths that share their first 20–40 bytes. Each directory's entries share
//! their parent's path, so only names need comparing: sort each directory's batch by
//! name, and put each subdirectory's contents where its name followed by `/` sorts among
//! its siblings (byte order is not component order: `a-b` and `a.c` come between `a` and
//! `a/x`, since `-` and `.` sort before `/`). A depth-first pass then lays the records
//! out in exactly the byte order of their full paths.
//!
//! Each batch is held packed ([`super::packed`]: names front-coded, `lstat` fields as
//! varint deltas) and a record becomes a [`WalkedEntry`] only as the pass takes it: the
//! 1 M-file tree's walk held 111 MiB this way, 212 MiB as `WalkedEntry`s.

use std::cmp::Ordering;

use super::packed::{Cursor, Packed, Packer};
use super::{child_path, LinkTarget, Meta, WalkedEntry};
use crate::path_order;

/// One directory's entries, as the walker read them, packed in name order.
pub(super) struct Batch {
    /// The directory's path (as its entries' paths start).
    pub dir: Vec<u8>,
    /// Keyed by name (not full path), sorted by [`path_order::cmp`].
    pub entries: Packed,
    /// Batch ids of the subdirectories read from this one (in any order). A subdirectory
    /// that had no entries (or could not be read) left no batch.
    pub children: Vec<u32>,
}

/// A directory's entries as `readdir` returns them (in no order), names and link targets
/// in two arenas rather than an allocation each, until [`BatchBuilder::finish`] sorts
/// and packs them.
#[derive(Default)]
pub(super) struct BatchBuilder {
    names: Vec<u8>,
    links: Vec<u8>,
    rows: Vec<Row>,
}

struct Row {
    name: std::ops::Range<usize>,
    link: Option<std::ops::Range<usize>>,
    meta: Meta,
}

impl BatchBuilder {
    pub fn push(&mut self, name: &[u8], meta: Meta, link_target: Option<&[u8]>) {
        let at = self.names.len();
        self.names.extend_from_slice(name);
        let link = link_target.map(|t| {
            let at = self.links.len();
            self.links.extend_from_slice(t);
            at..self.links.len()
        });
        self.rows.push(Row {
            name: at..self.names.len(),
            link,
            meta,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn finish(mut self, dir: Vec<u8>, children: Vec<u32>) -> Batch {
        let names = &self.names;
        self.rows.sort_unstable_by(|a, b| {
            path_order::cmp(&names[a.name.clone()], &names[b.name.clone()])
        });
        let mut packer = Packer::default();
        for r in &self.rows {
            let link = r.link.clone().map(|l| &self.links[l]);
            packer.push(&names[r.name.clone()], &r.meta, link, 0);
        }
        Batch {
            dir,
            entries: packer.finish(),
            children,
        }
    }
}

/// A directory being laid out: its entries, merged with its subdirectories' places.
struct Frame {
    dir: Vec<u8>,
    entries: Packed,
    cursor: Cursor,
    /// The next entry, decoded (`None` once all are out).
    peeked: Option<WalkedEntry>,
    /// Subdirectories with a batch, in the order of their contents' paths; `next_child`
    /// is the next one's index.
    children: Vec<u32>,
    next_child: usize,
}

impl Frame {
    fn new(batch: Batch, slots: &[Option<Batch>]) -> Frame {
        let start = name_start(&batch.dir);
        let mut children = batch.children;
        // A subdirectory without a batch contributes nothing.
        children.retain(|&id| slots.get(id as usize).is_some_and(Option::is_some));
        let name = |id: &u32| subtree_name(slots, *id, start);
        // As subtrees: `a-b/…` sorts before `a/…`, though the name `a` is before `a-b`.
        children.sort_unstable_by(|a, b| cmp_keys(name(a), true, name(b), true));
        let cursor = batch.entries.cursor();
        let mut frame = Frame {
            dir: batch.dir,
            entries: batch.entries,
            cursor,
            peeked: None,
            children,
            next_child: 0,
        };
        frame.peek();
        frame
    }

    fn peek(&mut self) {
        let Frame {
            dir,
            entries,
            cursor,
            ..
        } = self;
        self.peeked = cursor.next(entries).map(|r| WalkedEntry {
            path: child_path(dir, r.key).into_boxed_slice(),
            meta: r.meta,
            link_target: r
                .link_target
                .map_or_else(LinkTarget::default, |t| LinkTarget::new(t.to_vec())),
        });
    }
}

/// What a [`Frame`] gives next.
enum Step {
    Entry(WalkedEntry),
    Subtree(u32),
    Done,
}

/// The walk's records in path order, handed out one at a time as a depth-first pass
/// over the batches takes them: each directory's batch is freed once its entries are out,
/// so the walk is never held twice (as batches and as one ordered vector; the copy of a
/// 1 M-file walk was its peak).
#[derive(Default)]
pub struct InPathOrder {
    first: Option<WalkedEntry>,
    slots: Vec<Option<Batch>>,
    stack: Vec<Frame>,
    /// Everything, sorted the slow way, when some batch is linked from no directory (the
    /// walker cannot produce one; were there one, its records are kept rather than lost).
    sorted: std::vec::IntoIter<WalkedEntry>,
    left: usize,
}

/// The records of `batches` (batch `root` first, the others reachable from it through
/// `children`) in path order. `first` (the root's own record) comes before them all.
pub(super) fn in_path_order(
    first: Option<WalkedEntry>,
    root: u32,
    batches: Vec<(u32, Batch)>,
) -> InPathOrder {
    let left =
        batches.iter().map(|(_, b)| b.entries.len()).sum::<usize>() + usize::from(first.is_some());
    let mut slots: Vec<Option<Batch>> = Vec::new();
    for (id, batch) in batches {
        let id = id as usize;
        if slots.len() <= id {
            slots.resize_with(id + 1, || None);
        }
        slots[id] = Some(batch);
    }
    let orphans = unreachable_from(root, &mut slots);
    let mut order = InPathOrder {
        first,
        stack: Vec::new(),
        slots,
        sorted: Vec::new().into_iter(),
        left,
    };
    if let Some(b) = take(&mut order.slots, root) {
        let frame = Frame::new(b, &order.slots);
        order.stack.push(frame);
    }
    if orphans.is_empty() {
        return order;
    }
    let mut all: Vec<WalkedEntry> = order.by_ref().collect();
    for b in orphans {
        let mut frame = Frame::new(b, &[]);
        while let Some(e) = frame.peeked.take() {
            all.push(e);
            frame.peek();
        }
    }
    all.sort_unstable_by(|a, b| path_order::cmp(&a.path, &b.path));
    InPathOrder {
        left: all.len(),
        sorted: all.into_iter(),
        ..Default::default()
    }
}

/// Takes out of `slots` the batches no chain of `children` from `root` reaches.
fn unreachable_from(root: u32, slots: &mut [Option<Batch>]) -> Vec<Batch> {
    let mut reached = vec![false; slots.len()];
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        let i = id as usize;
        let Some(Some(b)) = slots.get(i) else {
            continue;
        };
        if std::mem::replace(&mut reached[i], true) {
            continue;
        }
        todo.extend_from_slice(&b.children);
    }
    slots
        .iter_mut()
        .zip(reached)
        .filter(|(_, r)| !r)
        .filter_map(|(s, _)| s.take())
        .collect()
}

impl Iterator for InPathOrder {
    type Item = WalkedEntry;

    fn next(&mut self) -> Option<WalkedEntry> {
        let next = self.take_next();
        if next.is_some() {
            self.left -= 1;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for InPathOrder {}

impl std::fmt::Debug for InPathOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InPathOrder")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl InPathOrder {
    fn take_next(&mut self) -> Option<WalkedEntry> {
        if let Some(e) = self.first.take() {
            return Some(e);
        }
        if let Some(e) = self.sorted.next() {
            return Some(e);
        }
        // Depth-first, with an explicit stack: a directory tree can be deeper than a
        // thread's stack would like.
        while let Some(top) = self.stack.last_mut() {
            match next_step(top, &self.slots) {
                Step::Done => {
                    self.stack.pop();
                }
                Step::Entry(e) => return Some(e),
                Step::Subtree(id) => {
                    if let Some(b) = take(&mut self.slots, id) {
                        let frame = Frame::new(b, &self.slots);
                        self.stack.push(frame);
                    }
                }
            }
        }
        None
    }
}

/// The smaller of `frame`'s next entry and its next subdirectory's place.
fn next_step(frame: &mut Frame, slots: &[Option<Batch>]) -> Step {
    let start = name_start(&frame.dir);
    let child = frame.children.get(frame.next_child).copied();
    let child_name = child.map(|id| subtree_name(slots, id, start));
    let entry_first = match (&frame.peeked, child_name) {
        (None, None) => return Step::Done,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (Some(e), Some(c)) => {
            let name = e.path.get(start..).unwrap_or_default();
            cmp_keys(name, false, c, true) == Ordering::Less
        }
    };
    if entry_first {
        let e = frame.peeked.take();
        frame.peek();
        e.map_or(Step::Done, Step::Entry)
    } else {
        frame.next_child += 1;
        child.map_or(Step::Done, Step::Subtree)
    }
}

/// The name of the subdirectory whose batch is `id`, its paths' names starting at `start`.
fn subtree_name(slots: &[Option<Batch>], id: u32, start: usize) -> &[u8] {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .and_then(|b| b.dir.get(start..))
        .unwrap_or_default()
}

fn take(slots: &mut [Option<Batch>], id: u32) -> Option<Batch> {
    slots.get_mut(id as usize).and_then(Option::take)
}

/// Where a name starts in the paths of the directory `dir`'s entries.
fn name_start(dir: &[u8]) -> usize {
    if dir == b"/" {
        1
    } else {
        dir.len() + 1
    }
}

/// Byte order of `x` (followed by `/` when `x_subtree`) against `y` (likewise): the
/// order of an entry named `x`, or of every path below a subdirectory named `x`, against
/// those of `y`. Names hold no `/`, so a subtree's paths all continue its name with `/`.
fn cmp_keys(x: &[u8], x_subtree: bool, y: &[u8], y_subtree: bool) -> Ordering {
    let n = x.len().min(y.len());
    match path_order::cmp(&x[..n], &y[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    let next = |s: &[u8], subtree: bool| s.get(n).copied().or(subtree.then_some(b'/'));
    match (next(x, x_subtree), next(y, y_subtree)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name against every other, as entries and as subtrees, against the order of
    /// the full paths they stand for.
    #[test]
    fn keys_order_as_their_full_paths_do() {
        let names: [&[u8]; 10] = [
            b"a", b"a-b", b"a.c", b"a0", b"ab", b"a ", b"b", b"\xff", b"a\x01", b"",
        ];
        for x in names {
            for y in names {
                for xs in [false, true] {
                    for ys in [false, true] {
                        if x == y && xs == ys {
                            continue;
                        }
                        let mut px = x.to_vec();
                        if xs {
                            px.extend_from_slice(b"/z");
                        }
                        let mut py = y.to_vec();
                        if ys {
                            py.extend_from_slice(b"/z");
                        }
                        // An entry and its own subtree: the entry first.
                        let want = px.cmp(&py);
                        assert_eq!(
                            cmp_keys(x, xs, y, ys),
                            want,
                            "{x:?}{} vs {y:?}{}",
                            if xs { "/…" } else { "" },
                            if ys { "/…" } else { "" }
                        );
                    }
                }
            }
        }
    }

    /// A real walk of names that sort between a directory and its contents, with empty
    /// and nested directories: the records come out in byte order of their paths, each
    /// once.
    #[test]
    fn a_walk_comes_out_in_path_order() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path();
        let names: [&[u8]; 8] = [b"a", b"a-b", b"a.c", b"a0", b"a ", b"a\x01", b"\xff", b"b"];
        for n in names {
            let d = top.join(std::ffi::OsStr::from_bytes(n));
            std::fs::create_dir(&d).unwrap();
            for m in names {
                if m == b"a" {
                    std::fs::create_dir_all(d.join("a").join("deep").join("er")).unwrap();
                } else {
                    std::fs::write(d.join(std::ffi::OsStr::from_bytes(m)), b"x").unwrap();
                }
            }
        }
        std::fs::create_dir(top.join("empty")).unwrap();
        let root = crate::rootfs::RootFs::new(top.to_path_buf());
        let none = super::super::Excludes::default();
        let walked = super::super::walk(&super::super::WalkOptions {
            root: &root,
            excludes: &none,
            skip_mounts: &none,
        });
        assert_eq!(walked.entries.len(), 1 + 8 * (1 + 7 + 3) + 1);
        let entries: Vec<WalkedEntry> = walked.entries.collect();
        let paths: Vec<&[u8]> = entries.iter().map(|e| &e.path[..]).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(paths, sorted);
        // "/", 8 directories each holding 7 files and a/deep/er, and "/empty".
        assert_eq!(paths.len(), 1 + 8 * (1 + 7 + 3) + 1);
        assert!(walked.errors.is_empty(), "{:?}", walked.errors);
    }

    /// A batch that no directory links to (cannot come from the walker) loses nothing:
    /// its records are kept and the whole is still in path order.
    #[test]
    fn an_unlinked_batch_is_kept_in_order() {
        let meta = super::super::Meta::from_std(&std::fs::symlink_metadata("/").unwrap());
        let root = WalkedEntry {
            path: Box::from(&b"/"[..]),
            meta,
            link_target: Default::default(),
        };
        let batch = |dir: &[u8], paths: &[&[u8]], children: Vec<u32>| {
            let mut b = BatchBuilder::default();
            for p in paths {
                let name = &p[name_start(dir)..];
                let link = (name == b"x").then_some(&b"../t"[..]);
                b.push(name, meta, link);
            }
            b.finish(dir.to_vec(), children)
        };
        let batches = vec![
            (0, batch(b"/", &[b"/c", b"/a"], vec![1])),
            (1, batch(b"/a", &[b"/a/x"], vec![])),
            (7, batch(b"/b", &[b"/b/y", b"/b/w"], vec![])),
        ];
        let out: Vec<WalkedEntry> = in_path_order(Some(root), 0, batches).collect();
        let paths: Vec<&[u8]> = out.iter().map(|e| &e.path[..]).collect();
        let want: Vec<&[u8]> = vec![b"/", b"/a", b"/a/x", b"/b/w", b"/b/y", b"/c"];
        assert_eq!(paths, want);
        let links: Vec<Option<&[u8]>> = out.iter().map(|e| e.link_target.as_deref()).collect();
        assert_eq!(links, [None, None, Some(&b"../t"[..]), None, None, None]);
    }
}
