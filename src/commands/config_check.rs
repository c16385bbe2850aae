//! `livescan config check [--config FILE]`: parse the configuration file as every command
//! would, then run [`config::check`]. Prints one line per problem on stderr (exit 2), or
//! `FILE: ok` (exit 0). The systemd unit runs it as ExecStartPre=, so a bad file or a secret
//! left readable fails the run before any scan starts.

use std::path::Path;

use livescan::config;
use livescan::exit_code::Exit;
use livescan::ship::credentials;

pub fn run(explicit: Option<&Path>) -> Exit {
    let path = config::path_to_read(explicit);
    let shown = path.as_deref().map_or_else(
        || format!("{} (absent: defaults)", config::DEFAULT_PATH),
        |p| p.display().to_string(),
    );
    let cfg = match config::load(explicit) {
        Ok(c) => c,
        Err(e) => {
            livescan::errorln!("livescan: config check: {e}");
            return Exit::Usage;
        }
    };
    let mut problems = config::check(&cfg, path.as_deref(), &config::SecretFiles::default());
    if std::env::var_os("LIVESCAN_UNIT").is_some() {
        problems.extend(unit_secret_missing(&cfg));
    }
    if problems.is_empty() {
        println!("{shown}: ok");
        return Exit::Ok;
    }
    for p in &problems {
        livescan::errorln!("livescan: config check: {shown}: {p}");
    }
    Exit::Usage
}

/// In the systemd unit (`LIVESCAN_UNIT=1`), with an upload configured: did a secret arrive?
/// systemd < 247 ignores `LoadCredential=` without a word, so a secret placed only in the
/// credentials directory would vanish; this names both places instead of starting a scan
/// whose upload can only fail.
fn unit_secret_missing(cfg: &config::Config) -> Option<config::Problem> {
    cfg.upload.url.as_ref()?;
    let api_key = cfg.upload.auth == Some(config::AuthMode::ApiKey)
        || (cfg.upload.auth.is_none() && cfg.upload.api_key.is_some());
    let (cred, var) = if api_key {
        (credentials::API_SECRET_CREDENTIAL, "LIVESCAN_API_SECRET")
    } else {
        (credentials::CREDENTIAL_NAME, "LIVESCAN_PASSWORD")
    };
    let in_creds = std::env::var_os("CREDENTIALS_DIRECTORY")
        .is_some_and(|d| Path::new(&d).join(cred).is_file());
    let in_env = std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if in_creds || in_env {
        return None;
    }
    Some(config::Problem {
        what: "secret".into(),
        message: format!(
            "the unit received no {cred}: neither as a credential (LoadCredential= from {dir}/{cred}; \
             systemd older than 247 ignores LoadCredential=) nor as {var}= in {env} (mode 0600)",
            dir = config::CREDENTIALS_DIR,
            env = config::ENV_FILE,
        ),
    })
}
