//! `livescan upload`'s settings: each from its flag, else the configuration file's
//! `[upload]` (and `[export] level`), else the built-in default. Only `upload.rs` uses it.

use std::path::PathBuf;

use livescan::cli::{ScanArgs, UploadArgs};
use livescan::config::{AuthMode, Config};
use livescan::ship::apikey::SignatureForm;

const DEFAULT_CHUNK: u64 = 8 << 20;
const DEFAULT_RETRIES: u32 = 10;
const DEFAULT_LEVEL: i32 = 3;

pub struct Settings {
    pub url: String,
    pub user: String,
    pub name: Option<String>,
    pub from: Option<PathBuf>,
    pub chunk_size: u64,
    pub retries: u32,
    pub check: bool,
    pub api_key: Option<String>,
    pub api_key_signature: SignatureForm,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub bwlimit: Option<u64>,
    pub backoff_ms: u64,
    pub level: i32,
    pub scan: ScanArgs,
}

/// Environment variables ureq reads its proxy from (ALL_PROXY first), either case.
const PROXY_VARS: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

impl Settings {
    /// Merge flags over the config file; an error is a usage error (exit 2).
    pub fn resolve(a: UploadArgs, cfg: &Config) -> Result<Settings, String> {
        let u = &cfg.upload;
        let url = a.url.or_else(|| u.url.clone()).ok_or(
            "upload needs --url (or url in [upload] of the configuration file)".to_string(),
        )?;
        // With an API key the login still names the user in request paths.
        let user = a.user.or_else(|| u.user.clone()).ok_or(
            "upload needs --user (or user in [upload] of the configuration file)".to_string(),
        )?;
        let api_key =
            match (a.api_key, u.auth) {
                (Some(k), _) => Some(k),
                (None, Some(AuthMode::Password)) => None,
                (None, Some(AuthMode::ApiKey)) => Some(u.api_key.clone().ok_or(
                    "[upload] auth = \"api-key\" needs api_key (the public key)".to_string(),
                )?),
                (None, None) => u.api_key.clone(),
            };
        // The proxy: --proxy, else the environment (per run, like a flag), else the file.
        // ureq reads it from the environment when the agent is built; nothing else runs yet.
        let proxy = a.proxy.or_else(|| {
            let env_has_one = PROXY_VARS.iter().any(|v| std::env::var_os(v).is_some());
            (!env_has_one).then(|| u.proxy.clone()).flatten()
        });
        if let Some(p) = proxy {
            livescan::config::check_url(
                &p,
                &["http", "https", "socks4", "socks4a", "socks5", "socks5h"],
            )
            .map_err(|m| format!("proxy {p:?}: {m}"))?;
            std::env::set_var("ALL_PROXY", p);
        }
        Ok(Settings {
            url,
            user,
            name: a.name.or_else(|| u.name.clone()),
            from: a.from,
            chunk_size: a
                .chunk_size
                .or(u.chunk_size.map(|s| s.0))
                .unwrap_or(DEFAULT_CHUNK),
            retries: a.retries.or(u.retries).unwrap_or(DEFAULT_RETRIES),
            check: a.check,
            api_key,
            api_key_signature: a
                .api_key_signature
                .or(u.api_key_signature.map(Into::into))
                .unwrap_or(SignatureForm::Raw),
            ca_file: a.ca_file.or_else(|| u.ca_file.clone()),
            insecure: a.insecure,
            bwlimit: a.bwlimit.or(u.bwlimit.map(|s| s.0)),
            backoff_ms: a.backoff_ms,
            level: a.level.or(cfg.export.level).unwrap_or(DEFAULT_LEVEL),
            scan: a.scan,
        })
    }
}
