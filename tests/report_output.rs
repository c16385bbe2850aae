//! Where the report goes when `--report` names something that is not a plain file.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

/// `--report /dev/stdout` (a symlink to /proc/self/fd/1) must write to the process's
/// standard output, not replace the link with a regular file: as root, on the real
/// /dev/stdout (or /dev/full, or a FIFO), a write-to-`.tmp`-and-rename would replace the
/// host's device node or link.
#[test]
fn report_to_a_symlink_writes_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("root")).unwrap();
    fs::write(tmp.path().join("empty.toml"), b"").unwrap();
    fs::write(
        tmp.path().join("mountinfo"),
        "27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let link = tmp.path().join("stdout");
    symlink("/proc/self/fd/1", &link).unwrap();
    let out = common::livescan()
        .arg("--config")
        .arg(tmp.path().join("empty.toml"))
        .arg("scan")
        .arg("--root")
        .arg(tmp.path().join("root"))
        .args(["-e", "/", "--quiet", "--report"])
        .arg(&link)
        .arg("--lock-file")
        .arg(tmp.path().join("lock"))
        .arg("--mountinfo")
        .arg(tmp.path().join("mountinfo"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the symlink was replaced by a regular file"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the report arrived on stdout");
    assert_eq!(report["schema"], "livescan-report");
}

/// A symlink to a regular file: the file it names gets the report, the link stays.
#[test]
fn report_to_a_symlinked_file_keeps_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("root")).unwrap();
    fs::write(tmp.path().join("empty.toml"), b"").unwrap();
    fs::write(
        tmp.path().join("mountinfo"),
        "27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    fs::write(tmp.path().join("real.json"), b"old").unwrap();
    let link = tmp.path().join("latest.json");
    symlink("real.json", &link).unwrap();
    let out = common::livescan()
        .arg("--config")
        .arg(tmp.path().join("empty.toml"))
        .arg("scan")
        .arg("--root")
        .arg(tmp.path().join("root"))
        .args(["-e", "/", "--quiet", "--report"])
        .arg(&link)
        .arg("--lock-file")
        .arg(tmp.path().join("lock"))
        .arg("--mountinfo")
        .arg(tmp.path().join("mountinfo"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("real.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], "livescan-report");
}
