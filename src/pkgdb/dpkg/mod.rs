//! dpkg (Debian, Ubuntu): `/var/lib/dpkg`, read directly — `status` plus the `updates/`
//! journal, `info/*.list`/`.md5sums`, conffile hashes, `diversions`, `statoverride`,
//! `alternatives/`, distroless `status.d/`, and the `path-exclude`/localepurge filters.
//! Format: `../shared/docs/package-databases.md` §2.

pub mod admin;
pub mod deb822;
pub mod info;
pub mod status;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    DbContents, DbError, DbFormat, Digest, ExpectedAttrs, Owner, Package, PackageDb, PackagedFile,
    Presence,
};
use crate::rootfs::RootFs;
use status::StatusEntry;

pub struct DpkgDb {
    admindir: PathBuf,
}

impl DpkgDb {
    pub fn detect(root: &RootFs) -> Option<DpkgDb> {
        let admindir = PathBuf::from("/var/lib/dpkg");
        let host = root.host_path(b"/var/lib/dpkg");
        (host.join("status").is_file() || host.join("status.d").is_dir())
            .then_some(DpkgDb { admindir })
    }
}

/// Split `[epoch:]upstream[-revision]`.
pub fn split_version(v: &str) -> (Option<u32>, String, Option<String>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().ok(), r)
        }
        _ => (None, v),
    };
    match rest.rsplit_once('-') {
        Some((up, rev)) => (epoch, up.to_string(), Some(rev.to_string())),
        None => (epoch, rest.to_string(), None),
    }
}

/// Paths and digests of one package, read from its info files.
struct PackageFiles {
    list: Vec<Vec<u8>>,
    md5: Vec<(Vec<u8>, [u8; 16])>,
    warnings: Vec<String>,
}

fn info_file(info: &Path, p: &StatusEntry, ext: &str) -> Option<PathBuf> {
    // Multi-Arch: same packages use `<pkg>:<arch>.*` (info/format 1); be lenient about both.
    let qualified = info.join(format!("{}:{}.{ext}", p.name, p.arch));
    if qualified.exists() {
        return Some(qualified);
    }
    let plain = info.join(format!("{}.{ext}", p.name));
    plain.exists().then_some(plain)
}

fn read_package_files(info: &Path, p: &StatusEntry) -> Result<PackageFiles, DbError> {
    let mut warnings = Vec::new();
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| DbError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let list = match info_file(info, p, "list") {
        Some(path) => info::parse_list(&read(&path)?),
        None => {
            if p.status_d_file.is_none() && p.state != "config-files" {
                warnings.push(format!("package {}:{} has no .list file", p.name, p.arch));
            }
            Vec::new()
        }
    };
    let md5_path = match &p.status_d_file {
        Some(f) => {
            let mut s = f.as_os_str().to_owned();
            s.push(".md5sums");
            Some(PathBuf::from(s)).filter(|p| p.exists())
        }
        None => info_file(info, p, "md5sums"),
    };
    let md5 = match md5_path {
        Some(path) => info::parse_md5sums(&path, &read(&path)?, &mut warnings),
        None => Vec::new(),
    };
    Ok(PackageFiles {
        list,
        md5,
        warnings,
    })
}

impl PackageDb for DpkgDb {
    fn format(&self) -> DbFormat {
        DbFormat::Dpkg
    }
    fn location(&self) -> &Path {
        &self.admindir
    }
    fn lock_files(&self) -> Vec<PathBuf> {
        vec![
            self.admindir.join("lock-frontend"),
            self.admindir.join("lock"),
        ]
    }

    fn read(&self, root: &RootFs) -> Result<DbContents, DbError> {
        let admin = root.host_path(self.admindir.as_os_str().as_encoded_bytes());
        let mut warnings = Vec::new();
        let entries = status::read(&admin, &mut warnings)?;
        let info_dir = admin.join("info");
        let per_pkg: Vec<Result<PackageFiles, DbError>> = entries
            .par_iter()
            .map(|p| read_package_files(&info_dir, p))
            .collect();
        let diversions = admin::read_opt(&admin.join("diversions"))
            .map(|t| admin::diversions(&t))
            .unwrap_or_default();
        let overrides = admin::read_opt(&admin.join("statoverride"))
            .map(|t| admin::statoverrides(&t))
            .unwrap_or_default();
        let filter = admin::PathFilter::load(root);

        let mut packages = Vec::with_capacity(entries.len());
        let mut files = Vec::new();
        for (idx, (p, pf)) in entries.iter().zip(per_pkg).enumerate() {
            let pf = pf?;
            warnings.extend(pf.warnings);
            let (epoch, version, release) = split_version(&p.version);
            packages.push(Package {
                name: p.name.clone(),
                epoch,
                version,
                release,
                arch: p.arch.clone(),
                state: p.state.clone(),
            });
            let owner = Owner::Package(u32::try_from(idx).unwrap_or(u32::MAX));
            let rc = p.state == "config-files";
            let md5: HashMap<&[u8], [u8; 16]> =
                pf.md5.iter().map(|(k, v)| (k.as_slice(), *v)).collect();
            let conf: HashMap<&[u8], (Option<[u8; 16]>, bool)> = p
                .conffiles
                .iter()
                .map(|(k, h, o)| (k.as_slice(), (*h, *o)))
                .collect();
            let mut listed: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
            let mut push =
                |path: &[u8], digest: Option<[u8; 16]>, conffile: bool, presence: Presence| {
                    // A path another package diverted really lives at the diversion target.
                    let real = match diversions.get(path) {
                        Some((to, by)) if by.as_deref() != Some(p.name.as_str()) => to.clone(),
                        _ => path.to_vec(),
                    };
                    let presence = match (presence, filter.not_installed(path)) {
                        (Presence::Required, Some(why)) => Presence::NotInstalled(why),
                        (pr, _) => pr,
                    };
                    let expected = match overrides.get(&real) {
                        Some((u, g, m)) => ExpectedAttrs {
                            mode: Some(*m),
                            user: Some(u.clone()),
                            group: Some(g.clone()),
                        },
                        None => ExpectedAttrs::default(),
                    };
                    files.push(PackagedFile {
                        path: real,
                        owner,
                        digest: digest.map(Digest::Md5),
                        conffile,
                        presence,
                        expected,
                    });
                };
            for path in &pf.list {
                let path = if path.as_slice() == b"/." {
                    &b"/"[..]
                } else {
                    path.as_slice()
                };
                listed.insert(path);
                let (digest, conffile, presence) = match conf.get(path) {
                    // Conffile hashes (what the maintainer shipped) win over md5sums.
                    Some((h, obsolete)) => (
                        h.or_else(|| md5.get(path).copied()),
                        true,
                        if *obsolete || rc {
                            Presence::Optional
                        } else {
                            Presence::Required
                        },
                    ),
                    None => (
                        md5.get(path).copied(),
                        false,
                        if rc {
                            Presence::Optional
                        } else {
                            Presence::Required
                        },
                    ),
                };
                push(path, digest, conffile, presence);
            }
            // md5sums entries without a .list line (distroless images ship no .list).
            for (path, h) in &pf.md5 {
                if listed.insert(path.as_slice()) {
                    let presence = if rc {
                        Presence::Optional
                    } else {
                        Presence::Required
                    };
                    push(path, Some(*h), conf.contains_key(path.as_slice()), presence);
                }
            }
            // Conffiles missing from the .list (obsolete ones, rc leftovers) still belong here.
            for (path, (h, _)) in &conf {
                if !listed.contains(path) {
                    push(path, *h, true, Presence::Optional);
                }
            }
        }
        // The alternatives system owns its links.
        if let Ok(rd) = std::fs::read_dir(admin.join("alternatives")) {
            let mut names: Vec<_> = rd.filter_map(|e| e.ok()).collect();
            names.sort_by_key(|e| e.file_name());
            for e in names {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(text) = std::fs::read(e.path()) else {
                    continue;
                };
                for link in admin::alternative_links(&name, &text) {
                    files.push(PackagedFile {
                        path: link,
                        owner: Owner::Alternatives,
                        digest: None,
                        conffile: false,
                        presence: Presence::Optional,
                        expected: ExpectedAttrs::default(),
                    });
                }
            }
        }
        Ok(DbContents {
            packages,
            files,
            warnings,
        })
    }
}

/// Entry point for fuzzing and tests: parse a status text into installed packages.
pub fn parse_status_bytes(text: &[u8]) -> Result<Vec<StatusEntry>, DbError> {
    let path = Path::new("status");
    let stanzas = deb822::parse(text).map_err(|e| DbError::Parse {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })?;
    let mut out = Vec::new();
    for s in &stanzas {
        if let Some(e) = status::entry(path, s, false)? {
            out.push(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
