//! dpkg's administrative files besides the package list: `diversions`, `statoverride`,
//! `alternatives/*`, and the `path-exclude`/localepurge filters of a minimal image.

use std::collections::HashMap;
use std::path::Path;

use crate::pkgdb::UserRef;
use crate::rootfs::RootFs;

/// `from` → (`to`, diverting package or None for a local diversion).
pub fn diversions(text: &[u8]) -> HashMap<Vec<u8>, (Vec<u8>, Option<String>)> {
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let mut out = HashMap::new();
    for t in lines.chunks_exact(3) {
        let pkg = String::from_utf8_lossy(t[2]).into_owned();
        out.insert(t[0].to_vec(), (t[1].to_vec(), (pkg != ":").then_some(pkg)));
    }
    out
}

/// `user group mode path` → (user, group, mode).
pub fn statoverrides(text: &[u8]) -> HashMap<Vec<u8>, (UserRef, UserRef, u32)> {
    let mut out = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        let mut parts = line.splitn(4, |&b| b == b' ');
        let (Some(u), Some(g), Some(m), Some(p)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(mode) = std::str::from_utf8(m)
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
        else {
            continue;
        };
        let who = |w: &[u8]| {
            let s = String::from_utf8_lossy(w).into_owned();
            match s.strip_prefix('#').and_then(|n| n.parse().ok()) {
                Some(id) => UserRef::Id(id),
                None => UserRef::Name(s),
            }
        };
        out.insert(p.to_vec(), (who(u), who(g), mode & 0o7777));
    }
    out
}

/// The link paths an alternative manages: its master link, `/etc/alternatives/<name>` and
/// each slave link with its `/etc/alternatives/<slave>`.
pub fn alternative_links(name: &str, text: &[u8]) -> Vec<Vec<u8>> {
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    let Some(master) = lines.get(1).filter(|l| l.starts_with(b"/")) else {
        return out;
    };
    out.push(master.to_vec());
    out.push(format!("/etc/alternatives/{name}").into_bytes());
    let mut i = 2;
    // Bounded by the file: pairs of (slave name, slave link) until the empty line.
    while i + 1 < lines.len() && !lines[i].is_empty() {
        out.push(format!("/etc/alternatives/{}", String::from_utf8_lossy(lines[i])).into_bytes());
        if lines[i + 1].starts_with(b"/") {
            out.push(lines[i + 1].to_vec());
        }
        i += 2;
    }
    out
}

/// dpkg `path-exclude`/`path-include` options (fnmatch without FNM_PATHNAME) and the
/// localepurge configuration: files they kept from being unpacked are "not installed".
pub struct PathFilter {
    rules: Vec<(bool, glob::Pattern)>,
    locales_kept: Option<Vec<String>>,
}

impl PathFilter {
    pub fn load(root: &RootFs) -> PathFilter {
        let mut texts = Vec::new();
        if let Ok(t) = root.read("/etc/dpkg/dpkg.cfg") {
            texts.push(t);
        }
        if let Ok(rd) = std::fs::read_dir(root.host_path(b"/etc/dpkg/dpkg.cfg.d")) {
            let mut files: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            texts.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
        }
        let mut rules = Vec::new();
        for text in &texts {
            for line in String::from_utf8_lossy(text).lines() {
                let line = line.trim();
                let (key, value) = match line.split_once(['=', ' ']) {
                    Some((k, v)) => (k.trim(), v.trim()),
                    None => continue,
                };
                let include = match key {
                    "path-exclude" => false,
                    "path-include" => true,
                    _ => continue,
                };
                if let Ok(p) = glob::Pattern::new(value) {
                    rules.push((include, p));
                }
            }
        }
        let locales_kept = root.read("/etc/locale.nopurge").ok().map(|t| {
            String::from_utf8_lossy(&t)
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with('#')
                        && !l.starts_with("MANDELETE")
                        && !l.starts_with("DONTBOTHER")
                        && !l.starts_with("SHOWFREEDSPACE")
                        && !l.starts_with("QUICKNDIRTYCALC")
                        && !l.starts_with("VERBOSE")
                        && !l.starts_with("NOPURGE")
                        && !l.starts_with("USE_DPKG")
                })
                .map(str::to_string)
                .collect()
        });
        PathFilter {
            rules,
            locales_kept,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.locales_kept.is_none()
    }

    /// Why a recorded path was never unpacked, if it was not.
    pub fn not_installed(&self, path: &[u8]) -> Option<&'static str> {
        let text = std::str::from_utf8(path).ok()?;
        // The last matching rule decides, as in dpkg.
        let mut excluded = false;
        for (include, p) in &self.rules {
            if p.matches(text) {
                excluded = !include;
            }
        }
        if excluded {
            return Some("dpkg path-exclude");
        }
        let kept = self.locales_kept.as_ref()?;
        for prefix in ["/usr/share/locale/", "/usr/share/man/", "/usr/share/help/"] {
            if let Some(rest) = text.strip_prefix(prefix) {
                let locale = rest.split('/').next().unwrap_or("");
                let is_dir_of_locale = rest.contains('/') && !locale.starts_with("man");
                if is_dir_of_locale && !kept.iter().any(|k| k == locale) && locale != "locale.alias"
                {
                    return Some("localepurge");
                }
            }
        }
        None
    }
}

pub fn read_opt(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_file() {
        let t = b"auto\n/usr/bin/pager\n\n/bin/more\n50\n/usr/bin/less\n77\n\n";
        let l = alternative_links("pager", t);
        assert_eq!(
            l,
            vec![
                b"/usr/bin/pager".to_vec(),
                b"/etc/alternatives/pager".to_vec()
            ]
        );
        let t = b"auto\n/usr/bin/awk\nawk.1.gz\n/usr/share/man/man1/awk.1.gz\n\n/usr/bin/mawk\n5\n/usr/share/man/man1/mawk.1.gz\n\n";
        let l = alternative_links("awk", t);
        assert_eq!(l.len(), 4);
        assert!(l.contains(&b"/usr/share/man/man1/awk.1.gz".to_vec()));
        assert!(l.contains(&b"/etc/alternatives/awk.1.gz".to_vec()));
        assert!(alternative_links("x", b"").is_empty());
    }

    #[test]
    fn path_exclude_last_rule_wins() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc/dpkg/dpkg.cfg.d")).unwrap();
        std::fs::write(
            tmp.path().join("etc/dpkg/dpkg.cfg.d/excludes"),
            "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n",
        )
        .unwrap();
        let f = PathFilter::load(&RootFs::new(tmp.path()));
        assert_eq!(
            f.not_installed(b"/usr/share/doc/bash/README"),
            Some("dpkg path-exclude")
        );
        assert_eq!(f.not_installed(b"/usr/share/doc/bash/copyright"), None);
        assert_eq!(f.not_installed(b"/usr/bin/bash"), None);
    }
}
