//! The pacman reader on the `../shared` fixtures (facts from SOURCES.md).

use super::*;
use crate::shared_fixtures::pkgdb_fixture;

/// A root containing a copy of one fixture's `var/lib/pacman`.
fn root_with(fixture: &str) -> Option<(tempfile::TempDir, RootFs)> {
    let src = pkgdb_fixture(fixture)?;
    let tmp = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(src.join("var"))
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    let root = RootFs::new(tmp.path());
    Some((tmp, root))
}

#[test]
fn arch_gmp_without_db_version() {
    let Some((_t, root)) = root_with("pacman/syft-arch-gmp") else {
        return;
    };
    let db = PacmanDb::detect(&root).unwrap();
    let c = db.read(&root).unwrap();
    assert_eq!(c.packages.len(), 1);
    let p = &c.packages[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.version.as_str(),
            p.release.as_deref(),
            p.arch.as_str()
        ),
        ("gmp", "6.2.1", Some("2"), "x86_64")
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("ALPM_DB_VERSION")),
        "{:?}",
        c.warnings
    );
    // 19 %FILES% entries, 13 of them not directories; mtree's metadata entries skipped.
    assert_eq!(c.files.len(), 19);
    let non_dirs = c
        .files
        .iter()
        .filter(|f| {
            f.expected
                .mode
                .is_some_and(|m| m & libc::S_IFMT != libc::S_IFDIR)
        })
        .count();
    assert_eq!(non_dirs, 13);
    assert!(!c.files.iter().any(|f| f.path.starts_with(b"/.")));
    let so = c.files.iter().find(|f| f.digest.is_some()).unwrap();
    assert_eq!(so.digest.as_ref().unwrap().algo, DigestAlgo::Sha256);
}

#[test]
fn generated_fixture_backup_epoch_and_links() {
    let Some((_t, root)) = root_with("pacman/generated-scanfixture") else {
        return;
    };
    let c = PacmanDb::detect(&root).unwrap().read(&root).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let p = &c.packages[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.epoch,
            p.version.as_str(),
            p.arch.as_str()
        ),
        ("scanfixture", Some(2), "1.0", "any")
    );
    assert_eq!(c.files.len(), 11);
    let conf = c
        .files
        .iter()
        .find(|f| f.path == b"/etc/scanfixture/app.conf")
        .unwrap();
    assert!(conf.conffile);
    assert!(conf.digest.as_ref().unwrap().hex().starts_with("d5c5f09b"));
    assert_eq!(conf.expected.mode, Some(libc::S_IFREG | 0o644));
    assert_eq!(conf.expected.size, Some(10));
    let link = c
        .files
        .iter()
        .find(|f| f.path == b"/usr/bin/scanfixture-link")
        .unwrap();
    assert_eq!(
        link.expected.link_target.as_deref(),
        Some(&b"scanfixture"[..])
    );
    assert_eq!(link.digest, None);
    let dir = c
        .files
        .iter()
        .find(|f| f.path == b"/usr/lib/scanfixture")
        .unwrap();
    assert_eq!(dir.expected.mode, Some(libc::S_IFDIR | 0o750));
    assert_eq!(
        dir.expected.mtime, None,
        "pacman does not compare directory mtimes"
    );
}

#[test]
fn no_extract_and_dbpath_from_pacman_conf() {
    let conf = PacmanConf::parse(
        b"[options]\nDBPath = /srv/pacman/\nNoExtract = usr/share/doc/* usr/share/locale/*\nNoExtract = !usr/share/locale/en_US/*\n[core]\nNoExtract = ignored\n",
    );
    assert_eq!(conf.dbpath.as_deref(), Some("/srv/pacman"));
    assert!(conf.not_extracted(b"usr/share/doc/gmp/README"));
    assert!(conf.not_extracted(b"usr/share/locale/de/LC_MESSAGES/x.mo"));
    assert!(!conf.not_extracted(b"usr/share/locale/en_US/LC_MESSAGES/x.mo"));
    assert!(!conf.not_extracted(b"usr/bin/x"));
    assert!(!conf.not_extracted(b"ignored"));
}

#[test]
fn corrupt_mtree_skips_the_package_with_a_warning() {
    let Some((tmp, root)) = root_with("pacman/generated-scanfixture") else {
        return;
    };
    let local = tmp.path().join("var/lib/pacman/local");
    let pkg = std::fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    std::fs::write(pkg.join("mtree"), [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let c = PacmanDb::detect(&root).unwrap().read(&root).unwrap();
    assert!(c.packages.is_empty());
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("mtree") && w.contains("skipped")),
        "{:?}",
        c.warnings
    );
}
