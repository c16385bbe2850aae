//! The package list: `status` plus the `updates/` journal (every all-digit file, in lexical
//! order, later stanzas replacing earlier ones per package and architecture), and distroless
//! `status.d/<name>` (one stanza per file, usually without a Status field).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::deb822::{self, Field, Stanza};
use super::fsread::{io_error, parse_error, sorted_names};
use super::info::parse_md5_hex;
use super::version;
use crate::pkgdb::{DbError, Package};

/// A package as its status stanza describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    pub package: Package,
    pub multi_arch_same: bool,
    pub conffiles: Vec<Conffile>,
    /// Set for distroless `status.d/<file>`: its md5sums are `<file>.md5sums` beside it.
    pub status_d_file: Option<PathBuf>,
}

/// One line of the `Conffiles` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conffile {
    pub path: Vec<u8>,
    /// The hash of the version the maintainer shipped; `None` for `newconffile` (unpacked,
    /// not configured yet: the shipped file still waits as `<path>.dpkg-new`).
    pub md5: Option<[u8; 16]>,
    /// No longer shipped, but still on disk and still the package's.
    pub obsolete: bool,
    pub remove_on_upgrade: bool,
}

/// What one stanza says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StanzaKind {
    Present(StatusEntry),
    /// `not-installed` (or no Status at all in `status`): forgets any earlier stanza.
    NotInstalled {
        name: String,
        arch: String,
    },
}

const WANTS: [&str; 5] = ["unknown", "install", "hold", "deinstall", "purge"];
const ERROR_FLAGS: [&str; 2] = ["ok", "reinstreq"];
const STATES: [&str; 8] = [
    "not-installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "installed",
];

/// Fields this reader uses; a duplicate of one of them is ambiguous, and dpkg refuses it.
const USED_FIELDS: [&str; 6] = [
    "Package",
    "Status",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Conffiles",
];

/// dpkg's `pkg_name_is_illegal`: an alphanumeric first, then alphanumerics and `-+._`. This
/// also keeps `/` out of the `info/<name>.list` paths built from it.
fn check_name(name: &[u8]) -> Result<(), String> {
    match name.first() {
        None => return Err("empty value for the Package field".into()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(format!(
                "invalid package name {:?}: must start with an alphanumeric character",
                String::from_utf8_lossy(name)
            ))
        }
        _ => {}
    }
    match name
        .iter()
        .find(|c| !c.is_ascii_alphanumeric() && !b"-+._".contains(c))
    {
        Some(c) => Err(format!(
            "invalid package name {:?}: character {:?} not allowed",
            String::from_utf8_lossy(name),
            char::from(*c)
        )),
        None => Ok(()),
    }
}

/// dpkg's `dpkg_arch_name_is_illegal` (empty is handled by the caller: dpkg only warns).
fn check_arch(arch: &[u8]) -> Result<(), String> {
    let ok = arch.first().is_some_and(u8::is_ascii_alphanumeric)
        && arch.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid Architecture {:?}",
            String::from_utf8_lossy(arch)
        ))
    }
}

/// A single-line field value as text (names and versions are ASCII in practice; anything
/// else is converted lossily, never refused for its encoding).
fn single_line(path: &Path, f: &Field) -> Result<String, DbError> {
    if f.value.contains(&b'\n') {
        return Err(parse_error(
            path,
            f.line,
            format!(
                "field {} must be on one line",
                String::from_utf8_lossy(f.name)
            ),
        ));
    }
    Ok(String::from_utf8_lossy(f.value).into_owned())
}

/// `<want> <flag> <state>` → the state word.
fn parse_status_field(path: &Path, f: &Field) -> Result<String, DbError> {
    let text = single_line(path, f)?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let valid = words.len() == 3
        && WANTS.contains(&words[0])
        && ERROR_FLAGS.contains(&words[1])
        && STATES.contains(&words[2]);
    if !valid {
        return Err(parse_error(
            path,
            f.line,
            format!("malformed Status {text:?} (want <want> <flag> <state>)"),
        ));
    }
    Ok(words[2].to_string())
}

/// Conffiles lines ` <path> <md5> [obsolete] [remove-on-upgrade]`, parsed from the right
/// because paths may contain spaces (even several in a row). Malformed lines are warnings:
/// losing one conffile's hash is better than refusing the whole database.
fn parse_conffiles(path: &Path, f: &Field, warnings: &mut Vec<String>) -> Vec<Conffile> {
    let mut out = Vec::new();
    for (n, line) in f.lines() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let mut rest = line;
        let mut obsolete = false;
        let mut remove_on_upgrade = false;
        let mut hash = None;
        while let Some(space) = rest.iter().rposition(|&b| b == b' ') {
            let word = &rest[space + 1..];
            rest = rest[..space].trim_ascii_end();
            match word {
                b"obsolete" => obsolete = true,
                b"remove-on-upgrade" => remove_on_upgrade = true,
                _ => {
                    hash = Some(word);
                    break;
                }
            }
        }
        let (Some(hash), true) = (hash, rest.starts_with(b"/")) else {
            warnings.push(format!(
                "{}:{n}: malformed Conffiles line {:?}, ignored",
                path.display(),
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ));
            continue;
        };
        let md5 = match hash {
            b"newconffile" => None,
            h => {
                let md5 = parse_md5_hex(h);
                if md5.is_none() {
                    warnings.push(format!(
                        "{}:{n}: conffile {} has an invalid hash {:?}",
                        path.display(),
                        String::from_utf8_lossy(rest),
                        String::from_utf8_lossy(&h[..h.len().min(40)])
                    ));
                }
                md5
            }
        };
        out.push(Conffile {
            path: rest.to_vec(),
            md5,
            obsolete,
            remove_on_upgrade,
        });
    }
    out
}

/// Interpret one stanza of `path`. `status_d` marks distroless files, where a missing Status
/// means installed; in `status` it means not-installed, as dpkg reads it.
pub fn parse_stanza(
    path: &Path,
    s: &Stanza,
    status_d: bool,
    warnings: &mut Vec<String>,
) -> Result<StanzaKind, DbError> {
    for name in USED_FIELDS {
        if s.count(name) > 1 {
            let dup = s
                .fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
                .nth(1)
                .map_or(s.line, |f| f.line);
            return Err(parse_error(path, dup, format!("duplicate {name} field")));
        }
    }
    let Some(name_field) = s.field("Package") else {
        return Err(parse_error(path, s.line, "stanza without a Package field"));
    };
    check_name(name_field.value).map_err(|m| parse_error(path, name_field.line, m))?;
    let name = String::from_utf8_lossy(name_field.value).into_owned();

    let arch = match s.field("Architecture") {
        Some(f) if !f.value.is_empty() => {
            check_arch(f.value).map_err(|m| parse_error(path, f.line, m))?;
            String::from_utf8_lossy(f.value).into_owned()
        }
        _ => String::new(),
    };
    let state = match s.field("Status") {
        Some(f) => parse_status_field(path, f)?,
        None if status_d => "installed".to_string(),
        None => "not-installed".to_string(),
    };
    if state == "not-installed" {
        return Ok(StanzaKind::NotInstalled { name, arch });
    }
    let half_installed = state == "half-installed";
    let here = |line: usize| format!("{}:{line}: package {name}", path.display());
    if arch.is_empty() && !half_installed {
        warnings.push(format!("{}: missing Architecture", here(s.line)));
    }
    if s.field("Description").is_none() {
        warnings.push(format!("{}: missing Description", here(s.line)));
    }
    // dpkg requires a Version from every package it has (partly) installed, except one
    // whose first unpack was interrupted.
    let version = match s.field("Version") {
        Some(f) => {
            let text = single_line(path, f)?;
            Some(version::parse(&text).map_err(|m| parse_error(path, f.line, m))?)
        }
        None if half_installed => None,
        None => {
            return Err(parse_error(
                path,
                s.line,
                format!("package {name} ({state}) has no Version field"),
            ))
        }
    };
    let conffiles = match s.field("Conffiles") {
        Some(f) => parse_conffiles(path, f, warnings),
        None => Vec::new(),
    };
    let (epoch, version, release) = match version {
        Some(v) => (v.epoch, v.upstream, v.revision),
        None => (None, String::new(), None),
    };
    Ok(StanzaKind::Present(StatusEntry {
        package: Package {
            name,
            epoch,
            version,
            release,
            arch,
            state,
        },
        multi_arch_same: s
            .field("Multi-Arch")
            .is_some_and(|f| f.value.eq_ignore_ascii_case(b"same")),
        conffiles,
        status_d_file: status_d.then(|| path.to_path_buf()),
    }))
}

/// Packages keyed by (name, arch), in first-seen order, later stanzas replacing earlier ones.
#[derive(Default)]
struct PackageTable {
    slots: Vec<Option<StatusEntry>>,
    index: HashMap<(String, String), usize>,
}

impl PackageTable {
    fn apply(&mut self, kind: StanzaKind) {
        let (key, entry) = match kind {
            StanzaKind::Present(e) => ((e.package.name.clone(), e.package.arch.clone()), Some(e)),
            StanzaKind::NotInstalled { name, arch } => ((name, arch), None),
        };
        match self.index.get(&key) {
            Some(&i) => self.slots[i] = entry,
            None if entry.is_some() => {
                self.index.insert(key, self.slots.len());
                self.slots.push(entry);
            }
            None => {}
        }
    }

    fn apply_text(
        &mut self,
        path: &Path,
        text: &[u8],
        status_d: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), DbError> {
        for stanza in deb822::stanzas(text) {
            let stanza = stanza.map_err(|e| parse_error(path, e.line, e.message))?;
            self.apply(parse_stanza(path, &stanza, status_d, warnings)?);
        }
        Ok(())
    }

    fn into_entries(self) -> Vec<StatusEntry> {
        self.slots.into_iter().flatten().collect()
    }
}

/// Control files that sit beside a distroless `status.d/<name>` stanza file.
const STATUS_D_COMPANIONS: [&str; 12] = [
    "md5sums",
    "list",
    "conffiles",
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "triggers",
    "shlibs",
    "symbols",
    "templates",
    "config",
];

/// `status.d` entries that are stanza files: not hidden, and not `<stanza file>.<control>`
/// (a name like `python3.11` is a package).
fn status_d_stanza_files(names: &[std::ffi::OsString]) -> Vec<&std::ffi::OsString> {
    let all: std::collections::HashSet<&[u8]> =
        names.iter().map(|n| n.as_encoded_bytes()).collect();
    names
        .iter()
        .filter(|n| {
            let b = n.as_encoded_bytes();
            if b.starts_with(b".") {
                return false;
            }
            // `.md5sums` files are never stanzas, even orphaned; other suffixes only when
            // their stanza file is there, since dots are legal in package names.
            let companion = b.iter().rposition(|&c| c == b'.').is_some_and(|dot| {
                let suffix = &b[dot + 1..];
                suffix == b"md5sums"
                    || (STATUS_D_COMPANIONS.iter().any(|s| s.as_bytes() == suffix)
                        && all.contains(&b[..dot]))
            });
            !companion
        })
        .collect()
}

/// Read `status`, `status.d/` and the `updates/` journal of an admin directory; returns the
/// packages still present, in first-seen order.
pub fn read_packages(
    admindir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<StatusEntry>, DbError> {
    let mut table = PackageTable::default();
    let status = admindir.join("status");
    let status_d = admindir.join("status.d");
    let status_d_names = sorted_names(&status_d)?;
    match std::fs::read(&status) {
        Ok(text) => table.apply_text(&status, &text, false, warnings)?,
        // Distroless images have only status.d.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && status_d_names.is_some() => {}
        Err(e) => return Err(io_error(&status, e)),
    }
    if let Some(names) = &status_d_names {
        for name in status_d_stanza_files(names) {
            let path = status_d.join(name);
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
            table.apply_text(&path, &text, true, warnings)?;
        }
    }
    let updates = admindir.join("updates");
    for name in sorted_names(&updates)?.unwrap_or_default() {
        // dpkg's own temporary files (`tmp.i`) are not journal entries.
        let journal = !name.is_empty() && name.as_encoded_bytes().iter().all(u8::is_ascii_digit);
        if !journal {
            continue;
        }
        let path = updates.join(&name);
        let text = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        table.apply_text(&path, &text, false, warnings)?;
    }
    Ok(table.into_entries())
}

/// Parse a status text on its own (fuzzing entry point): the packages it leaves present, or
/// the first error. Never panics, whatever the bytes.
pub fn parse_status_bytes(bytes: &[u8]) -> Result<Vec<StatusEntry>, DbError> {
    let mut table = PackageTable::default();
    let mut warnings = Vec::new();
    table.apply_text(Path::new("status"), bytes, false, &mut warnings)?;
    Ok(table.into_entries())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<StanzaKind, DbError> {
        let s = deb822::parse(text.as_bytes()).unwrap();
        parse_stanza(Path::new("status"), &s[0], false, &mut Vec::new())
    }

    fn err_line(text: &str) -> (usize, String) {
        match one(text).unwrap_err() {
            DbError::Parse { line, message, .. } => (line, message),
            e => panic!("{e}"),
        }
    }

    const OK: &str = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.0-3\nDescription: d\n";

    #[test]
    fn a_good_stanza() {
        let StanzaKind::Present(e) = one(OK).unwrap() else {
            panic!()
        };
        assert_eq!(
            e.package,
            Package {
                name: "a".into(),
                epoch: Some(1),
                version: "2.0".into(),
                release: Some("3".into()),
                arch: "amd64".into(),
                state: "installed".into()
            }
        );
    }

    #[test]
    fn refusals_name_the_line() {
        assert_eq!(err_line("Package:\n").0, 1);
        assert!(err_line("Package:\n").1.contains("Package"));
        assert_eq!(
            err_line("Package: a/../../x\nStatus: install ok installed\n").0,
            1
        );
        assert_eq!(err_line("Package: a\nStatus: install ok\n").0, 2);
        assert_eq!(err_line("Package: a\nStatus: install ok bogus\n").0, 2);
        assert_eq!(
            err_line("Package: a\nStatus: install ok installed\nVersion: 1:\n").0,
            3
        );
        assert_eq!(err_line("Package: a\nStatus: install ok installed\n").0, 1);
        assert_eq!(
            err_line("Package: a\nArchitecture: a/b\nStatus: install ok installed\n").0,
            2
        );
        assert_eq!(err_line("Package: a\npackage: b\n").0, 2);
        assert_eq!(err_line("Version: 1\n").0, 1);
    }

    #[test]
    fn missing_status_is_not_installed_except_in_status_d() {
        assert_eq!(
            one("Package: a\nVersion: 1\n").unwrap(),
            StanzaKind::NotInstalled {
                name: "a".into(),
                arch: String::new()
            }
        );
        let s = deb822::parse(b"Package: a\nVersion: 1\nArchitecture: arm64\n").unwrap();
        let k = parse_stanza(Path::new("status.d/a"), &s[0], true, &mut Vec::new()).unwrap();
        let StanzaKind::Present(e) = k else { panic!() };
        assert_eq!(e.package.state, "installed");
        assert_eq!(e.status_d_file.as_deref(), Some(Path::new("status.d/a")));
    }

    #[test]
    fn conffiles_from_the_right() {
        let text = format!(
            "{OK}Conffiles:\n /etc/a  b/c d41d8cd98f00b204e9800998ecf8427e obsolete\n /etc/new newconffile\n /etc/r d41d8cd98f00b204e9800998ecf8427e remove-on-upgrade\n /etc/o d41d8cd98f00b204e9800998ecf8427e obsolete remove-on-upgrade\n justoneword\n /etc/bad nothex\n"
        );
        let s = deb822::parse(text.as_bytes()).unwrap();
        let mut w = Vec::new();
        let StanzaKind::Present(e) =
            parse_stanza(Path::new("status"), &s[0], false, &mut w).unwrap()
        else {
            panic!()
        };
        let c = &e.conffiles;
        assert_eq!(c.len(), 5);
        assert_eq!(c[0].path, b"/etc/a  b/c");
        assert!(c[0].obsolete && c[0].md5.is_some());
        assert_eq!((c[1].path.as_slice(), c[1].md5), (&b"/etc/new"[..], None));
        assert!(c[2].remove_on_upgrade && !c[2].obsolete);
        assert!(c[3].remove_on_upgrade && c[3].obsolete);
        assert_eq!((c[4].path.as_slice(), c[4].md5), (&b"/etc/bad"[..], None));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("status:11:"), "{w:?}");
    }

    #[test]
    fn later_stanzas_replace_earlier_ones() {
        let text = format!(
            "{OK}\nPackage: b\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n\n{}\nPackage: b\nStatus: purge ok not-installed\nArchitecture: all\n",
            OK.replace("1:2.0-3", "5")
        );
        let e = parse_status_bytes(text.as_bytes()).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].package.version, "5");
    }

    #[test]
    fn status_d_companions_are_not_stanzas() {
        let names: Vec<std::ffi::OsString> = [
            "a",
            "a.md5sums",
            "a.list",
            "b.list",
            "python3.11",
            "x.md5sums",
            ".hidden",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let kept: Vec<_> = status_d_stanza_files(&names);
        assert_eq!(kept, vec!["a", "b.list", "python3.11"]);
    }
}
