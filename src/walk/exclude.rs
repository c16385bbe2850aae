//! Path sets matched on whole components: `/var/lib` covers `/var/lib/x` but not `/var/library`.
//! Used for user excludes and for skipped mount points. Globs are not interpreted: an
//! exclude is a literal absolute path of the scanned system.

use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct Excludes {
    paths: HashSet<Vec<u8>>,
    /// The directories that hold a path of the set (`/var` for `/var/lib`, `/` for
    /// `/proc`): the walker asks once per directory whether an entry of it can be in the
    /// set, instead of hashing every entry's path (two SipHashes per entry were ~1 % of a
    /// rescan's CPU).
    parents: HashSet<Vec<u8>>,
}

/// `/var` of `/var/lib`, `/` of `/proc`; `None` for `/`.
fn parent_of(path: &[u8]) -> Option<&[u8]> {
    if path == b"/" {
        return None;
    }
    match path.iter().rposition(|&b| b == b'/')? {
        0 => Some(b"/"),
        pos => Some(&path[..pos]),
    }
}

impl Excludes {
    /// Normalises each path (`//`, `.`, `..`, trailing `/`); relative paths are taken from `/`.
    pub fn new<I, P>(paths: I) -> Excludes
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut set = Excludes::default();
        for p in paths {
            set.insert(p.as_ref());
        }
        set
    }

    pub fn insert(&mut self, path: &[u8]) {
        let path = crate::rootfs::normalize(path);
        if let Some(parent) = parent_of(&path) {
            self.parents.insert(parent.to_vec());
        }
        self.paths.insert(path);
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Exactly this path is in the set (the walker checks each entry before descending,
    /// so an ancestor match has already stopped it).
    pub fn contains(&self, path: &[u8]) -> bool {
        self.paths.contains(path)
    }

    /// Some path of the set is an entry of the directory `dir` (normalised, as the walker
    /// builds it): when not, no entry of `dir` needs [`Excludes::contains`].
    pub fn has_entries_in(&self, dir: &[u8]) -> bool {
        self.parents.contains(dir)
    }

    /// The path or one of its ancestors is in the set.
    pub fn covers(&self, path: &[u8]) -> bool {
        if self.paths.is_empty() {
            return false;
        }
        if self.paths.contains(b"/".as_slice()) || self.paths.contains(path) {
            return true;
        }
        let mut end = path.len();
        while let Some(pos) = path[..end].iter().rposition(|&b| b == b'/') {
            if pos == 0 {
                break;
            }
            if self.paths.contains(&path[..pos]) {
                return true;
            }
            end = pos;
        }
        false
    }

    /// The matching entry of the set for `path`, if any (the nearest ancestor or itself).
    pub fn covering(&self, path: &[u8]) -> Option<&[u8]> {
        let mut end = path.len();
        loop {
            if let Some(hit) = self.paths.get(&path[..end]) {
                return Some(hit);
            }
            match path[..end].iter().rposition(|&b| b == b'/') {
                Some(0) => return self.paths.get(b"/".as_slice()).map(Vec::as_slice),
                Some(pos) => end = pos,
                None => return None,
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.paths.iter().map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_components_only() {
        let ex = Excludes::new(["/var/lib/", "/home/u/.cache"]);
        assert!(ex.covers(b"/var/lib"));
        assert!(ex.covers(b"/var/lib/dpkg/status"));
        assert!(!ex.covers(b"/var/library"));
        assert!(!ex.covers(b"/var"));
        assert!(ex.covers(b"/home/u/.cache/x"));
        assert!(!ex.covers(b"/home/u/.cachex"));
        assert_eq!(ex.covering(b"/var/lib/a/b"), Some(b"/var/lib".as_slice()));
        assert_eq!(ex.covering(b"/etc"), None);
    }

    #[test]
    fn knows_which_directories_hold_its_paths() {
        let ex = Excludes::new(["/var/lib/", "/proc", "/home/u/.cache", "/"]);
        assert!(ex.has_entries_in(b"/var"));
        assert!(ex.has_entries_in(b"/"));
        assert!(ex.has_entries_in(b"/home/u"));
        assert!(!ex.has_entries_in(b"/var/lib"));
        assert!(!ex.has_entries_in(b"/home"));
        assert!(!ex.has_entries_in(b"/usr"));
        let mut ex = Excludes::default();
        assert!(!ex.has_entries_in(b"/"));
        ex.insert(b"/srv/data//");
        assert!(ex.has_entries_in(b"/srv") && ex.contains(b"/srv/data"));
    }

    #[test]
    fn root_exclude_covers_everything() {
        let ex = Excludes::new(["/"]);
        assert!(ex.covers(b"/etc/passwd"));
        assert!(ex.covers(b"/"));
        assert_eq!(ex.covering(b"/etc"), Some(b"/".as_slice()));
    }
}
