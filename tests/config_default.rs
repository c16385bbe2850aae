//! The commented default configuration (packaging/livescan.toml, installed by install.sh and
//! the packages) documents every key: uncommenting all of them gives a file that parses and
//! sets every field (tests/install_sh.rs checks the key names), and `livescan config check` accepts the default as shipped.

use std::process::Command;

const DEFAULT: &str = include_str!("../packaging/livescan.toml");

/// Every `# key = value` example uncommented.
fn uncommented() -> String {
    DEFAULT
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                format!("{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn every_field_of_the_config_has_an_example_in_the_default() {
    let cfg = livescan::config::parse(&uncommented()).unwrap();
    // All fields set: the only `None`s left are the two secrets the file may never hold.
    let dbg = format!("{cfg:?}");
    assert_eq!(
        dbg.matches("None").count(),
        2,
        "a key is missing from the default: {dbg}"
    );
    assert!(dbg.contains("password: None") && dbg.contains("api_secret: None"));
}

#[test]
fn config_check_accepts_the_default_and_rejects_a_typo() {
    let bin = env!("CARGO_BIN_EXE_livescan");
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("livescan.toml");
    std::fs::write(&good, DEFAULT).unwrap();
    let out = Command::new(bin)
        .args(["config", "check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));

    let bad = d.path().join("typo.toml");
    std::fs::write(&bad, DEFAULT.replace("# jobs = 2", "jbos = 2")).unwrap();
    let out = Command::new(bin)
        .args(["config", "check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jbos"));

    let range = d.path().join("range.toml");
    std::fs::write(&range, DEFAULT.replace("# level = 3", "level = 42")).unwrap();
    let out = Command::new(bin)
        .args(["config", "check", "--config"])
        .arg(&range)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[export] level"));
}
