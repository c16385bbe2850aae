//! `livescan export` on real trees with every hard case, extracted by GNU tar and bsdtar,
//! every attribute compared with the source; `livescan verify` on good and damaged files;
//! files mutated while they are packed.

mod common;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livescan::walk::xattr;

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> bool {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    // SAFETY: valid strings and buffer.
    unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

fn set_times(path: &Path, sec: i64, nsec: i64) {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let ts = [
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    ];
    // SAFETY: valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// A scratch area: `R` is the scanned root, the rest (config, mountinfo, lock, outputs)
/// lives beside it.
struct Area {
    tmp: tempfile::TempDir,
}

impl Area {
    fn new() -> Area {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("R")).unwrap();
        fs::write(tmp.path().join("cfg.toml"), b"").unwrap();
        fs::write(
            tmp.path().join("mountinfo"),
            b"27 1 254:0 / / rw - ext4 /dev/vda rw\n",
        )
        .unwrap();
        Area { tmp }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("R")
    }
    fn p(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.root().join(OsStr::from_bytes(rel.as_ref()))
    }
    /// `livescan export -q -o OUT --root R` with this area's config, mount table and lock.
    fn export_cmd(&self, out: &Path) -> Command {
        let mut cmd = common::livescan();
        cmd.arg("--config")
            .arg(self.tmp.path().join("cfg.toml"))
            .args(["export", "-q", "-o"])
            .arg(out)
            .arg("--root")
            .arg(self.root())
            .arg("--mountinfo")
            .arg(self.tmp.path().join("mountinfo"))
            .arg("--lock-file")
            .arg(self.tmp.path().join("lock"));
        cmd
    }

    fn export(&self, name: &str, extra: &[&str]) -> (Output, PathBuf) {
        let out = self.tmp.path().join(name);
        let o = self.export_cmd(&out).args(extra).output().unwrap();
        (o, out)
    }
}

fn verify(file: &Path) -> Output {
    common::livescan().arg("verify").arg(file).output().unwrap()
}

/// The hard cases, in `a.p(...)`; returns the paths that must not be packed.
fn build_tree(a: &Area) -> Vec<Vec<u8>> {
    let d = |rel: &str| fs::create_dir_all(a.p(rel)).unwrap();
    d("srv/app/empty");
    d("srv/app/conf.d");
    fs::write(a.p("srv/app/conf.d/a.conf"), b"key = value\n").unwrap();
    fs::write(a.p("srv/app/setuid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(a.p("srv/app/setuid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(a.p("srv/app/private"), b"secret-ish but unowned\n").unwrap();
    fs::set_permissions(a.p("srv/app/private"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(a.p("srv/app/private"), Some(1234), Some(5678)).unwrap();
    // Dense data above the streaming threshold, not compressible.
    let big = common::noise(20 << 20, 0x9e3779b97f4a7c15);
    fs::write(a.p("srv/app/big.bin"), &big).unwrap();
    // Three names, one inode.
    fs::write(a.p("srv/app/h1"), b"linked\n").unwrap();
    fs::hard_link(a.p("srv/app/h1"), a.p("srv/app/h2")).unwrap();
    fs::hard_link(a.p("srv/app/h1"), a.p("srv/app/conf.d/h3")).unwrap();
    // Symlinks: relative, absolute, dangling, a loop.
    symlink("conf.d/a.conf", a.p("srv/app/rel")).unwrap();
    symlink("/etc/passwd", a.p("srv/app/abs")).unwrap();
    symlink("nowhere", a.p("srv/app/dangling")).unwrap();
    symlink("loop2", a.p("srv/app/loop1")).unwrap();
    symlink("loop1", a.p("srv/app/loop2")).unwrap();
    // Sparse: 100 MiB with two data runs, and 9 GiB (ustar size field overflows).
    let f = fs::File::create(a.p("srv/app/sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"start", 0).unwrap();
    f.write_all_at(b"middle", 50 << 20).unwrap();
    f.set_len(100 << 20).unwrap();
    let f = fs::File::create(a.p("srv/app/huge-sparse")).unwrap();
    f.write_all_at(b"tail data", (9 << 30) - 9).unwrap();
    // Names: any bytes, any length.
    fs::write(a.p(b"srv/app/caf\xe9-latin1"), b"1").unwrap();
    fs::write(a.p("srv/app/new\nline"), b"2").unwrap();
    let long_dir = format!("srv/{}/{}", "d".repeat(200), "e".repeat(200));
    d(&long_dir);
    fs::write(a.p(format!("{long_dir}/{}", "f".repeat(250))), b"deep").unwrap();
    // xattrs, a capability, ACLs (access and default), a SELinux label where allowed.
    assert!(set_xattr(
        &a.p("srv/app/conf.d/a.conf"),
        "user.origin",
        b"hand-made\0\xff"
    ));
    let cap_v2 = [
        0x01u8, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert!(set_xattr(
        &a.p("srv/app/setuid"),
        "security.capability",
        &cap_v2
    ));
    let acl = Command::new("setfacl")
        .args(["-m", "u:4321:r--,g:8765:rw-"])
        .arg(a.p("srv/app/conf.d/a.conf"))
        .status();
    let default_acl = Command::new("setfacl")
        .args(["-d", "-m", "u:4321:rwx"])
        .arg(a.p("srv/app/conf.d"))
        .status();
    if !acl.is_ok_and(|s| s.success()) || !default_acl.is_ok_and(|s| s.success()) {
        eprintln!("NOTE: setfacl unavailable; ACLs not exercised (apt-get install acl)");
    }
    let _ = set_xattr(
        &a.p("srv/app/h1"),
        "security.selinux",
        b"system_u:object_r:var_t:s0\0",
    );
    // Timestamps with nanoseconds, and one before 1970.
    set_times(&a.p("srv/app/conf.d/a.conf"), 1_600_000_000, 123_456_789);
    set_times(&a.p("srv/app/private"), -86_400, 0);
    // Not packable: a FIFO.
    nix::unistd::mkfifo(
        &a.p("srv/app/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    vec![b"/srv/app/fifo".to_vec()]
}

#[derive(Debug, PartialEq)]
struct Attrs {
    kind: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: Option<(i64, i64)>,
    content: Option<[u8; 32]>,
    link: Option<Vec<u8>>,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn attrs(path: &Path, with_mtime: bool) -> Attrs {
    let m = fs::symlink_metadata(path).unwrap();
    let kind = m.mode() & libc::S_IFMT;
    let is_link = kind == libc::S_IFLNK;
    let mut xattrs = BTreeMap::new();
    for name in xattr::list(path).unwrap() {
        let n = String::from_utf8(name.clone()).unwrap();
        xattrs.insert(name, xattr::get(path, &n).unwrap().unwrap_or_default());
    }
    Attrs {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        size: if kind == libc::S_IFREG { m.size() } else { 0 },
        mtime: (with_mtime && !is_link).then(|| (m.mtime(), m.mtime_nsec())),
        content: (kind == libc::S_IFREG && m.size() < (1 << 30))
            .then(|| *blake3::hash(&fs::read(path).unwrap()).as_bytes()),
        link: is_link.then(|| {
            fs::read_link(path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        }),
        xattrs,
    }
}

/// Every path of `root` (relative, bytes), sorted.
fn tree(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            out.push(
                p.strip_prefix(root)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            );
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn compare_trees(src: &Path, dst: &Path, not_packed: &[Vec<u8>], tool: &str) {
    let want: Vec<Vec<u8>> = tree(src)
        .into_iter()
        .filter(|p| !not_packed.iter().any(|n| n[1..] == p[..]))
        .collect();
    assert_eq!(tree(dst), want, "{tool}: the same names");
    for rel in &want {
        let (s, d) = (
            src.join(OsStr::from_bytes(rel)),
            dst.join(OsStr::from_bytes(rel)),
        );
        let sa = attrs(&s, true);
        let mut da = attrs(&d, true);
        // Extraction runs as root with these tools' defaults; a directory's ACL default
        // entries and the rest must match exactly.
        if sa.mtime.is_some() && sa.mtime.unwrap().1 == 0 {
            da.mtime = da.mtime.map(|(s, _)| (s, 0));
        }
        assert_eq!(da, sa, "{tool}: {}", String::from_utf8_lossy(rel));
    }
    // Hardlinks stay one inode; sparse files stay sparse.
    let ino = |rel: &str| fs::metadata(dst.join(rel)).unwrap().ino();
    assert_eq!(ino("srv/app/h1"), ino("srv/app/h2"), "{tool}");
    assert_eq!(ino("srv/app/h1"), ino("srv/app/conf.d/h3"), "{tool}");
    for sparse in ["srv/app/sparse", "srv/app/huge-sparse"] {
        let m = fs::metadata(dst.join(sparse)).unwrap();
        assert!(
            m.blocks() * 512 < 16 << 20,
            "{tool}: {sparse} exploded: {} blocks",
            m.blocks()
        );
    }
    // Reading 9 GiB back would be slow: check the tail and the size.
    let f = fs::File::open(dst.join("srv/app/huge-sparse")).unwrap();
    let mut tail = [0u8; 9];
    use std::os::unix::fs::FileExt;
    f.read_exact_at(&mut tail, (9 << 30) - 9).unwrap();
    assert_eq!(&tail, b"tail data", "{tool}");
    assert_eq!(f.metadata().unwrap().len(), 9 << 30, "{tool}");
}

#[test]
fn gnu_tar_and_bsdtar_restore_every_attribute() {
    if !common::euid_is_root() {
        eprintln!("SKIP: needs root (owners, capabilities)");
        return;
    }
    if !common::have_tools("export roundtrip", &["tar", "bsdtar", "zstd"]) {
        return;
    }
    let a = Area::new();
    let t = std::time::Instant::now();
    let not_packed = build_tree(&a);
    eprintln!("tree built in {:?}", t.elapsed());
    // The source really has what the comparison must carry across.
    let src_x = attrs(&a.p("srv/app/setuid"), true).xattrs;
    assert!(src_x.contains_key(b"security.capability".as_slice()));
    let conf = attrs(&a.p("srv/app/conf.d/a.conf"), true);
    assert_eq!(conf.mtime, Some((1_600_000_000, 123_456_789)));
    assert!(conf.xattrs.contains_key(b"user.origin".as_slice()));
    if common::have_tools("acl", &["setfacl"]) {
        assert!(conf
            .xattrs
            .contains_key(b"system.posix_acl_access".as_slice()));
        let dir_x = attrs(&a.p("srv/app/conf.d"), true).xattrs;
        assert!(dir_x.contains_key(b"system.posix_acl_default".as_slice()));
    }
    let (o, file) = a.export("host.lsx", &[]);
    eprintln!("exported in {:?}", t.elapsed());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = verify(&file);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    assert!(
        fs::metadata(&file).unwrap().len() < 30 << 20,
        "holes are not stored"
    );

    for (tool, args) in [
        (
            "GNU tar",
            vec![
                "tar",
                "--zstd",
                "-xpf",
                "FILE",
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
                "--selinux",
                "--numeric-owner",
                "-C",
                "DIR",
            ],
        ),
        (
            "bsdtar",
            vec!["bsdtar", "-xpf", "FILE", "--numeric-owner", "-C", "DIR"],
        ),
    ] {
        let dir = a.tmp.path().join(tool.replace(' ', "-"));
        fs::create_dir(&dir).unwrap();
        let mut cmd = if args[0] == "LIVESCAN" {
            common::livescan()
        } else {
            Command::new(args[0])
        };
        for arg in &args[1..] {
            match *arg {
                "FILE" => cmd.arg(&file),
                "DIR" => cmd.arg(&dir),
                x => cmd.arg(x),
            };
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{tool} extracted at {:?}", t.elapsed());
        compare_trees(&a.root(), &dir, &not_packed, tool);
        eprintln!("{tool} compared at {:?}", t.elapsed());
    }
}

#[test]
fn verify_names_damage_and_truncation() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    for i in 0..50 {
        fs::write(
            a.p(format!("srv/f{i:02}")),
            format!("file {i}\n").repeat(100),
        )
        .unwrap();
    }
    let (o, file) = a.export("x.lsx", &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(verify(&file).status.success());
    let good = fs::read(&file).unwrap();

    // A flipped byte in the middle of the data.
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x40;
    let damaged = a.tmp.path().join("damaged.lsx");
    fs::write(&damaged, &bad).unwrap();
    let v = verify(&damaged);
    assert!(!v.status.success());
    assert!(String::from_utf8_lossy(&v.stderr).contains("BAD"), "{v:?}");

    // Truncated at any point: never accepted.
    for cut in [good.len() - 1, good.len() - 24, good.len() / 2, 100] {
        fs::write(&damaged, &good[..cut]).unwrap();
        assert!(!verify(&damaged).status.success(), "cut at {cut}");
    }
    // The export never overwrites.
    let (o, _) = a.export("x.lsx", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(fs::read(&file).unwrap(), good);
}

#[test]
fn report_is_first_and_no_overlay_is_report_only() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    fs::write(a.p("srv/data"), b"payload").unwrap();
    let (o, file) = a.export("r.lsx", &["--no-overlay"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(verify(&file).status.success());
    let bytes = fs::read(&file).unwrap();
    // Skippable frame magic 0x184D2A5E, then our tag.
    assert_eq!(&bytes[0..4], &0x184D_2A5Eu32.to_le_bytes());
    assert_eq!(&bytes[8..16], b"LSREPORT");
    // zstd itself sees only skippable frames: an empty tar stream.
    let out = Command::new("zstd")
        .args(["-dc"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn own_export_file_under_the_root_is_not_packed() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    fs::write(a.p("srv/data"), b"payload").unwrap();
    // The output goes inside the scanned root.
    let out = a.p("srv/self.lsx");
    let o = a.export_cmd(&out).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let listing = Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&out)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(names.contains("srv/data"), "{names}");
    assert!(!names.contains("self.lsx"), "{names}");
}

#[test]
fn files_mutated_while_packed_leave_a_valid_archive() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv/churn")).unwrap();
    let n = 400;
    for i in 0..n {
        fs::write(
            a.p(format!("srv/churn/f{i:04}")),
            vec![b'a' + (i % 26) as u8; 64 << 10],
        )
        .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let root = a.root();
    let s2 = stop.clone();
    let mutator = std::thread::spawn(move || {
        let mut i = 0usize;
        let mut actions = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let p = root.join(format!("srv/churn/f{:04}", (i * 7919) % n));
            match i % 4 {
                0 => {
                    let _ = fs::OpenOptions::new()
                        .write(true)
                        .open(&p)
                        .and_then(|f| f.set_len(100));
                }
                1 => {
                    let _ = fs::OpenOptions::new()
                        .append(true)
                        .open(&p)
                        .and_then(|mut f| std::io::Write::write_all(&mut f, &[b'z'; 100_000]));
                }
                2 => {
                    let _ = fs::remove_file(&p);
                }
                _ => {
                    let _ = fs::write(&p, b"rewritten");
                }
            }
            i += 1;
            actions += 1;
        }
        actions
    });
    let (o, file) = a.export("churn.lsx", &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let actions = mutator.join().unwrap();
    assert!(actions > 0);
    // 0 if the mutations missed the packing window, 3 (partial) if they hit it.
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = verify(&file);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    // Stock tools agree the archive is whole.
    let t = Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
}

/// A full disk mid-export: exit 6, and neither FILE nor FILE.part is left to be mistaken
/// for an export. Needs root to mount a 1 MiB tmpfs; skips otherwise.
#[test]
fn full_disk_leaves_no_export() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    // 4 MiB that zstd cannot shrink.
    let data = common::noise(4 << 20, 1);
    fs::write(a.p("srv/noise"), &data).unwrap();
    let small = a.tmp.path().join("small");
    fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIP: cannot mount a small tmpfs here");
        return;
    }
    let out = small.join("x.lsx");
    let o = a.export_cmd(&out).output().unwrap();
    let left: Vec<_> = fs::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No space left"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `--split`: parts of at most SIZE bytes whose concatenation is the export; verify,
/// inspect and extract read them as one, and `cat` of the parts is a tar.zst GNU tar reads.
#[test]
fn split_export_reads_as_one() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    for i in 0..6 {
        let data = common::noise(300_000, i as u64 + 1);
        fs::write(a.p(format!("srv/f{i}")), data).unwrap();
    }
    let (o, base) = a.export("s.lsx", &["--split", "500K"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!base.exists());
    let parts: Vec<PathBuf> = (1..)
        .map(|n| PathBuf::from(format!("{}.{n:03}", base.display())))
        .take_while(|p| p.exists())
        .collect();
    assert!(parts.len() >= 4, "{parts:?}");
    for p in &parts[..parts.len() - 1] {
        assert_eq!(fs::metadata(p).unwrap().len(), 500 << 10);
    }
    assert!(!a.tmp.path().read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".part")));
    for name in [base.clone(), parts[0].clone()] {
        let v = verify(&name);
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    }
    let i = common::livescan()
        .arg("inspect")
        .arg(&base)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&i.stdout).contains("7 added"),
        "{}",
        String::from_utf8_lossy(&i.stdout)
    );
    let to = a.tmp.path().join("restored");
    let e = common::livescan()
        .args(["extract"])
        .arg(&parts[0])
        .arg("--to")
        .arg(&to)
        .output()
        .unwrap();
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    assert_eq!(
        fs::read(to.join("srv/f5")).unwrap(),
        fs::read(a.p("srv/f5")).unwrap()
    );
    // The concatenation is an ordinary tar.zst.
    let joined: Vec<u8> = parts.iter().flat_map(|p| fs::read(p).unwrap()).collect();
    let whole = a.tmp.path().join("joined.tar.zst");
    fs::write(&whole, joined).unwrap();
    let t = Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&t.stdout).contains("srv/f3"));
    assert!(verify(&whole).status.success());
    // A missing middle part is not a valid export.
    fs::remove_file(&parts[1]).unwrap();
    assert!(!verify(&base).status.success());
}

/// `-o -`: the export streams to stdout (e.g. `| ssh host 'cat > x'`), byte-identical in
/// layout: what arrives verifies and GNU tar lists it.
#[test]
fn export_to_stdout_is_a_whole_export() {
    let a = Area::new();
    fs::create_dir_all(a.p("srv")).unwrap();
    fs::write(a.p("srv/piped"), b"through a pipe\n").unwrap();
    let (o, _) = a.export("unused", &[]);
    assert_eq!(o.status.code(), Some(0));
    let o = a.export_cmd(Path::new("-")).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file = a.tmp.path().join("from-stdout.lsx");
    fs::write(&file, &o.stdout).unwrap();
    assert!(verify(&file).status.success());
    let t = Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&t.stdout).contains("srv/piped"));
}
