//! `alternatives/<name>` (update-alternatives): the links it manages belong to no package,
//! so they are reported as owned by the alternatives system.
//!
//! File layout: `auto|manual`, the master link, `slave-name`/`slave-link` pairs, an empty
//! line, then the choices (path, priority, one line per slave) and a final empty line. Only
//! the header is needed here: the links exist whichever choice is selected.

use std::path::Path;

use super::fsread::{read_capped, sorted_names};
use crate::pkgdb::{DbError, Expected, Owner, PackagedFile, Presence};

/// Real files are a few hundred bytes; java's, the largest, about 10 KiB.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// update-alternatives has no limit; real groups have at most a few dozen slaves.
pub const MAX_SLAVES: usize = 4096;
/// Longer than PATH_MAX cannot be a link path.
const MAX_PATH: usize = 4096;

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.starts_with(b".")
        && !name.contains(&b'/')
        && !name.iter().any(u8::is_ascii_whitespace)
}

fn valid_link(link: &[u8]) -> bool {
    link.starts_with(b"/") && link.len() <= MAX_PATH
}

fn etc_alternatives(name: &[u8]) -> Vec<u8> {
    let mut p = b"/etc/alternatives/".to_vec();
    p.extend_from_slice(name);
    p
}

/// The paths one alternative manages: master link, `/etc/alternatives/<name>`, then each
/// slave link and its `/etc/alternatives/<slave-name>`.
pub fn links(name: &[u8], text: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if !valid_name(name) {
        return Err("invalid alternative name".into());
    }
    // Without the final newline, so that a file cut after a slave pair does not look as if
    // an empty line closed the list.
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let mut lines = text.split(|&b| b == b'\n');
    match lines.next() {
        Some(b"auto" | b"manual") => {}
        _ => return Err("line 1: status is not auto or manual".into()),
    }
    let master = lines.next().unwrap_or_default();
    if !valid_link(master) {
        return Err("line 2: master link is not an absolute path".into());
    }
    let mut out = vec![master.to_vec(), etc_alternatives(name)];
    let mut line = 3;
    loop {
        let slave_name = lines
            .next()
            .ok_or_else(|| format!("line {line}: file ends before the end of the slave list"))?;
        if slave_name.is_empty() {
            return Ok(out);
        }
        if out.len() / 2 > MAX_SLAVES {
            return Err(format!("more than {MAX_SLAVES} slaves"));
        }
        if !valid_name(slave_name) {
            return Err(format!("line {line}: invalid slave name"));
        }
        let slave_link = lines.next().unwrap_or_default();
        if !valid_link(slave_link) {
            return Err(format!(
                "line {}: slave link is not an absolute path",
                line + 1
            ));
        }
        out.push(slave_link.to_vec());
        out.push(etc_alternatives(slave_name));
        line += 2;
    }
}

/// Every alternative of `admindir/alternatives`, in name order. A file that cannot be read
/// or parsed is a warning: the links it would have named are then reported as unowned.
pub fn read_all(admindir: &Path, warnings: &mut Vec<String>) -> Result<Vec<PackagedFile>, DbError> {
    let dir = admindir.join("alternatives");
    let mut out = Vec::new();
    for name in sorted_names(&dir)?.unwrap_or_default() {
        let name_bytes = name.as_encoded_bytes();
        if name_bytes.starts_with(b".") {
            continue;
        }
        let path = dir.join(&name);
        if !path.is_file() {
            continue;
        }
        let parsed = match read_capped(&path, MAX_FILE_BYTES) {
            Ok(Some(text)) => links(name_bytes, &text),
            Ok(None) => continue, // removed meanwhile
            Err(e) => Err(e.to_string()),
        };
        match parsed {
            Ok(paths) => out.extend(paths.into_iter().map(|path| PackagedFile {
                path,
                owner: Owner::Alternatives,
                digest: None,
                conffile: false,
                marker: None,
                presence: Presence::Optional,
                expected: Expected::default(),
            })),
            Err(e) => warnings.push(format!("{}: {e}; ignored", path.display())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_and_awk() {
        let t = b"auto\n/usr/bin/pager\npager.1.gz\n/usr/share/man/man1/pager.1.gz\n\n/bin/more\n50\n/usr/share/man/man1/more.1.gz\n\n";
        assert_eq!(
            links(b"pager", t).unwrap(),
            vec![
                b"/usr/bin/pager".to_vec(),
                b"/etc/alternatives/pager".to_vec(),
                b"/usr/share/man/man1/pager.1.gz".to_vec(),
                b"/etc/alternatives/pager.1.gz".to_vec(),
            ]
        );
        let no_slaves = b"manual\n/usr/bin/editor\n\n/usr/bin/vim\n50\n\n";
        assert_eq!(links(b"editor", no_slaves).unwrap().len(), 2);
    }

    #[test]
    fn hostile_files_are_refused() {
        for bad in [
            &b""[..],
            b"auto\n",
            b"bogus\n/usr/bin/x\n\n",
            b"auto\nrelative\n\n",
            b"auto\n/usr/bin/x\n../../etc/passwd\n/x\n\n",
            b"auto\n/usr/bin/x\nslave\nrelative\n\n",
            b"auto\n/usr/bin/x\nslave\n/x\n", // no end of the slave list
        ] {
            assert!(
                links(b"x", bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(links(b"../x", b"auto\n/usr/bin/x\n\n").is_err());
        let mut many = b"auto\n/usr/bin/x\n".to_vec();
        for i in 0..MAX_SLAVES + 2 {
            many.extend_from_slice(format!("s{i}\n/s/{i}\n").as_bytes());
        }
        many.push(b'\n');
        assert!(links(b"x", &many).is_err());
    }
}
