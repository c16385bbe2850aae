//! The example configuration that `install.sh` (and the packages) install as
//! /etc/livescan/livescan.toml — packaging/livescan.toml — must
//! stay valid for the binary it installs: as written (every key commented out), and with
//! every example key uncommented (so the names match src/config.rs).

mod common;

use std::fs;

fn example_config() -> String {
    let script =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/install.sh")).expect("install.sh");
    // One source of truth: install.sh installs the file the packages ship.
    assert!(
        script.contains("packaging/livescan.toml"),
        "install.sh must install packaging/livescan.toml"
    );
    fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/livescan.toml"
    ))
    .expect("packaging/livescan.toml")
}

/// Exit code of a packages-only scan (`-e /`) of an empty root with this config.
fn scan_with(config: &str) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("livescan.toml");
    fs::write(&cfg, config).unwrap();
    fs::create_dir(tmp.path().join("root")).unwrap();
    fs::write(
        tmp.path().join("mountinfo"),
        "27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let out = common::livescan()
        .arg("--config")
        .arg(&cfg)
        .arg("scan")
        .arg("--root")
        .arg(tmp.path().join("root"))
        .args(["-e", "/", "--quiet", "--report"])
        .arg(tmp.path().join("report.json"))
        .arg("--lock-file")
        .arg(tmp.path().join("lock"))
        .arg("--mountinfo")
        .arg(tmp.path().join("mountinfo"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn install_sh_example_config_is_accepted_as_written_and_uncommented() {
    let text = example_config();
    assert!(text.contains("[scan]"), "{text}");
    let (code, err) = scan_with(&text);
    assert_eq!(code, 0, "as written: {err}");

    // `# key = value` lines become `key = value`; prose comments stay comments.
    let mut keys = Vec::new();
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                keys.push(rest.split_once(" = ").unwrap().0.to_string());
                format!("{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "api_key",
            "api_key_signature",
            "auth",
            "bwlimit",
            "ca_file",
            "cache_dir",
            "chunk_size",
            "dir",
            "exclude",
            "ionice_idle",
            "jobs",
            "level",
            "lock_wait_secs",
            "name",
            "nice",
            "proxy",
            "report",
            "retries",
            "url",
            "user",
            "verify_cache"
        ],
        "every key in src/config.rs has an example"
    );
    // The example `report` path may not exist here; the scan writes its own --report.
    let (code, err) = scan_with(&uncommented);
    assert_eq!(code, 0, "uncommented:\n{uncommented}\n{err}");

    // And the check is real: a misspelt key is refused.
    let (code, err) = scan_with(&uncommented.replace("lock_wait_secs", "lock_wait_sec"));
    assert_eq!(code, 2, "{err}");
}
