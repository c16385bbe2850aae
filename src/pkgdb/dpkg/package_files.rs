//! One package's [`PackagedFile`]s: its `.list` (or, for distroless, its md5sums), digests
//! from md5sums and the Conffiles field, diversions, statoverrides and the path filters.
//! Pure per package, so the reader runs it for all packages in parallel.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::bytes::common_prefix;
use super::diversions::Diversions;
use super::fsread::{read_optional, with_suffix};
use super::info::{self, Md5Entry};
use super::path_exclude::PathFilter;
use super::statoverride::StatOverrides;
use super::status::{Conffile, StatusEntry};
use crate::pkgdb::{DbError, Digest, Owner, PackagedFile, Presence};

/// What every package's assembly shares (read-only).
pub struct Context<'a> {
    pub info_dir: &'a Path,
    /// `info/format` is 1: Multi-Arch: same packages use `<pkg>:<arch>.*`.
    pub info_format: u32,
    pub diversions: &'a Diversions,
    pub overrides: &'a StatOverrides,
    pub filter: &'a PathFilter,
}

pub struct PackageOutput {
    pub files: Vec<PackagedFile>,
    pub warnings: Vec<String>,
}

/// Looks md5sums entries up by packaged path and remembers which were used, so that the
/// ones without a `.list` line (distroless) can be added after.
///
/// md5sums is nearly always in `.list` order (minus directories and symlinks), so a cursor
/// answers most lookups with one comparison. The rest (a `.list` in readdir order, as
/// google-cloud-cli's 45 k lines) go to a binary search, since md5sums is sorted as
/// dh_md5sums writes it, or else to a hash map: std's SipHash, because the paths come from
/// files a hostile package controls.
struct Md5Index<'a> {
    /// Entries in md5sums order.
    entries: Vec<Md5Entry<'a>>,
    used: Vec<bool>,
    cursor: usize,
    /// Strictly increasing paths (so also no duplicates).
    sorted: bool,
    by_path: Option<HashMap<&'a [u8], usize>>,
}

/// Binary search in sorted entries that never re-compares a prefix the key is known to
/// share with both bounds: paths in one package share long prefixes, and plain `memcmp`
/// from byte 0 at every step made this the reader's hottest loop.
fn search_sorted(entries: &[Md5Entry], key: &[u8]) -> Option<usize> {
    let (mut lo, mut hi) = (0, entries.len());
    // Common prefix of `key` with the entries just below `lo` and at `hi` (0 when none):
    // every entry in between shares at least the smaller of the two with `key`.
    let (mut prefix_lo, mut prefix_hi) = (0, 0);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let entry = entries[mid].rel_path;
        let skip = prefix_lo.min(prefix_hi);
        let l = skip
            + common_prefix(
                entry.get(skip..).unwrap_or_default(),
                key.get(skip..).unwrap_or_default(),
            );
        match entry.get(l).cmp(&key.get(l)) {
            std::cmp::Ordering::Equal => return Some(mid),
            std::cmp::Ordering::Less => {
                lo = mid + 1;
                prefix_lo = l;
            }
            std::cmp::Ordering::Greater => {
                hi = mid;
                prefix_hi = l;
            }
        }
    }
    None
}

impl<'a> Md5Index<'a> {
    fn new(entries: Vec<Md5Entry<'a>>) -> Self {
        let used = vec![false; entries.len()];
        let sorted = entries.windows(2).all(|w| w[0].rel_path < w[1].rel_path);
        Md5Index {
            entries,
            used,
            cursor: 0,
            sorted,
            by_path: None,
        }
    }

    /// The digest md5sums records for an absolute packaged path, marking it used.
    fn take(&mut self, path: &[u8]) -> Option<[u8; 16]> {
        let rel = path.strip_prefix(b"/")?;
        let at_cursor = self.entries.get(self.cursor).map(|e| e.rel_path);
        let i = match at_cursor {
            Some(next) if next == rel => self.cursor,
            // A directory listed before its files: it cannot have a digest itself.
            Some(next) if next.starts_with(rel) && next.get(rel.len()) == Some(&b'/') => {
                return None
            }
            _ if self.sorted => search_sorted(&self.entries, rel)?,
            _ => {
                let entries = &self.entries;
                let map = self.by_path.get_or_insert_with(|| {
                    // First occurrence wins, as with the cursor.
                    let mut m = HashMap::with_capacity(entries.len());
                    for (i, e) in entries.iter().enumerate().rev() {
                        m.insert(e.rel_path, i);
                    }
                    m
                });
                *map.get(rel)?
            }
        };
        self.cursor = i + 1;
        self.used[i] = true;
        Some(self.entries[i].md5)
    }
}

/// Conffiles by path; lookups return the position in the Conffiles field.
struct ConffileIndex<'a> {
    conffiles: &'a [Conffile],
    /// Positions sorted by path.
    sorted: Vec<u32>,
}

impl<'a> ConffileIndex<'a> {
    fn new(conffiles: &'a [Conffile]) -> Self {
        let mut sorted: Vec<u32> = (0..conffiles.len() as u32).collect();
        sorted.sort_by(|&a, &b| conffiles[a as usize].path.cmp(&conffiles[b as usize].path));
        ConffileIndex { conffiles, sorted }
    }

    fn get(&self, path: &[u8]) -> Option<(usize, &'a Conffile)> {
        let pos = self
            .sorted
            .binary_search_by(|&i| self.conffiles[i as usize].path.as_slice().cmp(path))
            .ok()?;
        let i = self.sorted[pos] as usize;
        Some((i, &self.conffiles[i]))
    }
}

/// Directories of a package: every listed path's parent (dpkg lists a directory before
/// what is in it, and records no file types). Only needed when a filter is active.
fn parent_dirs<'a>(paths: impl Iterator<Item = &'a [u8]>) -> HashSet<&'a [u8]> {
    paths
        .filter_map(|p| p.iter().rposition(|&b| b == b'/').map(|i| &p[..i.max(1)]))
        .collect()
}

fn read_list(
    ctx: &Context,
    entry: &StatusEntry,
    warnings: &mut Vec<String>,
) -> Result<Option<(PathBuf, Vec<u8>)>, DbError> {
    if entry.status_d_file.is_some() {
        return Ok(None); // distroless ships no .list
    }
    let p = &entry.package;
    let qualified_first = entry.multi_arch_same && ctx.info_format >= 1;
    let found = info::read_first(&info::candidates(
        ctx.info_dir,
        &p.name,
        &p.arch,
        qualified_first,
        "list",
    ))?;
    // A config-files package whose leftovers are all gone has no .list left.
    if found.is_none() && p.state != "config-files" {
        warnings.push(format!(
            "package {}:{} ({}) has no .list file in {}; its files are unknown",
            p.name,
            p.arch,
            p.state,
            ctx.info_dir.display()
        ));
    }
    Ok(found)
}

fn read_md5sums(ctx: &Context, entry: &StatusEntry) -> Result<Option<(PathBuf, Vec<u8>)>, DbError> {
    if let Some(stanza_file) = &entry.status_d_file {
        let path = with_suffix(stanza_file, ".md5sums");
        return Ok(read_optional(&path)?.map(|t| (path, t)));
    }
    let p = &entry.package;
    let qualified_first = entry.multi_arch_same && ctx.info_format >= 1;
    info::read_first(&info::candidates(
        ctx.info_dir,
        &p.name,
        &p.arch,
        qualified_first,
        "md5sums",
    ))
}

/// All files of the package at `index` in the package list.
pub fn package_files(
    ctx: &Context,
    index: usize,
    entry: &StatusEntry,
) -> Result<PackageOutput, DbError> {
    let mut warnings = Vec::new();
    let list = read_list(ctx, entry, &mut warnings)?;
    let md5sums = read_md5sums(ctx, entry)?;
    let md5_entries = match &md5sums {
        Some((path, text)) => info::parse_md5sums(path, text, &mut warnings),
        None => Vec::new(),
    };
    let mut md5 = Md5Index::new(md5_entries);
    let conffiles = ConffileIndex::new(&entry.conffiles);
    let p = &entry.package;
    let owner = Owner::Package(u32::try_from(index).unwrap_or(u32::MAX));
    // rc packages keep only leftovers, and a half-installed one was interrupted mid-unpack
    // or mid-removal: what they list may or may not be there.
    let base_presence = match p.state.as_str() {
        "config-files" | "half-installed" => Presence::Optional,
        _ => Presence::Required,
    };

    let mut listed: Vec<&[u8]> = Vec::new();
    if let Some((list_path, text)) = &list {
        listed.reserve(text.len() / 48);
        for (n, line) in info::list_lines(text) {
            match info::list_path(line) {
                Some(path) => listed.push(path),
                None => warnings.push(format!(
                    "{}:{n}: not an absolute path, ignored",
                    list_path.display()
                )),
            }
        }
    }
    let dirs = if ctx.filter.is_active() {
        parent_dirs(listed.iter().copied())
    } else {
        HashSet::new()
    };

    let mut files = Vec::with_capacity(listed.len() + entry.conffiles.len());
    let mut emit = |path: &[u8], digest: Option<[u8; 16]>, conffile: bool, presence: Presence| {
        // Filters act on archive names, before diversions (dpkg's tarobject order).
        let presence = match presence {
            Presence::Required => match ctx.filter.not_installed(path, dirs.contains(path)) {
                Some(why) => Presence::NotInstalled(why),
                None => Presence::Required,
            },
            other => other,
        };
        let real = ctx.diversions.real_path(path, &p.name);
        let expected = ctx.overrides.get(real).cloned().unwrap_or_default().into();
        files.push(PackagedFile {
            path: real.to_vec(),
            owner,
            digest: digest.map(Digest::md5),
            conffile,
            marker: None,
            presence,
            expected,
        });
    };
    let conffile_presence = |c: &Conffile| {
        if c.obsolete || c.md5.is_none() {
            // Obsolete: no longer shipped, may be gone. newconffile: the shipped version is
            // still `<path>.dpkg-new`, and `<path>` may not exist yet.
            Presence::Optional
        } else {
            base_presence.clone()
        }
    };

    let mut conffile_listed = vec![false; entry.conffiles.len()];
    for &path in &listed {
        match conffiles.get(path) {
            // The Conffiles hash (what the maintainer shipped) wins over md5sums; a
            // newconffile has no trustworthy digest at `path` yet.
            Some((i, c)) => {
                let _ = md5.take(path);
                conffile_listed[i] = true;
                emit(path, c.md5, true, conffile_presence(c));
            }
            None => {
                let digest = md5.take(path);
                emit(path, digest, false, base_presence.clone());
            }
        }
    }
    // md5sums entries without a .list line: distroless images ship no .list at all.
    let unlisted: Vec<(Vec<u8>, [u8; 16])> = md5
        .entries
        .iter()
        .zip(&md5.used)
        .filter(|(_, used)| !**used)
        .map(|(e, _)| {
            let mut abs = Vec::with_capacity(e.rel_path.len() + 1);
            abs.push(b'/');
            abs.extend_from_slice(e.rel_path);
            (abs, e.md5)
        })
        .collect();
    for (path, digest) in &unlisted {
        match conffiles.get(path) {
            Some((i, c)) => {
                conffile_listed[i] = true;
                emit(path, c.md5, true, conffile_presence(c));
            }
            None => emit(path, Some(*digest), false, base_presence.clone()),
        }
    }
    // Conffiles the .list does not mention (obsolete ones, some rc leftovers) still belong
    // to the package, but nothing says they must exist. Status order, for determinism.
    for (c, seen) in entry.conffiles.iter().zip(&conffile_listed) {
        if !seen {
            emit(&c.path, c.md5, true, Presence::Optional);
        }
    }
    Ok(PackageOutput { files, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries<'a>(paths: &[&'a str]) -> Vec<Md5Entry<'a>> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| Md5Entry {
                rel_path: p.as_bytes(),
                md5: [i as u8; 16],
            })
            .collect()
    }

    #[test]
    fn prefix_skipping_search_agrees_with_plain_search() {
        let mut paths: Vec<String> = Vec::new();
        for a in [
            "usr/lib/x",
            "usr/lib/x-y",
            "usr/lib/x/y",
            "usr/lib/xa",
            "usr/share",
        ] {
            for b in ["", "/a", "/a/b", "/ab", "/b", "-c"] {
                paths.push(format!("{a}{b}"));
            }
        }
        paths.sort();
        paths.dedup();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let e = entries(&refs);
        for (i, p) in refs.iter().enumerate() {
            assert_eq!(search_sorted(&e, p.as_bytes()), Some(i), "{p}");
            for miss in [
                format!("{p}0"),
                format!("{p}/"),
                p[..p.len() - 1].to_string(),
            ] {
                let expected = refs.iter().position(|r| *r == miss);
                assert_eq!(search_sorted(&e, miss.as_bytes()), expected, "{miss}");
            }
        }
        assert_eq!(search_sorted(&[], b"x"), None);
    }

    #[test]
    fn md5_index_in_and_out_of_order() {
        for paths in [
            ["usr/bin/a", "usr/bin/b", "usr/share/c"],
            ["usr/share/c", "usr/bin/b", "usr/bin/a"], // unsorted: the hash map answers
        ] {
            let mut idx = Md5Index::new(entries(&paths));
            assert_eq!(idx.sorted, paths[0] == "usr/bin/a");
            assert!(idx.take(b"/usr").is_none(), "a directory has no digest");
            assert!(idx.take(b"/usr/bin").is_none());
            assert!(idx.take(b"/usr/share/c").is_some());
            assert!(idx.take(b"/usr/bin/a").is_some());
            assert!(idx.take(b"/usr/bin/zz").is_none());
            assert!(idx.take(b"relative").is_none());
            let unused: Vec<_> = idx
                .entries
                .iter()
                .zip(&idx.used)
                .filter(|(_, u)| !**u)
                .map(|(e, _)| e.rel_path)
                .collect();
            assert_eq!(unused, vec![&b"usr/bin/b"[..]]);
        }
    }
}
