//! The index of every packaged path: which database records say what about a path.
//!
//! Built from the databases alone (it can be built while the walk runs) and queried
//! with the walk's sorted paths, as a merge join.

use rayon::prelude::*;

use crate::path_order;
use crate::pkgdb::{DbContents, PackagedFile};
use crate::rootfs::{DirResolver, RootFs};

/// The records of one path: (database index, file record), in database order.
pub(super) type Records<'d> = Vec<(u16, &'d PackagedFile)>;

/// Index of every packaged path, canonicalised, to the files that record it: the records
/// sorted by canonical path; the walk is matched against it in one forward pass (a merge
/// join), single paths by binary search. 12 bytes per packaged file; a
/// `HashMap<Vec<u8>, Vec<_>>` cost ~170 (a cloned key, a `Vec` per path, the table's slack).
pub(super) struct OwnedIndex<'d> {
    dbs: &'d [DbContents],
    /// Sorted by key; records of the same path stay in database, then file order.
    recs: Vec<IndexRec>,
    /// The canonical paths that are not the record's own path (a directory symlink on the
    /// way, e.g. `/lib` → `/usr/lib`): few.
    canonical: Vec<Box<[u8]>>,
    /// Distinct paths.
    pub(super) paths: usize,
}

#[derive(Clone, Copy)]
pub(super) struct IndexRec {
    db: u16,
    /// Index into the database's `files`.
    file: u32,
    /// Index into `OwnedIndex::canonical`, or [`OWN_PATH`].
    canonical: u32,
}

const OWN_PATH: u32 = u32::MAX;

/// [`OwnedIndex`] without its borrow of the databases, so that it can be built while the
/// walk runs (scan.rs) and handed to [`classify`] with the same databases.
pub struct PathIndex {
    recs: Vec<IndexRec>,
    canonical: Vec<Box<[u8]>>,
    paths: usize,
}

impl PathIndex {
    pub fn build(root: &RootFs, dbs: &[DbContents]) -> PathIndex {
        let OwnedIndex {
            recs,
            canonical,
            paths,
            ..
        } = OwnedIndex::build(root, dbs);
        PathIndex {
            recs,
            canonical,
            paths,
        }
    }
}

impl<'d> OwnedIndex<'d> {
    /// The index of `dbs`, which must be the databases `parts` was built from (its records
    /// are positions in their file lists).
    pub(super) fn with_parts(dbs: &'d [DbContents], parts: PathIndex) -> OwnedIndex<'d> {
        debug_assert!(
            parts.recs.iter().all(|r| dbs
                .get(usize::from(r.db))
                .is_some_and(|d| (r.file as usize) < d.files.len())),
            "PathIndex used with other databases than its own"
        );
        OwnedIndex {
            dbs,
            recs: parts.recs,
            canonical: parts.canonical,
            paths: parts.paths,
        }
    }

    pub(super) fn build(root: &RootFs, dbs: &'d [DbContents]) -> OwnedIndex<'d> {
        let mut resolver = DirResolver::new(root);
        let mut recs = Vec::with_capacity(dbs.iter().map(|d| d.files.len()).sum());
        let mut canonical = Vec::new();
        for (i, db) in dbs.iter().enumerate() {
            let db_idx = u16::try_from(i).unwrap_or(u16::MAX);
            for (fi, f) in db.files.iter().enumerate() {
                // More than 4 G records cannot be read into memory anyway.
                let Ok(file) = u32::try_from(fi) else { break };
                let c = resolver.canonical(&f.path);
                let canonical_idx = if c == f.path {
                    OWN_PATH
                } else {
                    canonical.push(c.into_boxed_slice());
                    u32::try_from(canonical.len() - 1).unwrap_or(OWN_PATH)
                };
                recs.push(IndexRec {
                    db: db_idx,
                    file,
                    canonical: canonical_idx,
                });
            }
        }
        let mut index = OwnedIndex {
            dbs,
            recs: Vec::new(),
            canonical,
            paths: 0,
        };
        // Stable: the records of one path stay in database, then file order.
        recs.par_sort_by(|a, b| path_order::cmp(index.key(a), index.key(b)));
        index.paths = recs.chunk_by(|a, b| index.key(a) == index.key(b)).count();
        index.recs = recs;
        index
    }

    pub(super) fn key<'a>(&'a self, r: &IndexRec) -> &'a [u8] {
        if r.canonical == OWN_PATH {
            &self.file(r).path
        } else {
            // `canonical` values come from `build`; were one out of range, it would read
            // as the empty path, which no walked entry has.
            self.canonical
                .get(r.canonical as usize)
                .map_or(&[][..], |c| &c[..])
        }
    }

    pub(super) fn file(&self, r: &IndexRec) -> &'d PackagedFile {
        &self.dbs[usize::from(r.db)].files[r.file as usize]
    }

    pub(super) fn records(&self, group: &[IndexRec]) -> Records<'d> {
        group.iter().map(|r| (r.db, self.file(r))).collect()
    }

    /// Position of the first record whose path is not before `path`.
    pub(super) fn lower_bound(&self, path: &[u8]) -> usize {
        self.recs
            .partition_point(|r| path_order::cmp(self.key(r), path).is_lt())
    }

    /// The records of `path`, moving `cursor` (at or before them) past them. Called with
    /// ascending paths, it visits each record once.
    pub(super) fn advance(&self, cursor: &mut usize, path: &[u8]) -> &[IndexRec] {
        while self
            .recs
            .get(*cursor)
            .is_some_and(|r| path_order::cmp(self.key(r), path).is_lt())
        {
            *cursor += 1;
        }
        let start = *cursor;
        while self.recs.get(*cursor).is_some_and(|r| self.key(r) == path) {
            *cursor += 1;
        }
        &self.recs[start..*cursor]
    }

    /// The records of a path, `None` if no database records it.
    #[cfg(test)]
    pub(super) fn get(&self, path: &[u8]) -> Option<Records<'d>> {
        let start = self.lower_bound(path);
        let len = self.recs[start..]
            .iter()
            .take_while(|r| self.key(r) == path)
            .count();
        (len > 0).then(|| self.records(&self.recs[start..start + len]))
    }

    /// The group of records that starts at position `start` (as [`Self::groups`] and
    /// [`Self::advance`] give them): the records of one path.
    pub(super) fn group_at(&self, start: usize) -> &[IndexRec] {
        let Some(first) = self.recs.get(start) else {
            return &[];
        };
        let path = self.key(first);
        let len = self.recs[start..]
            .iter()
            .take_while(|r| self.key(r) == path)
            .count();
        &self.recs[start..start + len]
    }

    /// The path of the group that starts at `start` (empty if there is none).
    pub(super) fn path_at(&self, start: usize) -> &[u8] {
        self.recs.get(start).map_or(&[][..], |r| self.key(r))
    }

    /// Every path with its records and the position of its group, sorted by path.
    pub(super) fn groups(&self) -> impl Iterator<Item = (usize, &[u8], &[IndexRec])> {
        self.recs
            .chunk_by(|a, b| self.key(a) == self.key(b))
            .scan(0, |start, g| {
                let at = *start;
                *start += g.len();
                Some((at, self.key(&g[0]), g))
            })
    }
}

/// Which groups of an [`OwnedIndex`] (by position) the walk found: one bit per record.
pub(super) struct Seen(Vec<u64>);

impl Seen {
    pub(super) fn new(index: &OwnedIndex) -> Seen {
        Seen(vec![0; index.recs.len().div_ceil(64)])
    }

    pub(super) fn insert(&mut self, start: usize) {
        if let Some(w) = self.0.get_mut(start / 64) {
            *w |= 1 << (start % 64);
        }
    }

    pub(super) fn contains(&self, start: usize) -> bool {
        self.0
            .get(start / 64)
            .is_some_and(|w| w & (1 << (start % 64)) != 0)
    }
}
