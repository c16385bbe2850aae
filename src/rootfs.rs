//! The scanned root: every path the databases record is resolved *inside* it.
//!
//! With `--root /mnt/img` an absolute symlink `/bin -> usr/bin` or `/lib -> /usr/lib` must
//! resolve to `/mnt/img/usr/lib`, never to the scanning host's `/usr/lib`; so symlinks are
//! followed by hand, confined to the root, instead of with `canonicalize`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Symlink hops allowed while resolving one path (Linux's own limit is 40).
const MAX_SYMLINK_HOPS: usize = 40;

#[derive(Debug, Clone)]
pub struct RootFs {
    root: PathBuf,
}

impl RootFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RootFs { root: root.into() }
    }

    /// The directory the scanned system is mounted at (`/` for the running host).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_host_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Host path of an absolute path of the scanned system.
    pub fn host_path(&self, scanned: &[u8]) -> PathBuf {
        let rel = scanned.strip_prefix(b"/").unwrap_or(scanned);
        if rel.is_empty() {
            return self.root.clone();
        }
        self.root.join(OsStr::from_bytes(rel))
    }

    /// Path of the scanned system for a host path below the root (inverse of [`host_path`]).
    ///
    /// [`host_path`]: RootFs::host_path
    pub fn scanned_path(&self, host: &Path) -> Vec<u8> {
        match host.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => b"/".to_vec(),
            Ok(rel) => {
                let mut out = Vec::with_capacity(rel.as_os_str().len() + 1);
                out.push(b'/');
                out.extend_from_slice(rel.as_os_str().as_bytes());
                out
            }
            Err(_) => host.as_os_str().as_bytes().to_vec(),
        }
    }

    /// Read a file of the scanned system (e.g. `/etc/os-release`).
    pub fn read(&self, scanned: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.host_path(scanned.as_bytes()))
    }
}

/// Resolves the *directory* part of recorded paths through symlinks inside the root, so that
/// `/bin/bash` from a `.list` matches `/usr/bin/bash` found by the walk on a merged-/usr host.
/// The last component is never followed: a packaged symlink is the symlink itself.
pub struct DirResolver<'a> {
    root: &'a RootFs,
    cache: HashMap<Vec<u8>, Vec<u8>>,
}

impl<'a> DirResolver<'a> {
    pub fn new(root: &'a RootFs) -> Self {
        DirResolver {
            root,
            cache: HashMap::new(),
        }
    }

    /// Canonical form of an absolute recorded path: directories resolved, `.`/`..` and
    /// repeated slashes removed, trailing slash dropped.
    pub fn canonical(&mut self, path: &[u8]) -> Vec<u8> {
        let normal = normalize(path);
        let Some(split) = normal.iter().rposition(|&b| b == b'/') else {
            return normal;
        };
        if split == 0 && normal.len() == 1 {
            return normal; // "/"
        }
        let parent = if split == 0 {
            b"/".to_vec()
        } else {
            normal[..split].to_vec()
        };
        let name = &normal[split + 1..];
        let mut out = self.canonical_dir(&parent);
        if out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        out
    }

    /// Canonical form of a directory path (every component resolved).
    pub fn canonical_dir(&mut self, dir: &[u8]) -> Vec<u8> {
        self.resolve_dir(&normalize(dir), 0)
    }

    /// `dir` is normalised. Each prefix is resolved once and cached, so a database of
    /// 100 k paths in 15 k directories costs one `readlink` per directory, not per component.
    fn resolve_dir(&mut self, dir: &[u8], hops: usize) -> Vec<u8> {
        if dir == b"/" {
            return b"/".to_vec();
        }
        if let Some(hit) = self.cache.get(dir) {
            return hit.clone();
        }
        let split = dir.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let parent = if split == 0 { &b"/"[..] } else { &dir[..split] };
        let name = &dir[split + 1..];
        let mut resolved = self.resolve_dir(parent, hops);
        if resolved != b"/" {
            resolved.push(b'/');
        }
        resolved.extend_from_slice(name);
        // `resolved` has a canonical parent, so only its last component can be a symlink.
        if let Ok(target) = std::fs::read_link(self.root.host_path(&resolved)) {
            if hops < MAX_SYMLINK_HOPS {
                let target = target.as_os_str().as_bytes();
                let joined = if target.starts_with(b"/") {
                    normalize(target)
                } else {
                    let mut j = resolved[..resolved.len() - name.len()].to_vec();
                    j.extend_from_slice(target);
                    // Lexical `..` is right here: the base directory has no symlinks left.
                    normalize(&j)
                };
                resolved = self.resolve_dir(&joined, hops + 1);
            }
        }
        if hops == 0 {
            self.cache.insert(dir.to_vec(), resolved.clone());
        }
        resolved
    }
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Lexical normalisation of an absolute path: `//` → `/`, `/./` dropped, `..` applied,
/// no trailing slash. dpkg's `.list` has `/.` for the root directory.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in components(path) {
        match c {
            b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::with_capacity(path.len());
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn normalize_handles_dots_and_slashes() {
        assert_eq!(normalize(b"/."), b"/");
        assert_eq!(normalize(b"//usr/./bin/"), b"/usr/bin");
        assert_eq!(normalize(b"/usr/lib/../bin/x"), b"/usr/bin/x");
        assert_eq!(normalize(b"/../.."), b"/");
    }

    #[test]
    fn resolves_merged_usr_inside_the_root_only() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        // An absolute target must stay inside the scanned root.
        symlink("/usr/lib", r.join("lib")).unwrap();
        symlink("../../usr/lib", r.join("usr/bin/up")).unwrap();
        let root = RootFs::new(r);
        let mut res = DirResolver::new(&root);
        assert_eq!(res.canonical(b"/bin/bash"), b"/usr/bin/bash");
        assert_eq!(res.canonical(b"/lib/x/y.so"), b"/usr/lib/x/y.so");
        assert_eq!(res.canonical(b"/usr/bin/up/z"), b"/usr/lib/z");
        // The last component is not followed.
        assert_eq!(res.canonical(b"/bin"), b"/bin");
        assert_eq!(res.canonical(b"/."), b"/");
        assert_eq!(res.canonical(b"/missing/dir/f"), b"/missing/dir/f");
    }

    #[test]
    fn symlink_loops_terminate() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("b", tmp.path().join("a")).unwrap();
        symlink("a", tmp.path().join("b")).unwrap();
        let root = RootFs::new(tmp.path());
        let mut res = DirResolver::new(&root);
        let _ = res.canonical(b"/a/file"); // must return, whatever it says
    }

    #[test]
    fn host_and_scanned_paths_round_trip() {
        let root = RootFs::new("/mnt/img");
        assert_eq!(root.host_path(b"/etc/x"), PathBuf::from("/mnt/img/etc/x"));
        assert_eq!(root.host_path(b"/"), PathBuf::from("/mnt/img"));
        assert_eq!(root.scanned_path(Path::new("/mnt/img/etc/x")), b"/etc/x");
        assert_eq!(root.scanned_path(Path::new("/mnt/img")), b"/");
    }
}
