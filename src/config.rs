//! The configuration file, `/etc/livescan/livescan.toml` by default. Command-line flags
//! override single values; lists (excludes) add up. Unknown keys are an error, so a typo
//! does not silently scan what the admin meant to exclude.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_PATH: &str = "/etc/livescan/livescan.toml";

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub scan: ScanConfig,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    /// Absolute paths of the scanned system to leave out (whole components, no globs).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Worker threads for walking and hashing (default: all cores).
    pub jobs: Option<usize>,
    /// Where the report goes (`-` = stdout).
    pub report: Option<PathBuf>,
    /// Seconds to wait for a package manager to release its database lock.
    pub lock_wait_secs: Option<u64>,
    /// Scheduling niceness for the scan (0–19).
    pub nice: Option<i32>,
    /// Use the idle I/O scheduling class.
    pub ionice_idle: Option<bool>,
    /// Directory of the verify cache (default /var/lib/livescan).
    pub cache_dir: Option<PathBuf>,
    /// `false`: no verify cache (as `--no-cache`).
    pub verify_cache: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Load `explicit` (which must exist), or the default path if it exists, or defaults.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_PATH);
            if !p.exists() {
                return Ok(Config::default());
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text).map_err(|message| ConfigError::Parse { path, message })
}

pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys() {
        let c =
            parse("[scan]\nexclude = [\"/srv/scratch\"]\njobs = 2\nlock_wait_secs = 5\nverify_cache = false\n").unwrap();
        assert_eq!(c.scan.exclude, vec!["/srv/scratch"]);
        assert_eq!(c.scan.jobs, Some(2));
        assert_eq!(c.scan.lock_wait_secs, Some(5));
        assert_eq!(c.scan.verify_cache, Some(false));
    }

    #[test]
    fn rejects_unknown_keys_with_their_name() {
        let err = parse("[scan]\nexlude = [\"/x\"]\n").unwrap_err();
        assert!(err.contains("exlude"), "{err}");
        assert!(parse("[scna]\n").is_err());
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        assert!(matches!(
            load(Some(Path::new("/nonexistent/livescan.toml"))),
            Err(ConfigError::Read { .. })
        ));
    }
}
