//! File reads with the error shapes the reader needs: `DbError::Io` naming the path, a
//! missing file as `None`, and a size cap for small admin files that could be hostile.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::pkgdb::DbError;

pub fn io_error(path: &Path, source: io::Error) -> DbError {
    DbError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn parse_error(path: &Path, line: usize, message: impl Into<String>) -> DbError {
    DbError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// The whole file, or `None` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, DbError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// At most `cap` bytes of a file, `Ok(None)` if it does not exist; a larger file is an
/// error (never a truncated read that would parse as something else).
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    file.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(Some(buf))
}

/// Entry names of a directory, sorted bytewise (as `alphasort` in the C locale), `None` if
/// the directory does not exist.
pub fn sorted_names(dir: &Path) -> Result<Option<Vec<OsString>>, DbError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(dir, e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        names.push(entry.map_err(|e| io_error(dir, e))?.file_name());
    }
    names.sort();
    Ok(Some(names))
}

/// `path` with `suffix` appended to its file name (`status.d/x` → `status.d/x.md5sums`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
