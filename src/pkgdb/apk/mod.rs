//! apk (Alpine): `lib/apk/db/installed`, a text file of `X:value` lines, one blank-line
//! separated block per package (`../shared/docs/package-databases.md` §3). Files are `F:`
//! directories followed by their `R:` entries; `M:`/`a:` give modes and owners (defaults:
//! directories 0755, files 0644, root:root); `Z:` is the content digest — of the target
//! string for a symlink — as `Q1`/`Q2` base64 or `X1`/`X2` hex, and `f:S` packages store
//! SHA-256 truncated to 160 bits behind `Q1`.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::digest::decode_hex;
use super::{
    DbContents, DbError, DbFormat, Digest, DigestAlgo, ExpectedAttrs, Owner, Package, PackageDb,
    PackagedFile, Presence, UserRef,
};
use crate::rootfs::RootFs;

/// Where apk keeps its database (`usr/lib/apk/db` on newer layouts).
const DB_DIRS: [&str; 2] = ["/lib/apk/db", "/usr/lib/apk/db"];
/// An `installed` file larger than this is refused (a big Alpine host has a few MB).
const MAX_DB_BYTES: u64 = 512 << 20;
const MAX_LINE: usize = 1 << 20;

pub struct ApkDb {
    dir: PathBuf,
}

impl ApkDb {
    pub fn detect(root: &RootFs) -> Option<ApkDb> {
        DB_DIRS
            .iter()
            .find(|d| {
                root.host_path(format!("{d}/installed").as_bytes())
                    .is_file()
            })
            .map(|d| ApkDb {
                dir: PathBuf::from(d),
            })
    }
}

impl PackageDb for ApkDb {
    fn format(&self) -> DbFormat {
        DbFormat::Apk
    }
    fn location(&self) -> &Path {
        &self.dir
    }
    fn lock_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("lock")]
    }
    fn read(&self, root: &RootFs) -> Result<DbContents, DbError> {
        let path = root.host_path(self.dir.join("installed").as_os_str().as_encoded_bytes());
        let io = |source| DbError::Io {
            path: path.clone(),
            source,
        };
        let len = std::fs::metadata(&path).map_err(io)?.len();
        if len > MAX_DB_BYTES {
            return Err(DbError::Corrupt {
                path,
                message: format!("{len} bytes, over the {MAX_DB_BYTES}-byte limit"),
            });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        parse_installed(&bytes, &self.dir.join("installed"))
    }
}

/// A `Z:` value → digest. `sha256_truncated`: the package's `f:` flags contain `S`.
pub fn parse_digest(z: &[u8], sha256_truncated: bool) -> Option<Digest> {
    let (kind, rest) = (z.get(..2)?, z.get(2..)?);
    let raw = match kind {
        b"Q1" | b"Q2" => STANDARD.decode(rest).ok()?,
        b"X1" | b"X2" => decode_hex(rest)?,
        _ => return None,
    };
    match (kind, raw.len()) {
        (b"Q1" | b"X1", 20) if sha256_truncated => Digest::truncated(DigestAlgo::Sha256, &raw),
        (b"Q1" | b"X1", 20) => Digest::new(DigestAlgo::Sha1, &raw),
        // A 32-byte value behind Q1/X1 is promoted to SHA-256 (apk-tools blob.c).
        (_, 32) => Digest::new(DigestAlgo::Sha256, &raw),
        _ => None,
    }
}

/// `uid:gid:mode[:xattr-digest]` → expectations (permission bits only: apk has no type).
fn parse_acl(v: &[u8]) -> Option<(u32, u32, u32)> {
    let mut it = v.split(|&c| c == b':');
    let num =
        |b: Option<&[u8]>, radix| u32::from_str_radix(std::str::from_utf8(b?).ok()?, radix).ok();
    let uid = num(it.next(), 10)?;
    let gid = num(it.next(), 10)?;
    let mode = num(it.next(), 8)?;
    (mode <= 0o7777).then_some((uid, gid, mode))
}

/// A recorded path with apk's defaults (root:root, `mode`), owner fixed when the block ends.
fn record(path: Vec<u8>, mode: u32) -> (PackagedFile, Option<Vec<u8>>) {
    (
        PackagedFile {
            path,
            owner: Owner::Package(0),
            digest: None,
            conffile: false,
            marker: None,
            presence: Presence::Required,
            expected: expected((0, 0, mode)).into(),
        },
        None,
    )
}

fn expected(owner: (u32, u32, u32)) -> ExpectedAttrs {
    ExpectedAttrs {
        mode: Some(owner.2),
        user: Some(UserRef::Id(owner.0)),
        group: Some(UserRef::Id(owner.1)),
        symlink_digest: true,
        ..ExpectedAttrs::default()
    }
}

/// One package block being read.
#[derive(Default)]
struct Block {
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    flags: Vec<u8>,
    /// Files with their raw `Z:` value, decoded when the block ends (`f:` may come later).
    files: Vec<(PackagedFile, Option<Vec<u8>>)>,
    dir: Vec<u8>,
    /// Index in `files` of the current `F:` directory, and whether the last entry is an `R:`.
    dir_index: Option<usize>,
    last_is_file: bool,
    line: usize,
}

fn split_version(v: &str) -> (String, Option<String>) {
    match v.rsplit_once("-r") {
        Some((ver, rel)) if !rel.is_empty() && rel.bytes().all(|b| b.is_ascii_digit()) => {
            (ver.to_string(), Some(format!("r{rel}")))
        }
        _ => (v.to_string(), None),
    }
}

/// Parse a whole `installed` file. Never panics; errors name the file and line.
pub fn parse_installed(bytes: &[u8], path: &Path) -> Result<DbContents, DbError> {
    let err = |line: usize, message: String| DbError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut out = DbContents::default();
    let mut block = Block::default();
    let mut bad_digests = 0usize;
    let finish = |block: Block, out: &mut DbContents, bad: &mut usize| -> Result<(), DbError> {
        if block.name.is_none() && block.files.is_empty() && block.version.is_none() {
            return Ok(());
        }
        let name = block
            .name
            .ok_or_else(|| err(block.line, "package block without P: (name)".into()))?;
        let (version, release) = split_version(block.version.as_deref().unwrap_or(""));
        let idx = u32::try_from(out.packages.len()).unwrap_or(u32::MAX);
        out.packages.push(Package {
            name,
            epoch: None,
            version,
            release,
            arch: block.arch.unwrap_or_default(),
            state: "installed".into(),
        });
        let truncated = block.flags.contains(&b'S');
        for (mut f, z) in block.files {
            f.owner = Owner::Package(idx);
            if let Some(z) = z {
                f.digest = parse_digest(&z, truncated);
                if f.digest.is_none() {
                    *bad += 1;
                }
            }
            out.files.push(f);
        }
        Ok(())
    };
    for (i, raw) in bytes.split(|&c| c == b'\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > MAX_LINE {
            return Err(err(n, format!("line of {} bytes", line.len())));
        }
        if line.is_empty() {
            finish(std::mem::take(&mut block), &mut out, &mut bad_digests)?;
            continue;
        }
        if block.line == 0 {
            block.line = n;
        }
        let (key, value) = match line {
            [k, b':', v @ ..] => (*k, v),
            _ => return Err(err(n, "not a `X:value` line".into())),
        };
        let text = || String::from_utf8_lossy(value).into_owned();
        match key {
            b'P' => block.name = Some(text()),
            b'V' => block.version = Some(text()),
            b'A' => block.arch = Some(text()),
            b'f' => block.flags = value.to_vec(),
            b'F' => {
                block.dir = value.strip_suffix(b"/").unwrap_or(value).to_vec();
                let mut p = b"/".to_vec();
                p.extend_from_slice(&block.dir);
                block.dir_index = Some(block.files.len());
                block.last_is_file = false;
                block.files.push(record(p, 0o755));
            }
            b'M' => {
                let acl = parse_acl(value).ok_or_else(|| err(n, "bad M: line".into()))?;
                match block.dir_index.and_then(|i| block.files.get_mut(i)) {
                    Some((dir, _)) => dir.expected = expected(acl).into(),
                    None => return Err(err(n, "M: before any F:".into())),
                }
            }
            b'R' => {
                if value.is_empty() || value.contains(&b'/') {
                    return Err(err(n, "R: is not a file name".into()));
                }
                let mut p = b"/".to_vec();
                if !block.dir.is_empty() {
                    p.extend_from_slice(&block.dir);
                    p.push(b'/');
                }
                p.extend_from_slice(value);
                block.last_is_file = true;
                block.files.push(record(p, 0o644));
            }
            b'a' => {
                let acl = parse_acl(value).ok_or_else(|| err(n, "bad a: line".into()))?;
                match block.files.last_mut() {
                    Some((f, _)) if block.last_is_file => f.expected = expected(acl).into(),
                    _ => return Err(err(n, "a: without an R:".into())),
                }
            }
            b'Z' => match block.files.last_mut() {
                Some((_, z)) if block.last_is_file => *z = Some(value.to_vec()),
                _ => return Err(err(n, "Z: without an R:".into())),
            },
            // Everything else describes the package, not its files.
            _ => {}
        }
    }
    finish(block, &mut out, &mut bad_digests)?;
    if bad_digests > 0 {
        out.warnings.push(format!(
            "{}: {bad_digests} Z: digests in an unknown form; those files' content is not checked",
            path.display()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
