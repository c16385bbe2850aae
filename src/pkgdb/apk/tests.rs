//! The apk reader on the `../shared` fixtures (facts from SOURCES.md) and on hostile input.

use std::path::Path;

use super::*;
use crate::shared_fixtures::pkgdb_fixture;

fn read_fixture(rel: &str) -> Option<DbContents> {
    let p = pkgdb_fixture(rel)?;
    Some(parse_installed(&std::fs::read(&p).unwrap(), &p).unwrap())
}

fn files_of<'a>(c: &'a DbContents, name: &str) -> Vec<&'a PackagedFile> {
    let i = c.packages.iter().position(|p| p.name == name).unwrap() as u32;
    c.files
        .iter()
        .filter(|f| f.owner == Owner::Package(i))
        .collect()
}

#[test]
fn alpine_318() {
    let Some(c) = read_fixture("apk/osv-scalibr-alpine318/installed") else {
        return;
    };
    assert_eq!(c.packages.len(), 15);
    let base = &c.packages[0];
    assert_eq!(
        (
            base.name.as_str(),
            base.version.as_str(),
            base.release.as_deref(),
            base.arch.as_str()
        ),
        ("alpine-baselayout", "3.4.3", Some("r1"), "x86_64")
    );
    assert!(c
        .packages
        .iter()
        .any(|p| p.name == "apk-tools" && p.version == "2.14.0"));
    // busybox: 22 F: directories and 7 R: files (each with a digest).
    let bb = files_of(&c, "busybox");
    assert_eq!(bb.len(), 22 + 7);
    assert_eq!(bb.iter().filter(|f| f.digest.is_some()).count(), 7);
    assert_eq!(
        files_of(&c, "alpine-keys")
            .iter()
            .filter(|f| f.digest.is_some())
            .count(),
        41
    );
    let root = c
        .files
        .iter()
        .find(|f| f.path == b"/etc/crontabs/root")
        .unwrap();
    assert_eq!(root.expected.mode, Some(0o600));
    assert_eq!(root.digest.as_ref().unwrap().algo, DigestAlgo::Sha1);
    assert!(root.expected.symlink_digest);
    let shadow_like = c
        .files
        .iter()
        .find(|f| f.expected.group == Some(UserRef::Id(42)));
    assert!(shadow_like.is_some(), "a:0:42:640 is read");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn alpine_316_symlink_digest_is_of_the_target() {
    let Some(c) = read_fixture("apk/syft-alpine316-multiple2/installed") else {
        return;
    };
    assert_eq!(c.packages.len(), 14);
    assert_eq!(
        files_of(&c, "alpine-baselayout-data")
            .iter()
            .filter(|f| f.digest.is_some())
            .count(),
        14
    );
    assert_eq!(
        files_of(&c, "musl")
            .iter()
            .filter(|f| f.digest.is_some())
            .count(),
        2
    );
    assert_eq!(
        files_of(&c, "busybox")
            .iter()
            .filter(|f| f.digest.is_some())
            .count(),
        7
    );
    let mtab = c.files.iter().find(|f| f.path == b"/etc/mtab").unwrap();
    use sha1::Digest as _;
    let want = sha1::Sha1::digest(b"/proc/mounts");
    assert!(mtab.digest.as_ref().unwrap().matches(&want));
}

#[test]
fn xattr_digest_in_a_line_is_accepted() {
    let Some(c) = read_fixture("apk/syft-extra-file-attributes/installed") else {
        return;
    };
    assert_eq!(c.packages.len(), 1);
    let files: Vec<_> = c.files.iter().filter(|f| f.digest.is_some()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].expected.mode, Some(0o755));
}

#[test]
fn digest_forms() {
    use sha2::Digest as _;
    let sha1 = sha1::Sha1::digest(b"x");
    let sha256 = sha2::Sha256::digest(b"x");
    let q1 = format!("Q1{}", STANDARD.encode(sha1));
    assert!(parse_digest(q1.as_bytes(), false).unwrap().matches(&sha1));
    let q2 = format!("Q2{}", STANDARD.encode(sha256));
    assert!(parse_digest(q2.as_bytes(), false).unwrap().matches(&sha256));
    let x2: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    assert!(parse_digest(format!("X2{x2}").as_bytes(), false)
        .unwrap()
        .matches(&sha256));
    // f:S: 20 bytes behind Q1 are a truncated SHA-256.
    let q1s = format!("Q1{}", STANDARD.encode(&sha256[..20]));
    let d = parse_digest(q1s.as_bytes(), true).unwrap();
    assert_eq!(d.algo, DigestAlgo::Sha256);
    assert!(d.matches(&sha256));
    for bad in [&b"Q1!!!"[..], b"Z9abc", b"Q", b"", b"X1zz"] {
        assert!(
            parse_digest(bad, false).is_none(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn hostile_input_is_an_error_with_a_line() {
    let p = Path::new("installed");
    for (text, line) in [
        (&b"P:x\nnot a field\n"[..], 2),
        (b"P:x\nM:0:0:755\n", 2),
        (b"P:x\nF:etc\na:0:0:644\n", 3),
        (b"P:x\nF:etc\nR:a/b\n", 3),
        (b"P:x\nF:etc\nR:f\na:x:0:644\n", 4),
        (b"V:1\n\n", 1),
    ] {
        match parse_installed(text, p) {
            Err(DbError::Parse { line: l, .. }) => {
                assert_eq!(l, line, "{:?}", String::from_utf8_lossy(text))
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(text)),
        }
    }
    // Unknown digest forms are warnings, not errors.
    let c = parse_installed(b"P:x\nV:1-r0\nF:etc\nR:f\nZ:Q9AAAA\n", p).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.files.len(), 2);
    // Garbage never panics.
    let mut junk = Vec::new();
    for i in 0..5000u32 {
        junk.push((i.wrapping_mul(2654435761) >> 24) as u8);
    }
    let _ = parse_installed(&junk, p);
}
