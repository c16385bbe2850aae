//! The dpkg reader against the real databases in `../shared/fixtures/pkgdb/dpkg`.

use super::*;
use crate::shared_fixtures::pkgdb_fixture;

fn read_root(rel: &str) -> Option<DbContents> {
    let dir = pkgdb_fixture(rel)?;
    let root = RootFs::new(dir);
    Some(
        DpkgDb::detect(&root)
            .expect("detect")
            .read(&root)
            .expect("read"),
    )
}

fn pkg<'a>(c: &'a DbContents, name: &str) -> (usize, &'a Package) {
    c.packages
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .expect(name)
}

fn files_of(c: &DbContents, idx: usize) -> Vec<&PackagedFile> {
    c.files
        .iter()
        .filter(|f| f.owner == Owner::Package(idx as u32))
        .collect()
}

#[test]
fn versions_split() {
    assert_eq!(
        split_version("1:2.20.1-2+deb10u3"),
        (Some(1), "2.20.1".into(), Some("2+deb10u3".into()))
    );
    assert_eq!(
        split_version("5.2.15-2+b8"),
        (None, "5.2.15".into(), Some("2+b8".into()))
    );
    assert_eq!(split_version("1.0"), (None, "1.0".into(), None));
    assert_eq!(
        split_version("1.0-a-b"),
        (None, "1.0-a".into(), Some("b".into()))
    );
}

#[test]
fn ubuntu_status_91_stanzas() {
    let Some(c) = read_root("dpkg/trivy-ubuntu-valid") else {
        return;
    };
    assert_eq!(c.packages.len(), 91);
    assert_eq!(
        c.packages.iter().filter(|p| p.state == "installed").count(),
        90
    );
    let (_, git) = pkg(&c, "git");
    assert_eq!(git.state, "config-files");
    assert_eq!(
        (git.epoch, git.version.as_str(), git.release.as_deref()),
        (Some(1), "2.20.1", Some("2+deb10u3"))
    );
    let (_, bash) = pkg(&c, "bash");
    assert_eq!(
        (
            bash.version.as_str(),
            bash.release.as_deref(),
            bash.arch.as_str()
        ),
        ("4.4.18", Some("2ubuntu1"), "amd64")
    );
}

#[test]
fn debian12_capture() {
    let Some(c) = read_root("dpkg/debian12-local") else {
        return;
    };
    assert_eq!(c.packages.len(), 13);
    let (bi, bash) = pkg(&c, "bash");
    assert_eq!(bash.version, "5.2.15");
    let bf = files_of(&c, bi);
    assert_eq!(
        bf.iter()
            .filter(|f| !f.conffile || f.path.starts_with(b"/etc"))
            .count(),
        bf.len()
    );
    assert_eq!(bf.iter().filter(|f| f.conffile).count(), 4);
    assert_eq!(bf.len(), 167);
    assert!(bf.iter().filter(|f| f.digest.is_some()).count() >= 65);
    let (li, _) = pkg(&c, "libc6");
    assert_eq!(files_of(&c, li).len(), 302);
    assert_eq!(pkg(&c, "login").1.epoch, Some(1));
    // plocate's statoverride.
    let (pi, _) = pkg(&c, "plocate");
    let plocate = files_of(&c, pi)
        .into_iter()
        .find(|f| f.path == b"/usr/bin/plocate")
        .unwrap();
    assert_eq!(plocate.expected.mode, Some(0o2755));
    assert_eq!(
        plocate.expected.group,
        Some(crate::pkgdb::UserRef::Name("plocate".into()))
    );
    // dash diverts sh.1.gz: nobody else's copy stays at the original path.
    let sh1: Vec<_> = c
        .files
        .iter()
        .filter(|f| f.path == b"/usr/share/man/man1/sh.1.gz")
        .collect();
    let (di, _) = pkg(&c, "dash");
    assert!(
        sh1.iter().all(|f| f.owner == Owner::Package(di as u32)),
        "{sh1:?}"
    );
    // Alternatives own their links.
    let alt: Vec<_> = c
        .files
        .iter()
        .filter(|f| f.owner == Owner::Alternatives)
        .map(|f| f.path.clone())
        .collect();
    assert!(alt.contains(&b"/usr/bin/awk".to_vec()));
    assert!(alt.contains(&b"/etc/alternatives/pager".to_vec()));
}

#[test]
fn md5sums_without_final_newline() {
    let Some(c) = read_root("dpkg/trivy-ubuntu-md5sums") else {
        return;
    };
    assert_eq!(c.packages.len(), 1);
    // SOURCES.md's "12 lines" counts newlines (wc -l); the unterminated last line is the 13th.
    assert_eq!(c.files.iter().filter(|f| f.digest.is_some()).count(), 13);
}

#[test]
fn distroless_status_d() {
    let Some(c) = read_root("dpkg/syft-distroless-status.d") else {
        return;
    };
    assert_eq!(c.packages.len(), 1);
    let p = &c.packages[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.version.as_str(),
            p.arch.as_str(),
            p.state.as_str()
        ),
        ("libsqlite3-0", "3.34.1", "arm64", "installed")
    );
    // `wc -l` says 5: the sixth line has no final newline.
    assert_eq!(c.files.iter().filter(|f| f.digest.is_some()).count(), 6);
}

#[test]
fn empty_package_stanza_is_a_clear_error() {
    let Some(dir) = pkgdb_fixture("dpkg/syft-debian-libpam-runtime") else {
        return;
    };
    let root = RootFs::new(dir);
    let e = DpkgDb::detect(&root).unwrap().read(&root).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("status:1") && msg.contains("Package"), "{msg}");
}

#[test]
fn journal_overrides_status_and_conffiles_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = tmp.path().join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::write(
        admin.join("status"),
        "Package: a\nStatus: install ok unpacked\nArchitecture: all\nVersion: 1\nConffiles:\n /etc/a b/c d41d8cd98f00b204e9800998ecf8427e obsolete\n /etc/new newconffile\n\nPackage: b\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n",
    )
    .unwrap();
    std::fs::write(
        admin.join("updates/0001"),
        "Package: b\nStatus: purge ok not-installed\nArchitecture: all\n",
    )
    .unwrap();
    std::fs::write(admin.join("updates/0000"), "Package: a\nStatus: install ok installed\nArchitecture: all\nVersion: 2\nConffiles:\n /etc/a b/c d41d8cd98f00b204e9800998ecf8427e obsolete\n").unwrap();
    std::fs::write(admin.join("updates/tmp.i"), "garbage").unwrap();
    std::fs::write(admin.join("info/a.list"), "/.\n/etc\n").unwrap();
    let root = RootFs::new(tmp.path());
    let c = DpkgDb::detect(&root).unwrap().read(&root).unwrap();
    assert_eq!(c.packages.len(), 1);
    assert_eq!(
        (c.packages[0].version.as_str(), c.packages[0].state.as_str()),
        ("2", "installed")
    );
    let conf = c.files.iter().find(|f| f.path == b"/etc/a b/c").unwrap();
    assert!(conf.conffile);
    assert_eq!(conf.presence, Presence::Optional);
    assert!(conf.digest.is_some());
}

#[test]
fn hostile_status_never_panics() {
    let seeds: [&[u8]; 4] = [
        b"Package: a\nStatus: install ok installed\nConffiles:\n /x y\n",
        b"Package:\n",
        b"\xff\xfe\x00:\n \n",
        b"Package: a\nStatus: a b\n",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for seed in seeds {
        for _ in 0..2000 {
            let mut b = seed.to_vec();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            let _ = parse_status_bytes(&b);
        }
    }
}
