//! Reading network configuration inside the scanned root: bounded, confined to the root
//! (`/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf` resolves inside it, never
//! on the scanning host), and every file read is recorded with its format.

use std::io::Read;
use std::path::PathBuf;

use super::{ConfigFile, ConfigFormat};
use crate::rootfs::{DirResolver, RootFs};

/// Largest configuration file read; network configuration is a few KiB, a bigger file is
/// not one (or is hostile) and is noted instead.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Entries looked at in one configuration directory.
pub const MAX_DIR_ENTRIES: usize = 4096;
/// Configuration files read in all (bounds include chains and crowded directories).
pub const MAX_FILES: usize = 2048;

pub struct Reader<'a> {
    root: &'a RootFs,
    resolver: DirResolver<'a>,
    files: Vec<ConfigFile>,
    pub notes: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(root: &'a RootFs) -> Self {
        Reader {
            root,
            resolver: DirResolver::new(root),
            files: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Host path of `scanned` with every component (the last too) resolved inside the root.
    fn host(&mut self, scanned: &str) -> PathBuf {
        let canonical = self.resolver.canonical_dir(scanned.as_bytes());
        self.root.host_path(&canonical)
    }

    /// The path `scanned` resolves to inside the root (symlinks followed, confined).
    pub fn resolve(&mut self, scanned: &str) -> String {
        String::from_utf8_lossy(&self.resolver.canonical_dir(scanned.as_bytes())).into_owned()
    }

    /// Text of a configuration file, recorded as read. `None` when it does not exist (not a
    /// note: most formats are absent on any one host) or cannot be read (noted).
    pub fn read(&mut self, scanned: &str, format: ConfigFormat) -> Option<String> {
        self.read_included(scanned, format, None)
    }

    pub fn read_included(
        &mut self,
        scanned: &str,
        format: ConfigFormat,
        included_from: Option<&str>,
    ) -> Option<String> {
        let text = self.read_quiet(scanned)?;
        if self.files.len() >= MAX_FILES {
            self.notes.push(format!(
                "{scanned}: not read, more than {MAX_FILES} network files"
            ));
            return None;
        }
        self.files.push(ConfigFile {
            path: scanned.to_string(),
            format,
            included_from: included_from.map(str::to_string),
        });
        Some(text)
    }

    /// Text of a file that is not configuration to record (a `/proc` or `/sys` file of the
    /// scanned root), bounded the same way.
    pub fn read_quiet(&mut self, scanned: &str) -> Option<String> {
        let host = self.host(scanned);
        read_bounded(&host, &mut self.notes, scanned)
    }

    /// Names of the regular files (or links to them) in a directory of the root, sorted
    /// bytewise, hidden files left out. Empty when it does not exist.
    pub fn list(&mut self, dir: &str) -> Vec<String> {
        let host = self.host(dir);
        let Ok(entries) = std::fs::read_dir(&host) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            if names.len() >= MAX_DIR_ENTRIES {
                self.notes.push(format!(
                    "{dir}: more than {MAX_DIR_ENTRIES} entries, the rest not read"
                ));
                break;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            names.push(name);
        }
        names.sort();
        names
    }

    /// Whether `scanned` is masked: a symlink to `/dev/null` or an empty file (systemd's
    /// convention for overriding a vendor file).
    pub fn is_masked(&mut self, scanned: &str) -> bool {
        let host = self.host(scanned);
        if self.resolve(scanned) == "/dev/null" {
            return true;
        }
        std::fs::metadata(host)
            .map(|m| m.len() == 0)
            .unwrap_or(false)
    }

    pub fn finish(self) -> (Vec<ConfigFile>, Vec<String>) {
        (self.files, self.notes)
    }
}

/// Read at most [`MAX_FILE_BYTES`]; a longer file is noted and skipped. Not UTF-8 is read
/// lossily: the names and addresses that matter are ASCII.
pub fn read_bounded(
    host: &std::path::Path,
    notes: &mut Vec<String>,
    shown: &str,
) -> Option<String> {
    let file = match std::fs::File::open(host) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("{shown}: {e}"));
            return None;
        }
    };
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return None;
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        notes.push(format!("{shown}: {e}"));
        return None;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        notes.push(format!(
            "{shown}: larger than {MAX_FILE_BYTES} bytes, not read"
        ));
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Backup and package-manager leftovers that network tools themselves skip
/// (initscripts' and NetworkManager's ignore lists).
pub fn is_backup_name(name: &str) -> bool {
    const SUFFIXES: [&str; 11] = [
        "~",
        ".bak",
        ".orig",
        ".rej",
        ".rpmnew",
        ".rpmorig",
        ".rpmsave",
        ".swp",
        ".old",
        ".dpkg-old",
        ".dpkg-dist",
    ];
    SUFFIXES.iter().any(|s| name.ends_with(s)) || name.contains(".dpkg-") || name.ends_with(".tmp")
}
