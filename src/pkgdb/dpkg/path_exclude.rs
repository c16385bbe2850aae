//! Files a package lists but that were never meant to be on disk: dpkg's
//! `path-exclude`/`path-include` options (minimal and container images drop docs, man pages
//! and locales this way) and localepurge. Their absence is "not installed", not "deleted".

use std::path::Path;

use super::fsread::read_capped;
use crate::pkgdb::NotInstalled;
use crate::rootfs::RootFs;

/// dpkg reads config lines into a 1 KiB buffer; a config file of 1 MiB is already absurd.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

pub const REASON_PATH_EXCLUDE: NotInstalled = NotInstalled::DpkgPathExclude;
pub const REASON_LOCALEPURGE: NotInstalled = NotInstalled::Localepurge;

#[derive(Debug)]
struct Rule {
    include: bool,
    pattern: glob::Pattern,
    /// The pattern up to its first wildcard (`*?[\`): a path not starting with it cannot
    /// match, which skips the glob matcher for almost every path.
    literal_prefix: Vec<u8>,
    /// `literal_prefix` without trailing `/`: dpkg keeps an excluded directory when it
    /// starts with this for some include rule (so the included files have a parent).
    dir_prefix: Vec<u8>,
}

/// Directories whose per-locale subdirectories localepurge empties.
const LOCALE_ROOTS: [&[u8]; 3] = [
    b"/usr/share/locale/",
    b"/usr/share/man/",
    b"/usr/share/help/",
];

#[derive(Debug, Default)]
pub struct PathFilter {
    /// In dpkg's order: `dpkg.cfg.d/*` (sorted), then `dpkg.cfg`; the last match wins.
    rules: Vec<Rule>,
    /// Locales localepurge keeps; `None` when localepurge is not configured.
    locales_kept: Option<Vec<Vec<u8>>>,
}

/// dpkg's `valid_config_filename`: `dpkg.cfg.d` files named with `[A-Za-z0-9_-]` only, so
/// `foo.dpkg-old` and editor backups are ignored.
fn valid_config_filename(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.starts_with(b".")
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// One dpkg config line → `(option, value)`, as `dpkg_options_load_file` splits it: the
/// option is the leading `[A-Za-z0-9-]` run; one separator, an optional `=`, spaces, then the
/// value with balanced surrounding quotes removed.
fn config_option(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(line.len());
    let (option, rest) = line.split_at(end);
    let mut value = rest.get(1..).unwrap_or("");
    value = value.strip_prefix('=').unwrap_or(value).trim_start();
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            value = inner;
        }
    }
    Some((option, value))
}

fn literal_prefix(pattern: &str) -> &str {
    &pattern[..pattern.find(['*', '?', '[', '\\']).unwrap_or(pattern.len())]
}

/// Lines of `locale.nopurge` naming kept locales: not comments and not its option words
/// (`MANDELETE`, `SHOWFREEDSPACE`, … are all upper case, locales never are).
fn nopurge_locales(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut kept = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        if line == b"NEEDSCONFIGFIRST" {
            // The package is installed but was never configured: it has purged nothing.
            return None;
        }
        if line.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
            continue;
        }
        kept.push(line.to_vec());
    }
    Some(kept)
}

impl PathFilter {
    /// Load the scanned root's dpkg options and localepurge configuration. Unreadable or
    /// malformed configuration is a warning (and that part is not applied).
    pub fn load(root: &RootFs, warnings: &mut Vec<String>) -> PathFilter {
        let mut configs = Vec::new();
        let dir = root.host_path(b"/etc/dpkg/dpkg.cfg.d");
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut names: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .filter(|n| valid_config_filename(n.as_encoded_bytes()))
                .collect();
            names.sort();
            configs.extend(names.into_iter().map(|n| dir.join(n)));
        }
        configs.push(root.host_path(b"/etc/dpkg/dpkg.cfg"));
        let mut texts = Vec::new();
        for path in configs {
            match read_capped(&path, MAX_CONFIG_BYTES) {
                Ok(Some(t)) => texts.push((path, t)),
                Ok(None) => {}
                Err(e) => {
                    warnings.push(format!("{}: {e}; its options are ignored", path.display()))
                }
            }
        }
        let nopurge = root.host_path(b"/etc/locale.nopurge");
        let nopurge = match read_capped(&nopurge, MAX_CONFIG_BYTES) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!(
                    "{}: {e}; localepurge not applied",
                    nopurge.display()
                ));
                None
            }
        };
        let refs: Vec<(&Path, &[u8])> = texts
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_slice()))
            .collect();
        PathFilter::from_config(&refs, nopurge.as_deref(), warnings)
    }

    /// Build from config texts in load order and an optional `locale.nopurge` text.
    pub fn from_config(
        configs: &[(&Path, &[u8])],
        locale_nopurge: Option<&[u8]>,
        warnings: &mut Vec<String>,
    ) -> PathFilter {
        let mut rules = Vec::new();
        for (path, text) in configs {
            for (i, line) in String::from_utf8_lossy(text).lines().enumerate() {
                let Some((option, value)) = config_option(line) else {
                    continue;
                };
                let include = match option {
                    "path-exclude" => false,
                    "path-include" => true,
                    _ => continue,
                };
                // fnmatch(3) without FNM_PATHNAME: `*` crosses `/`, which is glob's default.
                match glob::Pattern::new(value) {
                    Ok(pattern) => {
                        let literal = literal_prefix(value);
                        rules.push(Rule {
                            include,
                            pattern,
                            literal_prefix: literal.as_bytes().to_vec(),
                            dir_prefix: literal.trim_end_matches('/').as_bytes().to_vec(),
                        });
                    }
                    Err(e) => warnings.push(format!(
                        "{}:{}: {option} pattern {value:?} not understood ({e}); ignored",
                        path.display(),
                        i + 1
                    )),
                }
            }
        }
        PathFilter {
            rules,
            locales_kept: locale_nopurge.and_then(nopurge_locales),
        }
    }

    /// Whether anything can be filtered at all (the reader skips the work otherwise).
    pub fn is_active(&self) -> bool {
        !self.rules.is_empty() || self.locales_kept.is_some()
    }

    /// Why a listed path (as in the archive, before diversions) was never unpacked, if it
    /// was not. `is_dir`: the package lists something below it.
    pub fn not_installed(&self, path: &[u8], is_dir: bool) -> Option<NotInstalled> {
        if self.path_excluded(path, is_dir) {
            return Some(REASON_PATH_EXCLUDE);
        }
        self.locale_purged(path, is_dir)
            .then_some(REASON_LOCALEPURGE)
    }

    /// dpkg's `filter_should_skip`: the last matching rule decides; an excluded directory
    /// is still unpacked if an include rule's literal part starts with its path.
    fn path_excluded(&self, path: &[u8], is_dir: bool) -> bool {
        let mut excluded = false;
        let mut text: Option<std::borrow::Cow<str>> = None;
        for rule in &self.rules {
            if !path.starts_with(&rule.literal_prefix) {
                continue;
            }
            // glob matches str; a non-UTF-8 byte becomes U+FFFD, which only `?`/`*` match,
            // as a byte would under fnmatch.
            let text = text.get_or_insert_with(|| String::from_utf8_lossy(path));
            if rule.pattern.matches(text) {
                excluded = !rule.include;
            }
        }
        if excluded && is_dir {
            let reincluded = self
                .rules
                .iter()
                .any(|r| r.include && path.starts_with(&r.dir_prefix));
            return !reincluded;
        }
        excluded
    }

    /// localepurge removes what is below `/usr/share/{locale,man,help}/<L>/` for every
    /// locale `L` not listed in `locale.nopurge` (man section dirs like `man1` are not
    /// locales). The `<L>` directory itself counts too; a plain file directly in those
    /// directories (`locale.alias`) does not.
    fn locale_purged(&self, path: &[u8], is_dir: bool) -> bool {
        let Some(kept) = &self.locales_kept else {
            return false;
        };
        for root in LOCALE_ROOTS {
            let Some(rest) = path.strip_prefix(root) else {
                continue;
            };
            let (locale, below) = match rest.iter().position(|&b| b == b'/') {
                Some(slash) => (&rest[..slash], true),
                None => (rest, false),
            };
            if locale.is_empty() || (!below && !is_dir) {
                return false;
            }
            if root == b"/usr/share/man/" && locale.starts_with(b"man") {
                return false;
            }
            return !kept.iter().any(|k| k.as_slice() == locale);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(cfg: &str, nopurge: Option<&str>) -> PathFilter {
        let mut w = Vec::new();
        let f = PathFilter::from_config(
            &[(Path::new("cfg"), cfg.as_bytes())],
            nopurge.map(str::as_bytes),
            &mut w,
        );
        assert!(w.is_empty(), "{w:?}");
        f
    }

    #[test]
    fn last_rule_wins_and_both_syntaxes() {
        let f = filter(
            "# comment\npath-exclude=/usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude = \"/usr/share/man/*\"\nforce-unsafe-io\n",
            None,
        );
        assert_eq!(
            f.not_installed(b"/usr/share/doc/bash/README", false),
            Some(REASON_PATH_EXCLUDE)
        );
        assert_eq!(
            f.not_installed(b"/usr/share/doc/bash/copyright", false),
            None
        );
        assert_eq!(
            f.not_installed(b"/usr/share/man/man1/ls.1.gz", false),
            Some(REASON_PATH_EXCLUDE)
        );
        assert_eq!(f.not_installed(b"/usr/bin/bash", false), None);
        // `*` crosses `/` (no FNM_PATHNAME).
        assert_eq!(
            f.not_installed(b"/usr/share/doc/a/b/c/d", false),
            Some(REASON_PATH_EXCLUDE)
        );
        // Directories on the way to included files stay.
        assert_eq!(f.not_installed(b"/usr/share/doc/bash", true), None);
        assert_eq!(
            f.not_installed(b"/usr/share/man/man1", true),
            Some(REASON_PATH_EXCLUDE)
        );
        assert_eq!(
            f.not_installed(b"/usr/share/doc/\xff/README", false),
            Some(REASON_PATH_EXCLUDE)
        );
    }

    #[test]
    fn config_lines_split_like_dpkg() {
        assert_eq!(
            config_option("path-exclude=/a/*"),
            Some(("path-exclude", "/a/*"))
        );
        assert_eq!(
            config_option("path-exclude /a/*  "),
            Some(("path-exclude", "/a/*"))
        );
        assert_eq!(
            config_option("path-exclude '/a b'"),
            Some(("path-exclude", "/a b"))
        );
        assert_eq!(config_option("no-debsig"), Some(("no-debsig", "")));
        assert_eq!(config_option("# path-exclude=/x"), None);
        assert!(valid_config_filename(b"excludes"));
        assert!(!valid_config_filename(b"excludes.dpkg-old"));
        assert!(!valid_config_filename(b".hidden"));
    }

    #[test]
    fn bad_patterns_are_warnings() {
        let mut w = Vec::new();
        let f =
            PathFilter::from_config(&[(Path::new("c"), b"\npath-exclude=/a/[\n")], None, &mut w);
        assert!(!f.is_active());
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("c:2:"), "{w:?}");
    }

    #[test]
    fn localepurge() {
        let f = filter(
            "",
            Some("# keep\nMANDELETE\nSHOWFREEDSPACE\nen\nen_US.UTF-8\nde\n"),
        );
        let purged = Some(REASON_LOCALEPURGE);
        assert_eq!(
            f.not_installed(b"/usr/share/locale/fr/LC_MESSAGES/x.mo", false),
            purged
        );
        assert_eq!(f.not_installed(b"/usr/share/locale/fr", true), purged);
        assert_eq!(
            f.not_installed(b"/usr/share/locale/de/LC_MESSAGES/x.mo", false),
            None
        );
        assert_eq!(
            f.not_installed(b"/usr/share/locale/locale.alias", false),
            None
        );
        assert_eq!(f.not_installed(b"/usr/share/man/man1/ls.1.gz", false), None);
        assert_eq!(
            f.not_installed(b"/usr/share/man/fr/man1/ls.1.gz", false),
            purged
        );
        assert_eq!(
            f.not_installed(b"/usr/share/help/fr/gedit/index.page", false),
            purged
        );
        assert_eq!(
            f.not_installed(b"/usr/share/help/C/gedit/index.page", false),
            purged
        );
        assert_eq!(f.not_installed(b"/usr/share/localefoo/x", false), None);
        assert_eq!(f.not_installed(b"/usr/share/locale", true), None);
        // Installed but never configured: nothing was purged.
        assert!(!filter("", Some("NEEDSCONFIGFIRST\nen\n")).is_active());
    }
}
