//! Where the upload password comes from — never the command line (other users see argv)
//! and never a log line: a systemd credential (`$CREDENTIALS_DIRECTORY/livescan-password`,
//! from `LoadCredential=`), else the `LIVESCAN_PASSWORD` environment variable.

use std::fmt;

/// A secret that prints as `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

pub const CREDENTIAL_NAME: &str = "livescan-password";
pub const API_SECRET_CREDENTIAL: &str = "livescan-api-secret";

/// A systemd credential's content, if present and not empty.
fn systemd_credential(name: &str) -> Option<Secret> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let s = std::fs::read_to_string(std::path::Path::new(&dir).join(name)).ok()?;
    let s = s.trim_end_matches(['\n', '\r']);
    (!s.is_empty()).then(|| Secret::new(s))
}

/// The API secret key: the systemd credential `livescan-api-secret`, else
/// `LIVESCAN_API_SECRET`.
pub fn api_secret() -> Result<Secret, String> {
    if let Some(s) = systemd_credential(API_SECRET_CREDENTIAL) {
        return Ok(s);
    }
    match std::env::var("LIVESCAN_API_SECRET") {
        Ok(s) if !s.is_empty() => Ok(Secret::new(s)),
        _ => Err(format!(
            "--api-key needs its secret: set LIVESCAN_API_SECRET, or give a systemd credential \
             named {API_SECRET_CREDENTIAL}; secrets are never taken from the command line"
        )),
    }
}

/// The password, or a message saying where it was looked for.
pub fn password() -> Result<Secret, String> {
    if let Some(s) = systemd_credential(CREDENTIAL_NAME) {
        return Ok(s);
    }
    match std::env::var("LIVESCAN_PASSWORD") {
        Ok(s) if !s.is_empty() => Ok(Secret::new(s)),
        _ => Err(format!(
            "no password: set LIVESCAN_PASSWORD, or give a systemd credential named {CREDENTIAL_NAME} \
             (LoadCredential=); passwords are never taken from the command line"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
