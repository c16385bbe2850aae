//! The storage section of this machine's profile against `lsblk` and `findmnt`, the
//! util-linux tools that read the same sysfs and superblocks (the oracle; livescan never
//! calls them).
//!
//! Runs only with `LIVESCAN_HOST_TESTS=1` (CI sets it), as root: the disks of a development
//! machine are its own business. On CI's single unpartitioned virtio disk this proves
//! little by itself; tests/storage_images.rs covers partition tables and filesystems.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use livescan::profile::storage::{self, Storage};
use livescan::profile::LiveSources;
use livescan::rootfs::RootFs;
use serde_json::Value;

fn enabled() -> bool {
    if std::env::var_os("LIVESCAN_HOST_TESTS").is_none() {
        eprintln!("skipped: set LIVESCAN_HOST_TESTS=1 to compare with lsblk/findmnt");
        return false;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root");
        return false;
    }
    true
}

fn json(cmd: &str, args: &[&str]) -> Option<Value> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        eprintln!("{cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn scan() -> Storage {
    let root = RootFs::new("/");
    storage::collect(&root, &LiveSources::for_root(&root, None, None))
}

/// lsblk's tree flattened: name → the device's object.
fn flatten(v: &Value, out: &mut BTreeMap<String, Value>) {
    for d in v.as_array().into_iter().flatten() {
        if let Some(name) = d["name"].as_str() {
            out.insert(name.to_string(), d.clone());
        }
        flatten(&d["children"], out);
    }
}

#[test]
fn disks_match_lsblk() {
    if !enabled() {
        return;
    }
    let Some(lsblk) = json(
        "lsblk",
        &["-J", "-b", "-o", "NAME,SIZE,TYPE,FSTYPE,UUID,MOUNTPOINT"],
    ) else {
        eprintln!("skipped: lsblk unavailable");
        return;
    };
    let st = scan();
    println!("{}", serde_json::to_string_pretty(&st).unwrap());
    let mut all = BTreeMap::new();
    flatten(&lsblk["blockdevices"], &mut all);
    let not_disk = |n: &str| {
        ["loop", "ram", "zram", "nbd", "sr", "fd"]
            .iter()
            .any(|p| n.starts_with(p))
    };
    // Every disk lsblk lists (not loop/zram/ram/nbd/optical) is in the profile, same size,
    // and nothing else is.
    let mut want: Vec<&str> = all
        .iter()
        .filter(|(n, d)| d["type"] == "disk" && !not_disk(n))
        .map(|(n, _)| n.as_str())
        .collect();
    want.sort();
    let mut got: Vec<&str> = st.disks.iter().map(|d| d.name.as_str()).collect();
    got.sort();
    assert_eq!(got, want, "disks");
    for d in &st.disks {
        let l = &all[&d.name];
        assert_eq!(Some(d.size), l["size"].as_u64(), "{} size", d.name);
        let mut parts: Vec<(String, u64)> = Vec::new();
        for p in &d.partitions {
            for q in std::iter::once(p).chain(&p.logical_partitions) {
                if let Some(n) = &q.name {
                    parts.push((n.clone(), q.size));
                    check_fs(n, q.filesystem.as_ref(), &all[n]);
                }
            }
        }
        let mut lparts: Vec<(String, u64)> = all
            .iter()
            .filter(|(n, v)| v["type"] == "part" && n.starts_with(&d.name))
            .map(|(n, v)| (n.clone(), v["size"].as_u64().unwrap_or(0)))
            .collect();
        lparts.sort();
        parts.sort();
        // lsblk shows an extended partition as 1 KiB (its EBR); the table's size is the real one.
        let strip = |v: &mut Vec<(String, u64)>| v.iter_mut().for_each(|p| p.1 = 0);
        let (mut a, mut b) = (parts.clone(), lparts.clone());
        strip(&mut a);
        strip(&mut b);
        assert_eq!(a, b, "{} partitions", d.name);
        if d.partitions.is_empty() {
            check_fs(&d.name, d.filesystem.as_ref(), l);
        }
    }
}

/// Where lsblk knows a type or UUID, the profile says the same. Where lsblk knows none
/// (a device it may not open), the profile may know more from the mount table.
fn check_fs(name: &str, fs: Option<&storage::Filesystem>, l: &Value) {
    if let Some(t) = l["fstype"].as_str() {
        assert_eq!(fs.map(|f| f.fstype.as_str()), Some(t), "{name} fstype");
    }
    if let Some(u) = l["uuid"].as_str() {
        assert_eq!(fs.and_then(|f| f.uuid.as_deref()), Some(u), "{name} uuid");
    }
    if let Some(m) = l["mountpoint"].as_str() {
        if m != "[SWAP]" {
            assert_eq!(
                fs.and_then(|f| f.mount_point.as_deref()),
                Some(m),
                "{name} mount"
            );
        }
    }
}

#[test]
fn mounts_match_findmnt() {
    if !enabled() {
        return;
    }
    let Some(findmnt) = json(
        "findmnt",
        &["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"],
    ) else {
        eprintln!("skipped: findmnt unavailable");
        return;
    };
    let st = scan();
    // Every mount of a /dev device (not a loop image) is listed with its type and options.
    let mut checked = 0;
    for m in findmnt["filesystems"].as_array().into_iter().flatten() {
        let source = m["source"].as_str().unwrap_or("");
        if !source.starts_with("/dev/") || source.starts_with("/dev/loop") {
            continue;
        }
        let target = m["target"].as_str().unwrap_or("");
        // findmnt appends the btrfs subvolume to the source (`/dev/sda2[/@home]`).
        let got = st
            .mounts
            .iter()
            .find(|x| x.mounted && x.mount_point == target)
            .unwrap_or_else(|| panic!("{target} ({source}) missing from {:#?}", st.mounts));
        assert_eq!(got.fstype, m["fstype"].as_str().unwrap(), "{target}");
        // findmnt's OPTIONS are the mount's and the filesystem's options together.
        let want: BTreeSet<&str> = m["options"].as_str().unwrap().split(',').collect();
        let have: BTreeSet<&str> = got
            .options
            .split(',')
            .chain(got.super_options.as_deref().unwrap_or("").split(','))
            .filter(|o| !o.is_empty())
            .collect();
        assert_eq!(have, want, "{target} options");
        assert!(got.size.is_some(), "{target}: statvfs size");
        checked += 1;
    }
    assert!(checked > 0 || st.mounts.is_empty());
}
