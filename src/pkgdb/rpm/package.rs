//! One rpm header → the package and its files, with what `rpm -V` would check on each
//! (lib/verify.cc rules, `../shared/docs/package-databases.md` §1e): file states, ghost and
//! missingok files, `%verify` masks, and the package's digest algorithm.

use std::collections::HashMap;
use std::sync::Arc;

use super::header::{tag, Header};
use crate::pkgdb::{
    Digest, DigestAlgo, ExpectedAttrs, Marker, NotInstalled, Owner, Package, PackagedFile,
    Presence, UserRef,
};

/// FILEFLAGS bits.
mod fflag {
    pub const CONFIG: u64 = 1;
    pub const DOC: u64 = 2;
    pub const MISSINGOK: u64 = 8;
    pub const GHOST: u64 = 64;
    pub const LICENSE: u64 = 128;
    pub const README: u64 = 256;
}

/// FILEVERIFYFLAGS bits (`%verify`).
mod vflag {
    pub const DIGEST: u64 = 1;
    pub const SIZE: u64 = 2;
    pub const LINKTO: u64 = 4;
    pub const USER: u64 = 8;
    pub const GROUP: u64 = 16;
    pub const MTIME: u64 = 32;
    pub const MODE: u64 = 64;
    pub const RDEV: u64 = 128;
    pub const CAPS: u64 = 256;
    pub const ALL: u64 = 0xffff_ffff;
}

/// FILESTATES values.
mod fstate {
    pub const REPLACED: u64 = 1;
    pub const NOT_INSTALLED: u64 = 2;
    pub const NETSHARED: u64 = 3;
    pub const WRONG_COLOR: u64 = 4;
}

/// Strings repeated on every file (user and group names, empty caps), stored once.
#[derive(Default)]
pub struct Interner(HashMap<Vec<u8>, Arc<str>>);

impl Interner {
    pub fn get(&mut self, s: &[u8]) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = String::from_utf8_lossy(s).into();
        self.0.insert(s.to_vec(), a.clone());
        a
    }
}

/// What one header yields. Problems with single files or tags are warnings: the package and
/// the rest of its files still count (a file we cannot attribute is reported as added, so it
/// is packed, never lost).
pub struct PackageRead {
    pub package: Package,
    pub files: Vec<PackagedFile>,
    pub warnings: Vec<String>,
}

fn lossy(b: Option<&[u8]>) -> String {
    b.map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default()
}

/// rpm's query-format name for a package: `name-[epoch:]version-release.arch`.
pub fn nevra(p: &Package) -> String {
    let epoch = p.epoch.map(|e| format!("{e}:")).unwrap_or_default();
    let release = p.release.as_deref().unwrap_or("");
    format!("{}-{epoch}{}-{release}.{}", p.name, p.version, p.arch)
}

pub fn package_from_header(
    h: &Header,
    owner_index: u32,
    names: &mut Interner,
) -> Result<PackageRead, String> {
    let name = h.string(tag::NAME).ok_or("no NAME tag")?;
    let package = Package {
        name: lossy(Some(name)),
        epoch: h.int(tag::EPOCH).and_then(|e| u32::try_from(e).ok()),
        version: lossy(h.string(tag::VERSION)),
        release: h.string(tag::RELEASE).map(|r| lossy(Some(r))),
        // gpg-pubkey pseudo-packages have no ARCH; rpm prints "(none)".
        arch: h
            .string(tag::ARCH)
            .map_or_else(|| "(none)".to_string(), |a| lossy(Some(a))),
        state: "installed".to_string(),
    };
    let mut warnings = Vec::new();
    let files = match file_list(h, owner_index, names, &mut warnings) {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!(
                "{}: file list unreadable ({e}); its files are treated as unowned",
                nevra(&package)
            ));
            Vec::new()
        }
    };
    let warnings = warnings
        .into_iter()
        .map(|w| {
            if w.starts_with(&package.name) {
                w
            } else {
                format!("{}: {w}", nevra(&package))
            }
        })
        .collect();
    Ok(PackageRead {
        package,
        files,
        warnings,
    })
}

/// Per-file arrays, each checked to have one element per file (a shorter array would
/// attribute attributes to the wrong files).
struct Arrays<'a> {
    n: usize,
    h: &'a Header<'a>,
}

impl<'a> Arrays<'a> {
    fn ints(&self, t: u32) -> Result<Option<Vec<u64>>, String> {
        match self.h.ints(t) {
            Some(v) if v.len() != self.n => Err(format!(
                "tag {t} has {} elements for {} files",
                v.len(),
                self.n
            )),
            v => Ok(v),
        }
    }
    fn strings(&self, t: u32) -> Result<Option<Vec<&'a [u8]>>, String> {
        match self.h.string_array(t) {
            Some(v) if v.len() != self.n => Err(format!(
                "tag {t} has {} elements for {} files",
                v.len(),
                self.n
            )),
            v => Ok(v),
        }
    }
}

fn file_paths(h: &Header) -> Result<Vec<Vec<u8>>, String> {
    if let Some(base) = h.string_array(tag::BASENAMES) {
        let dirs = h
            .string_array(tag::DIRNAMES)
            .ok_or("BASENAMES without DIRNAMES")?;
        let idx = h
            .ints(tag::DIRINDEXES)
            .ok_or("BASENAMES without DIRINDEXES")?;
        if idx.len() != base.len() {
            return Err(format!(
                "{} DIRINDEXES for {} BASENAMES",
                idx.len(),
                base.len()
            ));
        }
        base.iter()
            .zip(&idx)
            .map(|(b, &i)| {
                let d = usize::try_from(i)
                    .ok()
                    .and_then(|i| dirs.get(i))
                    .ok_or_else(|| format!("dir index {i} out of range ({} dirs)", dirs.len()))?;
                let mut p = Vec::with_capacity(d.len() + b.len());
                p.extend_from_slice(d);
                p.extend_from_slice(b);
                Ok(p)
            })
            .collect()
    } else if let Some(old) = h.string_array(tag::OLDFILENAMES) {
        Ok(old.into_iter().map(<[u8]>::to_vec).collect())
    } else {
        Ok(Vec::new())
    }
}

/// Everything a header records about one file, before any rule is applied (what
/// `rpm -q --qf '[%{FILENAMES} %{FILEMODES} …]'` prints; tests compare the two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile<'a> {
    pub path: Vec<u8>,
    pub size: Option<u64>,
    pub mode: Option<u64>,
    pub rdev: Option<u64>,
    pub mtime: Option<u64>,
    /// Hex, as stored ("" for non-regular files and ghosts).
    pub digest: Option<&'a [u8]>,
    pub link_target: Option<&'a [u8]>,
    pub flags: u64,
    pub user: Option<&'a [u8]>,
    pub group: Option<&'a [u8]>,
    pub verify_flags: u64,
    /// `None` when the package has no FILESTATES (rpm: "missing").
    pub state: Option<u64>,
    pub caps: Option<&'a [u8]>,
}

/// The package's file digest algorithm (FILEDIGESTALGO; absent ⇒ MD5, unknown ⇒ MD5 with a
/// warning, as rpm does).
pub fn digest_algo(h: &Header, warnings: &mut Vec<String>) -> DigestAlgo {
    match h.int(tag::FILEDIGESTALGO) {
        None => DigestAlgo::Md5,
        Some(id) => DigestAlgo::from_rpm(id).unwrap_or_else(|| {
            warnings.push(format!(
                "unknown FILEDIGESTALGO {id}; digests read as MD5, as rpm does"
            ));
            DigestAlgo::Md5
        }),
    }
}

/// Every file of a header, raw. Arrays must have one element per file.
pub fn raw_files<'a>(h: &'a Header<'a>) -> Result<Vec<RawFile<'a>>, String> {
    let paths = file_paths(h)?;
    let n = paths.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let a = Arrays { n, h };
    let sizes = match a.ints(tag::LONGFILESIZES)? {
        Some(v) => Some(v),
        None => a.ints(tag::FILESIZES)?,
    };
    let modes = a.ints(tag::FILEMODES)?;
    let rdevs = a.ints(tag::FILERDEVS)?;
    let mtimes = a.ints(tag::FILEMTIMES)?;
    let digests = a.strings(tag::FILEDIGESTS)?;
    let links = a.strings(tag::FILELINKTOS)?;
    let flags = a.ints(tag::FILEFLAGS)?;
    let users = a.strings(tag::FILEUSERNAME)?;
    let groups = a.strings(tag::FILEGROUPNAME)?;
    let vflags = a.ints(tag::FILEVERIFYFLAGS)?;
    let states = a.ints(tag::FILESTATES)?;
    let caps = a.strings(tag::FILECAPS)?;
    let at = |v: &Option<Vec<u64>>, i: usize| v.as_ref().and_then(|v| v.get(i)).copied();
    fn str_at<'b>(v: &Option<Vec<&'b [u8]>>, i: usize) -> Option<&'b [u8]> {
        v.as_ref().and_then(|v| v.get(i)).copied()
    }
    Ok(paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| RawFile {
            path,
            size: at(&sizes, i),
            mode: at(&modes, i),
            rdev: at(&rdevs, i),
            mtime: at(&mtimes, i),
            digest: str_at(&digests, i),
            link_target: str_at(&links, i),
            flags: at(&flags, i).unwrap_or(0),
            user: str_at(&users, i),
            group: str_at(&groups, i),
            verify_flags: at(&vflags, i).unwrap_or(vflag::ALL),
            state: at(&states, i),
            caps: str_at(&caps, i),
        })
        .collect())
}

fn marker_of(fflags: u64) -> Option<Marker> {
    // rpm -V prints one letter, in this priority.
    [
        (fflag::CONFIG, Marker::Config),
        (fflag::DOC, Marker::Doc),
        (fflag::GHOST, Marker::Ghost),
        (fflag::LICENSE, Marker::License),
        (fflag::README, Marker::Readme),
    ]
    .into_iter()
    .find(|(bit, _)| fflags & bit != 0)
    .map(|(_, m)| m)
}

fn file_list(
    h: &Header,
    owner_index: u32,
    names: &mut Interner,
    warnings: &mut Vec<String>,
) -> Result<Vec<PackagedFile>, String> {
    let raw = raw_files(h)?;
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let algo = digest_algo(h, warnings);
    let no_caps = names.get(b"");
    let mut out = Vec::with_capacity(raw.len());
    let mut bad_digests = 0usize;
    for f in raw {
        if !f.path.starts_with(b"/") {
            warnings.push(format!(
                "file path {:?} is not absolute; ignored",
                String::from_utf8_lossy(&f.path)
            ));
            continue;
        }
        let ghost = f.flags & fflag::GHOST != 0;
        let mut verify = f.verify_flags;
        let mut presence = if ghost || f.flags & fflag::MISSINGOK != 0 {
            Presence::Optional
        } else {
            Presence::Required
        };
        match f.state {
            Some(fstate::NOT_INSTALLED) => {
                presence = Presence::NotInstalled(NotInstalled::RpmNotInstalled);
                verify = 0;
            }
            Some(fstate::NETSHARED) => {
                presence = Presence::NotInstalled(NotInstalled::RpmNetshared);
                verify = 0;
            }
            // Replaced by another package's copy: rpm checks only that it exists.
            Some(fstate::REPLACED) => verify = 0,
            Some(fstate::WRONG_COLOR) => {
                verify &= !(vflag::DIGEST | vflag::SIZE | vflag::MTIME | vflag::RDEV)
            }
            _ => {}
        }
        if ghost {
            // rpm never wrote a ghost's content.
            verify &= !(vflag::DIGEST | vflag::SIZE | vflag::MTIME | vflag::LINKTO);
        }
        let want = |bit: u64| verify & bit != 0;
        let mode = f.mode.and_then(|m| u32::try_from(m).ok());
        let digest = match f.digest.filter(|d| !d.is_empty() && want(vflag::DIGEST)) {
            Some(hex) => {
                let d = Digest::from_hex(algo, hex);
                if d.is_none() {
                    bad_digests += 1;
                }
                d
            }
            None => None,
        };
        let expected = ExpectedAttrs {
            // A ghost's type is not checked: rpm never created it.
            mode: mode
                .filter(|_| want(vflag::MODE))
                .map(|m| if ghost { m & 0o7777 } else { m }),
            user: f
                .user
                .filter(|_| want(vflag::USER))
                .map(|u| UserRef::Name(names.get(u))),
            group: f
                .group
                .filter(|_| want(vflag::GROUP))
                .map(|g| UserRef::Name(names.get(g))),
            size: f.size.filter(|_| want(vflag::SIZE)),
            mtime: f
                .mtime
                .filter(|_| want(vflag::MTIME))
                .and_then(|t| i64::try_from(t).ok()),
            link_target: f
                .link_target
                .filter(|_| want(vflag::LINKTO))
                .map(<[u8]>::to_vec),
            rdev: f
                .rdev
                .filter(|_| want(vflag::RDEV) && mode.is_some())
                .and_then(|r| u32::try_from(r).ok()),
            // rpm compares every regular file's capabilities; no FILECAPS means "none".
            caps: want(vflag::CAPS).then(|| {
                f.caps
                    .filter(|c| !c.is_empty())
                    .map_or_else(|| no_caps.clone(), |c| names.get(c))
            }),
            acl_is_mode_change: want(vflag::MODE),
            symlink_digest: false,
        };
        out.push(PackagedFile {
            path: f.path,
            owner: Owner::Package(owner_index),
            digest,
            conffile: f.flags & fflag::CONFIG != 0,
            marker: marker_of(f.flags),
            presence,
            expected: expected.into(),
        });
    }
    if bad_digests > 0 {
        warnings.push(format!(
            "{bad_digests} file digests are not {} hex; those files' content is not checked",
            algo.name()
        ));
    }
    Ok(out)
}
