//! The whole reader: the real databases in `../shared/fixtures/pkgdb/dpkg` (read in place,
//! skipped when absent) and hand-built roots for what the fixtures do not show.

use std::path::Path;

use super::*;
use crate::pkgdb::{Digest, NotInstalled, Owner, Package, PackagedFile, Presence, UserRef};
use crate::shared_fixtures::pkgdb_fixture;

fn read_dir_root(dir: &Path) -> Result<DbContents, DbError> {
    let root = RootFs::new(dir);
    DpkgDb::detect(&root).expect("detect").read(&root)
}

fn read_fixture(rel: &str) -> Option<DbContents> {
    Some(read_dir_root(&pkgdb_fixture(rel)?).expect("read"))
}

fn pkg<'a>(c: &'a DbContents, name: &str) -> (usize, &'a Package) {
    c.packages
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

fn files_of<'a>(c: &'a DbContents, name: &str) -> Vec<&'a PackagedFile> {
    let (idx, _) = pkg(c, name);
    c.files
        .iter()
        .filter(|f| f.owner == Owner::Package(idx as u32))
        .collect()
}

fn file<'a>(files: &[&'a PackagedFile], path: &str) -> &'a PackagedFile {
    files
        .iter()
        .find(|f| f.path == path.as_bytes())
        .unwrap_or_else(|| panic!("no file {path}"))
}

/// A scratch root; `put` writes a file below it, creating directories.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("tempdir"))
    }
    fn put(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }
    fn read(&self) -> Result<DbContents, DbError> {
        read_dir_root(self.0.path())
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

const MD5_A: &str = "d41d8cd98f00b204e9800998ecf8427e";
const MD5_B: &str = "0cc175b9c0f1b6a831c399e269772661";

fn md5(hex: &str) -> Option<Digest> {
    info::parse_md5_hex(hex.as_bytes()).map(Digest::md5)
}

// ---- the shared fixtures ----

#[test]
fn trivy_ubuntu_91_stanzas() {
    let Some(c) = read_fixture("dpkg/trivy-ubuntu-valid") else {
        return;
    };
    assert_eq!(c.packages.len(), 91);
    let installed = c.packages.iter().filter(|p| p.state == "installed").count();
    assert_eq!(installed, 90);
    let (_, git) = pkg(&c, "git");
    assert_eq!(
        git,
        &Package {
            name: "git".into(),
            epoch: Some(1),
            version: "2.20.1".into(),
            release: Some("2+deb10u3".into()),
            arch: "amd64".into(),
            state: "config-files".into(),
        }
    );
    assert_eq!(pkg(&c, "adduser").1.arch, "all");
    let bash = pkg(&c, "bash").1;
    assert_eq!(
        (
            bash.version.as_str(),
            bash.release.as_deref(),
            bash.arch.as_str()
        ),
        ("4.4.18", Some("2ubuntu1"), "amd64")
    );
    assert_eq!(pkg(&c, "libc6").1.version, "2.27");
    // dpkg warns about git's missing Description; the fixture has no info files at all.
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("package git") && w.contains("missing Description")),
        "{:?}",
        c.warnings
    );
    // Without info files, only the Conffiles fields give paths, and nothing says they exist.
    assert!(!c.files.is_empty());
    assert!(c
        .files
        .iter()
        .all(|f| f.conffile && f.presence == Presence::Optional && f.path.starts_with(b"/etc/")));
    // The rc package's missing .list is normal; the 90 installed ones' are not.
    assert_eq!(
        c.warnings.iter().filter(|w| w.contains("no .list")).count(),
        90
    );
}

#[test]
fn debian12_capture() {
    let Some(c) = read_fixture("dpkg/debian12-local") else {
        return;
    };
    assert_eq!(c.packages.len(), 13);
    assert!(c.packages.iter().all(|p| p.state == "installed"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let bash = files_of(&c, "bash");
    assert_eq!(pkg(&c, "bash").1.version, "5.2.15");
    assert_eq!(pkg(&c, "bash").1.release.as_deref(), Some("2+b8"));
    assert_eq!(bash.len(), 167, "one file per .list line");
    let conffiles: Vec<_> = bash.iter().filter(|f| f.conffile).collect();
    assert_eq!(conffiles.len(), 4);
    assert!(conffiles
        .iter()
        .all(|f| f.path.starts_with(b"/etc/") && f.digest.is_some()));
    // 65 md5sums digests plus the 4 conffile hashes (debhelper leaves conffiles out).
    assert_eq!(bash.iter().filter(|f| f.digest.is_some()).count(), 65 + 4);
    assert!(bash.iter().all(|f| f.presence == Presence::Required));
    assert_eq!(file(&bash, "/").digest, None);
    assert!(file(&bash, "/bin/bash").digest.is_some());
    assert_eq!(file(&bash, "/usr/share/doc/bash").digest, None);

    // Multi-Arch: same, so only `libc6:amd64.list` exists.
    assert_eq!(files_of(&c, "libc6").len(), 302);
    assert_eq!(pkg(&c, "login").1.epoch, Some(1));
    assert_eq!(pkg(&c, "login").1.version, "4.13+dfsg1");

    let plocate = files_of(&c, "plocate");
    let bin = file(&plocate, "/usr/bin/plocate");
    assert_eq!(bin.expected.mode, Some(0o2755));
    assert_eq!(bin.expected.user, Some(UserRef::Name("root".into())));
    assert_eq!(bin.expected.group, Some(UserRef::Name("plocate".into())));
    // The other statoverrides name paths no package here lists: ignored.
    assert_eq!(
        c.files.iter().filter(|f| f.expected.mode.is_some()).count(),
        1
    );

    // dash is the diverter of sh.1.gz and /bin/sh: its own copies stay put.
    let dash = files_of(&c, "dash");
    assert!(dash
        .iter()
        .any(|f| f.path == b"/usr/share/man/man1/sh.1.gz"));
    assert!(dash.iter().any(|f| f.path == b"/bin/sh"));

    let alt: Vec<String> = c
        .files
        .iter()
        .filter(|f| f.owner == Owner::Alternatives)
        .inspect(|f| {
            assert_eq!(
                (f.presence.clone(), f.digest.clone()),
                (Presence::Optional, None)
            )
        })
        .map(|f| String::from_utf8_lossy(&f.path).into_owned())
        .collect();
    assert_eq!(
        alt,
        [
            "/usr/bin/awk",
            "/etc/alternatives/awk",
            "/usr/share/man/man1/awk.1.gz",
            "/etc/alternatives/awk.1.gz",
            "/usr/bin/nawk",
            "/etc/alternatives/nawk",
            "/usr/share/man/man1/nawk.1.gz",
            "/etc/alternatives/nawk.1.gz",
            "/usr/bin/pager",
            "/etc/alternatives/pager",
            "/usr/share/man/man1/pager.1.gz",
            "/etc/alternatives/pager.1.gz",
        ]
    );

    // Deterministic: the same bytes in the same order on every read.
    let again = read_fixture("dpkg/debian12-local").unwrap();
    let paths = |c: &DbContents| {
        c.files
            .iter()
            .map(|f| (f.path.clone(), f.owner))
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&c), paths(&again));
}

/// In the capture only dash lists sh.1.gz; give bash a copy too, as a package shipping its
/// own sh.1.gz would, and it must land at the diverted name.
#[test]
fn debian12_diversion_moves_other_packages_files() {
    let Some(dir) = pkgdb_fixture("dpkg/debian12-local") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&dir, tmp.path());
    let list = tmp.path().join("var/lib/dpkg/info/bash.list");
    let mut text = std::fs::read(&list).unwrap();
    text.extend_from_slice(b"/usr/share/man/man1/sh.1.gz\n/bin/sh\n");
    std::fs::write(&list, text).unwrap();
    let c = read_dir_root(tmp.path()).unwrap();
    let bash = files_of(&c, "bash");
    assert!(bash
        .iter()
        .any(|f| f.path == b"/usr/share/man/man1/sh.distrib.1.gz"));
    assert!(bash.iter().any(|f| f.path == b"/bin/sh.distrib"));
    assert!(!bash
        .iter()
        .any(|f| f.path == b"/usr/share/man/man1/sh.1.gz"));
    let dash = files_of(&c, "dash");
    assert!(dash
        .iter()
        .any(|f| f.path == b"/usr/share/man/man1/sh.1.gz"));
    assert!(!dash
        .iter()
        .any(|f| f.path == b"/usr/share/man/man1/sh.distrib.1.gz"));
}

#[test]
fn trivy_md5sums_without_final_newline() {
    let Some(c) = read_fixture("dpkg/trivy-ubuntu-md5sums") else {
        return;
    };
    assert_eq!(c.packages.len(), 1);
    let tar = &c.packages[0];
    assert_eq!(
        (
            tar.name.as_str(),
            tar.version.as_str(),
            tar.release.as_deref(),
            tar.arch.as_str()
        ),
        ("tar", "1.29b", Some("2"), "amd64")
    );
    // `wc -l` says 12: that counts newlines, and the unterminated last line is a 13th entry.
    assert_eq!(c.files.len(), 13);
    assert!(c.files.iter().all(|f| f.digest.is_some()));
    assert!(c
        .files
        .iter()
        .any(|f| f.path == b"/usr/share/man/man8/rmt-tar.8.gz"));
    // The fixture has no .list: that is the only warning.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("no .list"), "{:?}", c.warnings);
}

#[test]
fn distroless_status_d() {
    let Some(c) = read_fixture("dpkg/syft-distroless-status.d") else {
        return;
    };
    assert_eq!(c.packages.len(), 1);
    assert_eq!(
        c.packages[0],
        Package {
            name: "libsqlite3-0".into(),
            epoch: None,
            version: "3.34.1".into(),
            release: Some("3".into()),
            arch: "arm64".into(),
            state: "installed".into(),
        }
    );
    // `wc -l` says 5; the sixth line has no final newline.
    assert_eq!(c.files.len(), 6);
    assert!(c
        .files
        .iter()
        .all(|f| f.digest.is_some() && f.presence == Presence::Required));
    assert_eq!(
        c.files[0].path,
        b"/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn empty_package_stanza_is_a_clear_error() {
    let Some(dir) = pkgdb_fixture("dpkg/syft-debian-libpam-runtime") else {
        return;
    };
    match read_dir_root(&dir).unwrap_err() {
        DbError::Parse {
            path,
            line,
            message,
        } => {
            assert!(path.ends_with("var/lib/dpkg/status"), "{}", path.display());
            assert_eq!(line, 1);
            assert!(message.contains("Package"), "{message}");
        }
        e => panic!("expected a parse error, got {e}"),
    }
}

// ---- hand-built roots ----

const STANZA_A: &str =
    "Package: a\nStatus: install ok installed\nArchitecture: all\nVersion: 1\nDescription: a\n";

#[test]
fn updates_journal_overrides_status() {
    let s = Scratch::new();
    s.put(
        "var/lib/dpkg/status",
        format!("{STANZA_A}\nPackage: b\nStatus: install ok installed\nArchitecture: all\nVersion: 1\nDescription: b\n"),
    )
    .put("var/lib/dpkg/updates/0000", STANZA_A.replace("Version: 1", "Version: 2"))
    .put("var/lib/dpkg/updates/0001", "Package: b\nStatus: purge ok not-installed\nArchitecture: all\n")
    .put("var/lib/dpkg/updates/0002", "Package: c\nStatus: install ok unpacked\nArchitecture: amd64\nVersion: 3-1\nDescription: c\n")
    .put("var/lib/dpkg/updates/0003", STANZA_A.replace("Version: 1", "Version: 4"))
    // dpkg's temporary file is not a journal entry, even when it is garbage.
    .put("var/lib/dpkg/updates/tmp.i", "garbage")
    .put("var/lib/dpkg/info/a.list", "/.\n/etc\n")
    .put("var/lib/dpkg/info/c.list", "/usr\n");
    let c = s.read().unwrap();
    let got: Vec<_> = c
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.state.as_str()))
        .collect();
    assert_eq!(got, vec![("a", "4", "installed"), ("c", "3", "unpacked")]);
    assert_eq!(c.files.len(), 3);
}

#[test]
fn conffiles_spaces_newconffile_obsolete_and_rc() {
    let s = Scratch::new();
    s.put(
        "var/lib/dpkg/status",
        format!(
            "{STANZA_A}Conffiles:\n /etc/a  b/c {MD5_A}\n /etc/new newconffile\n /etc/old {MD5_B} obsolete\n\n\
             Package: rc\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1:1.0-1\nDescription: rc\nConffiles:\n /etc/rc.conf {MD5_A}\n /etc/rc-gone.conf {MD5_B}\n"
        ),
    )
    .put("var/lib/dpkg/info/a.list", "/etc\n/etc/a  b\n/etc/a  b/c\n/etc/new\n/usr/bin/x\n")
    // md5sums generated by dpkg (no md5sums in the .deb) include conffiles: the Conffiles
    // hash still wins.
    .put(
        "var/lib/dpkg/info/a.md5sums",
        format!("{MD5_B}  etc/a  b/c\n{MD5_B}  usr/bin/x\n{MD5_B}  usr/bin/unlisted\n"),
    )
    .put("var/lib/dpkg/info/rc.list", "/etc\n/etc/rc.conf\n");
    let c = s.read().unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let a = files_of(&c, "a");
    let spaced = file(&a, "/etc/a  b/c");
    assert!(spaced.conffile);
    assert_eq!(
        (spaced.digest.clone(), spaced.presence.clone()),
        (md5(MD5_A), Presence::Required)
    );
    let new = file(&a, "/etc/new");
    assert_eq!(
        (new.digest.clone(), new.presence.clone()),
        (None, Presence::Optional)
    );
    let old = file(&a, "/etc/old");
    assert!(old.conffile);
    assert_eq!(
        (old.digest.clone(), old.presence.clone()),
        (md5(MD5_B), Presence::Optional)
    );
    assert_eq!(file(&a, "/usr/bin/x").digest, md5(MD5_B));
    assert!(!file(&a, "/usr/bin/x").conffile);
    assert_eq!(file(&a, "/usr/bin/unlisted").digest, md5(MD5_B));
    let order: Vec<_> = a
        .iter()
        .map(|f| String::from_utf8_lossy(&f.path).into_owned())
        .collect();
    assert_eq!(
        order,
        [
            "/etc",
            "/etc/a  b",
            "/etc/a  b/c",
            "/etc/new",
            "/usr/bin/x",
            "/usr/bin/unlisted",
            "/etc/old"
        ]
    );

    let (_, rc) = pkg(&c, "rc");
    assert_eq!((rc.state.as_str(), rc.epoch), ("config-files", Some(1)));
    let rc = files_of(&c, "rc");
    assert_eq!(rc.len(), 3);
    assert!(rc.iter().all(|f| f.presence == Presence::Optional));
    assert!(file(&rc, "/etc/rc-gone.conf").conffile);
}

#[test]
fn multi_arch_names_and_info_format() {
    let stanzas = "Package: m\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1\nDescription: m\n\n\
                   Package: m\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: same\nVersion: 1\nDescription: m\n\n\
                   Package: p\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nDescription: p\n";
    let s = Scratch::new();
    s.put("var/lib/dpkg/status", stanzas)
        .put("var/lib/dpkg/info/format", "1\n")
        .put(
            "var/lib/dpkg/info/m:amd64.list",
            "/usr/lib/x86_64-linux-gnu/m.so\n",
        )
        .put(
            "var/lib/dpkg/info/m:i386.list",
            "/usr/lib/i386-linux-gnu/m.so\n",
        )
        // Lenient: a plain name is found even for format 1, a qualified one for format 0.
        .put("var/lib/dpkg/info/p:amd64.list", "/usr/bin/p\n");
    let c = s.read().unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let paths: Vec<_> = c
        .files
        .iter()
        .map(|f| (f.path.as_slice(), f.owner))
        .collect();
    assert_eq!(
        paths,
        vec![
            (&b"/usr/lib/x86_64-linux-gnu/m.so"[..], Owner::Package(0)),
            (b"/usr/lib/i386-linux-gnu/m.so", Owner::Package(1)),
            (b"/usr/bin/p", Owner::Package(2)),
        ]
    );
}

#[test]
fn path_exclude_and_localepurge_mark_files_not_installed() {
    let s = Scratch::new();
    s.put("var/lib/dpkg/status", STANZA_A)
        .put(
            "var/lib/dpkg/info/a.list",
            "/usr\n/usr/share\n/usr/share/doc\n/usr/share/doc/a\n/usr/share/doc/a/README\n/usr/share/doc/a/copyright\n\
             /usr/share/locale\n/usr/share/locale/fr\n/usr/share/locale/fr/LC_MESSAGES\n/usr/share/locale/fr/LC_MESSAGES/a.mo\n\
             /usr/share/locale/de/LC_MESSAGES/a.mo\n/usr/share/locale/locale.alias\n/usr/bin/a\n",
        )
        .put(
            "etc/dpkg/dpkg.cfg.d/excludes",
            "path-exclude /usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n",
        )
        // Not a valid dpkg.cfg.d name: dpkg ignores it, and so must we.
        .put("etc/dpkg/dpkg.cfg.d/excludes.dpkg-old", "path-exclude=/usr/bin/*\n")
        .put("etc/locale.nopurge", "MANDELETE\nde\nen\n");
    let c = s.read().unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let a = files_of(&c, "a");
    let presence = |p: &str| file(&a, p).presence.clone();
    let excluded = Presence::NotInstalled(NotInstalled::DpkgPathExclude);
    let purged = Presence::NotInstalled(NotInstalled::Localepurge);
    // `/usr/share/doc/*` does not match the directory itself.
    assert_eq!(presence("/usr/share/doc"), Presence::Required);
    assert_eq!(
        presence("/usr/share/doc/a"),
        Presence::Required,
        "kept for copyright"
    );
    assert_eq!(presence("/usr/share/doc/a/README"), excluded);
    assert_eq!(presence("/usr/share/doc/a/copyright"), Presence::Required);
    assert_eq!(presence("/usr/share/locale/fr"), purged);
    assert_eq!(presence("/usr/share/locale/fr/LC_MESSAGES/a.mo"), purged);
    assert_eq!(
        presence("/usr/share/locale/de/LC_MESSAGES/a.mo"),
        Presence::Required
    );
    assert_eq!(
        presence("/usr/share/locale/locale.alias"),
        Presence::Required
    );
    assert_eq!(presence("/usr/bin/a"), Presence::Required);
}

#[test]
fn statoverride_follows_the_diversion() {
    let s = Scratch::new();
    s.put(
        "var/lib/dpkg/status",
        format!(
            "{STANZA_A}\n{}",
            STANZA_A.replace("Package: a", "Package: d")
        ),
    )
    .put("var/lib/dpkg/info/a.list", "/usr/bin/tool\n")
    .put("var/lib/dpkg/info/d.list", "/usr/bin/tool\n")
    .put(
        "var/lib/dpkg/diversions",
        "/usr/bin/tool\n/usr/bin/tool.real\nd\n",
    )
    .put(
        "var/lib/dpkg/statoverride",
        "#0 #0 4755 /usr/bin/tool.real\nroot staff 755 /usr/bin/tool\n",
    );
    let c = s.read().unwrap();
    let a = files_of(&c, "a");
    assert_eq!(a[0].path, b"/usr/bin/tool.real");
    assert_eq!(a[0].expected.mode, Some(0o4755));
    assert_eq!(a[0].expected.user, Some(UserRef::Id(0)));
    let d = files_of(&c, "d");
    assert_eq!(d[0].path, b"/usr/bin/tool");
    assert_eq!(d[0].expected.group, Some(UserRef::Name("staff".into())));
}

#[test]
fn damaged_info_files_are_warnings() {
    let s = Scratch::new();
    s.put("var/lib/dpkg/status", STANZA_A)
        .put(
            "var/lib/dpkg/info/a.list",
            b"/ok\nrelative\n/\xff\xfe binary\n\n/last-no-newline",
        )
        .put(
            "var/lib/dpkg/info/a.md5sums",
            format!("{MD5_A}  ok\nnot an md5 line\n{MD5_A}\n\x00\x01\x02\n"),
        )
        .put("var/lib/dpkg/diversions", "/a\n/b\n")
        .put("var/lib/dpkg/statoverride", "garbage\n")
        .put("var/lib/dpkg/alternatives/bad", "auto\nrelative\n\n")
        .put(
            "var/lib/dpkg/alternatives/huge",
            vec![b'a'; (alternatives::MAX_FILE_BYTES + 1) as usize],
        );
    let c = s.read().unwrap();
    let paths: Vec<_> = c.files.iter().map(|f| f.path.as_slice()).collect();
    assert_eq!(
        paths,
        vec![&b"/ok"[..], b"/\xff\xfe binary", b"/last-no-newline"]
    );
    assert_eq!(c.files[0].digest, md5(MD5_A));
    let w = c.warnings.join("\n");
    assert!(w.contains("a.list:2: not an absolute path"), "{w}");
    assert!(w.contains("a.md5sums:2: malformed"), "{w}");
    assert!(w.contains("a.md5sums:3: malformed"), "{w}");
    assert!(w.contains("a.md5sums:4: malformed"), "{w}");
    assert!(w.contains("diversions:1: incomplete"), "{w}");
    assert!(w.contains("statoverride:1: malformed"), "{w}");
    assert!(w.contains("alternatives/bad: line 2"), "{w}");
    assert!(w.contains("alternatives/huge: larger than"), "{w}");
}

#[test]
fn status_errors_name_file_and_line() {
    let cases: [(&str, &[u8], usize); 5] = [
        (
            "status",
            b"Package: a\nStatus: install ok installed\nVersion: 1\nthis line is garbage\n",
            4,
        ),
        (
            "status",
            b"Package: a\nStatus: install ok sideways\nVersion: 1\n",
            2,
        ),
        (
            "status",
            b"Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: ../../../etc/x\n",
            5,
        ),
        (
            "updates/0001",
            b"Package: a\nStatus: install ok installed\n",
            1,
        ),
        ("status", b"\xff\xfe\xfd\n\x00\x00", 1),
    ];
    for (file_name, text, line) in cases {
        let s = Scratch::new();
        s.put("var/lib/dpkg/status", STANZA_A);
        s.put(&format!("var/lib/dpkg/{file_name}"), text);
        match s.read().unwrap_err() {
            DbError::Parse { path, line: l, .. } => {
                assert!(path.ends_with(file_name), "{}", path.display());
                assert_eq!(l, line, "{file_name}: {:?}", String::from_utf8_lossy(text));
            }
            e => panic!("{e}"),
        }
    }
}

#[test]
fn long_fields_are_fine_and_huge_stanzas_refused() {
    // A 1 MiB Description and a conffile path of 64 KiB are odd, not wrong.
    let long_path = format!("/etc/{}", "x".repeat(64 << 10));
    let text = format!(
        "Package: a\nStatus: install ok installed\nArchitecture: all\nVersion: 1\nConffiles:\n {long_path} {MD5_A}\nDescription: d\n{}",
        " line\n".repeat((1 << 20) / 6)
    );
    let parsed = parse_status_bytes(text.as_bytes()).unwrap();
    assert_eq!(parsed[0].conffiles[0].path, long_path.as_bytes());

    let huge = format!(
        "{STANZA_A}{}",
        " line\n".repeat(deb822::MAX_STANZA_BYTES / 6 + 1)
    );
    match parse_status_bytes(huge.as_bytes()).unwrap_err() {
        DbError::Parse { line, message, .. } => {
            assert_eq!(line, 1);
            assert!(message.contains("larger than"), "{message}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn hostile_status_never_panics() {
    let seeds: [&[u8]; 5] = [
        b"Package: a\nStatus: install ok installed\nVersion: 1:2-3\nConffiles:\n /x y obsolete\n",
        b"Package:\n",
        b"\xff\xfe\x00:\n \n",
        b"Package: a\nStatus: a b\n",
        b"Package: a\nStatus: install ok half-installed\nArchitecture: amd64\n\n#c\n",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for seed in seeds {
        for _ in 0..3000 {
            let mut b = seed.to_vec();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                match x % 3 {
                    0 => b[i] = (x >> 32) as u8,
                    1 => {
                        b.insert(i, b"\n :"[(x >> 40) as usize % 3]);
                    }
                    _ => {
                        b.remove(i);
                        if b.is_empty() {
                            b.push(b'\n');
                        }
                    }
                }
            }
            let _ = parse_status_bytes(&b);
        }
    }
}

/// CPU time (user + system, all threads) this process has used so far.
fn cpu_time() -> std::time::Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64)
            + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// `cargo test --release --lib pkgdb::dpkg::tests::time_host_db -- --ignored --nocapture`
/// Wall time depends on what else the cores are doing; CPU time is the work itself.
#[test]
#[ignore = "timing on the host's own /var/lib/dpkg"]
fn time_host_db() {
    let root = RootFs::new("/");
    let Some(db) = DpkgDb::detect(&root) else {
        eprintln!("SKIP: no dpkg database on this host");
        return;
    };
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..15 {
        drop(last.take()); // not timed: dropping 100 k paths is not reading
        let (t, c0) = (std::time::Instant::now(), cpu_time());
        let c = db.read(&root).expect("read host db");
        wall.push(t.elapsed());
        cpu.push(cpu_time() - c0);
        last = Some(c);
    }
    let c = last.expect("ran");
    // The first read of the process is what a scan pays (fresh heap, page faults).
    let (first_wall, first_cpu) = (wall[0], cpu[0]);
    wall.sort();
    cpu.sort();
    eprintln!(
        "host dpkg db: {} packages, {} files ({} with md5), {} warnings; first read wall {:?} cpu {:?}; wall best {:?} median {:?}; cpu best {:?} median {:?}; {} threads",
        c.packages.len(),
        c.files.len(),
        c.files.iter().filter(|f| f.digest.is_some()).count(),
        c.warnings.len(),
        first_wall,
        first_cpu,
        wall[0],
        wall[wall.len() / 2],
        cpu[0],
        cpu[cpu.len() / 2],
        rayon::current_num_threads(),
    );
}
