//! The configuration file, `/etc/livescan/livescan.toml` by default. Command-line flags
//! override single values; lists (excludes) add up. Unknown keys are an error, so a typo
//! does not silently scan what the admin meant to exclude. The commented default that the
//! packages and install.sh ship is `packaging/livescan.toml` (every key, documented).
//!
//! Secrets are never read from this file: it is a world-readable conffile, so `password`
//! and `api_secret` are refused by name with a pointer to the credential files
//! ([`check`] also checks those files are not readable by other users).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

pub const DEFAULT_PATH: &str = "/etc/livescan/livescan.toml";
/// Where the systemd unit loads its credentials from (`LoadCredential=`, systemd ≥ 247).
pub const CREDENTIALS_DIR: &str = "/etc/livescan/credentials";
/// The unit's fallback for systemd < 247 (`EnvironmentFile=`, `LIVESCAN_PASSWORD=…`).
pub const ENV_FILE: &str = "/etc/livescan/livescan.env";

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub scan: ScanConfig,
    #[serde(default)]
    pub export: ExportConfig,
    #[serde(default)]
    pub upload: UploadConfig,
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

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// Air-gapped mode: `livescan export` without `-o` writes `DIR/HOST-TIME.tar.zst` here.
    pub dir: Option<PathBuf>,
    /// zstd level (1–19) of exports and of live uploads.
    pub level: Option<i32>,
}

/// How `livescan upload` authenticates.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// HTTP basic with `user` and the password credential.
    Password,
    /// UForge API key: `api_key` is the public key, the secret a credential.
    ApiKey,
}

/// What an API-key signature base64-encodes (see `ship::apikey`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureForm {
    Raw,
    Hex,
}

impl From<SignatureForm> for crate::ship::apikey::SignatureForm {
    fn from(f: SignatureForm) -> Self {
        match f {
            SignatureForm::Raw => crate::ship::apikey::SignatureForm::Raw,
            SignatureForm::Hex => crate::ship::apikey::SignatureForm::Hex,
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    /// API base: `https://host/api`.
    pub url: Option<String>,
    /// Login.
    pub user: Option<String>,
    /// `password` (default) or `api-key`.
    pub auth: Option<AuthMode>,
    /// The API key's public part (its secret is a credential).
    pub api_key: Option<String>,
    pub api_key_signature: Option<SignatureForm>,
    /// Scanned instance name (default: the host name).
    pub name: Option<String>,
    /// Bytes per chunk: an integer or a string with a K/M/G suffix.
    pub chunk_size: Option<Size>,
    /// Bytes per second, as `chunk_size`.
    pub bwlimit: Option<Size>,
    /// Consecutive failures before giving up.
    pub retries: Option<u32>,
    /// HTTP(S) or SOCKS proxy URL (the environment's ALL_PROXY/HTTPS_PROXY win over it).
    pub proxy: Option<String>,
    /// PEM file of the CAs to trust instead of the host's bundle.
    pub ca_file: Option<PathBuf>,
    // Refused by name (see the module comment), so the message can say where secrets go.
    #[serde(default)]
    password: Option<toml::Value>,
    #[serde(default)]
    api_secret: Option<toml::Value>,
}

/// A byte count written as `8388608` or `"8M"` (powers of 1024, as on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte count: an integer or a string like \"8M\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                crate::cli::parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
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

/// The file `load` reads: `explicit`, else the default path if it exists.
pub fn path_to_read(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_PATH)).filter(|p| p.exists()),
    }
}

/// Load `explicit` (which must exist), or the default path if it exists, or defaults.
/// Only syntax, types and secrets are checked here; `check` does the rest.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let Some(path) = path_to_read(explicit) else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text).map_err(|message| ConfigError::Parse { path, message })
}

pub fn parse(text: &str) -> Result<Config, String> {
    let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    if c.upload.password.is_some() || c.upload.api_secret.is_some() {
        return Err(format!(
            "[upload] password / api_secret: secrets are never read from the configuration \
             file (it is readable by every user); put the password in \
             {CREDENTIALS_DIR}/livescan-password (mode 0600, systemd >= 247) or \
             LIVESCAN_PASSWORD=… in {ENV_FILE} (mode 0600, older systemd)"
        ));
    }
    Ok(c)
}

/// One problem `livescan config check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `[section] key`, or a file name for file-level problems.
    pub what: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

/// Files with secrets the check looks at (the unit's layout; tests point elsewhere).
pub struct SecretFiles {
    pub credentials_dir: PathBuf,
    pub env_file: PathBuf,
}

impl Default for SecretFiles {
    fn default() -> Self {
        SecretFiles {
            credentials_dir: PathBuf::from(CREDENTIALS_DIR),
            env_file: PathBuf::from(ENV_FILE),
        }
    }
}

/// Everything `load` does not check: ranges, paths, URL syntax, the auth mode's needs, and
/// that the config file cannot be changed — nor the secret files read — by other users.
/// `config_path` is the file the values came from (`None`: defaults only).
pub fn check(cfg: &Config, config_path: Option<&Path>, secrets: &SecretFiles) -> Vec<Problem> {
    let mut p = Vec::new();
    let mut bad = |what: &str, message: String| {
        p.push(Problem {
            what: what.to_string(),
            message,
        })
    };
    if let Some(path) = config_path {
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o022 != 0 {
                bad(
                    &path.display().to_string(),
                    format!(
                        "mode {:04o}: writable by other users, who could redirect uploads or \
                         hide files from the scan (chmod go-w)",
                        m.permissions().mode() & 0o7777
                    ),
                );
            }
        }
    }

    let s = &cfg.scan;
    for e in &s.exclude {
        if !e.starts_with('/') {
            bad(
                "[scan] exclude",
                format!("{e:?}: must be an absolute path of the scanned system"),
            );
        }
    }
    if s.jobs == Some(0) || s.jobs.is_some_and(|j| j > 1024) {
        bad(
            "[scan] jobs",
            "must be 1 to 1024 (leave it out for all cores)".into(),
        );
    }
    if s.nice.is_some_and(|n| !(0..=19).contains(&n)) {
        bad("[scan] nice", "must be 0 to 19".into());
    }
    if let Some(r) = &s.report {
        if r != Path::new("-") {
            parent_is_dir(&mut bad, "[scan] report", r);
        }
    }

    let e = &cfg.export;
    if e.level.is_some_and(|l| !(1..=19).contains(&l)) {
        bad("[export] level", "must be 1 to 19".into());
    }
    if let Some(d) = &e.dir {
        if !d.is_absolute() {
            bad("[export] dir", format!("{}: must be absolute", d.display()));
        } else if !d.is_dir() {
            bad(
                "[export] dir",
                format!("{}: not an existing directory", d.display()),
            );
        }
    }

    let u = &cfg.upload;
    if let Some(url) = &u.url {
        if let Err(m) = check_url(url, &["http", "https"]) {
            bad("[upload] url", format!("{url:?}: {m}"));
        }
        if u.user.is_none() {
            // API-key requests name the user in their paths too.
            bad("[upload] user", "needed with url (the login)".into());
        }
    }
    if let Some(proxy) = &u.proxy {
        if let Err(m) = check_url(
            proxy,
            &["http", "https", "socks4", "socks4a", "socks5", "socks5h"],
        ) {
            bad("[upload] proxy", format!("{proxy:?}: {m}"));
        }
    }
    if u.auth == Some(AuthMode::ApiKey) && u.api_key.is_none() {
        bad(
            "[upload] api_key",
            "auth = \"api-key\" needs the key's public part here".into(),
        );
    }
    if u.user.as_deref().is_some_and(str::is_empty) {
        bad("[upload] user", "is empty".into());
    }
    if u.name
        .as_deref()
        .is_some_and(|n| n.is_empty() || n.len() > 255)
    {
        bad("[upload] name", "must be 1 to 255 bytes".into());
    }
    if let Some(Size(c)) = u.chunk_size {
        if !(4096..=64 << 20).contains(&c) {
            bad("[upload] chunk_size", "must be 4K to 64M".into());
        }
    }
    if u.bwlimit == Some(Size(0)) {
        bad(
            "[upload] bwlimit",
            "0 would never send (leave it out for no limit)".into(),
        );
    }
    if u.retries.is_some_and(|r| r > 1000) {
        bad("[upload] retries", "must be at most 1000".into());
    }
    if let Some(ca) = &u.ca_file {
        if let Err(m) = crate::ship::tls::config(Some(ca), false) {
            bad("[upload] ca_file", m);
        }
    }

    for f in secret_files(secrets) {
        if let Ok(m) = std::fs::metadata(&f) {
            let mode = m.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                bad(
                    &f.display().to_string(),
                    format!("mode {mode:04o}: a secret readable by other users (chmod 0600)"),
                );
            }
        }
    }
    p
}

fn secret_files(s: &SecretFiles) -> Vec<PathBuf> {
    let mut v = vec![s.env_file.clone()];
    if let Ok(rd) = std::fs::read_dir(&s.credentials_dir) {
        v.extend(rd.flatten().map(|e| e.path()));
    }
    v.retain(|f| f.is_file());
    v
}

fn parent_is_dir(bad: &mut impl FnMut(&str, String), what: &str, file: &Path) {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bad(
            what,
            format!(
                "{}: directory {} does not exist",
                file.display(),
                parent.display()
            ),
        );
    }
}

/// `scheme://host[:port][/path]`, without credentials, spaces or a fragment.
pub fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not a URL (scheme://host/…)".into());
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "scheme {scheme}: expected one of {}",
            schemes.join(", ")
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry credentials (user:password@)".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters".into());
    }
    if url.contains('#') {
        return Err("must not have a #fragment".into());
    }
    let host = match authority.strip_prefix('[') {
        // [v6]:port
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if let Some(port) = authority.rsplit_once("]:").map(|x| x.1).or_else(|| {
        (!authority.starts_with('['))
            .then(|| authority.split_once(':').map(|x| x.1))
            .flatten()
    }) {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("port {port:?} is not 1-65535"));
        }
    }
    Ok(())
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
        assert!(parse("[upload]\nurll = \"https://h/api\"\n")
            .unwrap_err()
            .contains("urll"));
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        assert!(matches!(
            load(Some(Path::new("/nonexistent/livescan.toml"))),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn upload_and_export_keys_parse_with_sizes_in_both_forms() {
        let c = parse(
            "[upload]\nurl = \"https://u.example/api\"\nuser = \"ops@example\"\nauth = \"api-key\"\n\
             api_key = \"PUB\"\napi_key_signature = \"hex\"\nname = \"web01\"\nchunk_size = \"16M\"\n\
             bwlimit = 1048576\nretries = 3\nproxy = \"http://proxy:3128\"\n\
             [export]\ndir = \"/var/lib/livescan/exports\"\nlevel = 9\n",
        )
        .unwrap();
        assert_eq!(c.upload.chunk_size, Some(Size(16 << 20)));
        assert_eq!(c.upload.bwlimit, Some(Size(1 << 20)));
        assert_eq!(c.upload.auth, Some(AuthMode::ApiKey));
        assert_eq!(c.upload.api_key_signature, Some(SignatureForm::Hex));
        assert_eq!(c.export.level, Some(9));
        assert!(parse("[upload]\nchunk_size = \"8Q\"\n").is_err());
        assert!(parse("[upload]\nchunk_size = -1\n").is_err());
        assert!(parse("[upload]\nauth = \"kerberos\"\n").is_err());
        assert!(parse("[scan]\njobs = \"two\"\n").is_err());
    }

    #[test]
    fn secrets_in_the_file_are_refused_and_say_where_they_go() {
        for key in ["password", "api_secret"] {
            let err = parse(&format!("[upload]\n{key} = \"hunter2\"\n")).unwrap_err();
            assert!(err.contains(CREDENTIALS_DIR), "{err}");
            assert!(
                !err.contains("hunter2"),
                "the secret must not be echoed: {err}"
            );
        }
    }

    fn no_secrets() -> SecretFiles {
        SecretFiles {
            credentials_dir: PathBuf::from("/nonexistent/creds"),
            env_file: PathBuf::from("/nonexistent/env"),
        }
    }

    fn problems(text: &str) -> Vec<String> {
        check(&parse(text).unwrap(), None, &no_secrets())
            .into_iter()
            .map(|p| p.what)
            .collect()
    }

    #[test]
    fn check_finds_range_path_and_url_problems() {
        assert!(problems("").is_empty());
        assert_eq!(problems("[scan]\njobs = 0\n"), ["[scan] jobs"]);
        assert_eq!(problems("[scan]\nnice = 20\n"), ["[scan] nice"]);
        assert_eq!(
            problems("[scan]\nexclude = [\"tmp\"]\n"),
            ["[scan] exclude"]
        );
        assert_eq!(
            problems("[scan]\nreport = \"/nonexistent/dir/r.json\"\n"),
            ["[scan] report"]
        );
        assert_eq!(problems("[export]\nlevel = 22\n"), ["[export] level"]);
        assert_eq!(
            problems("[export]\ndir = \"/nonexistent\"\n"),
            ["[export] dir"]
        );
        assert_eq!(problems("[export]\ndir = \"rel\"\n"), ["[export] dir"]);
        assert_eq!(
            problems("[upload]\nchunk_size = \"1K\"\n"),
            ["[upload] chunk_size"]
        );
        assert_eq!(problems("[upload]\nbwlimit = 0\n"), ["[upload] bwlimit"]);
        assert_eq!(
            problems("[upload]\nurl = \"https://h/api\"\n"),
            ["[upload] user"]
        );
        assert_eq!(
            problems("[upload]\nauth = \"api-key\"\n"),
            ["[upload] api_key"]
        );
        assert_eq!(
            problems("[upload]\nca_file = \"/nonexistent.pem\"\n"),
            ["[upload] ca_file"]
        );
        assert_eq!(
            problems("[upload]\nproxy = \"ftp://p\"\n"),
            ["[upload] proxy"]
        );
        assert!(problems("[upload]\nurl = \"https://h:8443/api\"\nuser = \"u\"\n").is_empty());
    }

    #[test]
    fn url_syntax() {
        let ok = |u| check_url(u, &["http", "https"]);
        assert!(ok("https://uforge.example.com/api").is_ok());
        assert!(ok("http://127.0.0.1:8080/api").is_ok());
        assert!(ok("http://[::1]:8080/api").is_ok());
        for bad in [
            "uforge.example.com/api",
            "ftp://h/api",
            "https://user:pw@h/api",
            "https:///api",
            "https://h:0/api",
            "https://h:99999/api",
            "https://h/a b",
            "https://h/api#x",
        ] {
            assert!(ok(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn check_refuses_loose_modes_on_the_config_and_the_secret_files() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("livescan.toml");
        std::fs::write(&cfg, "").unwrap();
        let creds = d.path().join("credentials");
        std::fs::create_dir(&creds).unwrap();
        let pw = creds.join("livescan-password");
        std::fs::write(&pw, "hunter2\n").unwrap();
        let env = d.path().join("livescan.env");
        std::fs::write(&env, "LIVESCAN_PASSWORD=hunter2\n").unwrap();
        let set = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
        set(&cfg, 0o644).unwrap();
        set(&pw, 0o600).unwrap();
        set(&env, 0o600).unwrap();
        let files = SecretFiles {
            credentials_dir: creds,
            env_file: env.clone(),
        };
        let run = || check(&Config::default(), Some(&cfg), &files);
        assert!(run().is_empty(), "{:?}", run());
        set(&pw, 0o640).unwrap();
        set(&env, 0o604).unwrap();
        set(&cfg, 0o666).unwrap();
        let found: Vec<String> = run().into_iter().map(|p| p.what).collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.contains(&pw.display().to_string()));
        assert!(found.contains(&env.display().to_string()));
        assert!(found.contains(&cfg.display().to_string()));
        for p in run() {
            assert!(!p.message.contains("hunter2"));
        }
    }
}
