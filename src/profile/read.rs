//! Reading the scanned root's configuration files for the profile: every path is resolved
//! *inside* the root (an absolute symlink `/etc/os-release -> /usr/lib/os-release` in a
//! mounted image must not reach the scanning host's file), and every read is bounded.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;

use crate::rootfs::{DirResolver, RootFs};

/// Configuration files are small; a larger one is not what we think it is.
pub const MAX_CONFIG: u64 = 1 << 20;
/// `/etc/passwd` and friends on a host with very many local accounts.
pub const MAX_ACCOUNTS: u64 = 64 << 20;

/// Host path of `scanned` with every symlink followed inside the root.
pub fn resolve(root: &RootFs, scanned: &str) -> std::path::PathBuf {
    root.host_path(canonical(root, scanned).as_bytes())
}

/// `scanned` with every symlink followed inside the root, as a path of the scanned system.
pub fn canonical(root: &RootFs, scanned: &str) -> String {
    let canon = DirResolver::new(root).canonical_dir(scanned.as_bytes());
    String::from_utf8_lossy(&canon).into_owned()
}

/// The file's bytes, or `None` when it is absent, unreadable, not a regular file or larger
/// than `max` (what cannot be read is "unknown", never a failed scan).
pub fn read_capped(root: &RootFs, scanned: &str, max: u64) -> Option<Vec<u8>> {
    let path = resolve(root, scanned);
    let file = std::fs::File::open(&path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= max).then_some(out)
}

/// A small configuration file as text (invalid UTF-8 replaced).
pub fn read_config(root: &RootFs, scanned: &str) -> Option<String> {
    read_capped(root, scanned, MAX_CONFIG).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// First non-empty, non-comment line of a file, trimmed.
pub fn first_line(root: &RootFs, scanned: &str) -> Option<String> {
    let text = read_config(root, scanned)?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// `KEY=value` shell-style assignments (os-release(5) quoting; `export` allowed).
pub fn read_assignments(
    root: &RootFs,
    scanned: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    let text = read_config(root, scanned)?;
    let cleaned: String = text
        .lines()
        .map(|l| l.trim_start().strip_prefix("export ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    Some(crate::report::host::parse_os_release(cleaned.as_bytes()))
}

/// Names in a directory of the scanned system (resolved inside the root), sorted; empty when
/// it is absent. Bounded: a directory with more entries than any real one is cut short.
pub fn dir_names(root: &RootFs, scanned: &str) -> Vec<String> {
    const MAX_ENTRIES: usize = 100_000;
    let Ok(rd) = std::fs::read_dir(resolve(root, scanned)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .take(MAX_ENTRIES)
        .map(|e| String::from_utf8_lossy(e.file_name().as_bytes()).into_owned())
        .collect();
    names.sort();
    names
}

/// Target of a symlink of the scanned system (not followed), as text.
pub fn link_target(root: &RootFs, scanned: &str) -> Option<String> {
    let parent_and_name = scanned.rsplit_once('/')?;
    let dir = DirResolver::new(root).canonical_dir(parent_and_name.0.as_bytes());
    let mut p = dir;
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(parent_and_name.1.as_bytes());
    let t = std::fs::read_link(root.host_path(&p)).ok()?;
    Some(String::from_utf8_lossy(t.as_os_str().as_bytes()).into_owned())
}

/// Does this path of the scanned system exist (after following symlinks inside the root)?
pub fn exists(root: &RootFs, scanned: &str) -> bool {
    resolve(root, scanned).symlink_metadata().is_ok()
}
