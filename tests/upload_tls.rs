//! HTTPS uploads: the receiver behind Debian's nginx on loopback, with a test CA and a leaf
//! certificate made here with openssl. The agent trusts the CA with --ca-file, refuses the
//! server without it (the CA is in no bundle), and --insecure connects but warns.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const USER: &str = "tls@example.com";
const PASSWORD: &str = "tls-password";

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// CA (CA:TRUE) and a leaf for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=livescan test CA",
        ])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-keyout"])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(p("leaf.key"))
        .arg("-out")
        .arg(p("leaf.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(p("leaf.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("leaf.pem")));
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers too (a killed master
        // leaves them running, holding our output pipes).
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

#[test]
fn https_with_a_private_ca() {
    // `openssl version` (it has no --version flag).
    let have_openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !common::euid_is_root() || !have_openssl {
        eprintln!("SKIP: needs root and openssl (apt-get install openssl)");
        return;
    }
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(nginx) = nginx else {
        eprintln!("SKIP: nginx not installed (apt-get install nginx)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    make_certs(t);
    let data = t.join("data");
    common::receiver::add_user(&data, USER, PASSWORD);
    let rcv = common::receiver::Receiver::start(&data);
    let backend = rcv.addr.clone();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = format!(
        "daemon off; pid {t}/nginx.pid; error_log {t}/error.log; events {{}}\n\
         http {{ access_log off; client_body_temp_path {t}/body; proxy_temp_path {t}/proxy;\n\
         fastcgi_temp_path {t}/fcgi; uwsgi_temp_path {t}/uwsgi; scgi_temp_path {t}/scgi;\n\
         server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {t}/leaf.pem; ssl_certificate_key {t}/leaf.key;\n\
         client_max_body_size 0; proxy_request_buffering off;\n\
         location / {{ proxy_pass http://{backend}; }} }} }}\n",
        t = t.display()
    );
    std::fs::write(t.join("nginx.conf"), conf).unwrap();
    let ng = Command::new(nginx)
        .arg("-c")
        .arg(t.join("nginx.conf"))
        .arg("-p")
        .arg(t)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ng = Killed(ng);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let url = format!("https://127.0.0.1:{port}/api");
    let check = |extra: &[&str]| {
        common::livescan()
            .args([
                "upload",
                "--url",
                &url,
                "--user",
                USER,
                "--check",
                "--retries",
                "0",
            ])
            .args(extra)
            .env("LIVESCAN_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    };
    let ca = t.join("ca.pem");
    let o = check(&["--ca-file", ca.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = check(&[]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "an unknown CA must not be trusted"
    );
    let o = check(&["--insecure"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("NOT checked"));
}
