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

/// The password, or a message saying where it was looked for.
pub fn password() -> Result<Secret, String> {
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let p = std::path::Path::new(&dir).join(CREDENTIAL_NAME);
        if let Ok(s) = std::fs::read_to_string(&p) {
            let s = s.trim_end_matches(['\n', '\r']);
            if !s.is_empty() {
                return Ok(Secret::new(s));
            }
        }
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
