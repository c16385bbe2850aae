//! The package list: `status` plus the `updates/` journal (applied in lexical order, later
//! stanzas replacing earlier ones per package and architecture), or distroless `status.d/`.

use std::collections::HashMap;
use std::path::Path;

use super::deb822::{self, Stanza};
use crate::pkgdb::DbError;

/// A package as its status stanza describes it.
#[derive(Debug, Clone)]
pub struct StatusEntry {
    pub name: String,
    pub arch: String,
    pub version: String,
    pub state: String,
    pub multi_arch_same: bool,
    /// `(path, md5 or None for newconffile, obsolete)` from the `Conffiles` field.
    pub conffiles: Vec<(Vec<u8>, Option<[u8; 16]>, bool)>,
    /// distroless `status.d/<name>`: its md5sums live beside it.
    pub status_d_file: Option<std::path::PathBuf>,
}

fn parse_err(path: &Path, line: usize, message: impl Into<String>) -> DbError {
    DbError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Parse one stanza; `None` for packages that are not installed at all.
pub fn entry(path: &Path, s: &Stanza, distroless: bool) -> Result<Option<StatusEntry>, DbError> {
    let name = s.get_str("Package").unwrap_or_default();
    if name.is_empty() {
        return Err(parse_err(path, s.line, "stanza without a Package name"));
    }
    let state = match s.get_str("Status") {
        Some(st) => {
            let words: Vec<&str> = st.split_whitespace().collect();
            if words.len() != 3 {
                return Err(parse_err(
                    path,
                    s.line,
                    format!("package {name}: malformed Status {st:?}"),
                ));
            }
            words[2].to_string()
        }
        None if distroless => "installed".to_string(),
        None => {
            return Err(parse_err(
                path,
                s.line,
                format!("package {name}: no Status field"),
            ))
        }
    };
    if state == "not-installed" {
        return Ok(None);
    }
    let mut conffiles = Vec::new();
    if let Some(v) = s.get("Conffiles") {
        for line in v.split(|&b| b == b'\n') {
            // Parsed from the right: paths may contain spaces.
            let mut words: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
                .collect();
            let mut obsolete = false;
            while let Some(last) = words.last() {
                match *last {
                    b"obsolete" => obsolete = true,
                    b"remove-on-upgrade" => {}
                    _ => break,
                }
                words.pop();
            }
            if words.len() < 2 {
                continue;
            }
            let hash = words.pop().and_then(super::info::parse_md5);
            let path_b = words.join(&b' ');
            conffiles.push((path_b, hash, obsolete));
        }
    }
    Ok(Some(StatusEntry {
        arch: s.get_str("Architecture").unwrap_or_default(),
        version: s.get_str("Version").unwrap_or_default(),
        multi_arch_same: s.get_str("Multi-Arch").as_deref() == Some("same"),
        name,
        state,
        conffiles,
        status_d_file: None,
    }))
}

/// Read `status` and the journal; returns packages in first-seen order.
pub fn read(admindir: &Path, warnings: &mut Vec<String>) -> Result<Vec<StatusEntry>, DbError> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by_key: HashMap<(String, String), Option<StatusEntry>> = HashMap::new();
    let mut apply = |path: &Path, text: &[u8], distroless: bool| -> Result<(), DbError> {
        let stanzas = deb822::parse(text).map_err(|e| parse_err(path, e.line, e.message))?;
        for s in &stanzas {
            if s.get("Description").is_none()
                && s.get_str("Status")
                    .is_some_and(|st| st.ends_with(" installed"))
            {
                warnings.push(format!(
                    "{}:{}: package {} has no Description",
                    path.display(),
                    s.line,
                    s.get_str("Package").unwrap_or_default()
                ));
            }
            let mut e = entry(path, s, distroless)?;
            let key = match &e {
                Some(e) => (e.name.clone(), e.arch.clone()),
                None => (
                    s.get_str("Package").unwrap_or_default(),
                    s.get_str("Architecture").unwrap_or_default(),
                ),
            };
            if distroless {
                if let Some(e) = e.as_mut() {
                    e.status_d_file = Some(path.to_path_buf());
                }
            }
            if !by_key.contains_key(&key) {
                order.push(key.clone());
            }
            by_key.insert(key, e);
        }
        Ok(())
    };
    let status = admindir.join("status");
    let status_d = admindir.join("status.d");
    match std::fs::read(&status) {
        Ok(text) => apply(&status, &text, false)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && status_d.is_dir() => {}
        Err(source) => {
            return Err(DbError::Io {
                path: status,
                source,
            })
        }
    }
    if status_d.is_dir() {
        for p in sorted_dir(&status_d)? {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.contains('.') {
                continue; // `<pkg>.md5sums` and the like
            }
            let text = std::fs::read(&p).map_err(|source| DbError::Io {
                path: p.clone(),
                source,
            })?;
            apply(&p, &text, true)?;
        }
    }
    let updates = admindir.join("updates");
    if updates.is_dir() {
        for p in sorted_dir(&updates)? {
            let digits = p.file_name().is_some_and(|n| {
                !n.is_empty() && n.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
            });
            if !digits {
                continue;
            }
            let text = std::fs::read(&p).map_err(|source| DbError::Io {
                path: p.clone(),
                source,
            })?;
            apply(&p, &text, false)?;
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|k| by_key.remove(&k).flatten())
        .collect())
}

fn sorted_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>, DbError> {
    let rd = std::fs::read_dir(dir).map_err(|source| DbError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}
