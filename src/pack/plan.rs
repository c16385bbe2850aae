//! What goes into the overlay: every `added` file whose category is packed (or asked for by
//! name) and every `modified` one, the directories above them, hardlinks as links — in
//! byte order of the path, so the same scan always gives the same archive.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::classify::{Category, Change, Classified};
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

pub fn build(root: &RootFs, files: &[Classified], policy: &PackPolicy) -> Plan {
    let mut plan = Plan::default();
    let mut chosen: BTreeMap<Vec<u8>, PlanEntry> = BTreeMap::new();
    for f in files {
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
        chosen.insert(
            f.path.clone(),
            PlanEntry {
                path: f.path.clone(),
                meta,
                link_target: f.link_target.clone(),
                hardlink_to: None,
                parent_only: false,
            },
        );
    }

    // Parent directories, so extraction recreates their owner and mode.
    let mut parents: Vec<Vec<u8>> = Vec::new();
    for path in chosen.keys() {
        let mut p = path.as_slice();
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            if p.is_empty() || chosen.contains_key(p) {
                break;
            }
            parents.push(p.to_vec());
        }
    }
    parents.sort();
    parents.dedup();
    for p in parents {
        if chosen.contains_key(&p) {
            continue;
        }
        match std::fs::symlink_metadata(root.host_path(&p)) {
            Ok(m) if m.is_dir() => {
                chosen.insert(
                    p.clone(),
                    PlanEntry {
                        path: p,
                        meta: Meta::from_std(&m),
                        link_target: None,
                        hardlink_to: None,
                        parent_only: true,
                    },
                );
            }
            // Gone or replaced since the scan: its children will fail to open and say so.
            _ => {}
        }
    }

    // Hardlinks: the first name (in path order) carries the data, the others link to it.
    let mut first_name: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for e in chosen.values_mut() {
        if e.meta.kind == FileKind::Regular && e.meta.nlink > 1 {
            match first_name.get(&(e.meta.dev, e.meta.ino)) {
                Some(first) => e.hardlink_to = Some(first.clone()),
                None => {
                    first_name.insert((e.meta.dev, e.meta.ino), e.path.clone());
                }
            }
        }
    }
    plan.entries = chosen.into_values().collect();
    plan
}
