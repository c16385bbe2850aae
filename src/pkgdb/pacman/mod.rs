//! pacman (Arch): `<DBPath>/local/<name>-<version>/{desc,files,mtree}`
//! (`../shared/docs/package-databases.md` §4). The mtree gives what `pacman -Qkk` checks —
//! type, mode, owner, size, mtime, SHA-256 (MD5 in old packages), link target — and
//! `%BACKUP%` marks configuration files. Paths matching `NoExtract` in `/etc/pacman.conf`
//! were never installed. A database without `ALPM_DB_VERSION` (pacman itself refuses it) is
//! read anyway, with a warning.

pub mod desc;
pub mod mtree;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    DbContents, DbError, DbFormat, Digest, DigestAlgo, ExpectedAttrs, NotInstalled, Owner, Package,
    PackageDb, PackagedFile, Presence, UserRef,
};
use crate::rootfs::RootFs;

const DEFAULT_DBPATH: &str = "/var/lib/pacman";
const MAX_FILE: u64 = 64 << 20;
/// Members of a package that are pacman's metadata, not installed files.
const METADATA: [&[u8]; 5] = [
    b".BUILDINFO",
    b".PKGINFO",
    b".MTREE",
    b".INSTALL",
    b".CHANGELOG",
];

pub struct PacmanDb {
    dbpath: PathBuf,
}

/// What `/etc/pacman.conf` says that matters here.
#[derive(Debug, Default)]
pub struct PacmanConf {
    pub dbpath: Option<String>,
    /// `NoExtract` patterns in order (`!` negates), as pacman matches them.
    pub no_extract: Vec<String>,
}

impl PacmanConf {
    pub fn parse(text: &[u8]) -> PacmanConf {
        let mut conf = PacmanConf::default();
        let mut section = String::new();
        for line in String::from_utf8_lossy(text).lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_string();
                continue;
            }
            if section != "options" {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k.trim() {
                "DBPath" => conf.dbpath = Some(v.trim().trim_end_matches('/').to_string()),
                "NoExtract" => conf
                    .no_extract
                    .extend(v.split_whitespace().map(str::to_string)),
                _ => {}
            }
        }
        conf
    }

    /// pacman's rule: the last matching pattern decides; a `!pattern` match re-allows.
    pub fn not_extracted(&self, rel: &[u8]) -> bool {
        let Ok(path) = std::str::from_utf8(rel) else {
            return false;
        };
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        let mut verdict = false;
        for p in &self.no_extract {
            let (neg, pat) = match p.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, p.as_str()),
            };
            if glob::Pattern::new(pat).is_ok_and(|g| g.matches_with(path, opts)) {
                verdict = !neg;
            }
        }
        verdict
    }
}

fn load_conf(root: &RootFs) -> PacmanConf {
    root.read("/etc/pacman.conf")
        .map(|t| PacmanConf::parse(&t))
        .unwrap_or_default()
}

impl PacmanDb {
    pub fn detect(root: &RootFs) -> Option<PacmanDb> {
        let conf = load_conf(root);
        let dbpath = conf.dbpath.unwrap_or_else(|| DEFAULT_DBPATH.to_string());
        root.host_path(format!("{dbpath}/local").as_bytes())
            .is_dir()
            .then(|| PacmanDb {
                dbpath: PathBuf::from(dbpath),
            })
    }
}

fn read_capped(path: &Path) -> Result<Option<Vec<u8>>, DbError> {
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE => Err(DbError::Corrupt {
            path: path.to_path_buf(),
            message: format!("{} bytes, over the {MAX_FILE}-byte limit", m.len()),
        }),
        Ok(_) => std::fs::read(path).map(Some).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

/// One package directory read.
struct PackageRead {
    package: Package,
    files: Vec<PackagedFile>,
    warnings: Vec<String>,
}

fn parse_error(path: &Path, (line, message): (usize, String)) -> DbError {
    DbError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn read_package(dir: &Path, conf: &PacmanConf) -> Result<PackageRead, DbError> {
    let mut warnings = Vec::new();
    let desc_path = dir.join("desc");
    let desc = read_capped(&desc_path)?.ok_or_else(|| DbError::Parse {
        path: desc_path.clone(),
        line: 0,
        message: "missing".into(),
    })?;
    let desc = desc::parse_sections(&desc).map_err(|e| parse_error(&desc_path, e))?;
    let first = |k: &str| {
        desc.get(k)
            .and_then(|v| v.first())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let name = first("NAME").ok_or_else(|| DbError::Parse {
        path: desc_path.clone(),
        line: 0,
        message: "no %NAME%".into(),
    })?;
    let (epoch, version, release) = desc::split_version(&first("VERSION").unwrap_or_default());
    let package = Package {
        name,
        epoch,
        version,
        release,
        arch: first("ARCH").unwrap_or_default(),
        state: "installed".into(),
    };

    let files_path = dir.join("files");
    let files = match read_capped(&files_path)? {
        Some(t) => desc::parse_sections(&t).map_err(|e| parse_error(&files_path, e))?,
        None => Default::default(),
    };
    let backup: Vec<Vec<u8>> = files
        .get("BACKUP")
        .into_iter()
        .flatten()
        .map(|l| l.split(|&c| c == b'\t').next().unwrap_or(l).to_vec())
        .collect();

    let mtree_path = dir.join("mtree");
    let entries = match read_capped(&mtree_path)? {
        Some(raw) => {
            let text = mtree::decompress(&raw).map_err(|m| DbError::Corrupt {
                path: mtree_path.clone(),
                message: m,
            })?;
            Some(mtree::parse(&text).map_err(|e| parse_error(&mtree_path, e))?)
        }
        None => None,
    };
    let mut out = Vec::new();
    let presence = |rel: &[u8]| {
        if conf.not_extracted(rel) {
            Presence::NotInstalled(NotInstalled::PacmanNoExtract)
        } else {
            Presence::Required
        }
    };
    match entries {
        Some(entries) => {
            for e in entries {
                if METADATA.contains(&e.path.as_slice()) || e.path.is_empty() {
                    continue;
                }
                let mut path = b"/".to_vec();
                path.extend_from_slice(&e.path);
                let type_bits = match e.kind.as_deref().unwrap_or("file") {
                    "dir" => libc::S_IFDIR,
                    "link" => libc::S_IFLNK,
                    _ => libc::S_IFREG,
                };
                let is_reg = type_bits == libc::S_IFREG;
                let digest = e
                    .sha256
                    .as_deref()
                    .and_then(|d| Digest::new(DigestAlgo::Sha256, d))
                    .or_else(|| {
                        e.md5
                            .as_deref()
                            .and_then(|d| Digest::new(DigestAlgo::Md5, d))
                    })
                    .filter(|_| is_reg);
                let expected = ExpectedAttrs {
                    mode: e.mode.map(|m| m | type_bits),
                    user: e.uid.map(UserRef::Id),
                    group: e.gid.map(UserRef::Id),
                    size: e.size.filter(|_| is_reg),
                    mtime: e.time.filter(|_| is_reg),
                    link_target: Some(e.link.clone().unwrap_or_default()),
                    ..ExpectedAttrs::default()
                };
                out.push(PackagedFile {
                    presence: presence(&e.path),
                    conffile: backup.contains(&e.path),
                    path,
                    owner: Owner::Package(0),
                    digest,
                    marker: None,
                    expected: expected.into(),
                });
            }
        }
        None => {
            warnings.push(format!(
                "{}: no mtree; only the %FILES% list is known (no content check)",
                dir.display()
            ));
            for rel in files.get("FILES").into_iter().flatten() {
                let trimmed = rel.strip_suffix(b"/").unwrap_or(rel);
                let mut path = b"/".to_vec();
                path.extend_from_slice(trimmed);
                out.push(PackagedFile {
                    presence: presence(trimmed),
                    conffile: backup.iter().any(|b| b == trimmed),
                    path,
                    owner: Owner::Package(0),
                    digest: None,
                    marker: None,
                    expected: Default::default(),
                });
            }
        }
    }
    Ok(PackageRead {
        package,
        files: out,
        warnings,
    })
}

impl PackageDb for PacmanDb {
    fn format(&self) -> DbFormat {
        DbFormat::Pacman
    }
    fn location(&self) -> &Path {
        &self.dbpath
    }
    fn lock_files(&self) -> Vec<PathBuf> {
        vec![self.dbpath.join("db.lck")]
    }
    fn read(&self, root: &RootFs) -> Result<DbContents, DbError> {
        let conf = load_conf(root);
        let local = root.host_path(self.dbpath.join("local").as_os_str().as_encoded_bytes());
        let mut warnings = Vec::new();
        match std::fs::read(local.join("ALPM_DB_VERSION")) {
            Ok(v) if String::from_utf8_lossy(&v).trim() == "9" => {}
            Ok(v) => warnings.push(format!(
                "{}: ALPM_DB_VERSION is {:?}, not 9; read as version 9",
                local.display(),
                String::from_utf8_lossy(&v).trim()
            )),
            Err(_) => warnings.push(format!(
                "{}: no ALPM_DB_VERSION (pacman would refuse this database); read as version 9",
                local.display()
            )),
        }
        let io = |source| DbError::Io {
            path: local.clone(),
            source,
        };
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&local)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        let read: Vec<Result<PackageRead, DbError>> =
            dirs.par_iter().map(|d| read_package(d, &conf)).collect();
        let mut out = DbContents::default();
        for (dir, r) in dirs.iter().zip(read) {
            match r {
                Ok(mut p) => {
                    let idx = u32::try_from(out.packages.len()).unwrap_or(u32::MAX);
                    for f in &mut p.files {
                        f.owner = Owner::Package(idx);
                    }
                    out.packages.push(p.package);
                    out.files.append(&mut p.files);
                    warnings.append(&mut p.warnings);
                }
                Err(e) => warnings.push(format!(
                    "{}: {e}; package skipped (its files are treated as unowned)",
                    dir.display()
                )),
            }
        }
        out.warnings = warnings;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
