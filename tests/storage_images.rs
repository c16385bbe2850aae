//! The storage parsers on image files made here with the real tools — `sfdisk` on a regular
//! file (MBR with extended + logicals, GPT), `mkfs.ext2/3/4`, `mkfs.xfs`, `mkfs.btrfs`,
//! `mkfs.vfat`, `mkswap`, LVM on a loop device — with `blkid -p`, `sfdisk -J` and `lvs` as
//! the oracle; then the whole storage section over a `/sys`-like tree built from real sysfs
//! file formats, image files standing in for the device nodes.
//!
//! Tests skip with a message when a tool is missing (CI installs them through test.sh) or
//! when the machine denies loop devices, md or device-mapper.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use livescan::profile::storage::probe::{self, Content};
use livescan::profile::storage::reader::{Device, Window};
use livescan::profile::storage::{self, gpt, lvm, mbr, Inputs, Storage};
use livescan::rootfs::RootFs;
use serde_json::Value;

const MIB: u64 = 1 << 20;

fn have(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .env(
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                )
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIP {test}: {} not found (test.sh installs fdisk xfsprogs btrfs-progs dosfstools lvm2)",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_stdin(cmd: &str, args: &[&str], input: &str) {
    use std::io::Write;
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sparse(path: &Path, size: u64) {
    let f = fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
}

/// `blkid -p` (low-level probe, no cache) of `path`, or of a window of it.
fn blkid(path: &Path, window: Option<(u64, u64)>) -> BTreeMap<String, String> {
    let mut args = vec!["-p".to_string(), "-o".into(), "export".into()];
    if let Some((off, size)) = window {
        args.extend(["-O".into(), off.to_string(), "-S".into(), size.to_string()]);
    }
    args.push(path.display().to_string());
    let out = Command::new("blkid").args(&args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("\\ ", " ")))
        .collect()
}

/// Make a filesystem in a file of `size` bytes with `mkfs args… FILE`, then copy it into
/// `disk` at `offset` (a partition), as if it had been made on the partition's device.
fn mkfs_into(disk: &Path, offset: u64, size: u64, mkfs: &[&str], work: &Path) {
    let part = work.join("part.img");
    sparse(&part, size);
    let mut args: Vec<&str> = mkfs[1..].to_vec();
    let p = part.display().to_string();
    args.push(&p);
    run(mkfs[0], &args);
    let data = fs::read(&part).unwrap();
    let f = fs::OpenOptions::new().write(true).open(disk).unwrap();
    // Copy only non-zero 64 KiB blocks: the images stay sparse.
    for (i, chunk) in data.chunks(65536).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            f.write_all_at(chunk, offset + i as u64 * 65536).unwrap();
        }
    }
    fs::remove_file(&part).unwrap();
}

fn probe_fs(dev: &dyn livescan::profile::storage::reader::BlockRead) -> storage::probe::Superblock {
    match probe::probe(dev).unwrap() {
        Some(c) => c.superblock().clone(),
        None => panic!("nothing found"),
    }
}

/// TYPE, UUID, LABEL (and UUID_SUB, VERSION where blkid has them) equal blkid's.
fn assert_like_blkid(what: &str, sb: &storage::probe::Superblock, b: &BTreeMap<String, String>) {
    assert_eq!(Some(&sb.fstype), b.get("TYPE"), "{what}: TYPE");
    assert_eq!(sb.uuid.as_ref(), b.get("UUID"), "{what}: UUID");
    assert_eq!(sb.label.as_ref(), b.get("LABEL"), "{what}: LABEL");
    if let Some(sub) = b.get("UUID_SUB") {
        assert_eq!(sb.uuid_sub.as_ref(), Some(sub), "{what}: UUID_SUB");
    }
    if matches!(sb.fstype.as_str(), "vfat" | "swap") {
        assert_eq!(sb.version.as_ref(), b.get("VERSION"), "{what}: VERSION");
    }
}

#[test]
fn filesystems_on_whole_images_match_blkid() {
    let tools = [
        "blkid",
        "mkfs.ext4",
        "mkfs.xfs",
        "mkfs.btrfs",
        "mkfs.vfat",
        "mkswap",
    ];
    if !have("filesystems_on_whole_images_match_blkid", &tools) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, u64, &[&str]); 9] = [
        ("ext4", 64, &["mkfs.ext4", "-q", "-F", "-L", "root fs"]),
        ("ext3", 64, &["mkfs.ext3", "-q", "-F", "-L", "old"]),
        ("ext2", 32, &["mkfs.ext2", "-q", "-F"]),
        (
            "ext4-64bit",
            64,
            &["mkfs.ext4", "-q", "-F", "-O", "64bit", "-b", "1024"],
        ),
        ("xfs", 320, &["mkfs.xfs", "-q", "-f", "-L", "data"]),
        ("btrfs", 256, &["mkfs.btrfs", "-q", "-f", "-L", "pool"]),
        ("vfat32", 64, &["mkfs.vfat", "-F", "32", "-n", "EFI"]),
        ("vfat16", 32, &["mkfs.vfat", "-F", "16"]),
        ("swap", 16, &["mkswap", "-L", "swp"]),
    ];
    for (name, mib, mkfs) in cases {
        let img = tmp.path().join(format!("{name}.img"));
        sparse(&img, mib * MIB);
        let mut args: Vec<&str> = mkfs[1..].to_vec();
        let p = img.display().to_string();
        args.push(&p);
        run(mkfs[0], &args);
        let dev = Device::open(&img, None).unwrap();
        let sb = probe_fs(&dev);
        assert_like_blkid(name, &sb, &blkid(&img, None));
        let size = sb.size.unwrap_or_else(|| panic!("{name}: no size"));
        assert!(
            size <= mib * MIB && size >= mib * MIB * 9 / 10,
            "{name}: size {size}"
        );
        if let Some(used) = sb.used {
            assert!(used > 0 && used < size, "{name}: used {used} of {size}");
        }
        if name.starts_with("ext") {
            // dumpe2fs is the reference for ext sizes and free counts.
            let d = run("dumpe2fs", &["-h", &p]);
            let field = |k: &str| -> u64 {
                d.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            };
            let bs = field("Block size:");
            assert_eq!(size, field("Block count:") * bs, "{name}");
            assert_eq!(sb.used, Some(size - field("Free blocks:") * bs), "{name}");
        }
    }
}

/// An MBR disk: primary (bootable), swap, extended with two logicals, types kept.
fn mbr_disk(dir: &Path) -> PathBuf {
    let img = dir.join("mbr.img");
    sparse(&img, 200 * MIB);
    run_stdin(
        "sfdisk",
        &["-q", img.to_str().unwrap()],
        "label: dos\nlabel-id: 0x1234abcd\n\
         start=2048, size=65536, type=83, bootable\n\
         start=67584, size=32768, type=82\n\
         start=100352, type=5\n\
         size=65536, type=83\n\
         size=40960, type=c\n",
    );
    img
}

fn sfdisk_json(img: &Path) -> Value {
    serde_json::from_str(&run("sfdisk", &["-J", img.to_str().unwrap()])).unwrap()
}

/// `img5` → 5.
fn node_number(node: &str) -> u32 {
    let digits: String = node
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap()
}

#[test]
fn mbr_with_logicals_matches_sfdisk() {
    if !have("mbr_with_logicals_matches_sfdisk", &["sfdisk", "blkid"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = mbr_disk(tmp.path());
    let dev = Device::open(&img, None).unwrap();
    let t = mbr::parse(&dev, 512).unwrap().expect("an MBR");
    let want = sfdisk_json(&img);
    let pt = &want["partitiontable"];
    assert_eq!(pt["label"], "dos");
    assert_eq!(format!("0x{:08x}", t.disk_id), pt["id"].as_str().unwrap());
    let parts = pt["partitions"].as_array().unwrap();
    assert_eq!(t.partitions.len(), parts.len());
    for (p, w) in t.partitions.iter().zip(parts) {
        assert_eq!(p.number, node_number(w["node"].as_str().unwrap()));
        assert_eq!(
            p.start,
            w["start"].as_u64().unwrap(),
            "start of {}",
            p.number
        );
        assert_eq!(
            p.sectors,
            w["size"].as_u64().unwrap(),
            "size of {}",
            p.number
        );
        assert_eq!(
            format!("{:x}", p.type_id),
            w["type"].as_str().unwrap(),
            "type of {}",
            p.number
        );
        assert_eq!(p.bootable, w["bootable"].as_bool().unwrap_or(false));
    }
    assert_eq!(
        t.partitions.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2, 3, 5, 6]
    );
    assert!(t.warning.is_none());
    let b = blkid(&img, None);
    assert_eq!(b.get("PTTYPE").map(String::as_str), Some("dos"));
    assert_eq!(b.get("PTUUID").map(String::as_str), Some("1234abcd"));
}

#[test]
fn gpt_matches_sfdisk_and_survives_a_lost_primary_header() {
    if !have("gpt_matches_sfdisk", &["sfdisk", "blkid"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("gpt.img");
    sparse(&img, 128 * MIB);
    run_stdin(
        "sfdisk",
        &["-q", img.to_str().unwrap()],
        "label: gpt\n\
         size=2048, type=21686148-6449-6E6F-744E-656564454649, name=\"bios\"\n\
         size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system\"\n\
         size=32768, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap ☃\"\n\
         type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\"\n",
    );
    let check = |t: &gpt::GptTable| {
        let want = sfdisk_json(&img);
        let pt = &want["partitiontable"];
        assert_eq!(t.disk_guid, pt["id"].as_str().unwrap().to_lowercase());
        let parts = pt["partitions"].as_array().unwrap();
        assert_eq!(t.partitions.len(), parts.len());
        for (p, w) in t.partitions.iter().zip(parts) {
            assert_eq!(p.number, node_number(w["node"].as_str().unwrap()));
            assert_eq!(p.first_lba, w["start"].as_u64().unwrap());
            assert_eq!(p.last_lba - p.first_lba + 1, w["size"].as_u64().unwrap());
            assert_eq!(p.type_guid, w["type"].as_str().unwrap().to_lowercase());
            assert_eq!(p.part_uuid, w["uuid"].as_str().unwrap().to_lowercase());
            assert_eq!(p.name.as_deref(), w["name"].as_str());
        }
    };
    let dev = Device::open(&img, None).unwrap();
    let t = gpt::parse(&dev, 512).unwrap().expect("a GPT");
    assert!(!t.from_backup);
    check(&t);
    assert_eq!(t.partitions[2].name.as_deref(), Some("swap ☃"));
    // The protective MBR is recognised as such.
    assert!(mbr::parse(&dev, 512).unwrap().unwrap().is_protective());

    // Zero the primary header: the backup at the last LBA gives the same table.
    let f = fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&[0u8; 512], 512).unwrap();
    drop(f);
    let dev = Device::open(&img, None).unwrap();
    let t2 = gpt::parse(&dev, 512).unwrap().expect("the backup GPT");
    assert!(t2.from_backup);
    assert_eq!(t2.partitions, t.partitions);
    assert_eq!(t2.disk_guid, t.disk_guid);
}

/// A `/sys/block/<name>` directory as the kernel lays it out (dev, size in 512-byte
/// sectors, removable, ro, queue/logical_block_size, one subdirectory per partition).
fn sys_disk(
    block: &Path,
    name: &str,
    dev: &str,
    size: u64,
    removable: bool,
    parts: &[(String, u32, u64, u64)],
) {
    let d = block.join(name);
    fs::create_dir_all(d.join("queue")).unwrap();
    fs::create_dir_all(d.join("holders")).unwrap();
    fs::create_dir_all(d.join("slaves")).unwrap();
    fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
    fs::write(d.join("size"), format!("{}\n", size / 512)).unwrap();
    fs::write(d.join("removable"), if removable { "1\n" } else { "0\n" }).unwrap();
    fs::write(d.join("ro"), "0\n").unwrap();
    fs::write(d.join("queue/logical_block_size"), "512\n").unwrap();
    let major = dev.split(':').next().unwrap();
    for (pname, number, start, psize) in parts {
        let p = d.join(pname);
        fs::create_dir_all(p.join("holders")).unwrap();
        fs::write(p.join("partition"), format!("{number}\n")).unwrap();
        fs::write(p.join("start"), format!("{}\n", start / 512)).unwrap();
        fs::write(p.join("size"), format!("{}\n", psize / 512)).unwrap();
        fs::write(p.join("dev"), format!("{major}:{number}\n")).unwrap();
    }
}

/// The kernel's partition list for an image: what `sfdisk -J` says (an extended
/// partition's sysfs size is 2 sectors, as the kernel shows it).
fn kernel_parts(img: &Path, prefix: &str) -> Vec<(String, u32, u64, u64)> {
    let j = sfdisk_json(img);
    j["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let n = node_number(p["node"].as_str().unwrap());
            let extended = p["type"] == "5";
            let size = if extended {
                2
            } else {
                p["size"].as_u64().unwrap()
            };
            (
                format!("{prefix}{n}"),
                n,
                p["start"].as_u64().unwrap() * 512,
                size * 512,
            )
        })
        .collect()
}

fn all_partitions(st: &Storage, disk: &str) -> Vec<storage::Partition> {
    let d = st.disks.iter().find(|d| d.name == disk).unwrap();
    d.partitions
        .iter()
        .flat_map(|p| std::iter::once(p.clone()).chain(p.logical_partitions.clone()))
        .collect()
}

#[test]
fn whole_section_over_a_sys_tree_and_images() {
    let tools = [
        "sfdisk",
        "blkid",
        "mkfs.ext4",
        "mkfs.xfs",
        "mkfs.vfat",
        "mkswap",
    ];
    if !have("whole_section_over_a_sys_tree_and_images", &tools) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // sdb: the MBR disk with ext4, swap, (extended), ext4, vfat.
    let mbr_img = mbr_disk(t);
    let parts = kernel_parts(&mbr_img, "sdb");
    let off = |n: u32| parts.iter().find(|p| p.1 == n).map(|p| (p.2, p.3)).unwrap();
    mkfs_into(
        &mbr_img,
        off(1).0,
        off(1).1,
        &["mkfs.ext4", "-q", "-F", "-L", "root"],
        t,
    );
    mkfs_into(&mbr_img, off(2).0, off(2).1, &["mkswap", "-L", "swap0"], t);
    mkfs_into(&mbr_img, off(5).0, off(5).1, &["mkfs.ext4", "-q", "-F"], t);
    mkfs_into(
        &mbr_img,
        off(6).0,
        off(6).1,
        &["mkfs.vfat", "-F", "16", "-n", "BOOT"],
        t,
    );
    // nvme0n1: GPT with an EFI partition and an xfs.
    let gpt_img = t.join("gpt.img");
    sparse(&gpt_img, 400 * MIB);
    run_stdin(
        "sfdisk",
        &["-q", gpt_img.to_str().unwrap()],
        "label: gpt\nsize=65536, type=U, name=\"EFI\"\ntype=L, name=\"data\"\n",
    );
    let gparts = kernel_parts(&gpt_img, "nvme0n1p");
    mkfs_into(
        &gpt_img,
        gparts[0].2,
        gparts[0].3,
        &["mkfs.vfat", "-F", "32", "-n", "ESP"],
        t,
    );
    mkfs_into(
        &gpt_img,
        gparts[1].2,
        gparts[1].3,
        &["mkfs.xfs", "-q", "-f", "-L", "data"],
        t,
    );

    let block = t.join("sys/block");
    let mbr_size = fs::metadata(&mbr_img).unwrap().len();
    let gpt_size = fs::metadata(&gpt_img).unwrap().len();
    sys_disk(&block, "sdb", "8:16", mbr_size, false, &parts);
    sys_disk(&block, "nvme0n1", "259:0", gpt_size, false, &gparts);
    // Not disks of the host: a CD in the drive, a loop image, zram, ram, nbd.
    sys_disk(&block, "sr0", "11:0", 700 * MIB, true, &[]);
    sys_disk(&block, "loop0", "7:0", 10 * MIB, false, &[]);
    sys_disk(&block, "zram0", "252:0", 10 * MIB, false, &[]);
    sys_disk(&block, "ram0", "1:0", 10 * MIB, false, &[]);
    sys_disk(&block, "nbd0", "43:0", 0, false, &[]);
    // Device nodes: the images under the kernel names (partitions are read through the disk).
    let dev = t.join("dev");
    fs::create_dir_all(&dev).unwrap();
    std::os::unix::fs::symlink(&mbr_img, dev.join("sdb")).unwrap();
    std::os::unix::fs::symlink(&gpt_img, dev.join("nvme0n1")).unwrap();
    std::os::unix::fs::symlink(&mbr_img, dev.join("sr0")).unwrap(); // must not be read

    let uuid = |img: &Path, n: u32, ps: &[(String, u32, u64, u64)]| {
        let (s, z) = ps.iter().find(|p| p.1 == n).map(|p| (p.2, p.3)).unwrap();
        blkid(img, Some((s, z)))
    };
    let b1 = uuid(&mbr_img, 1, &parts);
    let b2 = uuid(&mbr_img, 2, &parts);
    let b5 = uuid(&mbr_img, 5, &parts);
    let b6 = uuid(&mbr_img, 6, &parts);
    let g2 = uuid(&gpt_img, 2, &gparts);
    let gpt_part2 = sfdisk_json(&gpt_img)["partitiontable"]["partitions"][1]["uuid"]
        .as_str()
        .unwrap()
        .to_lowercase();

    // The scanned root: fstab by UUID, LABEL, PARTUUID and path; the mount table has / and
    // /home mounted, swap active; /boot and /data only in fstab.
    let root = t.join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/fstab"),
        format!(
            "# <file system> <mount point> <type> <options> <dump> <pass>\n\
             UUID={} / ext4 errors=remount-ro 0 1\n\
             /dev/sdb5 /home ext4 defaults 0 2\n\
             LABEL=BOOT /boot vfat umask=0077 0 1\n\
             PARTUUID={gpt_part2} /srv/my\\040data xfs noatime 0 2\n\
             UUID={} none swap sw 0 0\n\
             proc /proc proc defaults 0 0\n\
             /srv/a /srv/b none bind 0 0\n",
            b1["UUID"], b2["UUID"]
        ),
    )
    .unwrap();
    let proc = t.join("proc");
    fs::create_dir_all(proc.join("self")).unwrap();
    fs::write(
        proc.join("self/mountinfo"),
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sdb1 rw,errors=remount-ro\n\
         23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw\n\
         24 22 8:5 / /home rw,relatime shared:2 - ext4 /dev/sdb5 rw\n\
         25 22 7:0 / /mnt/iso ro,relatime shared:3 - iso9660 /dev/loop0 ro\n",
    )
    .unwrap();
    fs::write(
        proc.join("swaps"),
        format!(
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sdb2                               partition\t{}\t\t1024\t\t-2\n",
            off(2).1 / 1024 - 4
        ),
    )
    .unwrap();

    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(proc.join("self/mountinfo")),
        swaps: Some(proc.join("swaps")),
        dev_dir: Some(dev),
        statvfs: false,
    };
    let st = storage::collect_from(&RootFs::new(&root), &inputs);
    let json = serde_json::to_string_pretty(&st).unwrap();
    println!("{json}");
    assert!(st.sources.sysfs && st.sources.mountinfo && st.sources.devices && st.sources.fstab);

    // Disks: sdb and nvme0n1 only, names kept.
    let names: Vec<&str> = st.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["nvme0n1", "sdb"]);
    let sdb = &st.disks[1];
    assert_eq!(sdb.partition_type.as_deref(), Some("msdos"));
    assert_eq!(sdb.table_id.as_deref(), Some("0x1234abcd"));
    assert_eq!(sdb.size, mbr_size);
    // Primaries and the extended partition in number order; logicals inside it.
    let top: Vec<(u32, &str)> = sdb
        .partitions
        .iter()
        .map(|p| (p.number, p.kind.as_deref().unwrap()))
        .collect();
    assert_eq!(top, [(1, "primary"), (2, "primary"), (3, "extended")]);
    let logical: Vec<u32> = sdb.partitions[2]
        .logical_partitions
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(logical, [5, 6]);
    assert!(sdb.partitions[0].bootable && !sdb.partitions[1].bootable);

    // Each partition's filesystem is blkid's, mount points from the mount table or fstab.
    let ps = all_partitions(&st, "sdb");
    let fs_of = |n: u32| {
        ps.iter()
            .find(|p| p.number == n)
            .unwrap()
            .filesystem
            .clone()
            .unwrap()
    };
    for (n, b) in [(1, &b1), (2, &b2), (5, &b5), (6, &b6)] {
        let f = fs_of(n);
        assert_eq!(Some(&f.fstype), b.get("TYPE"), "sdb{n}");
        assert_eq!(f.uuid.as_ref(), b.get("UUID"), "sdb{n}");
        assert_eq!(f.label.as_ref(), b.get("LABEL"), "sdb{n}");
        assert_eq!(f.identified_by, "superblock");
    }
    assert!(ps
        .iter()
        .find(|p| p.number == 3)
        .unwrap()
        .filesystem
        .is_none());
    assert_eq!(fs_of(1).mount_point.as_deref(), Some("/"));
    assert_eq!(fs_of(5).mount_point.as_deref(), Some("/home"));
    assert_eq!(fs_of(6).mount_point.as_deref(), Some("/boot"), "LABEL=BOOT");
    assert_eq!(ps[0].part_uuid.as_deref(), Some("1234abcd-01"));
    assert_eq!(ps[0].type_id.as_deref(), Some("0x83"));
    assert_eq!(
        ps.iter()
            .find(|p| p.number == 6)
            .unwrap()
            .type_id
            .as_deref(),
        Some("0x0c")
    );

    let nvme = &st.disks[0];
    assert_eq!(nvme.partition_type.as_deref(), Some("gpt"));
    let np: Vec<(Option<&str>, Option<&str>)> = nvme
        .partitions
        .iter()
        .map(|p| (p.name.as_deref(), p.part_label.as_deref()))
        .collect();
    assert_eq!(
        np,
        [
            (Some("nvme0n1p1"), Some("EFI")),
            (Some("nvme0n1p2"), Some("data"))
        ]
    );
    let data = nvme.partitions[1].filesystem.clone().unwrap();
    assert_eq!(Some(&data.fstype), g2.get("TYPE"));
    assert_eq!(data.uuid.as_ref(), g2.get("UUID"));
    assert_eq!(
        data.mount_point.as_deref(),
        Some("/srv/my data"),
        "PARTUUID= with \\040"
    );
    assert_eq!(nvme.partitions[0].type_name.as_deref(), Some("EFI System"));

    // Mounts: mounted ones from the table (proc and the loop ISO left out), fstab-only ones
    // marked so; the bind and proc lines of fstab are not block mounts.
    let m: Vec<(&str, bool, bool, Option<&str>)> = st
        .mounts
        .iter()
        .map(|m| {
            (
                m.mount_point.as_str(),
                m.mounted,
                m.in_fstab,
                m.device.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        m,
        [
            ("/", true, true, Some("sdb1")),
            ("/home", true, true, Some("sdb5")),
            ("/boot", false, true, Some("sdb6")),
            ("/srv/my data", false, true, Some("nvme0n1p2")),
        ]
    );
    assert_eq!(
        st.mounts[0].fstab_options.as_deref(),
        Some("errors=remount-ro")
    );

    // Swap: active (from /proc/swaps), in fstab by UUID, identified from its header.
    assert_eq!(st.swap.len(), 1, "{:?}", st.swap);
    let s = &st.swap[0];
    assert!(s.active && s.in_fstab);
    assert_eq!(s.device.as_deref(), Some("sdb2"));
    assert_eq!(s.uuid.as_ref(), b2.get("UUID"));
    assert_eq!(s.label.as_deref(), Some("swap0"));
    assert_eq!(s.used, Some(1024 * 1024));
    assert!(st.notes.is_empty(), "{:?}", st.notes);
}

#[test]
fn without_devices_types_come_from_the_mount_table_and_fstab() {
    // A captured /sys and /proc of another machine: the devices are not this host's, so
    // nothing is read from them; what the mount table and fstab say is used instead.
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let block = t.join("sys/block");
    sys_disk(
        &block,
        "xvda",
        "202:0",
        20 << 30,
        false,
        &[("xvda1".into(), 1, MIB, (20 << 30) - MIB)],
    );
    fs::create_dir_all(t.join("proc/self")).unwrap();
    fs::write(
        t.join("proc/self/mountinfo"),
        "22 1 202:1 / / rw,relatime - xfs /dev/xvda1 rw,attr2,inode64\n",
    )
    .unwrap();
    fs::create_dir_all(t.join("root/etc")).unwrap();
    fs::write(
        t.join("root/etc/fstab"),
        "UUID=5A3B0C9D-1111-2222-3333-444455556666 / xfs defaults 0 0\n",
    )
    .unwrap();
    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(t.join("proc/self/mountinfo")),
        ..Default::default()
    };
    let st = storage::collect_from(&RootFs::new(t.join("root")), &inputs);
    assert!(!st.sources.devices);
    assert_eq!(st.disks.len(), 1);
    let p = &st.disks[0].partitions[0];
    assert_eq!(p.name.as_deref(), Some("xvda1"));
    assert_eq!(p.kind, None, "table not read");
    let f = p.filesystem.as_ref().unwrap();
    assert_eq!(f.fstype, "xfs");
    assert_eq!(f.identified_by, "mountinfo");
    assert_eq!(
        f.uuid.as_deref(),
        Some("5a3b0c9d-1111-2222-3333-444455556666")
    );
    assert_eq!(f.mount_point.as_deref(), Some("/"));
}

/// LVM's tools with a private configuration: no udev, no device-mapper (activation off:
/// this creates metadata only), backups into the test's own `etc/lvm/backup`.
fn lvm(conf: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("LVM_SYSTEM_DIR", conf)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Loop(String);
impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn lvm_pv_label_and_metadata_match_lvs() {
    if !have(
        "lvm_pv_label_and_metadata_match_lvs",
        &["losetup", "pvcreate", "blkid"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let img = t.join("pv.img");
    sparse(&img, 64 * MIB);
    let Ok(out) = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)
        .output()
    else {
        return;
    };
    if !out.status.success() {
        eprintln!(
            "SKIP lvm test: losetup denied: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let lo = Loop(String::from_utf8_lossy(&out.stdout).trim().to_string());
    let conf = t.join("root/etc/lvm");
    fs::create_dir_all(&conf).unwrap();
    fs::write(
        conf.join("lvm.conf"),
        format!(
            "devices {{ use_devicesfile = 0 obtain_device_list_from_udev = 0 }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }}\n\
             global {{ activation = 0 use_lvmlockd = 0 event_activation = 0 }}\n\
             backup {{ backup = 1 backup_dir = \"{}\" archive = 0 }}\n",
            conf.join("backup").display()
        ),
    )
    .unwrap();
    let d = lo.0.as_str();
    let steps: [&[&str]; 5] = [
        &["pvcreate", "-y", "--devices", d, d],
        &["vgcreate", "--devices", d, "-s", "1m", "vg-h6b", d],
        &[
            "lvcreate",
            "--devices",
            d,
            "-an",
            "-Zn",
            "-L",
            "8m",
            "-n",
            "root",
            "vg-h6b",
        ],
        &[
            "lvcreate",
            "--devices",
            d,
            "-an",
            "-Zn",
            "-L",
            "12m",
            "-n",
            "my-data",
            "vg-h6b",
        ],
        &["lvextend", "--devices", d, "-L", "+3m", "vg-h6b/root"],
    ];
    for s in steps {
        if lvm(&conf, s).is_none() {
            eprintln!("SKIP lvm test: {} denied on this machine", s[0]);
            return;
        }
    }
    let report = lvm(
        &conf,
        &[
            "lvs",
            "--devices",
            d,
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "lv_name,lv_size,lv_uuid,vg_uuid,vg_name,seg_count,vg_extent_size",
        ],
    )
    .unwrap();
    let pvs = lvm(
        &conf,
        &[
            "pvs",
            "--devices",
            d,
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "pv_uuid,pv_size",
        ],
    )
    .unwrap();
    drop(lo);

    let dev = Device::open(&img, None).unwrap();
    let Some(Content::Lvm(sb, label)) = probe::probe(&dev).unwrap() else {
        panic!("no PV label");
    };
    let b = blkid(&img, None);
    assert_eq!(b.get("TYPE").map(String::as_str), Some("LVM2_member"));
    assert_eq!(sb.uuid.as_ref(), b.get("UUID"));
    let pvs: Value = serde_json::from_str(&pvs).unwrap();
    assert_eq!(
        label.pv_uuid,
        pvs["report"][0]["pv"][0]["pv_uuid"].as_str().unwrap()
    );

    let vg = lvm::vg_from_text(label.metadata.as_deref().unwrap()).unwrap();
    let lvs: Value = serde_json::from_str(&report).unwrap();
    let lvs = lvs["report"][0]["lv"].as_array().unwrap();
    assert_eq!(vg.name, "vg-h6b");
    assert_eq!(vg.uuid, lvs[0]["vg_uuid"].as_str().unwrap());
    assert_eq!(
        vg.extent_size.to_string(),
        lvs[0]["vg_extent_size"].as_str().unwrap()
    );
    let mut got: Vec<(String, String, String)> = vg
        .lvs
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                l.uuid.clone(),
                (l.extents * vg.extent_size).to_string(),
            )
        })
        .collect();
    let mut want: Vec<(String, String, String)> = lvs
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("lv_name"), s("lv_uuid"), s("lv_size"))
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // root was extended: two segments, both on pv0.
    let root_lv = vg.lvs.iter().find(|l| l.name == "root").unwrap();
    assert_eq!(root_lv.segment_types, ["striped", "striped"]);
    assert_eq!(root_lv.pvs, ["pv0"]);

    // Without live facts the same VG comes from the root's /etc/lvm/backup, which LVM
    // wrote itself; the mapper name doubles the dash.
    let st = storage::collect_from(&RootFs::new(t.join("root")), &Inputs::default());
    assert!(st.sources.lvm_backup);
    assert_eq!(st.logical_groups.len(), 1);
    assert_eq!(st.logical_groups[0].uuid, vg.uuid);
    assert_eq!(
        st.logical_groups[0].free,
        (64 * MIB / vg.extent_size - 1 - 8 - 12 - 3) * vg.extent_size
    );
    let mut names: Vec<(&str, &str, u64)> = st
        .logical_volumes
        .iter()
        .map(|l| (l.name.as_str(), l.mapper_name.as_str(), l.size))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("my-data", "vg--h6b-my--data", 12 * MIB),
            ("root", "vg--h6b-root", 11 * MIB)
        ]
    );
    // Live: the PV on disk sdd, root active as dm-0 (an ext4 image stands in for its node),
    // my-data inactive and named in fstab by its /dev/VG/LV path.
    let block = t.join("sys/block");
    sys_disk(&block, "sdd", "8:48", 64 * MIB, false, &[]);
    sys_disk(&block, "dm-0", "253:0", 11 * MIB, false, &[]);
    let dm = block.join("dm-0");
    fs::create_dir_all(dm.join("dm")).unwrap();
    fs::write(dm.join("dm/name"), "vg--h6b-root\n").unwrap();
    let root_lv = vg.lvs.iter().find(|l| l.name == "root").unwrap();
    fs::write(
        dm.join("dm/uuid"),
        format!(
            "LVM-{}{}\n",
            vg.uuid.replace('-', ""),
            root_lv.uuid.replace('-', "")
        ),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../sdd", dm.join("slaves/sdd")).unwrap();
    let devdir = t.join("dev");
    fs::create_dir_all(&devdir).unwrap();
    std::os::unix::fs::symlink(&img, devdir.join("sdd")).unwrap();
    let lv_img = t.join("lv.img");
    sparse(&lv_img, 11 * MIB);
    run(
        "mkfs.ext4",
        &["-q", "-F", "-L", "lvroot", lv_img.to_str().unwrap()],
    );
    std::os::unix::fs::symlink(&lv_img, devdir.join("dm-0")).unwrap();
    fs::write(
        t.join("mountinfo"),
        "22 1 253:0 / / rw,relatime - ext4 /dev/mapper/vg--h6b-root rw\n",
    )
    .unwrap();
    let live_root = t.join("live");
    fs::create_dir_all(live_root.join("etc")).unwrap();
    fs::write(
        live_root.join("etc/fstab"),
        "/dev/mapper/vg--h6b-root / ext4 defaults 0 1\n/dev/vg-h6b/my-data /data ext4 noatime 0 2\n",
    )
    .unwrap();
    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(t.join("mountinfo")),
        dev_dir: Some(devdir),
        ..Default::default()
    };
    let st = storage::collect_from(&RootFs::new(&live_root), &inputs);
    assert!(!st.sources.lvm_backup, "metadata from the PV itself");
    assert_eq!(st.disks.len(), 1, "dm-0 is not a disk");
    let pvfs = st.disks[0].filesystem.as_ref().unwrap();
    assert_eq!(pvfs.fstype, "LVM2_member");
    assert_eq!(pvfs.member_of.as_deref(), Some("vg-h6b"));
    assert_eq!(
        st.logical_groups[0].physical_volumes[0].device.as_deref(),
        Some("sdd")
    );
    let lv = |n: &str| st.logical_volumes.iter().find(|l| l.name == n).unwrap();
    assert_eq!(lv("root").device.as_deref(), Some("dm-0"));
    let f = lv("root").filesystem.as_ref().unwrap();
    assert_eq!(
        (f.fstype.as_str(), f.label.as_deref()),
        ("ext4", Some("lvroot"))
    );
    assert_eq!(f.mount_point.as_deref(), Some("/"));
    assert_eq!(lv("my-data").device, None);
    let f = lv("my-data").filesystem.as_ref().unwrap();
    assert_eq!(
        (f.fstype.as_str(), f.identified_by.as_str()),
        ("ext4", "fstab")
    );
    assert_eq!(f.mount_point.as_deref(), Some("/data"));
    assert_eq!(
        lv("root").physical_volumes,
        [st.logical_groups[0].physical_volumes[0].uuid.clone()]
    );
    assert!(st.mounts[0].in_fstab && st.mounts[0].device.as_deref() == Some("dm-0"));
}

#[test]
fn md_member_superblocks_match_blkid() {
    if !have(
        "md_member_superblocks_match_blkid",
        &["mdadm", "losetup", "blkid"],
    ) {
        return;
    }
    if !Path::new("/proc/mdstat").exists() {
        eprintln!("SKIP md test: this kernel has no md driver (/proc/mdstat absent)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for meta in ["0.90", "1.0", "1.2"] {
        let mut loops = Vec::new();
        let mut imgs = Vec::new();
        for i in 0..2 {
            let img = tmp.path().join(format!("m{meta}-{i}.img"));
            sparse(&img, 32 * MIB);
            let out = Command::new("losetup")
                .args(["-f", "--show"])
                .arg(&img)
                .output()
                .unwrap();
            if !out.status.success() {
                eprintln!("SKIP md test: losetup denied");
                return;
            }
            loops.push(Loop(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ));
            imgs.push(img);
        }
        let md = format!("/dev/md/h6b-test-{}", meta.replace('.', ""));
        let out = Command::new("mdadm")
            .args([
                "--create",
                &md,
                "--run",
                "--level=1",
                "--raid-devices=2",
                &format!("--metadata={meta}"),
            ])
            .args(loops.iter().map(|l| l.0.as_str()))
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "SKIP md test: mdadm --create denied: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let _ = Command::new("mdadm").args(["--stop", &md]).status();
        drop(loops);
        for img in &imgs {
            let dev = Device::open(img, None).unwrap();
            let Some(Content::Md(sb, m)) = probe::probe(&dev).unwrap() else {
                panic!("{meta}: no md superblock");
            };
            let b = blkid(img, None);
            assert_eq!(b.get("TYPE").map(String::as_str), Some("linux_raid_member"));
            assert_eq!(sb.uuid.as_ref(), b.get("UUID"), "{meta}");
            assert_eq!(m.level, "raid1");
            assert_eq!(m.raid_disks, 2);
            assert_eq!(m.metadata, meta);
        }
    }
}

#[test]
fn partition_read_through_the_disk_equals_the_partition_alone() {
    if !have("partition_window", &["sfdisk", "mkfs.ext4"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = mbr_disk(tmp.path());
    let parts = kernel_parts(&img, "x");
    let (s, z) = (parts[0].2, parts[0].3);
    mkfs_into(
        &img,
        s,
        z,
        &["mkfs.ext4", "-q", "-F", "-L", "w"],
        tmp.path(),
    );
    let disk = Device::open(&img, None).unwrap();
    let w = Window {
        inner: &disk,
        start: s,
        size: z,
    };
    let sb = probe_fs(&w);
    assert_eq!(sb.label.as_deref(), Some("w"));
    assert_eq!(sb.size, Some(z));
    // The whole disk is an MBR, not the ext4 at its first partition.
    assert!(mbr::parse(&disk, 512).unwrap().is_some());
}

struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `btrfs subvolume list` lines: `ID 256 gen 8 parent 5 top level 5 path @`.
fn btrfs_list(mnt: &Path, flag: &str) -> Vec<(u64, u64, String)> {
    let mut args = vec!["subvolume", "list", "-p"];
    if !flag.is_empty() {
        args.push(flag);
    }
    let m = mnt.display().to_string();
    args.push(&m);
    run("btrfs", &args)
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let path = l.split_once(" path ").unwrap().1.to_string();
            (w[1].parse().unwrap(), w[5].parse().unwrap(), path)
        })
        .collect()
}

#[test]
fn btrfs_subvolumes_from_the_trees_match_btrfs_subvolume_list() {
    if !have(
        "btrfs_subvolumes",
        &["mkfs.btrfs", "btrfs", "mount", "umount"],
    ) {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP btrfs_subvolumes: mounting needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("b.img");
    sparse(&img, 256 * MIB);
    run(
        "mkfs.btrfs",
        &["-q", "-f", "-L", "sys", img.to_str().unwrap()],
    );
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-o", "loop"])
        .arg(&img)
        .arg(&mnt)
        .output()
        .unwrap();
    if !st.status.success() {
        eprintln!(
            "SKIP btrfs_subvolumes: mount denied: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        return;
    }
    let m = Mounted(mnt.clone());
    let p = |s: &str| mnt.join(s).display().to_string();
    run("btrfs", &["-q", "subvolume", "create", &p("@")]);
    run("btrfs", &["-q", "subvolume", "create", &p("@home")]);
    run("btrfs", &["-q", "subvolume", "create", &p("@home/user")]);
    // Subvolumes inside plain directories of their parent subvolume (and of the top level).
    fs::create_dir_all(mnt.join("@/var/lib")).unwrap();
    // Enough files that @'s own tree has several levels: the directory lookup searches it.
    for i in 0..3000 {
        fs::write(mnt.join(format!("@/var/a{i:04}")), b"").unwrap();
    }
    run(
        "btrfs",
        &["-q", "subvolume", "create", &p("@/var/lib/machines")],
    );
    fs::create_dir_all(mnt.join("top dir/x")).unwrap();
    run(
        "btrfs",
        &["-q", "subvolume", "create", &p("top dir/x/@var-log")],
    );
    run(
        "btrfs",
        &["-q", "subvolume", "snapshot", "-r", &p("@"), &p("@snap")],
    );
    // Many subvolumes: the root tree grows past one leaf.
    for i in 0..150 {
        run(
            "btrfs",
            &["-q", "subvolume", "create", &p(&format!("@home/user/s{i}"))],
        );
    }
    let default_id = btrfs_list(&mnt, "").iter().find(|s| s.2 == "@").unwrap().0;
    run(
        "btrfs",
        &[
            "-q",
            "subvolume",
            "set-default",
            &default_id.to_string(),
            &p(""),
        ],
    );
    let want = btrfs_list(&mnt, "");
    let read_only: Vec<u64> = btrfs_list(&mnt, "-r").iter().map(|s| s.0).collect();
    let snapshots: Vec<u64> = btrfs_list(&mnt, "-s").iter().map(|s| s.0).collect();
    drop(m); // unmounted: everything is on disk

    let dev = Device::open(&img, None).unwrap();
    let subs = storage::btrfs::subvolumes(&dev).unwrap();
    let mut got: Vec<(u64, u64, String)> = subs
        .list
        .iter()
        .map(|s| (s.id, s.parent, s.path.clone()))
        .collect();
    got.sort();
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
    assert_eq!(got.len(), 156);
    assert!(got.iter().any(|s| s.2 == "@/var/lib/machines"), "{got:?}");
    assert!(got.iter().any(|s| s.2 == "top dir/x/@var-log"), "{got:?}");
    assert_eq!(subs.default_id, default_id);
    let ro: Vec<u64> = subs
        .list
        .iter()
        .filter(|s| s.read_only)
        .map(|s| s.id)
        .collect();
    let snap: Vec<u64> = subs
        .list
        .iter()
        .filter(|s| s.snapshot)
        .map(|s| s.id)
        .collect();
    assert_eq!(ro, read_only);
    assert_eq!(snap, snapshots);

    // In the section: the mounted subvolume gets its mount point, the default is marked.
    let t = tmp.path();
    let block = t.join("sys/block");
    sys_disk(&block, "sdc", "8:32", 256 * MIB, false, &[]);
    let devdir = t.join("dev");
    fs::create_dir_all(&devdir).unwrap();
    std::os::unix::fs::symlink(&img, devdir.join("sdc")).unwrap();
    fs::write(
        t.join("mountinfo"),
        format!(
            "22 1 0:40 /{0} / rw,relatime - btrfs /dev/sdc rw,space_cache=v2,subvolid={1},subvol=/{0}\n\
             23 22 0:40 /@home /home rw,relatime - btrfs /dev/sdc rw,space_cache=v2,subvolid=257,subvol=/@home\n",
            "@", default_id
        ),
    )
    .unwrap();
    fs::create_dir_all(t.join("root/etc")).unwrap();
    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(t.join("mountinfo")),
        dev_dir: Some(devdir),
        ..Default::default()
    };
    let st = storage::collect_from(&RootFs::new(t.join("root")), &inputs);
    assert_eq!(st.btrfs_subvolumes.len(), 156);
    let by_path = |p: &str| st.btrfs_subvolumes.iter().find(|s| s.path == p).unwrap();
    assert_eq!(by_path("@").mount_point.as_deref(), Some("/"));
    assert!(by_path("@").default);
    assert_eq!(by_path("@home").mount_point.as_deref(), Some("/home"));
    assert_eq!(by_path("@home/user").mount_point, None);
    assert_eq!(by_path("@snap").snapshot, Some(true));
    let fs = st.disks[0].filesystem.as_ref().unwrap();
    assert_eq!(
        (fs.fstype.as_str(), fs.label.as_deref()),
        ("btrfs", Some("sys"))
    );
    assert_eq!(fs.mount_point.as_deref(), Some("/"));
    assert!(st.notes.is_empty(), "{:?}", st.notes);
}

#[test]
fn real_sysfs_and_device_node_of_a_partitioned_loop_device() {
    // The kernel's own /sys/block entry and /dev node for the MBR image attached with
    // partition scanning: sizes, numbers and starts as the kernel reports them equal the
    // table read through the device node (the extended partition shows as its 1 KiB EBR).
    if !have("real_sysfs_loop", &["losetup", "sfdisk"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = mbr_disk(tmp.path());
    let Ok(out) = Command::new("losetup")
        .args(["-f", "--show", "-P"])
        .arg(&img)
        .output()
    else {
        return;
    };
    if !out.status.success() {
        eprintln!(
            "SKIP real_sysfs_loop: losetup denied: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let lo = Loop(String::from_utf8_lossy(&out.stdout).trim().to_string());
    let name = lo.0.trim_start_matches("/dev/").to_string();
    let all = storage::sysfs::read_block_dir(Path::new("/sys/block")).unwrap();
    let b = all.iter().find(|b| b.name == name).unwrap();
    assert!(!b.is_disk(), "a loop device is not a disk of the host");
    if b.partitions.is_empty() {
        eprintln!("SKIP real_sysfs_loop: the kernel did not scan the loop device's partitions");
        return;
    }
    assert_eq!(b.size, 200 * MIB);
    assert_eq!(b.logical_block_size, 512);
    let dev = Device::open(Path::new(&lo.0), Some(b.size)).unwrap();
    let t = mbr::parse(&dev, 512).unwrap().unwrap();
    let kernel: Vec<(u32, u64, u64)> = b
        .partitions
        .iter()
        .map(|p| (p.number, p.start, p.size))
        .collect();
    let table: Vec<(u32, u64, u64)> = t
        .partitions
        .iter()
        .map(|p| {
            (
                p.number,
                p.start * 512,
                if p.is_extended() {
                    1024
                } else {
                    p.sectors * 512
                },
            )
        })
        .collect();
    assert_eq!(kernel, table);
    let names: Vec<String> = b.partitions.iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, [1, 2, 3, 5, 6].map(|n| format!("{name}p{n}")));
    assert!(b.partitions.iter().all(|p| p.dev.contains(':')));
}

#[test]
fn md_arrays_from_sysfs_and_without_live_facts_from_mdadm_conf() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let block = t.join("sys/block");
    for (d, dev) in [("sda", "8:0"), ("sdb", "8:16")] {
        sys_disk(
            &block,
            d,
            dev,
            8 << 30,
            false,
            &[(format!("{d}1"), 1, MIB, (8 << 30) - MIB)],
        );
    }
    sys_disk(&block, "md127", "9:127", (8 << 30) - 2 * MIB, false, &[]);
    let md = block.join("md127");
    fs::create_dir_all(md.join("md")).unwrap();
    for (f, v) in [
        ("level", "raid1"),
        ("raid_disks", "2"),
        ("metadata_version", "1.2"),
        ("array_state", "clean"),
    ] {
        fs::write(md.join("md").join(f), format!("{v}\n")).unwrap();
    }
    for s in ["sda1", "sdb1"] {
        std::os::unix::fs::symlink(format!("../../sda/{s}"), md.join("slaves").join(s)).unwrap();
    }
    fs::write(
        t.join("mountinfo"),
        "22 1 9:127 / / rw,relatime - ext4 /dev/md127 rw\n",
    )
    .unwrap();
    let root = t.join("root");
    fs::create_dir_all(root.join("etc/mdadm")).unwrap();
    fs::write(
        root.join("etc/mdadm/mdadm.conf"),
        "# mdadm.conf\nHOMEHOST <system>\nMAILADDR root\n\
         ARRAY /dev/md/0  metadata=1.2 UUID=3aaa0122:29827cfa:5331ad66:ca767371\n   name=host:0\n",
    )
    .unwrap();
    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(t.join("mountinfo")),
        ..Default::default()
    };
    let st = storage::collect_from(&RootFs::new(&root), &inputs);
    let names: Vec<&str> = st.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["sda", "sdb"], "md127 is an array, not a disk");
    assert_eq!(st.md_arrays.len(), 1);
    let a = &st.md_arrays[0];
    assert_eq!(a.name, "md127");
    assert_eq!(a.level.as_deref(), Some("raid1"));
    assert_eq!(
        (a.raid_disks, a.metadata.as_deref()),
        (Some(2), Some("1.2"))
    );
    assert_eq!(a.members, ["sda1", "sdb1"]);
    let f = a.filesystem.as_ref().unwrap();
    assert_eq!(
        (f.fstype.as_str(), f.mount_point.as_deref()),
        ("ext4", Some("/"))
    );
    assert!(
        !st.sources.mdadm_conf,
        "live facts win over the configuration"
    );

    // No live facts: the array as mdadm.conf declares it (a continuation line included).
    let st = storage::collect_from(&RootFs::new(&root), &Inputs::default());
    assert!(st.sources.mdadm_conf && st.disks.is_empty());
    assert_eq!(st.md_arrays.len(), 1);
    let a = &st.md_arrays[0];
    assert_eq!(a.name, "/dev/md/0");
    assert_eq!(
        a.uuid.as_deref(),
        Some("3aaa0122:29827cfa:5331ad66:ca767371")
    );
    assert_eq!(a.array_name.as_deref(), Some("host:0"));
}

#[test]
fn luks_headers_match_blkid_and_the_open_device_is_listed() {
    if !have("luks", &["cryptsetup", "blkid", "mkfs.ext4"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut uuid = String::new();
    for (ty, label) in [("luks1", None), ("luks2", Some("secret"))] {
        let img = t.join(format!("{ty}.img"));
        sparse(&img, 32 * MIB);
        let mut args = vec![
            "luksFormat",
            "-q",
            "--type",
            ty,
            "--pbkdf-force-iterations",
            "1000",
        ];
        if ty == "luks2" {
            args.extend(["--pbkdf", "pbkdf2"]);
        }
        if let Some(l) = label {
            args.extend(["--label", l]);
        }
        let p = img.display().to_string();
        args.extend([p.as_str(), "-"]);
        run_stdin("cryptsetup", &args, "test passphrase");
        let sb = probe_fs(&Device::open(&img, None).unwrap());
        let b = blkid(&img, None);
        assert_like_blkid(ty, &sb, &b);
        assert_eq!(sb.version.as_ref(), b.get("VERSION"), "{ty}");
        uuid = sb.uuid.clone().unwrap();
    }
    // Open, as the kernel shows it: dm-1 (CRYPT-LUKS2-<uuid without dashes>-<name>) over sde.
    let block = t.join("sys/block");
    sys_disk(&block, "sde", "8:64", 32 * MIB, false, &[]);
    sys_disk(&block, "dm-1", "253:1", 16 * MIB, false, &[]);
    let dm = block.join("dm-1");
    fs::create_dir_all(dm.join("dm")).unwrap();
    fs::write(dm.join("dm/name"), "luks-data\n").unwrap();
    fs::write(
        dm.join("dm/uuid"),
        format!("CRYPT-LUKS2-{}-luks-data\n", uuid.replace('-', "")),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../sde", dm.join("slaves/sde")).unwrap();
    let devdir = t.join("dev");
    fs::create_dir_all(&devdir).unwrap();
    std::os::unix::fs::symlink(t.join("luks2.img"), devdir.join("sde")).unwrap();
    let inner = t.join("inner.img");
    sparse(&inner, 16 * MIB);
    run("mkfs.ext4", &["-q", "-F", inner.to_str().unwrap()]);
    std::os::unix::fs::symlink(&inner, devdir.join("dm-1")).unwrap();
    fs::write(
        t.join("mountinfo"),
        "22 1 253:1 / /srv rw,relatime - ext4 /dev/mapper/luks-data rw\n",
    )
    .unwrap();
    fs::create_dir_all(t.join("root/etc")).unwrap();
    let inputs = Inputs {
        sys_block: Some(block),
        mountinfo: Some(t.join("mountinfo")),
        dev_dir: Some(devdir),
        ..Default::default()
    };
    let st = storage::collect_from(&RootFs::new(t.join("root")), &inputs);
    let d = st.disks[0].filesystem.as_ref().unwrap();
    assert_eq!(
        (d.fstype.as_str(), d.uuid.as_deref()),
        ("crypto_LUKS", Some(uuid.as_str()))
    );
    assert_eq!(st.mapped_devices.len(), 1);
    let m = &st.mapped_devices[0];
    assert_eq!(
        (m.device.as_str(), m.kind.as_deref()),
        ("dm-1", Some("crypt"))
    );
    assert_eq!(m.slaves, ["sde"]);
    let f = m.filesystem.as_ref().unwrap();
    assert_eq!(
        (f.fstype.as_str(), f.mount_point.as_deref()),
        ("ext4", Some("/srv"))
    );
}
