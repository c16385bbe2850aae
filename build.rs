//! Build script: records the git commit for `livescan --version`.
//!
//! The commit comes from, in order: `LIVESCAN_GIT_COMMIT` in the environment (set it when
//! building from a tarball whose commit is known), `git rev-parse` when the source is a git
//! checkout, else `unknown` — a tarball without `.git` must still build.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIVESCAN_GIT_COMMIT");
    let commit = std::env::var("LIVESCAN_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIVESCAN_GIT_COMMIT={commit}");
}

/// `git rev-parse --short=12 HEAD`, and rerun when HEAD or the branch it names moves.
fn git_commit() -> Option<String> {
    let out = |args: &[&str]| -> Option<String> {
        let o = Command::new("git").args(args).output().ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = out(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())?;
    // In a worktree HEAD lives in the worktree's git dir and refs in the common dir.
    for name in ["HEAD", "packed-refs"] {
        watch(out(&["rev-parse", "--git-path", name]));
    }
    if let Some(r) = out(&["symbolic-ref", "-q", "HEAD"]) {
        watch(out(&["rev-parse", "--git-path", &r]));
    }
    Some(commit)
}

/// A missing file would make cargo rerun the script on every build: watch only what exists.
fn watch(path: Option<String>) {
    if let Some(p) = path.map(PathBuf::from).filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
