//! systemd/livescan.service, run the way systemd would run it — PID 1 here is not systemd, so
//! `systemctl start` is impossible: the unit file is parsed, and its ExecStartPre= and
//! ExecStart= run with the unit's Environment=, a clean environment otherwise, the
//! credential layout LoadCredential= makes ($CREDENTIALS_DIRECTORY/livescan-password, 0400),
//! stderr as a "journal stream" ($JOURNAL_STREAM = its device:inode), against a real
//! livescan-receiver on loopback. Exit codes are judged with the unit's SuccessExitStatus=.
//!
//! Two test-only additions to the command lines, both global/scan options: `--config FILE`
//! (the unit reads /etc/livescan/livescan.toml) and `--root/--mountinfo/--lock-file` (a small
//! root instead of this whole machine). The binary is `/usr/bin/livescan` when
//! LIVESCAN_UNIT_BIN says so (CI, after installing the .deb), else the one under test.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::receiver::{add_user, Receiver};

const UNIT: &str = include_str!("../systemd/livescan.service");
const USER: &str = "ops@example.com";
const PASSWORD: &str = "s3cret:pw";

/// `Key=value` lines of the [Service] section, in order.
fn service(key: &str) -> Vec<String> {
    let mut in_service = false;
    let mut v = Vec::new();
    for line in UNIT.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service {
            if let Some(val) = line.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                v.push(val.to_string());
            }
        }
    }
    v
}

fn binary() -> PathBuf {
    match std::env::var_os("LIVESCAN_UNIT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_livescan")),
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    config: PathBuf,
    root: PathBuf,
}

impl Setup {
    fn new(url: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("R");
        fs::create_dir_all(root.join("srv/app")).unwrap();
        fs::write(root.join("srv/app/data.bin"), common::noise(300_000, 7)).unwrap();
        fs::write(root.join("srv/app/app.conf"), b"listen = 8080\n").unwrap();
        fs::write(
            tmp.path().join("mountinfo"),
            b"27 1 254:0 / / rw - ext4 /dev/vda rw\n",
        )
        .unwrap();
        let config = tmp.path().join("livescan.toml");
        fs::write(
            &config,
            format!(
                "[upload]\nurl = \"{url}\"\nuser = \"{USER}\"\nname = \"unit-test\"\n\
                 chunk_size = \"64K\"\nretries = 3\n[export]\nlevel = 5\n"
            ),
        )
        .unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
        Setup { tmp, config, root }
    }

    /// The credentials directory systemd builds: read-only, the file 0400.
    fn credentials(&self) -> PathBuf {
        let d = self.tmp.path().join("credentials");
        fs::create_dir_all(&d).unwrap();
        let f = d.join("livescan-password");
        fs::write(&f, format!("{PASSWORD}\n")).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o400)).unwrap();
        d
    }

    /// Run one Exec line of the unit like systemd: clean environment plus Environment=
    /// (and `extra`), stderr to a file announced as the journal stream. Returns (exit
    /// code, stdout, stderr).
    fn exec(
        &self,
        line: &str,
        extra_env: &[(&str, &Path)],
        password_env: bool,
    ) -> (i32, String, String) {
        let mut words = line.split_whitespace();
        let prog = words.next().unwrap();
        assert_eq!(
            prog, "/usr/bin/livescan",
            "the unit runs the packaged binary"
        );
        let args: Vec<&str> = words.collect();
        let mut cmd = Command::new(binary());
        cmd.arg("--config").arg(&self.config).args(&args);
        if args.first() != Some(&"config") {
            cmd.arg("--root")
                .arg(&self.root)
                .arg("--mountinfo")
                .arg(self.tmp.path().join("mountinfo"))
                .arg("--lock-file")
                .arg(self.tmp.path().join("lock"));
        }
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        for e in service("Environment") {
            let (k, v) = e.split_once('=').unwrap();
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        if password_env {
            // What EnvironmentFile=/etc/livescan/livescan.env gives on systemd < 247.
            cmd.env("LIVESCAN_PASSWORD", PASSWORD);
        }
        let err_path = self.tmp.path().join("stderr");
        let err = fs::File::create(&err_path).unwrap();
        let m = err.metadata().unwrap();
        cmd.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()));
        cmd.current_dir(self.tmp.path())
            .stdin(Stdio::null())
            .stderr(err);
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            fs::read_to_string(&err_path).unwrap(),
        )
    }
}

/// Exit codes the unit counts as success: 0 and SuccessExitStatus=.
fn unit_success(code: i32) -> bool {
    code == 0
        || service("SuccessExitStatus")
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .any(|c| c.parse() == Ok(code))
}

#[test]
fn unit_runs_with_its_credential_layout_against_the_receiver() {
    let pre = service("ExecStartPre");
    let start = service("ExecStart");
    assert_eq!(service("Type"), ["oneshot"]);
    assert_eq!(pre.len(), 1, "{pre:?}");
    assert_eq!(start.len(), 1, "{start:?}");
    assert!(service("LoadCredential")
        .iter()
        .any(|c| c.starts_with("livescan-password:/etc/livescan/credentials/")));

    let tmp_data = tempfile::tempdir().unwrap();
    let data = tmp_data.path().join("data");
    add_user(&data, USER, PASSWORD);
    let rcv = Receiver::start(&data);
    let s = Setup::new(&format!("http://{}/api", rcv.addr));

    // systemd < 247: LoadCredential= ignored, no environment file — the secret must not
    // just vanish: ExecStartPre fails, at error priority, naming both places.
    let (code, _, err) = s.exec(&pre[0], &[], false);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("<3>"), "journal priority prefix: {err:?}");
    assert!(
        err.contains("/etc/livescan/credentials/livescan-password"),
        "{err}"
    );
    assert!(err.contains("/etc/livescan/livescan.env"), "{err}");
    assert!(err.contains("247"), "{err}");
    // Without ExecStartPre the upload itself still fails loudly, never uploads anonymously.
    let (code, _, err) = s.exec(&start[0], &[], false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no password"), "{err}");

    // The EnvironmentFile= fallback (LIVESCAN_PASSWORD) passes the check.
    let (code, out, err) = s.exec(&pre[0], &[], true);
    assert_eq!(code, 0, "{out}{err}");

    // systemd >= 247: the credential. Check, then the real run.
    let creds = s.credentials();
    let env = [("CREDENTIALS_DIRECTORY", creds.as_path())];
    let (code, out, err) = s.exec(&pre[0], &env, false);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.exec(&start[0], &env, false);
    assert!(unit_success(code), "exit {code}: {out}{err}");
    assert!(out.contains("streamed"), "{out}");
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "the secret was printed"
    );

    // The receiver has the scan, complete, under the configured name.
    let mut scans = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "scan.json") {
                scans.push(p);
            }
        }
    }
    assert_eq!(scans.len(), 1, "{scans:?}");
    let scan: serde_json::Value = serde_json::from_slice(&fs::read(&scans[0]).unwrap()).unwrap();
    assert_eq!(scan["status"]["complete"], true, "{scan}");
    let overlay = scans[0].with_file_name("overlay");
    let v = common::livescan()
        .arg("verify")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));

    // A secret left readable by others fails the check (the unit's fallback file, or here
    // the config itself made group-writable).
    fs::set_permissions(&s.config, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = s.exec(&pre[0], &env, false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("writable by other users"), "{err}");
}

#[test]
fn stderr_gets_priorities_only_when_it_is_the_journal_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    fs::write(&cfg, "[scan]\njobs = 0\n").unwrap();
    let run = |journal: Option<String>| {
        let err_path = tmp.path().join("err");
        let f = fs::File::create(&err_path).unwrap();
        let mut c = Command::new(binary());
        c.arg("--config")
            .arg(&cfg)
            .args(["config", "check"])
            .stderr(f);
        c.env_remove("JOURNAL_STREAM");
        if let Some(j) = journal {
            c.env("JOURNAL_STREAM", j);
        }
        let st = c.status().unwrap();
        assert_eq!(st.code(), Some(2));
        fs::read_to_string(&err_path).unwrap()
    };
    let plain = run(None);
    assert!(plain.starts_with("livescan: "), "{plain:?}");
    // Inherited from a parent whose stderr was the journal, but ours is a file: no prefix.
    let wrong = run(Some("1:2".into()));
    assert!(wrong.starts_with("livescan: "), "{wrong:?}");
    // Our stderr really is the stream: prefix on every line.
    let err_path = tmp.path().join("err");
    fs::write(&err_path, b"").unwrap();
    let m = fs::metadata(&err_path).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&err_path).unwrap();
    let st = Command::new(binary())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()))
        .stderr(f)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(2));
    let j = fs::read_to_string(&err_path).unwrap();
    assert!(
        !j.is_empty() && j.lines().all(|l| l.starts_with("<3>livescan: ")),
        "{j:?}"
    );
}
