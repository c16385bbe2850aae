//! What goes into the overlay: every `added` file whose category is packed (or asked for by
//! name) and every `modified` one, the directories above them, hardlinks as links — in
//! byte order of the path, so the same scan always gives the same archive.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::classify::{Category, Change, Classified};
use crate::path_order;
use crate::rootfs::RootFs;
use crate::walk::{Excludes, FileKind, Meta};

/// One archive member to write.
#[derive(Debug, Clone)]
pub struct PlanEntry {
    /// Absolute path on the scanned system.
    pub path: Vec<u8>,
    /// What the scan saw (packing re-checks it).
    pub meta: Meta,
    pub link_target: Option<Vec<u8>>,
    /// For the second and later names of a hardlinked file: the first name's path.
    pub hardlink_to: Option<Vec<u8>>,
    /// Only here because a packed path lies below it.
    pub parent_only: bool,
}

/// A reported path that is deliberately not in the archive, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotPacked {
    #[serde(with = "crate::path_bytes")]
    pub path: Vec<u8>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub entries: Vec<PlanEntry>,
    pub not_packed: Vec<NotPacked>,
}

/// Choices the user makes about what is packed.
#[derive(Debug, Default, Clone)]
pub struct PackPolicy {
    /// Categories packed although their default says no (`--pack-category secret`).
    pub extra_categories: Vec<Category>,
    /// Paths packed whatever their category (`--pack PATH`, whole components).
    pub forced: Excludes,
    /// Files larger than this are listed, not packed.
    pub max_file_size: Option<u64>,
    /// (dev, inode) of our own outputs (the export file itself, …): never packed.
    pub own_files: Vec<(u64, u64)>,
}

fn packable_kind(kind: FileKind) -> bool {
    matches!(kind, FileKind::Regular | FileKind::Dir | FileKind::Symlink)
}

/// `files`: the classification's records (`Reported::iter`), or any others.
pub fn build<F: Borrow<Classified>>(
    root: &RootFs,
    files: impl IntoIterator<Item = F>,
    policy: &PackPolicy,
) -> Plan {
    let mut plan = Plan::default();
    let mut chosen: Vec<PlanEntry> = Vec::new();
    for f in files {
        let f = f.borrow();
        let Some(meta) = f.meta else { continue }; // deleted
        let wanted = match f.change {
            Change::Deleted => continue,
            Change::Modified => true,
            Change::Added => {
                let cat = f.category.unwrap_or(Category::Unowned);
                cat.packed_by_default()
                    || policy.extra_categories.contains(&cat)
                    || policy.forced.covers(&f.path)
            }
        };
        if !wanted {
            let cat = f.category.map_or("unowned", Category::name);
            plan.not_packed.push(NotPacked {
                path: f.path.clone(),
                reason: format!(
                    "category {cat} is not packed by default (--pack-category {cat} to pack it)"
                ),
            });
            continue;
        }
        if !packable_kind(meta.kind) {
            plan.not_packed.push(NotPacked {
                path: f.path.clone(),
                reason: format!(
                    "{:?} files are not packed (listed in the report)",
                    meta.kind
                )
                .to_lowercase(),
            });
            continue;
        }
        if policy.own_files.contains(&(meta.dev, meta.ino)) {
            plan.not_packed.push(NotPacked {
                path: f.path.clone(),
                reason: "livescan's own output".into(),
            });
            continue;
        }
        if let Some(max) = policy.max_file_size {
            if meta.kind == FileKind::Regular && meta.size > max {
                plan.not_packed.push(NotPacked {
                    path: f.path.clone(),
                    reason: format!("larger than --max-file-size ({} > {max} bytes)", meta.size),
                });
                continue;
            }
        }
        if f.path == b"/" {
            continue;
        }
        chosen.push(PlanEntry {
            path: f.path.clone(),
            meta,
            link_target: f.link_target.clone(),
            hardlink_to: None,
            parent_only: false,
        });
    }
    // The classification comes in path order; anything else is put in order here (of two
    // records of one path the later one counts). A map would do both, at the price of a
    // `memcmp` per comparison, which under musl is a byte loop.
    let before = |a: &PlanEntry, b: &PlanEntry| path_order::cmp(&a.path, &b.path).is_lt();
    if !chosen.is_sorted_by(before) {
        chosen.sort_by(|a, b| path_order::cmp(&a.path, &b.path));
        chosen.dedup_by(|later, kept| {
            let same = later.path == kept.path;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }
    let packed = |p: &[u8]| {
        chosen
            .binary_search_by(|e| path_order::cmp(&e.path, p))
            .is_ok()
    };

    // Parent directories, so extraction recreates their owner and mode.
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for e in &chosen {
        let mut p = e.path.as_slice();
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            // Seen before: its own parents were handled then.
            if p.is_empty() || packed(p) || !seen.insert(p) {
                break;
            }
        }
    }
    let mut parents: Vec<Vec<u8>> = seen.into_iter().map(<[u8]>::to_vec).collect();
    parents.sort_by(|a, b| path_order::cmp(a, b));
    let mut added = Vec::new();
    for p in parents {
        match std::fs::symlink_metadata(root.host_path(&p)) {
            Ok(m) if m.is_dir() => added.push(PlanEntry {
                path: p,
                meta: Meta::from_std(&m),
                link_target: None,
                hardlink_to: None,
                parent_only: true,
            }),
            // Gone or replaced since the scan: its children will fail to open and say so.
            _ => {}
        }
    }
    let mut entries = merge_in_path_order(chosen, added);

    // Hardlinks: the first name (in path order) carries the data, the others link to it.
    let mut first_name: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for e in &mut entries {
        if e.meta.kind == FileKind::Regular && e.meta.nlink > 1 {
            match first_name.get(&(e.meta.dev, e.meta.ino)) {
                Some(first) => e.hardlink_to = Some(first.clone()),
                None => {
                    first_name.insert((e.meta.dev, e.meta.ino), e.path.clone());
                }
            }
        }
    }
    plan.entries = entries;
    plan
}

/// Two lists in path order, with no path in both, as one.
fn merge_in_path_order(a: Vec<PlanEntry>, b: Vec<PlanEntry>) -> Vec<PlanEntry> {
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => path_order::cmp(&x.path, &y.path).is_lt(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(root: &std::path::Path, path: &str) -> Classified {
        let host = root.join(path.trim_start_matches('/'));
        let md = std::fs::symlink_metadata(&host).unwrap();
        Classified {
            path: path.as_bytes().to_vec(),
            change: Change::Added,
            meta: Some(Meta::from_std(&md)),
            link_target: None,
            verify: None,
            config: false,
            marker: None,
            owners: Vec::new(),
            category: Some(Category::Unowned),
            reason: "test",
        }
    }

    /// Out-of-order records with a duplicate come out in byte order, each path once (the
    /// later record of a path counts), with every missing parent directory added as
    /// parent-only and the second name of a hardlinked file linked to the first.
    #[test]
    fn entries_sorted_unique_with_parents_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("srv/a/b")).unwrap();
        std::fs::create_dir_all(r.join("srv/a-c")).unwrap();
        for f in ["srv/a/b/f1", "srv/a/b/f2", "srv/a-c/g", "srv/h1"] {
            std::fs::write(r.join(f), f).unwrap();
        }
        std::fs::hard_link(r.join("srv/h1"), r.join("srv/a/h2")).unwrap();
        let root = RootFs::new(r);
        let mut dup = added(r, "/srv/a/b/f1");
        dup.link_target = Some(b"earlier".to_vec());
        let files = vec![
            added(r, "/srv/h1"),
            dup,
            added(r, "/srv/a-c/g"),
            added(r, "/srv/a/h2"),
            added(r, "/srv/a/b/f2"),
            added(r, "/srv/a/b/f1"),
        ];
        let plan = build(&root, &files, &PackPolicy::default());
        let paths: Vec<&str> = plan
            .entries
            .iter()
            .map(|e| std::str::from_utf8(&e.path).unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/srv",
                "/srv/a",
                "/srv/a-c",
                "/srv/a-c/g",
                "/srv/a/b",
                "/srv/a/b/f1",
                "/srv/a/b/f2",
                "/srv/a/h2",
                "/srv/h1"
            ]
        );
        let parent_only: Vec<&str> = plan
            .entries
            .iter()
            .filter(|e| e.parent_only)
            .map(|e| std::str::from_utf8(&e.path).unwrap())
            .collect();
        assert_eq!(parent_only, ["/srv", "/srv/a", "/srv/a-c", "/srv/a/b"]);
        let f1 = &plan.entries[5];
        assert_eq!(f1.link_target, None, "the later record of a path counts");
        let h2 = &plan.entries[7];
        assert_eq!(
            h2.hardlink_to, None,
            "/srv/a/h2 sorts first: it carries the data"
        );
        assert_eq!(
            plan.entries[8].hardlink_to.as_deref(),
            Some(&b"/srv/a/h2"[..])
        );
    }
}
