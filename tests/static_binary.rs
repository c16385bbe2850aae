//! The static musl binary (packaging/build.sh) runs on CentOS 7 — glibc 2.17, kernel 3.10 —
//! shown without a CentOS userland: `readelf` finds no program interpreter and no needed
//! shared library, and under examples/old_kernel.rs (a seccomp filter answering ENOSYS to
//! every system call newer than 3.10) it scans, exports, verifies and inspects a real dpkg
//! root with the same results as the glibc build outside the filter.
//!
//! The binary is target/x86_64-unknown-linux-musl/release/livescan (or $LIVESCAN_MUSL_BIN).
//! When it is absent the tests skip, unless LIVESCAN_PACKAGE_TESTS=1 (CI builds it first).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Deb, Root};
use serde_json::Value;

fn musl_bin(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("LIVESCAN_MUSL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/x86_64-unknown-linux-musl/release/livescan")
        });
    if p.is_file() {
        return Some(p);
    }
    let msg = format!(
        "{test}: no static binary at {} (run packaging/build.sh)",
        p.display()
    );
    if std::env::var_os("LIVESCAN_PACKAGE_TESTS").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("SKIP {msg}");
    None
}

/// examples/old_kernel, built next to the test binaries by `cargo test` (all targets).
fn old_kernel(test: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_BIN_EXE_livescan"))
        .parent()
        .unwrap()
        .join("examples/old_kernel");
    if p.is_file() {
        return Some(p);
    }
    let msg = format!(
        "{test}: {} missing (cargo build --example old_kernel)",
        p.display()
    );
    if std::env::var_os("LIVESCAN_PACKAGE_TESTS").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("SKIP {msg}");
    None
}

fn readelf(args: &[&str], bin: &Path) -> String {
    let o = Command::new("readelf")
        .args(args)
        .arg(bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "readelf {args:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn static_binary_has_no_interpreter_and_no_needed_libraries() {
    let Some(bin) = musl_bin("static_binary_has_no_interpreter") else {
        return;
    };
    if !common::have_tools("static_binary_has_no_interpreter", &["readelf"]) {
        return;
    }
    let headers = readelf(&["-lW"], &bin);
    assert!(headers.contains("LOAD"), "{headers}");
    assert!(
        !headers.contains("INTERP"),
        "a program interpreter:\n{headers}"
    );
    // A static-pie keeps a dynamic section (relocations), never a NEEDED entry.
    let dynamic = readelf(&["-dW"], &bin);
    assert!(!dynamic.contains("(NEEDED)"), "{dynamic}");
    // Stripped: no symbol table.
    let sections = readelf(&["-SW"], &bin);
    assert!(!sections.contains(".symtab"), "not stripped");
    eprintln!(
        "static binary: {} bytes",
        std::fs::metadata(&bin).unwrap().len()
    );
}

#[test]
fn the_filter_really_answers_enosys() {
    let Some(ok) = old_kernel("the_filter_really_answers_enosys") else {
        return;
    };
    if !common::have_tools("the_filter_really_answers_enosys", &["python3"]) {
        return;
    }
    // getrandom(2) is 3.17: under the filter it must fail with ENOSYS (38); statx too.
    let o = Command::new(&ok)
        .args([
            "python3",
            "-c",
            "import os,ctypes\n\
             try:\n os.getrandom(1); print('getrandom ok')\n\
             except OSError as e: print('getrandom', e.errno)\n\
             libc=ctypes.CDLL(None,use_errno=True)\n\
             r=libc.syscall(332,-100,b'/',0,0x7ff,ctypes.create_string_buffer(256))\n\
             print('statx', r, ctypes.get_errno())",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("getrandom 38"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("statx -1 38"), "{out}");
    let list = Command::new(&ok).arg("--list").output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for name in [
        "statx",
        "getrandom",
        "copy_file_range",
        "openat2",
        "clone3",
        "close_range",
        "faccessat2",
        "pidfd_open",
        "memfd_secret",
    ] {
        assert!(
            list.lines().any(|l| l.split('\t').nth(1) == Some(name)),
            "{name} not listed"
        );
    }
}

/// A root with a package, a modified conffile, a deleted file and unowned data.
fn root() -> Root {
    let r = Root::new();
    let deb = Deb::new("webapp")
        .file("/usr/share/webapp/index.html", "<h1>hi</h1>\n")
        .file("/usr/share/webapp/gone.txt", "bye\n")
        .exe("/usr/bin/webapp", "#!/bin/sh\necho webapp\n")
        .conffile("/etc/webapp.conf", "port = 80\n");
    r.install(&[&deb]);
    std::fs::write(r.p("/etc/webapp.conf"), "port = 8080\n").unwrap();
    std::fs::remove_file(r.p("/usr/share/webapp/gone.txt")).unwrap();
    std::fs::create_dir_all(r.p("/srv/data")).unwrap();
    std::fs::write(r.p("/srv/data/blob"), common::noise(200_000, 3)).unwrap();
    std::fs::write(r.p("/srv/data/notes.txt"), "unowned\n").unwrap();
    r
}

/// Run `bin ARGS` on the root (optionally under the filter): config, lock and mount table
/// from the root's temp dir.
fn run(r: &Root, wrapper: Option<&Path>, bin: &Path, cmd: &str, extra: &[&str]) -> Output {
    let mut c = match wrapper {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    c.arg("--config")
        .arg(r.tmp().join("livescan.toml"))
        .arg(cmd);
    if cmd == "scan" || cmd == "export" {
        c.arg("--root")
            .arg(&r.path)
            .arg("--mountinfo")
            .arg(r.tmp().join("mountinfo"))
            .arg("--lock-file")
            .arg(r.tmp().join("lock"))
            // Both builds judge every file afresh, and neither touches the host's cache.
            .arg("--no-cache");
    }
    c.args(extra).env_remove("RUST_LOG");
    c.output().unwrap()
}

/// The report minus what differs between any two runs (times, thread count).
fn stable(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["started", "timings", "jobs"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn tar_listing(file: &Path) -> String {
    let o = Command::new("tar")
        .args(["--zstd", "-tvf"])
        .arg(file)
        .args(["--numeric-owner", "--full-time"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn static_binary_on_a_3_10_kernel_scans_and_exports_like_the_glibc_build() {
    let test = "static_binary_on_a_3_10_kernel";
    let (Some(musl), Some(ok)) = (musl_bin(test), old_kernel(test)) else {
        return;
    };
    if !common::dpkg_tools(test) || !common::have_tools(test, &["tar", "zstd"]) {
        return;
    }
    let r = root();
    let glibc = PathBuf::from(env!("CARGO_BIN_EXE_livescan"));

    let g = run(&r, None, &glibc, "scan", &["--report", "-", "-q"]);
    let m = run(&r, Some(&ok), &musl, "scan", &["--report", "-", "-q"]);
    assert_eq!(
        g.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    assert_eq!(
        m.status.code(),
        Some(0),
        "under the filter: {}",
        String::from_utf8_lossy(&m.stderr)
    );
    let gj: Value = serde_json::from_slice(&g.stdout).unwrap();
    let mj: Value = serde_json::from_slice(&m.stdout).unwrap();
    let text = String::from_utf8_lossy(&g.stdout);
    assert!(
        text.contains("/etc/webapp.conf")
            && text.contains("gone.txt")
            && text.contains("notes.txt"),
        "{text}"
    );
    assert_eq!(
        stable(gj),
        stable(mj),
        "the musl build under the 3.10 filter reports differently"
    );

    let ge = r.tmp().join("glibc.tar.zst");
    let me = r.tmp().join("musl.tar.zst");
    let g = run(
        &r,
        None,
        &glibc,
        "export",
        &["-o", ge.to_str().unwrap(), "-q", "-e", "/tmp"],
    );
    assert_eq!(
        g.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    let m = run(
        &r,
        Some(&ok),
        &musl,
        "export",
        &["-o", me.to_str().unwrap(), "-q", "-e", "/tmp"],
    );
    assert_eq!(
        m.status.code(),
        Some(0),
        "under the filter: {}",
        String::from_utf8_lossy(&m.stderr)
    );
    assert_eq!(tar_listing(&ge), tar_listing(&me));
    assert!(tar_listing(&me).contains("srv/data/blob"));

    for cmd in ["verify", "inspect"] {
        let o = run(&r, Some(&ok), &musl, cmd, &[me.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let to = r.tmp().join("restored");
    let o = run(
        &r,
        Some(&ok),
        &musl,
        "extract",
        &[me.to_str().unwrap(), "--to", to.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(to.join("srv/data/blob")).unwrap(),
        std::fs::read(r.p("/srv/data/blob")).unwrap()
    );
}
