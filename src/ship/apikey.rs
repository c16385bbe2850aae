//! UForge API keys: the request URI, relative to the API base and with `apiKey=<public>`
//! appended, is signed with HMAC-SHA1 under the secret key, base64-encoded, URL-encoded and
//! appended as `&signature=` (`../shared/docs/uforge-api.md` §4). The docs contradict
//! themselves on what is base64-encoded — the raw 20-byte digest (their curl example) or its
//! 40-character hex form (their diagram) — so both are supported: [`SignatureForm`].

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureForm {
    /// base64 of the raw digest (28 characters), as the docs' curl example.
    Raw,
    /// base64 of the lowercase hex digest, padding dropped, as the docs' diagram.
    Hex,
}

fn hmac_sha1(secret: &[u8], message: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0; 20],
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The signature value (before URL-encoding) of `relative_uri`.
pub fn signature(secret: &[u8], relative_uri: &str, form: SignatureForm) -> String {
    let digest = hmac_sha1(secret, relative_uri.as_bytes());
    match form {
        SignatureForm::Raw => STANDARD.encode(digest),
        SignatureForm::Hex => {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            STANDARD_NO_PAD.encode(hex)
        }
    }
}

/// Sign `relative` (e.g. `users/u/scannedinstances?name=x`): returns it with `apiKey` and
/// `signature` appended.
pub fn sign(relative: &str, public: &str, secret: &[u8], form: SignatureForm) -> String {
    let sep = if relative.contains('?') { '&' } else { '?' };
    let with_key = format!(
        "{relative}{sep}apiKey={}",
        super::uforge_http::encode(public)
    );
    let sig = signature(secret, &with_key, form);
    format!("{with_key}&signature={}", super::uforge_http::encode(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_rfc2202() {
        // RFC 2202 test case 2: key "Jefe", "what do ya want for nothing?".
        let d = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(
            signature(b"Jefe", "what do ya want for nothing?", SignatureForm::Raw).len(),
            28
        );
        let h = signature(b"Jefe", "what do ya want for nothing?", SignatureForm::Hex);
        assert_eq!(STANDARD_NO_PAD.decode(&h).unwrap(), hex.as_bytes());
        let signed = sign("users/u/scans?x=1", "PUB KEY", b"s", SignatureForm::Raw);
        assert!(signed.starts_with("users/u/scans?x=1&apiKey=PUB%20KEY&signature="));
    }
}
