//! Prelinked ELF files (RHEL 5–7, old Fedora): prelink rewrites installed binaries and
//! libraries in place, so their size and digest no longer match the package even though
//! nothing was changed. rpm -V undoes prelink (`prelink -y FILE` prints the original) before
//! hashing; so do we. A prelinked file carries a `.gnu.prelink_undo` section, which is how
//! we recognise one without trusting `/etc/prelink.cache` to be current.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::digest::{Computed, MultiHasher};
use crate::pkgdb::digest::AlgoSet;
use crate::rootfs::RootFs;

/// Bounds for hostile ELF headers.
const MAX_SECTIONS: u64 = 1 << 16;
const MAX_SHSTRTAB: u64 = 1 << 20;
const UNDO_SECTION: &[u8] = b".gnu.prelink_undo";

/// Whether the scanned root uses prelink, and how to undo it.
#[derive(Debug, Clone)]
pub struct Prelink {
    /// The root's own `prelink` binary, usable only when the root is the running host (it
    /// must run against the host's libraries).
    pub undo_cmd: Option<PathBuf>,
}

impl Prelink {
    /// `None` when the root shows no sign of prelink: then no file is examined.
    pub fn detect(root: &RootFs) -> Option<Prelink> {
        let binary = ["/usr/sbin/prelink", "/sbin/prelink"]
            .into_iter()
            .map(|p| root.host_path(p.as_bytes()))
            .find(|p| p.is_file());
        let cache = root.host_path(b"/etc/prelink.cache").exists();
        if binary.is_none() && !cache {
            return None;
        }
        Some(Prelink {
            undo_cmd: binary.filter(|_| root.is_host_root()),
        })
    }
}

fn read_uint(b: &[u8], little: bool) -> u64 {
    let mut v = 0u64;
    if little {
        for &x in b.iter().rev() {
            v = v << 8 | u64::from(x);
        }
    } else {
        for &x in b {
            v = v << 8 | u64::from(x);
        }
    }
    v
}

/// Does the ELF file at `path` have a `.gnu.prelink_undo` section? Non-ELF files and
/// malformed headers answer `false`.
pub fn is_prelinked(path: &Path) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let mut ident = [0u8; 64];
    let n = (&file).take(64).read(&mut ident)?;
    if n < 52 || &ident[..4] != b"\x7fELF" {
        return Ok(false);
    }
    let (is64, little) = match (ident[4], ident[5]) {
        (1, 1) => (false, true),
        (1, 2) => (false, false),
        (2, 1) => (true, true),
        (2, 2) => (true, false),
        _ => return Ok(false),
    };
    let f = |off: usize, len: usize| read_uint(&ident[off..off + len], little);
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        if n < 64 {
            return Ok(false);
        }
        (f(0x28, 8), f(0x3a, 2), f(0x3c, 2), f(0x3e, 2))
    } else {
        (f(0x20, 4), f(0x2e, 2), f(0x30, 2), f(0x32, 2))
    };
    let want_entsize = if is64 { 64 } else { 40 };
    if shentsize != want_entsize || shnum == 0 || shnum > MAX_SECTIONS || shstrndx >= shnum {
        return Ok(false);
    }
    let Some(table_len) = shnum.checked_mul(shentsize) else {
        return Ok(false);
    };
    let mut table = vec![0u8; usize::try_from(table_len).unwrap_or(0)];
    if file.read_exact_at(&mut table, shoff).is_err() {
        return Ok(false);
    }
    // Section header fields: name offset, and the section's file offset and size.
    let section = |i: u64| -> (u64, u64, u64) {
        let base = usize::try_from(i * shentsize).unwrap_or(0);
        let s = &table[base..base + want_entsize as usize];
        if is64 {
            (
                read_uint(&s[0..4], little),
                read_uint(&s[0x18..0x20], little),
                read_uint(&s[0x20..0x28], little),
            )
        } else {
            (
                read_uint(&s[0..4], little),
                read_uint(&s[0x10..0x14], little),
                read_uint(&s[0x14..0x18], little),
            )
        }
    };
    let (_, str_off, str_size) = section(shstrndx);
    if str_size == 0 || str_size > MAX_SHSTRTAB {
        return Ok(false);
    }
    let mut names = vec![0u8; usize::try_from(str_size).unwrap_or(0)];
    if file.read_exact_at(&mut names, str_off).is_err() {
        return Ok(false);
    }
    for i in 0..shnum {
        let (name_off, _, _) = section(i);
        let Some(name) = usize::try_from(name_off).ok().and_then(|o| names.get(o..)) else {
            continue;
        };
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if &name[..end] == UNDO_SECTION {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Size and digests of the file as it was before prelink: `prelink -y FILE` writes it to
/// stdout (and fails when the file was modified beyond prelinking).
pub fn undo_and_hash(cmd: &Path, path: &Path, algos: AlgoSet) -> std::io::Result<(u64, Computed)> {
    let mut child = Command::new(cmd)
        .arg("-y")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout from prelink"))?;
    let mut hasher = MultiHasher::new(algos);
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "{} -y failed ({status})",
            cmd.display()
        )));
    }
    Ok((total, hasher.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of a real ELF binary, with a `.gnu.prelink_undo` section added by objcopy.
    fn prelinked_copy(dir: &Path) -> Option<PathBuf> {
        let plain = dir.join("plain");
        std::fs::copy("/bin/true", &plain).ok()?;
        let data = dir.join("undo.bin");
        std::fs::write(&data, b"original headers").unwrap();
        let out = dir.join("prelinked");
        let ok = Command::new("objcopy")
            .arg(format!(
                "--add-section=.gnu.prelink_undo={}",
                data.display()
            ))
            .arg(&plain)
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIP: objcopy (binutils) not available");
            return None;
        }
        Some(out)
    }

    #[test]
    fn recognises_the_undo_section() {
        let dir = tempfile::tempdir().unwrap();
        let Some(prelinked) = prelinked_copy(dir.path()) else {
            return;
        };
        assert!(is_prelinked(&prelinked).unwrap());
        assert!(!is_prelinked(&dir.path().join("plain")).unwrap());
        assert!(!is_prelinked(&dir.path().join("undo.bin")).unwrap());
    }

    #[test]
    fn hostile_elf_headers_are_not_prelinked() {
        let dir = tempfile::tempdir().unwrap();
        let Some(prelinked) = prelinked_copy(dir.path()) else {
            return;
        };
        let good = std::fs::read(&prelinked).unwrap();
        let p = dir.path().join("mangled");
        // Truncations and corrupted header fields: never a panic, never an error.
        for cut in [4, 20, 52, 63, 64, good.len() / 2, good.len() - 1] {
            std::fs::write(&p, &good[..cut]).unwrap();
            let _ = is_prelinked(&p).unwrap();
        }
        for at in 0x20..0x40 {
            let mut bad = good.clone();
            bad[at] = 0xff;
            std::fs::write(&p, &bad).unwrap();
            let _ = is_prelinked(&p).unwrap();
        }
    }

    #[test]
    fn undo_runs_the_command_and_hashes_its_output() {
        // `cat` stands in for `prelink -y` only to test the pipe: it prints "-y"'s
        // complaint on stderr and fails, which must be an error, not an empty digest.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let mut algos = AlgoSet::default();
        algos.insert(crate::pkgdb::DigestAlgo::Md5);
        assert!(undo_and_hash(Path::new("/bin/cat"), &f, algos).is_err());
        // `echo -y FILE` succeeds: its output is what gets hashed.
        let (size, d) = undo_and_hash(Path::new("/bin/echo"), &f, algos).unwrap();
        let expected = format!("-y {}\n", f.display());
        assert_eq!(size, expected.len() as u64);
        let want = super::super::digest::hash_bytes(expected.as_bytes(), algos);
        assert_eq!(d, want);
    }
}
