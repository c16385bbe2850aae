//! Which certificates an HTTPS upload trusts: `--ca-file` when given; otherwise the host's
//! own CA bundle (the first of the usual places of Debian, RHEL, SUSE, Alpine), so a
//! company CA installed on the host just works; Mozilla's roots (compiled in) only when the
//! host has none. `--insecure` turns verification off and says so, loudly, every time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Certificates of a PEM file; an error names the file.
pub fn load_pem(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&bytes)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

pub fn config(ca_file: Option<&Path>, insecure: bool) -> Result<TlsConfig, String> {
    let builder = TlsConfig::builder();
    if insecure {
        log::warn!(
            "--insecure: the server's certificate is NOT checked; anyone on the path can read \
             and change this upload"
        );
        return Ok(builder.disable_verification(true).build());
    }
    let bundle: Option<PathBuf> = match ca_file {
        Some(p) => Some(p.to_path_buf()),
        None => SYSTEM_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    };
    match bundle {
        Some(p) => {
            let certs = load_pem(&p)?;
            Ok(builder
                .root_certs(RootCerts::Specific(Arc::new(certs)))
                .build())
        }
        None => Ok(builder.build()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ca_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("not-a-cert.pem");
        std::fs::write(&p, "hello").unwrap();
        let e = config(Some(&p), false).unwrap_err();
        assert!(
            e.contains("not-a-cert.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        assert!(config(Some(&dir.path().join("missing.pem")), false).is_err());
        assert!(config(None, true).unwrap().disable_verification());
    }

    #[test]
    fn the_host_bundle_is_used_when_present() {
        let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) else {
            eprintln!("SKIP: no system CA bundle on this host");
            return;
        };
        assert!(load_pem(bundle).unwrap().len() > 10);
        let c = config(None, false).unwrap();
        assert!(matches!(c.root_certs(), RootCerts::Specific(_)));
    }
}
