//! Agent and receiver on loopback, through a TCP proxy that breaks things: connections cut
//! at random byte offsets, 503 answers, a receiver killed and restarted mid-upload, an agent
//! killed and rerun. Every run must end with the receiver holding exactly the export, the
//! scan complete, and the bytes sent within a few chunks of the export's size.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER: &str = "agent@example.com";
const PASSWORD: &str = "pa:ss@word";

use common::receiver::{receiver_bin, Receiver};

/// Forwards connections to `target`, misbehaving on purpose: of every 4 connections one
/// is answered 503, the others are cut after a random number of request bytes (up to
/// 3 MiB) — keep-alive would otherwise carry the whole upload on one connection.
struct Proxy {
    addr: String,
    target: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    faults: Arc<AtomicU64>,
}

impl Proxy {
    fn start(target: &str, faulty: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let target = Arc::new(Mutex::new(target.to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(AtomicU64::new(0));
        let (t, s, f) = (target.clone(), stop.clone(), faults.clone());
        std::thread::spawn(move || {
            let mut n: u64 = 0;
            let mut seed: u64 = 0x2545F4914F6CDD1D;
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = conn else { continue };
                n += 1;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mode 3: a clean relay (the fault-free proxy); faulty proxies never use it.
                let mode = if faulty { n % 3 } else { 3 };
                let cut_after = seed % (3 << 20);
                let target = t.lock().unwrap().clone();
                let f = f.clone();
                std::thread::spawn(move || relay(client, &target, mode, cut_after, &f));
            }
        });
        Proxy {
            addr,
            target,
            stop,
            faults,
        }
    }
}

fn relay(mut client: TcpStream, target: &str, mode: u64, cut_after: u64, faults: &AtomicU64) {
    if mode == 0 {
        faults.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 4096];
        let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = client.read(&mut buf);
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let Ok(mut server) = TcpStream::connect(target) else {
        return; // receiver down: the client sees a reset
    };
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut c2);
        let _ = c2.shutdown(std::net::Shutdown::Both);
    });
    let mut buf = vec![0u8; 64 << 10];
    let mut forwarded = 0u64;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if mode != 3 && forwarded + n as u64 > cut_after {
            faults.fetch_add(1, Ordering::Relaxed);
            let _ = server.shutdown(std::net::Shutdown::Both);
            let _ = client.shutdown(std::net::Shutdown::Both);
            break;
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
        forwarded += n as u64;
    }
    let _ = server.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// An export of `mib` MiB of incompressible data.
fn make_export(dir: &Path, mib: usize) -> PathBuf {
    let root = dir.join("R");
    std::fs::create_dir_all(root.join("srv/data")).unwrap();
    for i in 0..mib {
        let chunk = common::noise(1 << 20, i as u64 + 1);
        std::fs::write(root.join(format!("srv/data/f{i:04}")), chunk).unwrap();
    }
    std::fs::write(dir.join("cfg.toml"), b"").unwrap();
    std::fs::write(
        dir.join("mountinfo"),
        b"27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let out = dir.join("x.lsx");
    let o = common::livescan()
        .arg("--config")
        .arg(dir.join("cfg.toml"))
        .args(["export", "-q", "-o"])
        .arg(&out)
        .arg("--root")
        .arg(&root)
        .arg("--mountinfo")
        .arg(dir.join("mountinfo"))
        .arg("--lock-file")
        .arg(dir.join("lock"))
        .output()
        .unwrap();
    assert_code(&o, 0);
    out
}

fn add_user(data: &Path) {
    common::receiver::add_user(data, USER, PASSWORD);
}

/// `livescan upload --url URL --user USER`, no password set.
fn agent(url: &str) -> Command {
    let mut cmd = common::livescan();
    cmd.args(["upload", "--url", url, "--user", USER])
        .env_remove("LIVESCAN_PASSWORD")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("RUST_LOG", "error");
    cmd
}

/// The exit code is `code`; the assertion message shows what the command said.
fn assert_code(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn upload(url: &str, file: &Path, chunk: &str) -> Command {
    let mut cmd = common::livescan();
    cmd.args([
        "upload", "--url", url, "--user", USER, "--name", "e2e", "--from",
    ])
    .arg(file)
    .args([
        "--chunk-size",
        chunk,
        "--retries",
        "40",
        "--backoff-ms",
        "20",
    ])
    .env("LIVESCAN_PASSWORD", PASSWORD)
    .env("RUST_LOG", "error");
    cmd
}

fn stored_overlay(data: &Path) -> Vec<u8> {
    let mut found = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "overlay") {
                found.push(p);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    std::fs::read(&found[0]).unwrap()
}

fn sent_bytes(stdout: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(stdout);
    let s = text.split(" resumed, ").nth(1).unwrap_or("");
    s.split(' ').next().unwrap_or("0").parse().unwrap_or(0)
}

#[test]
fn faults_on_the_wire_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // LIVESCAN_E2E_MIB=1024 runs the 1 GiB case by hand; CI keeps 24 MiB.
    let mib = std::env::var("LIVESCAN_E2E_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let export = make_export(tmp.path(), mib);
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let proxy = Proxy::start(&rcv.addr, true);
    let o = upload(&format!("http://{}/api", proxy.addr), &export, "1M")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let want = std::fs::read(&export).unwrap();
    assert!(
        stored_overlay(&data) == want,
        "the receiver holds exactly the export"
    );
    assert!(
        proxy.faults.load(Ordering::Relaxed) >= 5,
        "faults were injected"
    );
    // Each fault costs at most the chunk in flight: nothing committed is sent again.
    let sent = sent_bytes(&o.stdout);
    let faults = proxy.faults.load(Ordering::Relaxed);
    assert!(
        sent <= want.len() as u64 + (faults + 2) * (1 << 20),
        "sent {sent} for {} with {faults} faults",
        want.len()
    );
}

/// The issue's end-to-end check at full size, no faults: a 1 GiB overlay (incompressible:
/// `head -c` from /dev/urandom, 8 files of 128 MiB — a sparse file would compress to
/// nothing) exported, uploaded in the default 8 MiB chunks, verified by the receiver, and
/// the stored overlay's BLAKE3 equals the export's. Streamed hashes, nothing held whole.
#[test]
fn one_gib_overlay_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("R/srv/data");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..8 {
        let f = std::fs::File::create(root.join(format!("big{i}"))).unwrap();
        let st = Command::new("head")
            .args(["-c", "134217728", "/dev/urandom"])
            .stdout(f)
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::fs::write(tmp.path().join("cfg.toml"), b"").unwrap();
    std::fs::write(
        tmp.path().join("mountinfo"),
        b"27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let export = tmp.path().join("x.lsx");
    let o = common::livescan()
        .arg("--config")
        .arg(tmp.path().join("cfg.toml"))
        .args(["export", "-q", "-o"])
        .arg(&export)
        .arg("--root")
        .arg(tmp.path().join("R"))
        .arg("--mountinfo")
        .arg(tmp.path().join("mountinfo"))
        .arg("--lock-file")
        .arg(tmp.path().join("lock"))
        .output()
        .unwrap();
    assert_code(&o, 0);
    let size = std::fs::metadata(&export).unwrap().len();
    assert!(size > 1 << 30, "the export holds 1 GiB of noise: {size}");
    // What is on disk is not needed any more: keep the peak disk use at two copies.
    std::fs::remove_dir_all(tmp.path().join("R")).unwrap();
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let mut cmd = common::livescan();
    cmd.args(["upload", "--url", &format!("http://{}/api", rcv.addr)])
        .args(["--user", USER, "--name", "gib", "--from"])
        .arg(&export)
        .env("LIVESCAN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "error");
    let o = cmd.output().unwrap();
    assert_code(&o, 0);
    let hash = |p: &Path| {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(p).unwrap()).unwrap();
        h.finalize()
    };
    let stored = walk_overlay(&data).unwrap();
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), size);
    assert_eq!(
        hash(&stored),
        hash(&export),
        "the receiver holds the export"
    );
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stored.with_file_name("scan.json")).unwrap())
            .unwrap();
    assert_eq!(scan["status"]["complete"], true, "{scan}");
    // Nothing was sent twice: the agent's own count is the export's size.
    assert_eq!(sent_bytes(&o.stdout), size);
}

#[test]
fn receiver_restart_and_agent_rerun_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 24);
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let proxy = Proxy::start(&rcv.addr, false);
    let url = format!("http://{}/api", proxy.addr);
    // A throttled first run: kill the agent once some chunks are committed.
    let mut agent = upload(&url, &export, "256K")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let overlay_len = |data: &Path| -> u64 {
        walk_overlay(data)
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .unwrap_or(0)
    };
    for _ in 0..3000 {
        if overlay_len(&data) > 2 << 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = agent.kill();
    let _ = agent.wait();
    let after_kill = overlay_len(&data);
    assert!(
        after_kill > 0,
        "some of the overlay was committed before the kill"
    );

    // The receiver dies and comes back on another port: the proxy follows it.
    drop(rcv);
    let rcv2 = Receiver::start(&data);
    *proxy.target.lock().unwrap() = rcv2.addr.clone();
    let o = upload(&url, &export, "1M").output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let resumed: u64 = text
        .split(" s (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        resumed >= after_kill.min(1),
        "resumed from {resumed}: {text}"
    );
    assert!(stored_overlay(&data) == std::fs::read(&export).unwrap());
    // A third run finds the scan complete and sends nothing.
    let o = upload(&url, &export, "1M").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(sent_bytes(&o.stdout), 0);
}

fn walk_overlay(data: &Path) -> Option<PathBuf> {
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()? {
            let p = e.ok()?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "overlay") {
                return Some(p);
            }
        }
    }
    None
}

#[test]
fn wrong_password_and_credentials_in_url_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let url = format!("http://{}/api", rcv.addr);
    let o = agent(&url)
        .args(["--check"])
        .env("LIVESCAN_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(8));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("wrong"),
        "the secret is never printed"
    );
    let o = agent(&url)
        .args(["--check"])
        .env("LIVESCAN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_code(&o, 0);
    let o = agent(&format!("http://u:p@{}/api", rcv.addr))
        .args(["--check"])
        .env("LIVESCAN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = agent(&url)
        .args(["--check"])
        .env_remove("LIVESCAN_PASSWORD")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `--bwlimit` sends a throttled body that still arrives whole, and SIGINT mid-upload marks
/// the scan cancelled on the server.
#[test]
fn bwlimit_and_sigint_cancel() {
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 2);
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let url = format!("http://{}/api", rcv.addr);
    let started = std::time::Instant::now();
    let o = upload(&url, &export, "256K")
        .args(["--bwlimit", "1M"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    // (No wall-clock assertion: the rate itself is covered by the bucket's unit test; here
    // the throttled body must still arrive whole.)
    assert!(stored_overlay(&data) == std::fs::read(&export).unwrap());
    let _ = started;

    // Interrupt a slow upload of a new export: the scan ends up cancelled.
    let data2 = tmp.path().join("data2");
    add_user(&data2);
    let rcv2 = Receiver::start(&data2);
    let url2 = format!("http://{}/api", rcv2.addr);
    let agent = upload(&url2, &export, "64K")
        .args(["--bwlimit", "256K"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: a debug agent on a loaded machine takes seconds to get there.
    for _ in 0..6000 {
        if walk_overlay(&data2).is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = agent.wait_with_output().unwrap();
    assert_code(&out, 7);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled on the server"));
    let scan_json = walk_overlay(&data2).unwrap().with_file_name("scan.json");
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scan_json).unwrap()).unwrap();
    assert_eq!(scan["status"]["cancelled"], true, "{scan}");
}

/// `upload` without `--from`: scan, pack and stream in one go (no export file on the
/// host), through the faulty proxy; what the receiver holds verifies and holds the files.
#[test]
fn live_upload_streams_through_faults() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("R");
    std::fs::create_dir_all(root.join("srv/app")).unwrap();
    for i in 0..8 {
        let chunk = common::noise(1 << 20, i as u64 + 1);
        std::fs::write(root.join(format!("srv/app/blob{i}")), chunk).unwrap();
    }
    std::fs::write(tmp.path().join("cfg.toml"), b"").unwrap();
    std::fs::write(
        tmp.path().join("mountinfo"),
        b"27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let proxy = Proxy::start(&rcv.addr, true);
    let o = common::livescan()
        .arg("--config")
        .arg(tmp.path().join("cfg.toml"))
        .args([
            "upload",
            "--url",
            &format!("http://{}/api", proxy.addr),
            "--user",
            USER,
        ])
        .args([
            "--name",
            "live",
            "--chunk-size",
            "1M",
            "--retries",
            "40",
            "--backoff-ms",
            "20",
            "-q",
        ])
        .arg("--root")
        .arg(&root)
        .arg("--mountinfo")
        .arg(tmp.path().join("mountinfo"))
        .arg("--lock-file")
        .arg(tmp.path().join("lock"))
        .env("LIVESCAN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        proxy.faults.load(Ordering::Relaxed) >= 2,
        "faults were injected"
    );
    let overlay = walk_overlay(&data).unwrap();
    let v = common::livescan()
        .arg("verify")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let to = tmp.path().join("restored");
    let e = common::livescan()
        .arg("extract")
        .arg(&overlay)
        .arg("--to")
        .arg(&to)
        .output()
        .unwrap();
    assert!(e.status.success());
    assert_eq!(
        std::fs::read(to.join("srv/app/blob7")).unwrap(),
        std::fs::read(root.join("srv/app/blob7")).unwrap()
    );
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(overlay.with_file_name("scan.json")).unwrap())
            .unwrap();
    assert_eq!(scan["status"]["complete"], true, "{scan}");
}

/// UForge's plain overlay upload (one body, `crc` = the export's digest) with a stock client:
/// curl. The receiver streams it to disk, verifies it, completes the scan; a body that is
/// not the announced export is refused.
#[test]
fn plain_upload_with_curl() {
    if !common::have_tools("plain_upload_with_curl", &["curl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 3);
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let base = format!("http://{}/api/users/{}", rcv.addr, USER.replace('@', "%40"));
    let curl = |args: &[&str]| -> serde_json::Value {
        let o = Command::new("curl")
            .args(["-sS", "-u", &format!("{USER}:{PASSWORD}")])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    };
    let inst = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"name":"curl","overlayIncluded":true}"#,
        &format!("{base}/scannedinstances"),
    ]);
    let siid = inst["dbId"].as_u64().unwrap();
    let report = tmp.path().join("report.json");
    std::fs::write(&report, b"{\"schema\":\"livescan-report\"}").unwrap();
    let scan = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", report.display()),
        &format!("{base}/scannedinstances/{siid}/scans"),
    ]);
    let overlay_uri = scan["overlayUri"].as_str().unwrap().to_string();
    let v = common::livescan()
        .arg("verify")
        .arg(&export)
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&v.stdout)
        .rsplit(' ')
        .next()
        .unwrap()
        .trim()
        .to_string();
    // The wrong digest first: refused, nothing completed.
    let bad = curl(&[
        "-X",
        "POST",
        "-T",
        export.to_str().unwrap(),
        &format!(
            "http://{}/api/{overlay_uri}?crc={}",
            rcv.addr,
            "0".repeat(64)
        ),
    ]);
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or("")
            .contains("not the one announced"),
        "{bad}"
    );
    let scan2 = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", report.display()),
        &format!("{base}/scannedinstances/{siid}/scans"),
    ]);
    let overlay_uri = scan2["overlayUri"].as_str().unwrap().to_string();
    let done = curl(&[
        "-X",
        "POST",
        "-T",
        export.to_str().unwrap(),
        &format!("http://{}/api/{overlay_uri}?crc={digest}", rcv.addr),
    ]);
    assert_eq!(done["status"]["complete"], true, "{done}");
    // UForge clients ask for XML: the same scan, UForge's namespace, its uri.
    let o = Command::new("curl")
        .args([
            "-sS",
            "-u",
            &format!("{USER}:{PASSWORD}"),
            "-H",
            "Accept: application/xml",
        ])
        .arg(format!(
            "http://{}/api/{}",
            rcv.addr,
            done["uri"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&o.stdout);
    assert!(
        xml.contains("<ns0:scan xmlns:ns0=\"http://www.usharesoft.com/uforge\">"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<uri>{}</uri>", done["uri"].as_str().unwrap())),
        "{xml}"
    );
    assert!(xml.contains("<complete>true</complete>"), "{xml}");
}

/// Chunks are written to disk as they arrive, but only a chunk whose BLAKE3 matches ever
/// counts: a bad chunk (first or later) answers 400, the committed length stays, the
/// unverified bytes are cut off the stored overlay, and the right chunk then goes on from
/// the committed length to a complete, identical overlay.
#[test]
fn bad_chunks_are_never_committed() {
    if !common::have_tools("bad_chunks_are_never_committed", &["curl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 2);
    let bytes = std::fs::read(&export).unwrap();
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let base = format!("http://{}/api/users/{}", rcv.addr, USER.replace('@', "%40"));
    // (HTTP code, JSON body) of a curl call.
    let curl = |args: &[&str]| -> (u16, serde_json::Value) {
        let o = Command::new("curl")
            .args([
                "-sS",
                "-w",
                "\n%{http_code}",
                "-u",
                &format!("{USER}:{PASSWORD}"),
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.trim().parse().unwrap(),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    };
    let (_, inst) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"name":"chunks","overlayIncluded":true}"#,
        &format!("{base}/scannedinstances"),
    ]);
    let siid = inst["dbId"].as_u64().unwrap();
    let (_, scan) = curl(&[
        "-X",
        "POST",
        "--data",
        "{}",
        &format!("{base}/scannedinstances/{siid}/scans"),
    ]);
    let overlay_uri = format!(
        "http://{}/api/{}",
        rcv.addr,
        scan["overlayUri"].as_str().unwrap()
    );
    let half = bytes.len() / 2;
    let piece = |name: &str, b: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let first = piece("first", &bytes[..half]);
    let second = piece("second", &bytes[half..]);
    let send = |file: &Path, offset: usize, digest: &str, last: bool| {
        let mut url = format!("{overlay_uri}?offset={offset}");
        if last {
            let v = common::livescan()
                .arg("verify")
                .arg(&export)
                .output()
                .unwrap();
            let whole = String::from_utf8_lossy(&v.stdout)
                .rsplit(' ')
                .next()
                .unwrap()
                .trim()
                .to_string();
            url.push_str(&format!("&final=true&blake3={whole}"));
        }
        curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &format!("X-Livescan-Chunk-BLAKE3: {digest}"),
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ])
    };
    let committed = || {
        curl(&[&format!("{overlay_uri}/status")]).1["committed"]
            .as_u64()
            .unwrap()
    };
    let stored_len = || {
        walk_overlay(&data)
            .map(|p| std::fs::metadata(p).unwrap().len())
            .unwrap_or(0)
    };
    let digest = |b: &[u8]| blake3::hash(b).to_hex().to_string();
    let wrong = "0".repeat(64);

    let (code, body) = send(&first, 0, &wrong, false);
    assert_eq!(code, 400, "{body}");
    assert_eq!((committed(), stored_len()), (0, 0));
    let (code, body) = send(&first, 0, &digest(&bytes[..half]), false);
    assert_eq!(
        (code, body["committed"].as_u64()),
        (200, Some(half as u64)),
        "{body}"
    );
    // A later bad chunk (right length, one byte flipped): still only the first half.
    let mut flipped = bytes[half..].to_vec();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    let flipped = piece("flipped", &flipped);
    let (code, body) = send(&flipped, half, &digest(&bytes[half..]), true);
    assert_eq!(code, 400, "{body}");
    assert_eq!((committed(), stored_len()), (half as u64, half as u64));
    let (code, body) = send(&second, half, &digest(&bytes[half..]), true);
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["complete"], true, "{body}");
    assert!(stored_overlay(&data) == bytes);
}

/// UForge's XML request bodies, sent with curl as UForge's docs show them: a scannedInstance
/// created from the docs' example (plus `overlayIncluded`, an escaped name), a scan updated
/// with an XML `status`; a body outside UForge's namespace is refused.
#[test]
fn xml_request_bodies_with_curl() {
    if !common::have_tools("xml_request_bodies_with_curl", &["curl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let base = format!("http://{}/api/users/{}", rcv.addr, USER.replace('@', "%40"));
    let curl = |args: &[&str]| -> (u16, serde_json::Value) {
        let o = Command::new("curl")
            .args([
                "-sS",
                "-w",
                "\n%{http_code}",
                "-u",
                &format!("{USER}:{PASSWORD}"),
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.trim().parse().unwrap(),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    };
    let xml = |body: &str, method: &str, url: &str| {
        curl(&[
            "-X",
            method,
            "-H",
            "Content-Type: application/xml",
            "-H",
            "Accept: application/json",
            "--data-binary",
            body,
            url,
        ])
    };
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge">
  <name>Example Scan &amp; R&#38;D</name>
  <distribution><name>CentOS</name><version>6.7</version><arch>x86_64</arch></distribution>
  <overlayIncluded>true</overlayIncluded>
</ns0:scannedInstance>"#;
    let (code, inst) = xml(doc, "POST", &format!("{base}/scannedinstances"));
    assert_eq!(code, 201, "{inst}");
    assert_eq!(inst["name"], "Example Scan & R&D", "{inst}");
    assert_eq!(inst["distribution"]["version"], "6.7", "{inst}");
    assert_eq!(inst["overlayIncluded"], true, "{inst}");
    let siid = inst["dbId"].as_u64().unwrap();
    let (code, list) = curl(&[&format!(
        "{base}/scannedinstances?name=Example%20Scan%20%26%20R%26D"
    )]);
    assert_eq!((code, list["total"].as_u64()), (200, Some(1)), "{list}");

    let (_, scan) = curl(&[
        "-X",
        "POST",
        "--data",
        "{}",
        &format!("{base}/scannedinstances/{siid}/scans"),
    ]);
    let scan_url = format!("http://{}/api/{}", rcv.addr, scan["uri"].as_str().unwrap());
    let update = r#"<ns0:scan xmlns:ns0="http://www.usharesoft.com/uforge"><status><error>true</error><errorMessage>disk &lt;full&gt;</errorMessage></status></ns0:scan>"#;
    let (code, updated) = xml(update, "PUT", &scan_url);
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["status"]["error"], true, "{updated}");
    assert_eq!(
        updated["status"]["errorMessage"], "disk <full>",
        "{updated}"
    );
    let (_, again) = curl(&[&scan_url]);
    assert_eq!(
        again["status"]["errorMessage"], "disk <full>",
        "stored: {again}"
    );

    let (code, body) = xml(
        "<scannedInstance><name>no namespace</name></scannedInstance>",
        "POST",
        &format!("{base}/scannedinstances"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("namespace"),
        "{body}"
    );
    let (code, body) = xml("<ns0:scan xmlns:ns0=\"http://www.usharesoft.com/uforge\"><status><error>maybe</error></status></ns0:scan>", "PUT", &scan_url);
    assert_eq!(code, 400, "{body}");
}

/// UForge API keys instead of a password, for a login with `@` (a known UForge bug): both
/// signature forms the docs show are accepted; a wrong secret is refused (exit 8).
#[test]
fn api_key_uploads() {
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 1);
    let data = tmp.path().join("data");
    add_user(&data);
    let out = receiver_bin()
        .args(["apikey", "add", USER, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (public, secret) = text.trim().split_once(' ').unwrap();
    let rcv = Receiver::start(&data);
    let url = format!("http://{}/api", rcv.addr);
    for (form, name) in [("raw", "k1"), ("hex", "k2")] {
        let o = common::livescan()
            .args([
                "upload", "--url", &url, "--user", USER, "--name", name, "--from",
            ])
            .arg(&export)
            .args(["--api-key", public, "--api-key-signature", form])
            .env("LIVESCAN_API_SECRET", secret)
            .env_remove("LIVESCAN_PASSWORD")
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{form}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = agent(&url)
        .args(["--check", "--api-key", public])
        .env("LIVESCAN_API_SECRET", "not-the-secret")
        .output()
        .unwrap();
    assert_code(&o, 8);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("not-the-secret"));
}

/// Two agents upload the same export into the same scan at once: offsets are only ever
/// applied at the committed length, so the stored overlay is the export, byte for byte, and
/// both agents end successfully.
#[test]
fn two_agents_racing_on_one_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let export = make_export(tmp.path(), 6);
    let data = tmp.path().join("data");
    add_user(&data);
    let rcv = Receiver::start(&data);
    let url = format!("http://{}/api", rcv.addr);
    // The first agent creates the scan; the second finds it by the export's digest.
    let first = upload(&url, &export, "64K")
        .args(["--bwlimit", "4M"])
        .spawn()
        .unwrap();
    // Generous: a debug agent on a loaded machine takes seconds to get there.
    for _ in 0..12000 {
        if walk_overlay(&data).is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = upload(&url, &export, "96K").spawn().unwrap();
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert_code(&a, 0);
    assert_code(&b, 0);
    assert!(stored_overlay(&data) == std::fs::read(&export).unwrap());
}
