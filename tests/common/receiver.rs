//! `livescan-receiver` for the upload tests: accounts, and a running server on a free port.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn receiver_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_livescan-receiver"))
}

/// `livescan-receiver user add` with the password on stdin.
pub fn add_user(data: &Path, user: &str, password: &str) {
    let mut c = receiver_bin()
        .args(["user", "add", user, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    assert!(c.wait().unwrap().success());
}

/// A running receiver and the address it printed (`host:port`); killed when dropped.
pub struct Receiver {
    child: Child,
    pub addr: String,
}

impl Receiver {
    pub fn start(data: &Path) -> Receiver {
        let mut child = receiver_bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|r| r.strip_suffix("/api"))
            .unwrap_or_else(|| panic!("receiver said {line:?}"))
            .to_string();
        Receiver { child, addr }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
