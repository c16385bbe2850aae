//! Helpers for the integration tests: real `.deb` packages built with `dpkg-deb`, real roots
//! installed with `dpkg --root`, and the `livescan` binary run on them. Nothing is mocked.
//!
//! Every dpkg call goes through [`Root`], which always passes `--root`, `--admindir` and
//! `--log` inside the test's temporary directory: without `--log`, `dpkg --root` appends
//! to the *host's* `/var/log/dpkg.log` (verified with dpkg 1.21.22).

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod receiver;
pub mod xml;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;

/// The `livescan` binary built for this test run.
pub fn livescan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_livescan"))
}

pub fn euid_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when every tool answers `--version`; otherwise prints a SKIP line naming the
/// missing ones and returns false.
pub fn have_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !Command::new(t)
                .arg("--version")
                .env("PATH", tool_path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!(
            "SKIP {test}: {} not found (apt-get install dpkg)",
            missing.join(", ")
        );
        false
    }
}

/// The tools the dpkg-root tests need; false (with a SKIP line) when one is missing.
pub fn dpkg_tools(test: &str) -> bool {
    have_tools(
        test,
        &[
            "dpkg",
            "dpkg-deb",
            "dpkg-divert",
            "dpkg-statoverride",
            "md5sum",
        ],
    )
}

/// dpkg looks for `ldconfig` and `start-stop-daemon` in PATH; make sure the sbin
/// directories are in it even when the test runs from a user's shell.
fn tool_path() -> String {
    let base = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    format!("{base}:/usr/local/sbin:/usr/sbin:/sbin")
}

fn run_checked(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mkdir_p(p: &Path) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir -p {}: {e}", p.display()));
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", p.display()));
}

/// One node of a package's payload.
#[derive(Clone, Debug)]
enum Node {
    Dir(String),
    File {
        path: String,
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// A binary package to build with `dpkg-deb`.
#[derive(Clone, Debug)]
pub struct Deb {
    pub name: String,
    pub version: String,
    nodes: Vec<Node>,
    conffiles: Vec<String>,
    md5sums: bool,
}

impl Deb {
    /// Version `1.0-1`, architecture `all`, with a debhelper-style `DEBIAN/md5sums`.
    pub fn new(name: &str) -> Deb {
        Deb {
            name: name.into(),
            version: "1.0-1".into(),
            nodes: Vec::new(),
            conffiles: Vec::new(),
            md5sums: true,
        }
    }

    pub fn dir(mut self, path: &str) -> Deb {
        self.nodes.push(Node::Dir(path.into()));
        self
    }

    /// A regular file, mode 0644.
    pub fn file(mut self, path: &str, content: &str) -> Deb {
        self.nodes.push(Node::File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
        });
        self
    }

    /// An executable, mode 0755.
    pub fn exe(mut self, path: &str, content: &str) -> Deb {
        self.nodes.push(Node::File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o755,
        });
        self
    }

    /// A regular file listed in `DEBIAN/conffiles`.
    pub fn conffile(mut self, path: &str, content: &str) -> Deb {
        self.conffiles.push(path.into());
        self.file(path, content)
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Deb {
        self.nodes.push(Node::Symlink {
            path: path.into(),
            target: target.into(),
        });
        self
    }

    /// Ship no `DEBIAN/md5sums`: dpkg then computes one at unpack time (conffiles included).
    pub fn without_md5sums(mut self) -> Deb {
        self.md5sums = false;
        self
    }

    /// Number of regular files in the payload.
    pub fn regular_files(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::File { .. }))
            .count()
    }

    /// Build `<out_dir>/<name>.deb` and return its path.
    pub fn build(&self, out_dir: &Path) -> PathBuf {
        let stage = out_dir.join(format!("{}.stage", self.name));
        let debian = stage.join("DEBIAN");
        mkdir_p(&debian);
        chmod(&stage, 0o755);
        chmod(&debian, 0o755);
        let control = format!(
            "Package: {}\nVersion: {}\nArchitecture: all\nMaintainer: livescan tests <tests@livescan.invalid>\nSection: misc\nPriority: optional\nDescription: livescan test package {}\n",
            self.name, self.version, self.name
        );
        fs::write(debian.join("control"), control).unwrap();
        for node in &self.nodes {
            match node {
                Node::Dir(p) => {
                    let d = stage.join(rel(p));
                    mkdir_p(&d);
                    chmod(&d, 0o755);
                }
                Node::File {
                    path,
                    content,
                    mode,
                } => {
                    let f = stage.join(rel(path));
                    mkdir_p(f.parent().unwrap());
                    fs::write(&f, content).unwrap();
                    chmod(&f, *mode);
                }
                Node::Symlink { path, target } => {
                    let l = stage.join(rel(path));
                    mkdir_p(l.parent().unwrap());
                    symlink(target, &l).unwrap();
                }
            }
        }
        // Parent directories created above get the umask's mode; make them 0755 as a
        // packaging tool would.
        for d in walk(&stage) {
            if fs::symlink_metadata(&d).unwrap().is_dir() {
                chmod(&d, 0o755);
            }
        }
        if !self.conffiles.is_empty() {
            let text: String = self.conffiles.iter().map(|c| format!("{c}\n")).collect();
            fs::write(debian.join("conffiles"), text).unwrap();
        }
        if self.md5sums {
            // As dh_md5sums does: every regular file outside DEBIAN/ except conffiles,
            // sorted, hashed by md5sum(1), paths relative to the root.
            let mut files: Vec<String> = self
                .nodes
                .iter()
                .filter_map(|n| match n {
                    Node::File { path, .. } if !self.conffiles.contains(path) => {
                        Some(rel(path).to_string())
                    }
                    _ => None,
                })
                .collect();
            files.sort();
            let text = if files.is_empty() {
                Vec::new()
            } else {
                run_checked(
                    Command::new("md5sum")
                        .arg("--")
                        .args(&files)
                        .current_dir(&stage),
                    "md5sum",
                )
                .stdout
            };
            fs::write(debian.join("md5sums"), text).unwrap();
            chmod(&debian.join("md5sums"), 0o644);
        }
        let deb = out_dir.join(format!("{}.deb", self.name));
        run_checked(
            Command::new("dpkg-deb")
                .arg("--root-owner-group")
                .arg("-Zgzip")
                .arg("-b")
                .arg(&stage)
                .arg(&deb)
                .env("PATH", tool_path())
                .stdout(Stdio::null()),
            &format!("dpkg-deb -b {}", self.name),
        );
        deb
    }
}

/// `/usr/bin/x` → `usr/bin/x`.
pub fn rel(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Every path below `dir` (not `dir` itself), never following symlinks.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// One line of `dpkg --verify`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VerifyLine {
    /// `missing` or the nine rpm-style characters.
    pub result: String,
    pub conffile: bool,
    pub path: Vec<u8>,
}

/// Parse `dpkg --verify` output: `%-9s %c %s\n` (src/main/verify.c), e.g.
/// `??5?????? c /etc/x` or `missing     /usr/bin/y`.
pub fn parse_dpkg_verify(stdout: &[u8]) -> Vec<VerifyLine> {
    stdout
        .split(|&b| b == b'\n')
        .filter(|l| l.len() > 12)
        .map(|l| VerifyLine {
            result: String::from_utf8_lossy(&l[..9]).trim_end().to_string(),
            conffile: l[10] == b'c',
            path: l[12..].to_vec(),
        })
        .collect()
}

/// A Debian root built in a temporary directory: `<tmp>/R` is the root, packages are
/// built in `<tmp>/debs`, and the scan's lock file, mount table and config live in `<tmp>`.
pub struct Root {
    tmp: tempfile::TempDir,
    pub path: PathBuf,
    debs: PathBuf,
}

impl Root {
    /// An empty dpkg database, as §6 of package-databases.md builds it.
    pub fn new() -> Root {
        let tmp = tempfile::tempdir().unwrap();
        // Traversable by a process without CAP_DAC_OVERRIDE (the exit-code test).
        chmod(tmp.path(), 0o755);
        let path = tmp.path().join("R");
        let debs = tmp.path().join("debs");
        mkdir_p(&path.join("var/lib/dpkg/info"));
        mkdir_p(&path.join("var/lib/dpkg/updates"));
        mkdir_p(&debs);
        fs::write(path.join("var/lib/dpkg/status"), b"").unwrap();
        // Only `/`, as ext4: the whole root is walked. The host's mount table would put
        // the test's temp dir on whatever the CI machine has.
        fs::write(
            tmp.path().join("mountinfo"),
            b"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n",
        )
        .unwrap();
        // An empty configuration, so a developer's /etc/livescan/livescan.toml (excludes!)
        // cannot change what the tests see.
        fs::write(tmp.path().join("livescan.toml"), b"").unwrap();
        Root { tmp, path, debs }
    }

    /// The temporary directory around the root (for files that must not be in it).
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// Host path of an absolute path of the root (`&[u8]` so any name can be made).
    pub fn p(&self, path: impl AsRef<[u8]>) -> PathBuf {
        let b = path.as_ref();
        let b = b.strip_prefix(b"/").unwrap_or(b);
        self.path.join(OsStr::from_bytes(b))
    }

    /// `dpkg --root=R --admindir=R/var/lib/dpkg --log=… ARGS`. `--path-include=*` first
    /// cancels any `path-exclude` in the *host's* /etc/dpkg/dpkg.cfg.d (dpkg reads the
    /// host's configuration even with --root; last match wins), so installs are the same
    /// on a slim container image; callers append their own filters after it.
    pub fn dpkg(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("dpkg");
        cmd.arg(format!("--root={}", self.path.display()))
            .arg(format!(
                "--admindir={}",
                self.path.join("var/lib/dpkg").display()
            ))
            .arg(format!(
                "--log={}",
                self.tmp.path().join("dpkg.log").display()
            ))
            .arg("--force-script-chrootless")
            .arg("--path-include=*");
        if !euid_is_root() {
            cmd.arg("--force-not-root");
        }
        cmd.args(args)
            .env("PATH", tool_path())
            .env_remove("DPKG_ROOT")
            .env_remove("DPKG_ADMINDIR")
            .env("DPKG_COLORS", "never")
            .env("LC_ALL", "C");
        run_checked(&mut cmd, &format!("dpkg {}", args.join(" ")))
    }

    /// Build and install packages in one `dpkg -i` (extra dpkg options first).
    pub fn install_with(&self, opts: &[&str], debs: &[&Deb]) {
        let files: Vec<String> = debs
            .iter()
            .map(|d| d.build(&self.debs).display().to_string())
            .collect();
        let mut args: Vec<&str> = opts.to_vec();
        args.push("-i");
        args.extend(files.iter().map(String::as_str));
        self.dpkg(&args);
    }

    pub fn install(&self, debs: &[&Deb]) {
        self.install_with(&[], debs);
    }

    /// `dpkg-divert` or `dpkg-statoverride` on this root.
    pub fn admin_tool(&self, tool: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(tool);
        cmd.arg(format!("--root={}", self.path.display()))
            .arg(format!(
                "--admindir={}",
                self.path.join("var/lib/dpkg").display()
            ))
            .args(args)
            .env("PATH", tool_path())
            .env_remove("DPKG_ROOT")
            .env_remove("DPKG_ADMINDIR")
            .env("LC_ALL", "C");
        run_checked(&mut cmd, &format!("{tool} {}", args.join(" ")))
    }

    /// `dpkg --verify` of every package of the root.
    pub fn dpkg_verify(&self) -> Vec<VerifyLine> {
        parse_dpkg_verify(&self.dpkg(&["--verify"]).stdout)
    }

    /// A dpkg path (directory part maybe through symlinks such as `/bin`) as the walk
    /// sees it: the parent directory resolved inside the root, the last component kept.
    pub fn canonical(&self, path: &[u8]) -> Vec<u8> {
        let host = self.p(path);
        let name = host.file_name().unwrap().to_owned();
        let root = fs::canonicalize(&self.path).unwrap();
        let parent = fs::canonicalize(host.parent().unwrap()).unwrap();
        let inside = parent.strip_prefix(&root).unwrap_or_else(|_| {
            panic!(
                "{} resolves outside the root",
                String::from_utf8_lossy(path)
            )
        });
        let mut out = b"/".to_vec();
        out.extend_from_slice(inside.as_os_str().as_bytes());
        if out.len() > 1 {
            out.push(b'/');
        }
        out.extend_from_slice(name.as_bytes());
        out
    }

    /// Every entry below `/var/lib/dpkg`, and the directory itself: what a clean root
    /// reports as added (the package manager's own database belongs to no package).
    pub fn dpkg_db_entries(&self) -> BTreeSet<Vec<u8>> {
        let mut set: BTreeSet<Vec<u8>> = walk(&self.p("/var/lib/dpkg"))
            .into_iter()
            .map(|p| self.scanned(&p))
            .collect();
        set.insert(b"/var/lib/dpkg".to_vec());
        set
    }

    /// Every path of the root as the scan names it, `/` included.
    pub fn all_entries(&self) -> BTreeSet<Vec<u8>> {
        let mut set: BTreeSet<Vec<u8>> = walk(&self.path)
            .into_iter()
            .map(|p| self.scanned(&p))
            .collect();
        set.insert(b"/".to_vec());
        set
    }

    fn scanned(&self, host: &Path) -> Vec<u8> {
        let r = host.strip_prefix(&self.path).unwrap();
        let mut v = b"/".to_vec();
        v.extend_from_slice(r.as_os_str().as_bytes());
        v
    }

    /// The scan command for this root, ready for more arguments.
    pub fn scan_command(&self, extra: &[&str]) -> Command {
        let mut cmd = livescan();
        cmd.arg("--config")
            .arg(self.tmp.path().join("livescan.toml"))
            .arg("scan")
            .arg("--root")
            .arg(&self.path)
            .arg("--report")
            .arg("-")
            .arg("--lock-file")
            .arg(self.tmp.path().join("livescan.lock"))
            .arg("--mountinfo")
            .arg(self.tmp.path().join("mountinfo"))
            // Each root its own verify cache: tests never touch the host's /var/lib/livescan.
            .arg("--cache-dir")
            .arg(self.tmp.path().join("cache"))
            .args(extra)
            .env_remove("RUST_LOG");
        cmd
    }

    /// `livescan scan --root R --report - …`, report parsed.
    pub fn scan(&self, extra: &[&str]) -> Scan {
        Scan::from_output(
            self.scan_command(extra)
                .output()
                .expect("run the livescan binary"),
        )
    }

    /// Like [`scan`](Root::scan), insisting on exit code 0.
    pub fn scan_ok(&self, extra: &[&str]) -> Scan {
        let s = self.scan(extra);
        assert_eq!(s.code, 0, "livescan exit code; stderr:\n{}", s.stderr);
        s
    }
}

/// One finished scan.
pub struct Scan {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub json: Value,
}

impl Scan {
    pub fn from_output(out: Output) -> Scan {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = if out.stdout.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "report is not JSON: {e}\n--- stderr\n{stderr}\n--- stdout (start)\n{}",
                    String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(2000)])
                )
            })
        };
        Scan {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr,
            json,
        }
    }

    pub fn files(&self) -> &Vec<Value> {
        self.json["files"].as_array().expect("files[]")
    }

    /// The (path, change) pairs of `files[]`.
    pub fn changes(&self) -> BTreeSet<(Vec<u8>, String)> {
        self.files()
            .iter()
            .map(|f| {
                (
                    decode_path(&f["path"]),
                    f["change"].as_str().expect("change").to_string(),
                )
            })
            .collect()
    }

    /// The entry for `path`, or a panic listing what is there.
    pub fn entry(&self, path: impl AsRef<[u8]>) -> &Value {
        let path = path.as_ref();
        self.files()
            .iter()
            .find(|f| decode_path(&f["path"]) == path)
            .unwrap_or_else(|| {
                panic!(
                    "no entry for {:?} in files[]: {}",
                    String::from_utf8_lossy(path),
                    show_set(&self.changes())
                )
            })
    }

    pub fn has(&self, path: impl AsRef<[u8]>) -> bool {
        let path = path.as_ref();
        self.files().iter().any(|f| decode_path(&f["path"]) == path)
    }

    pub fn total(&self, key: &str) -> u64 {
        self.json["totals"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("totals.{key}: {}", self.json["totals"]))
    }

    /// `(name, version, release, arch, state)` of every package, with `manager` checked.
    pub fn packages(&self) -> BTreeSet<(String, String, String, String, String)> {
        self.json["packages"]
            .as_array()
            .expect("packages[]")
            .iter()
            .map(|p| {
                assert_eq!(p["manager"], "dpkg", "{p}");
                let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
                (s("name"), s("version"), s("release"), s("arch"), s("state"))
            })
            .collect()
    }
}

/// A report path: a JSON string, or `{"base64": …}` for bytes that are not UTF-8.
/// Decoded here independently of the crate's own `path_bytes`.
pub fn decode_path(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(m) if m.len() == 1 && m.contains_key("base64") => {
            base64::engine::general_purpose::STANDARD
                .decode(m["base64"].as_str().expect("base64 text"))
                .expect("valid base64")
        }
        other => panic!("not a path: {other}"),
    }
}

/// `(path, change)` pairs from literals.
pub fn pairs<P: AsRef<[u8]>>(items: &[(P, &str)]) -> BTreeSet<(Vec<u8>, String)> {
    items
        .iter()
        .map(|(p, c)| (p.as_ref().to_vec(), c.to_string()))
        .collect()
}

/// `paths` as `added` pairs.
pub fn added<'a>(paths: impl IntoIterator<Item = &'a Vec<u8>>) -> BTreeSet<(Vec<u8>, String)> {
    paths
        .into_iter()
        .map(|p| (p.clone(), "added".to_string()))
        .collect()
}

pub fn show_set(set: &BTreeSet<(Vec<u8>, String)>) -> String {
    set.iter()
        .map(|(p, c)| format!("\n  {c:9} {:?}", String::from_utf8_lossy(p)))
        .collect()
}

/// `assert_eq!` for change sets, printing only the differences.
#[track_caller]
pub fn assert_changes(
    actual: &BTreeSet<(Vec<u8>, String)>,
    expected: &BTreeSet<(Vec<u8>, String)>,
    context: &str,
) {
    if actual != expected {
        let extra: BTreeSet<_> = actual.difference(expected).cloned().collect();
        let missing: BTreeSet<_> = expected.difference(actual).cloned().collect();
        panic!(
            "{context}: report differs from the expected (path, change) set\n\
             reported but not expected:{}\nexpected but not reported:{}",
            show_set(&extra),
            show_set(&missing)
        );
    }
}

/// `len` bytes that zstd cannot shrink (xorshift64 from `seed`): overlays of a known size.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    // Spread small seeds apart (xorshift is linear: seeds 1, 2, 3 give related streams).
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
