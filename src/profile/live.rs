//! Where live facts come from: `/proc` and `/sys` of the scanned system.

use std::path::{Path, PathBuf};

use crate::rootfs::RootFs;

/// The `/proc`- and `/sys`-like trees live facts are read from, if any.
#[derive(Debug, Clone, Default)]
pub struct LiveSources {
    pub proc_dir: Option<PathBuf>,
    pub sys_dir: Option<PathBuf>,
}

impl LiveSources {
    /// The running host's `/proc` and `/sys` when `root` is `/`; otherwise only what the
    /// user captured and named (`--proc DIR`, `--sys DIR`): the scanning host's own
    /// facts say nothing about a mounted image.
    pub fn for_root(root: &RootFs, proc_dir: Option<PathBuf>, sys_dir: Option<PathBuf>) -> Self {
        if root.is_host_root() {
            LiveSources {
                proc_dir: Some(proc_dir.unwrap_or_else(|| PathBuf::from("/proc"))),
                sys_dir: Some(sys_dir.unwrap_or_else(|| PathBuf::from("/sys"))),
            }
        } else {
            LiveSources { proc_dir, sys_dir }
        }
    }

    pub fn is_available(&self) -> bool {
        self.proc_dir.is_some() || self.sys_dir.is_some()
    }

    /// `rel` (e.g. `"cmdline"`, `"self/mountinfo"`) under the proc tree.
    pub fn proc(&self, rel: &str) -> Option<PathBuf> {
        self.proc_dir.as_deref().map(|d| join(d, rel))
    }

    /// A small live file (`cmdline`, `sys/kernel/osrelease`) as text, at most 64 KiB: a
    /// captured tree is data like any other and may hold anything.
    pub fn read_proc_text(&self, rel: &str) -> Option<String> {
        read_small(&self.proc(rel)?)
    }

    /// As [`LiveSources::read_proc_text`], under the sys tree.
    pub fn read_sys_text(&self, rel: &str) -> Option<String> {
        read_small(&self.sys(rel)?)
    }

    /// `rel` (e.g. `"block"`, `"class/net"`) under the sys tree.
    pub fn sys(&self, rel: &str) -> Option<PathBuf> {
        self.sys_dir.as_deref().map(|d| join(d, rel))
    }
}

fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut out)
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn join(dir: &Path, rel: &str) -> PathBuf {
    dir.join(rel.trim_start_matches('/'))
}
