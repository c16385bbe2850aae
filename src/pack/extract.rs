//! `livescan extract FILE --to DIR`: restore an export's overlay like `tar -xp --xattrs
//! --acls` would, but refusing every member that would land outside DIR: absolute names,
//! `..` components, paths through a symlink (one the archive itself created, or one already
//! in DIR), and hardlinks to anything outside. Directory modes and times are set last, so a
//! read-only directory can still be filled.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::container;
use super::tar_reader::{MemberHeader, TarReader};

#[derive(Debug, Default)]
pub struct Extracted {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub bytes: u64,
    /// Members not restored, and why (escapes, unsupported types, attribute failures).
    pub refused: Vec<(Vec<u8>, String)>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Container(#[from] container::ContainerError),
    #[error(transparent)]
    Tar(#[from] super::tar_reader::TarError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The member path made safe: relative, no `.`/`..`/empty components. `None` if it tries
/// to leave the target.
pub fn safe_relative(path: &[u8]) -> Option<PathBuf> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    if trimmed.is_empty() || trimmed.starts_with(b"/") {
        return None;
    }
    let mut out = PathBuf::new();
    for c in trimmed.split(|&b| b == b'/') {
        match c {
            b"" | b"." => continue,
            b".." => return None,
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// No component of `rel`'s parent inside `dir` may be a symlink (or anything but a
/// directory): create missing ones as plain directories.
fn prepare_parent(dir: &Path, rel: &Path) -> Result<(), String> {
    let mut cur = dir.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(format!(
                        "{} is not a directory (a symlink there could lead outside)",
                        cur.display()
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&cur).map_err(|e| format!("{}: {e}", cur.display()))?;
                }
                Err(e) => return Err(format!("{}: {e}", cur.display())),
            }
        }
    }
    Ok(())
}

fn c_path(p: &Path) -> std::io::Result<CString> {
    Ok(CString::new(p.as_os_str().as_bytes())?)
}

/// ACL text (`user::rw-,user:1000:r--,…`, numeric ids) → the kernel xattr value.
pub fn acl_from_text(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut out = 2u32.to_le_bytes().to_vec();
    for entry in text.split([',', '\n']).filter(|e| !e.is_empty()) {
        let mut parts = entry.split(':');
        let (kind, qual, perm) = (parts.next()?, parts.next()?, parts.next()?);
        let tag: u16 = match (kind, qual.is_empty()) {
            ("user" | "u", true) => 0x01,
            ("user" | "u", false) => 0x02,
            ("group" | "g", true) => 0x04,
            ("group" | "g", false) => 0x08,
            ("mask" | "m", _) => 0x10,
            ("other" | "o", _) => 0x20,
            _ => return None,
        };
        let id: u32 = if qual.is_empty() {
            u32::MAX
        } else {
            qual.parse().ok()?
        };
        let mut p = 0u16;
        for (c, bit) in perm.chars().zip([4u16, 2, 1]) {
            if c != '-' {
                p |= bit;
            }
        }
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    let p = c_path(path)?;
    let n = CString::new(name)?;
    // SAFETY: valid NUL-terminated strings and a buffer of value.len() bytes.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn parse_mtime(h: &MemberHeader, fallback: i64) -> (i64, i64) {
    let Some(v) = h
        .pax
        .get("mtime")
        .and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
    else {
        return (fallback, 0);
    };
    let (sec, frac) = v.split_once('.').unwrap_or((&v, ""));
    let sec: i64 = sec.parse().unwrap_or(fallback);
    let mut ns = String::from(frac);
    ns.truncate(9);
    while ns.len() < 9 {
        ns.push('0');
    }
    let mut nsec: i64 = ns.parse().unwrap_or(0);
    if sec < 0 && nsec > 0 && v.starts_with('-') {
        // "-1.5" is 1.5 s before the epoch.
        nsec = 1_000_000_000 - nsec;
        return (sec - 1, nsec);
    }
    (sec, nsec)
}

fn set_times(path: &Path, sec: i64, nsec: i64) -> std::io::Result<()> {
    let p = c_path(path)?;
    let ts = [
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    ];
    // SAFETY: a valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Owner, xattrs/ACLs, mode, times — in that order (chown clears setuid bits).
fn apply_attrs(
    path: &Path,
    h: &MemberHeader,
    is_link: bool,
    mtime: (i64, i64),
    warnings: &mut Vec<String>,
) {
    let uid = u32::try_from(h.uid).unwrap_or(u32::MAX);
    let gid = u32::try_from(h.gid).unwrap_or(u32::MAX);
    if let Err(e) = std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        if nix::unistd::geteuid().is_root() {
            warnings.push(format!("{}: chown: {e}", path.display()));
        }
    }
    for (k, v) in &h.pax {
        let r = if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
            set_xattr(path, name, v)
        } else if k == "SCHILY.acl.access" || k == "SCHILY.acl.default" {
            let name = if k.ends_with("access") {
                "system.posix_acl_access"
            } else {
                "system.posix_acl_default"
            };
            match acl_from_text(v) {
                Some(bin) => set_xattr(path, name, &bin),
                None => Err(std::io::Error::other("unreadable ACL text")),
            }
        } else {
            continue;
        };
        if let Err(e) = r {
            warnings.push(format!("{}: {k}: {e}", path.display()));
        }
    }
    if !is_link {
        if let Err(e) =
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(h.mode & 0o7777))
        {
            warnings.push(format!("{}: chmod: {e}", path.display()));
        }
    }
    if let Err(e) = set_times(path, mtime.0, mtime.1) {
        warnings.push(format!("{}: times: {e}", path.display()));
    }
}

/// Write a regular member's data: dense, or a PAX 1.0 sparse map followed by its runs.
fn write_regular<R: Read>(
    tar: &mut TarReader<R>,
    h: &MemberHeader,
    file: &mut File,
) -> Result<u64, ExtractError> {
    let sparse = h.pax.get("GNU.sparse.major").map(|v| v.as_slice()) == Some(b"1");
    if !sparse {
        let mut err = None;
        tar.data(h.size, |b| {
            if err.is_none() {
                if let Err(e) = file.write_all(b) {
                    err = Some(e);
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
        return Ok(h.size);
    }
    let realsize: u64 = h
        .pax
        .get("GNU.sparse.realsize")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0);
    let mut map_text = Vec::new();
    let mut runs: Option<Vec<(u64, u64)>> = None;
    let (mut run_idx, mut run_done) = (0usize, 0u64);
    let mut err: Option<std::io::Error> = None;
    tar.data(h.size, |b| {
        if err.is_some() {
            return;
        }
        if let Some(r) = &runs {
            write_runs(file, r, &mut run_idx, &mut run_done, b, &mut err);
            return;
        }
        map_text.extend_from_slice(b);
        match parse_sparse_map(&map_text) {
            Ok(Some((r, map_len))) => {
                let rest = map_text[map_len..].to_vec();
                write_runs(file, &r, &mut run_idx, &mut run_done, &rest, &mut err);
                runs = Some(r);
            }
            Ok(None) => {}
            Err(e) => err = Some(std::io::Error::other(e)),
        }
    })?;
    if let Some(e) = err {
        return Err(e.into());
    }
    if runs.is_none() {
        return Err(std::io::Error::other("sparse member without a complete map").into());
    }
    file.set_len(realsize)?;
    Ok(realsize)
}

/// A PAX 1.0 sparse map at the start of `text`: `(runs, bytes the padded map takes)`, or
/// `None` while incomplete.
/// Data runs `(offset, length)` of a sparse member, and the bytes its padded map takes.
type SparseMap = (Vec<(u64, u64)>, usize);

fn parse_sparse_map(text: &[u8]) -> Result<Option<SparseMap>, String> {
    const MAX_RUNS: usize = 1 << 20;
    let mut lines = text.split(|&c| c == b'\n');
    let num = |l: Option<&[u8]>| -> Option<u64> { std::str::from_utf8(l?).ok()?.parse().ok() };
    let Some(first) = text.iter().position(|&c| c == b'\n') else {
        return if text.len() > 32 {
            Err("bad sparse map".into())
        } else {
            Ok(None)
        };
    };
    let n = num(lines.next()).ok_or("bad sparse map count")?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_RUNS)
        .ok_or("sparse map too long")?;
    let newlines = text.iter().filter(|&&c| c == b'\n').count();
    if newlines < 1 + 2 * n {
        return Ok(None);
    }
    let mut runs = Vec::with_capacity(n);
    let mut text_len = first + 1;
    for _ in 0..n {
        let (o, l) = (lines.next(), lines.next());
        text_len += o.map_or(0, |x| x.len() + 1) + l.map_or(0, |x| x.len() + 1);
        match (num(o), num(l)) {
            (Some(o), Some(l)) => runs.push((o, l)),
            _ => return Err("bad sparse map entry".into()),
        }
    }
    let padded = text_len.div_ceil(512) * 512;
    if text.len() < padded {
        return Ok(None);
    }
    Ok(Some((runs, padded)))
}

fn write_runs(
    file: &mut File,
    runs: &[(u64, u64)],
    idx: &mut usize,
    done: &mut u64,
    mut data: &[u8],
    err: &mut Option<std::io::Error>,
) {
    use std::os::unix::fs::FileExt;
    while !data.is_empty() && *idx < runs.len() {
        let (off, len) = runs[*idx];
        let take = usize::try_from((len - *done).min(data.len() as u64)).unwrap_or(0);
        if take > 0 {
            if let Err(e) = file.write_all_at(&data[..take], off + *done) {
                *err = Some(e);
                return;
            }
        }
        *done += take as u64;
        data = &data[take..];
        if *done == len {
            *idx += 1;
            *done = 0;
        }
    }
}

pub fn extract(file: &Path, to: &Path) -> Result<Extracted, ExtractError> {
    let mut f = super::parts::open(file)?;
    // A file without a valid trailer is not extracted at all: it may be cut short.
    container::read_trailer(&mut f)?;
    f.seek(std::io::SeekFrom::Start(0))?;
    std::fs::create_dir_all(to)?;
    let mut out = Extracted::default();
    // The zstd decoder passes over the skippable sections: what remains is the tar stream.
    let dec = zstd::stream::read::Decoder::new(f)?;
    let mut tar = TarReader::new(dec);
    let mut dir_attrs: BTreeMap<PathBuf, (MemberHeader, (i64, i64))> = BTreeMap::new();
    while let Some(h) = tar.next_header()? {
        let data_size = if h.typeflag == b'0' || h.typeflag == 0 {
            h.size
        } else {
            0
        };
        let Some(rel) = safe_relative(&h.path) else {
            out.refused
                .push((h.path.clone(), "leaves the target directory".into()));
            tar.data(data_size, |_| {})?;
            continue;
        };
        if let Err(why) = prepare_parent(to, &rel) {
            out.refused.push((h.path.clone(), why));
            tar.data(data_size, |_| {})?;
            continue;
        }
        let dest = to.join(&rel);
        let mtime = parse_mtime(&h, 0);
        match h.typeflag {
            b'5' => {
                match std::fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        out.refused
                            .push((h.path.clone(), "exists and is not a directory".into()));
                        continue;
                    }
                    Err(_) => std::fs::create_dir(&dest)?,
                }
                // Writable while we fill it; its own attributes at the end.
                let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o700));
                dir_attrs.insert(dest, (h, mtime));
                out.dirs += 1;
            }
            b'0' | 0 => {
                let _ = std::fs::remove_file(&dest);
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&dest)?;
                out.bytes += write_regular(&mut tar, &h, &mut file)?;
                drop(file);
                apply_attrs(&dest, &h, false, mtime, &mut out.warnings);
                out.files += 1;
            }
            b'2' => {
                let _ = std::fs::remove_file(&dest);
                std::os::unix::fs::symlink(OsStr::from_bytes(&h.link), &dest)?;
                apply_attrs(&dest, &h, true, mtime, &mut out.warnings);
                out.symlinks += 1;
            }
            b'1' => {
                let Some(target_rel) = safe_relative(&h.link) else {
                    out.refused
                        .push((h.path.clone(), "hardlink to outside the target".into()));
                    continue;
                };
                if let Err(why) = prepare_parent(to, &target_rel) {
                    out.refused.push((h.path.clone(), why));
                    continue;
                }
                let target = to.join(&target_rel);
                match std::fs::symlink_metadata(&target) {
                    Ok(m) if m.is_file() => {
                        let _ = std::fs::remove_file(&dest);
                        std::fs::hard_link(&target, &dest)?;
                        out.hardlinks += 1;
                    }
                    _ => out.refused.push((
                        h.path.clone(),
                        "hardlink target is not a file extracted here".into(),
                    )),
                }
            }
            other => {
                out.refused.push((
                    h.path.clone(),
                    format!("member type {:?} not restored", other as char),
                ));
                tar.data(h.size, |_| {})?;
            }
        }
    }
    // Deepest first, so setting a parent's mtime comes after its children changed it.
    for (dest, (h, mtime)) in dir_attrs.iter().rev() {
        apply_attrs(dest, h, false, *mtime, &mut out.warnings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        assert_eq!(safe_relative(b"etc/x"), Some(PathBuf::from("etc/x")));
        assert_eq!(safe_relative(b"./etc//x/"), Some(PathBuf::from("etc/x")));
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"a/../../x",
            b"",
            b".",
            b"a/..",
        ] {
            assert_eq!(
                safe_relative(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn acl_text_round_trips_through_the_pack_side() {
        let text = b"user::rw-,user:1000:r--,group::r-x,mask::r-x,other::r--";
        let bin = acl_from_text(text).unwrap();
        assert_eq!(super::super::acl::to_text(&bin).unwrap().as_bytes(), text);
        assert_eq!(acl_from_text(b"bogus::rwx"), None);
    }

    /// An export crafted by hand with every escape trick; only the honest member lands.
    #[test]
    fn hostile_members_are_refused() {
        use super::super::container::{self, Span, Trailer};
        use super::super::tar_header::{encode, padding, EntryType, Member, END};
        let member = |path: &[u8], kind: EntryType, link: Option<&[u8]>, data: &[u8]| {
            let m = Member {
                path: path.to_vec(),
                kind: Some(kind),
                mode: 0o644,
                size: data.len() as u64,
                link: link.map(<[u8]>::to_vec),
                ..Member::default()
            };
            let mut v = encode(&m);
            v.extend_from_slice(data);
            v.resize(v.len() + padding(data.len() as u64), 0);
            v
        };
        let mut tar = Vec::new();
        tar.extend(member(b"../evil", EntryType::Regular, None, b"x"));
        tar.extend(member(b"/abs", EntryType::Regular, None, b"x"));
        tar.extend(member(b"lnk", EntryType::Symlink, Some(b"/tmp"), b""));
        tar.extend(member(b"lnk/through", EntryType::Regular, None, b"x"));
        tar.extend(member(
            b"hl",
            EntryType::HardLink,
            Some(b"../../etc/passwd"),
            b"",
        ));
        tar.extend(member(b"ok/f", EntryType::Regular, None, b"honest"));
        tar.extend(END);
        let report = container::skippable(
            container::TAG_REPORT,
            &zstd::bulk::compress(b"{}", 3).unwrap(),
        )
        .unwrap();
        let mut file = report.clone();
        file.extend(zstd::bulk::compress(&tar, 3).unwrap());
        let trailer_off = file.len() as u64;
        let t = Trailer {
            format: container::FORMAT.into(),
            version: container::VERSION,
            report: Span {
                offset: 0,
                length: report.len() as u64,
            },
            ..Trailer::default()
        };
        file.extend(
            container::skippable(container::TAG_TRAILER, &serde_json::to_vec(&t).unwrap()).unwrap(),
        );
        file.extend(container::footer(trailer_off).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("hostile.lsx");
        std::fs::write(&export, &file).unwrap();
        let to = dir.path().join("out");
        let r = extract(&export, &to).unwrap();
        let refused: Vec<String> = r
            .refused
            .iter()
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(refused, ["../evil", "/abs", "lnk/through", "hl"]);
        assert_eq!(std::fs::read(to.join("ok/f")).unwrap(), b"honest");
        assert!(!dir.path().join("evil").exists());
        assert!(!Path::new("/tmp/through").exists());
        assert_eq!(r.files, 1);
        assert_eq!(r.symlinks, 1);
    }

    #[test]
    fn symlinked_parent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("evil")).unwrap();
        assert!(prepare_parent(dir.path(), Path::new("evil/passwd")).is_err());
        assert!(prepare_parent(dir.path(), Path::new("fine/x")).is_ok());
        assert!(dir.path().join("fine").is_dir());
    }
}
