//! btrfs superblock (4 KiB at 64 KiB; kernel include/uapi/linux/btrfs_tree.h
//! `btrfs_super_block`), and the subvolumes its trees list.

use std::collections::BTreeMap;
use std::io;

use super::probe::Superblock;
use super::reader::{label, le16, le32, le64, uuid, BlockRead};

const OFFSET: u64 = 64 * 1024;
const MAGIC: &[u8; 8] = b"_BHRfS_M";

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let sb = dev.read_at(OFFSET, 4096)?;
    if sb.len() < 4096 || &sb[64..72] != MAGIC {
        return Ok(None);
    }
    // The superblock records where it is: a stray magic elsewhere is not one.
    if le64(&sb, 48) != OFFSET {
        return Ok(None);
    }
    let sector = le32(&sb, 144);
    Ok(Some(Superblock {
        fstype: "btrfs".into(),
        uuid: Some(uuid(&sb, 32)),
        // dev_item (at 201) .uuid (at +66): this device of a multi-device filesystem.
        uuid_sub: Some(uuid(&sb, 201 + 66)),
        label: label(&sb, 299, 256),
        size: Some(le64(&sb, 112)),
        used: Some(le64(&sb, 120)),
        block_size: (sector.is_power_of_two() && sector >= 512).then_some(sector),
        devices: Some(le64(&sb, 136)),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Subvolumes from the trees on disk: the system chunk array bootstraps the logical→physical
// map, the chunk tree completes it, the root tree lists every subvolume (ROOT_ITEM) and where
// it hangs (ROOT_BACKREF); its `default` dir item names the default subvolume.
// (kernel fs/btrfs/accessors.h and include/uapi/linux/btrfs_tree.h)

const INODE_REF: u8 = 12;
const ROOT_ITEM: u8 = 132;
const ROOT_BACKREF: u8 = 144;
const DIR_ITEM: u8 = 84;
const CHUNK_ITEM: u8 = 228;
const FS_TREE: u64 = 5;
const ROOT_TREE_DIR: u64 = 6;
const FIRST_FREE: u64 = 256;
/// Inode number of every subvolume's root directory.
const ROOT_DIR_INODE: u64 = 256;
const LAST_FREE: u64 = u64::MAX - 255;
const HEADER: usize = 101;
/// Tree nodes read at most per filesystem (16 KiB each: 64 MiB); a root tree of a host with
/// thousands of snapshots fits, a corrupt loop does not run away.
const MAX_NODES: usize = 4096;
const MAX_LEVEL: u8 = 7;
/// Bytes of leaf items kept from one walk (root items are ~440 bytes: 70 000 subvolumes).
const MAX_ITEM_BYTES: usize = 32 << 20;

/// One subvolume as the root tree records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subvolume {
    pub id: u64,
    pub parent: u64,
    /// From the top level (id 5), without a leading `/`.
    pub path: String,
    pub read_only: bool,
    /// A snapshot (its root item names a parent UUID).
    pub snapshot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subvolumes {
    pub list: Vec<Subvolume>,
    /// The `default` subvolume id (5 unless `btrfs subvolume set-default` changed it).
    pub default_id: u64,
}

struct Chunk {
    logical: u64,
    length: u64,
    /// Physical offset of stripe 0 on this device.
    physical: u64,
}

struct Fs<'a> {
    dev: &'a dyn BlockRead,
    nodesize: usize,
    fsid: [u8; 16],
    devid: u64,
    chunks: Vec<Chunk>,
    nodes_read: usize,
    item_bytes: usize,
}

/// Block group profiles whose stripe 0 holds a full copy: single, DUP, RAID1/1C3/1C4.
fn mirrored(kind: u64) -> bool {
    const RAID0: u64 = 1 << 3;
    const RAID10: u64 = 1 << 6;
    const RAID5: u64 = 1 << 7;
    const RAID6: u64 = 1 << 8;
    kind & (RAID0 | RAID10 | RAID5 | RAID6) == 0
}

impl Fs<'_> {
    fn add_chunk(&mut self, logical: u64, item: &[u8]) -> Result<(), String> {
        if item.len() < 48 + 32 {
            return Err("short chunk item".into());
        }
        let length = le64(item, 0);
        let kind = le64(item, 24);
        let stripes = le16(item, 44) as usize;
        if !mirrored(kind) {
            return Err(format!(
                "striped block group profile {kind:#x}: subvolumes not read"
            ));
        }
        for s in 0..stripes.min((item.len() - 48) / 32) {
            let st = 48 + 32 * s;
            if le64(item, st) == self.devid {
                self.chunks.push(Chunk {
                    logical,
                    length,
                    physical: le64(item, st + 8),
                });
                return Ok(());
            }
        }
        Ok(()) // on another device of a multi-device filesystem
    }

    fn physical(&self, logical: u64) -> Option<u64> {
        self.chunks
            .iter()
            .find(|c| logical >= c.logical && logical - c.logical < c.length)
            .and_then(|c| c.physical.checked_add(logical - c.logical))
    }

    fn node(&mut self, logical: u64) -> Result<Vec<u8>, String> {
        if self.nodes_read >= MAX_NODES {
            return Err(format!("more than {MAX_NODES} tree nodes"));
        }
        self.nodes_read += 1;
        let at = self
            .physical(logical)
            .ok_or_else(|| format!("tree block {logical} is in no chunk of this device"))?;
        let n = self
            .dev
            .read_exact_at(at, self.nodesize)
            .map_err(|e| e.to_string())?;
        if n[32..48] != self.fsid || le64(&n, 48) != logical {
            return Err(format!(
                "tree block {logical} (at {at}) is not a node of this filesystem"
            ));
        }
        Ok(n)
    }

    /// The node at `logical`, which a parent says is at `level` (bounded depth: a forged
    /// tree cannot recurse without end, and a node at the wrong level is corruption).
    fn node_at_level(&mut self, logical: u64, level: u8) -> Result<Vec<u8>, String> {
        if level > MAX_LEVEL {
            return Err("tree deeper than 8 levels".into());
        }
        let n = self.node(logical)?;
        if n[100] != level {
            return Err(format!(
                "tree block {logical}: level {} where {level} was expected",
                n[100]
            ));
        }
        Ok(n)
    }

    /// The first item with `objectid` and `ty` in the tree at `root` (its offset and data):
    /// down the last child whose key is not above the target, then its right neighbour
    /// when the items in it all sort before.
    fn search(
        &mut self,
        root: u64,
        level: u8,
        oid: u64,
        ty: u8,
    ) -> Result<Option<(u64, Vec<u8>)>, String> {
        let n = self.node_at_level(root, level)?;
        let items = le32(&n, 96) as usize;
        if level == 0 {
            for i in 0..items {
                let k = HEADER + 25 * i;
                if k + 25 > n.len() {
                    break;
                }
                if (le64(&n, k), n[k + 8]) == (oid, ty) {
                    let d = HEADER + le32(&n, k + 17) as usize;
                    let len = le32(&n, k + 21) as usize;
                    return Ok(n
                        .get(d..d.saturating_add(len))
                        .map(|v| (le64(&n, k + 9), v.to_vec())));
                }
            }
            return Ok(None);
        }
        let keys: Vec<((u64, u8), u64)> = (0..items)
            .map(|i| HEADER + 33 * i)
            .take_while(|k| k + 33 <= n.len())
            .map(|k| ((le64(&n, k), n[k + 8]), le64(&n, k + 17)))
            .collect();
        let at = keys
            .iter()
            .rposition(|(key, _)| *key <= (oid, ty))
            .unwrap_or(0);
        for (_, child) in keys.iter().skip(at).take(2) {
            if let Some(hit) = self.search(*child, level - 1, oid, ty)? {
                return Ok(Some(hit));
            }
        }
        Ok(None)
    }

    /// Names of the directories from inode `dir` up to the subvolume's root directory, in
    /// that order (INODE_REF items: key offset = parent directory, data = index, name).
    fn dir_path(&mut self, root: u64, level: u8, mut dir: u64) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        while dir != ROOT_DIR_INODE && names.len() < 256 {
            let Some((parent, d)) = self.search(root, level, dir, INODE_REF)? else {
                break;
            };
            let len = le16(&d, 8) as usize;
            names.push(
                String::from_utf8_lossy(d.get(10..10 + len).unwrap_or_default()).into_owned(),
            );
            dir = parent;
        }
        Ok(names)
    }

    /// Every leaf item of the tree at `root`: (objectid, type, offset, data).
    fn walk(
        &mut self,
        root: u64,
        level: u8,
        out: &mut Vec<(u64, u8, u64, Vec<u8>)>,
        want: &dyn Fn(u64, u8) -> bool,
    ) -> Result<(), String> {
        let n = self.node_at_level(root, level)?;
        let items = le32(&n, 96) as usize;
        if level == 0 {
            for i in 0..items {
                let k = HEADER + 25 * i;
                if k + 25 > n.len() {
                    break;
                }
                let (oid, ty, off) = (le64(&n, k), n[k + 8], le64(&n, k + 9));
                if !want(oid, ty) {
                    continue;
                }
                let d = HEADER + le32(&n, k + 17) as usize;
                let len = le32(&n, k + 21) as usize;
                if let Some(data) = n.get(d..d.saturating_add(len)) {
                    self.item_bytes += data.len();
                    if self.item_bytes > MAX_ITEM_BYTES {
                        return Err(format!("more than {MAX_ITEM_BYTES} bytes of tree items"));
                    }
                    out.push((oid, ty, off, data.to_vec()));
                }
            }
            return Ok(());
        }
        let ptrs: Vec<u64> = (0..items)
            .map(|i| HEADER + 33 * i)
            .take_while(|k| k + 33 <= n.len())
            .map(|k| le64(&n, k + 17))
            .collect();
        for p in ptrs {
            self.walk(p, level - 1, out, want)?;
        }
        Ok(())
    }
}

/// The subvolumes of the btrfs filesystem whose superblock is on `dev`.
pub fn subvolumes(dev: &dyn BlockRead) -> Result<Subvolumes, String> {
    let sb = dev.read_exact_at(OFFSET, 4096).map_err(|e| e.to_string())?;
    if &sb[64..72] != MAGIC || le64(&sb, 48) != OFFSET {
        return Err("no btrfs superblock".into());
    }
    let nodesize = le32(&sb, 148) as usize;
    if !(4096..=65536).contains(&nodesize) || !nodesize.is_power_of_two() {
        return Err(format!("node size {nodesize}"));
    }
    let mut fsid = [0u8; 16];
    fsid.copy_from_slice(&sb[32..48]);
    // With a metadata_uuid (incompat flag), tree blocks carry that instead of the fsid.
    const METADATA_UUID: u64 = 1 << 10;
    if le64(&sb, 188) & METADATA_UUID != 0 {
        fsid.copy_from_slice(&sb[571..587]);
    }
    let mut fs = Fs {
        dev,
        nodesize,
        fsid,
        devid: le64(&sb, 201),
        chunks: Vec::new(),
        nodes_read: 0,
        item_bytes: 0,
    };
    // The system chunk array: (key, chunk item) pairs, enough to read the chunk tree.
    let n = (le32(&sb, 160) as usize).min(2048);
    let arr = &sb[811..811 + n];
    let mut at = 0;
    while at + 17 + 48 <= arr.len() {
        let logical = le64(arr, at + 9);
        let stripes = le16(arr, at + 17 + 44) as usize;
        let end = at + 17 + 48 + 32 * stripes;
        let item = arr
            .get(at + 17..end)
            .ok_or("system chunk array cut short")?;
        fs.add_chunk(logical, item)?;
        at = end;
    }
    let mut items = Vec::new();
    fs.walk(le64(&sb, 88), sb[199], &mut items, &|_, t| t == CHUNK_ITEM)?;
    for (_, _, logical, item) in &items {
        fs.add_chunk(*logical, item)?;
    }
    let mut items = Vec::new();
    fs.walk(le64(&sb, 80), sb[198], &mut items, &|oid, t| {
        matches!(t, ROOT_ITEM | ROOT_BACKREF) || (oid == ROOT_TREE_DIR && t == DIR_ITEM)
    })?;
    let mut out = Subvolumes {
        default_id: FS_TREE,
        ..Default::default()
    };
    let mut info: BTreeMap<u64, (bool, bool)> = BTreeMap::new();
    // Tree root (bytenr, level) of each subvolume, the top level included: where the
    // directories that subvolumes sit in are looked up.
    let mut trees: BTreeMap<u64, (u64, u8)> = BTreeMap::new();
    // Subvolume → (parent subvolume, directory inode in the parent, name).
    let mut refs: BTreeMap<u64, (u64, u64, String)> = BTreeMap::new();
    for (oid, ty, off, d) in &items {
        match *ty {
            ROOT_ITEM if *oid == FS_TREE || (FIRST_FREE..=LAST_FREE).contains(oid) => {
                if d.len() >= 239 {
                    trees.insert(*oid, (le64(d, 176), d[238]));
                }
                // refs == 0: deleted, waiting for the cleaner.
                if *oid == FS_TREE || (d.len() >= 220 && le32(d, 216) == 0) {
                    continue;
                }
                let ro = d.len() >= 216 && le64(d, 208) & 1 != 0;
                let snap = d.len() >= 279 && d[263..279].iter().any(|&b| b != 0);
                info.insert(*oid, (ro, snap));
            }
            ROOT_BACKREF if d.len() >= 18 => {
                let len = le16(d, 16) as usize;
                let name = d.get(18..18 + len).unwrap_or_default();
                let name = String::from_utf8_lossy(name).into_owned();
                refs.insert(*oid, (*off, le64(d, 0), name));
            }
            DIR_ITEM if d.len() >= 30 => {
                let len = le16(d, 27) as usize;
                if d.get(30..30 + len) == Some(b"default") {
                    out.default_id = le64(d, 0);
                }
            }
            _ => {}
        }
    }
    for (&id, &(read_only, snapshot)) in &info {
        let Some((parent, _, _)) = refs.get(&id) else {
            continue; // not linked anywhere (being deleted)
        };
        // The path: up the backrefs to the top level, with the directories each subvolume
        // sits in inside its parent; bounded against cycles.
        let mut parts = Vec::new();
        let mut cur = id;
        while cur != FS_TREE && parts.len() < 256 {
            let Some((p, dir, name)) = refs.get(&cur) else {
                break;
            };
            parts.push(name.clone());
            if *dir != ROOT_DIR_INODE {
                let Some(&(bytenr, level)) = trees.get(p) else {
                    break;
                };
                parts.extend(fs.dir_path(bytenr, level, *dir)?);
            }
            cur = *p;
        }
        if cur != FS_TREE {
            continue;
        }
        parts.reverse();
        out.list.push(Subvolume {
            id,
            parent: *parent,
            path: parts.join("/"),
            read_only,
            snapshot,
        });
    }
    Ok(out)
}
