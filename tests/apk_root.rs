//! An apk root written by hand (Debian has no apk-tools): files created here, their digests
//! computed here in the forms apk writes (Q1 base64 SHA-1, a symlink's digest of its target,
//! an `f:S` package with truncated SHA-256), then tampered with and scanned.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Digest as _;

fn q1(data: &[u8]) -> String {
    format!("Q1{}", STANDARD.encode(sha1::Sha1::digest(data)))
}

fn q1_truncated_sha256(data: &[u8]) -> String {
    format!("Q1{}", STANDARD.encode(&sha2::Sha256::digest(data)[..20]))
}

#[test]
fn apk_changes_are_found() {
    let r = common::Root::new();
    fs::remove_dir_all(r.p("/var/lib/dpkg")).unwrap();
    for d in ["/etc", "/usr/bin", "/lib/apk/db", "/usr/share/new"] {
        fs::create_dir_all(r.p(d)).unwrap();
    }
    fs::write(r.p("/etc/motd"), b"welcome\n").unwrap();
    fs::write(r.p("/etc/issue"), b"alpine\n").unwrap();
    fs::write(r.p("/usr/bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(r.p("/usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(r.p("/usr/share/new/data"), b"sha256 package\n").unwrap();
    symlink("/proc/mounts", r.p("/etc/mtab")).unwrap();
    let installed = format!(
        "P:base\nV:1.0-r2\nA:x86_64\nF:etc\nR:motd\nZ:{}\nR:issue\nZ:{}\nR:mtab\na:0:0:777\nZ:{}\n\
         F:usr\nF:usr/bin\nR:tool\na:0:0:755\nZ:{}\n\n\
         P:newer\nV:2-r0\nA:x86_64\nf:S\nF:usr/share/new\nR:data\nZ:{}\n\n",
        q1(b"welcome\n"),
        q1(b"alpine\n"),
        q1(b"/proc/mounts"),
        q1(b"#!/bin/sh\n"),
        q1_truncated_sha256(b"sha256 package\n"),
    );
    fs::write(r.p("/lib/apk/db/installed"), installed).unwrap();

    let clean = r.scan_ok(&[]);
    assert_eq!(
        clean.total("modified"),
        0,
        "{}",
        common::show_set(&clean.changes())
    );
    assert_eq!(clean.total("deleted"), 0);
    assert_eq!(clean.json["databases"][0]["format"], "apk");

    fs::write(r.p("/etc/motd"), b"WELCOME\n").unwrap();
    fs::set_permissions(r.p("/usr/bin/tool"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::remove_file(r.p("/etc/mtab")).unwrap();
    symlink("/elsewhere", r.p("/etc/mtab")).unwrap();
    fs::remove_file(r.p("/etc/issue")).unwrap();
    fs::write(r.p("/usr/share/new/data"), b"sha256 PACKAGE\n").unwrap();
    let s = r.scan_ok(&[]);
    let got: Vec<(String, String)> = s
        .files()
        .iter()
        .filter(|f| f["change"] != "added")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["verify"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/etc/issue".to_string(), "missing".to_string()),
            ("/etc/motd".to_string(), "?.5??..??".to_string()),
            ("/etc/mtab".to_string(), "??5??..??".to_string()),
            ("/usr/bin/tool".to_string(), "?M.??..??".to_string()),
            ("/usr/share/new/data".to_string(), "?.5??..??".to_string()),
        ]
    );
}
