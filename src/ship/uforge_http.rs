//! The UForge-style HTTP target: `--url` is the API base as UForge users write it
//! (`https://host/api`), paths follow the UForge docs below it, credentials go in an
//! `Authorization` header (never in the URL), and overlays travel in livescan chunks
//! (docs/upload-protocol.md).

use std::io::Seek;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::credentials::Secret;
use super::{ReportBody, ShipError, UploadTarget};
use crate::uforge::{Distribution, OverlayState, Scan, ScannedInstance, ScannedInstances, Scans};

/// How requests prove who sends them.
pub enum Credentials {
    /// HTTP basic (the password in a header, never the URL).
    Basic(Secret),
    /// A UForge API key pair: every request URI is signed.
    ApiKey {
        public: String,
        secret: Secret,
        form: super::apikey::SignatureForm,
    },
}

pub struct UforgeHttp {
    base: String,
    user: String,
    /// `Authorization` value for basic auth; `None` with API keys.
    basic: Option<String>,
    apikey: Option<(String, Secret, super::apikey::SignatureForm)>,
    agent: ureq::Agent,
    /// `--bwlimit`: shared by all requests of this target.
    bucket: Option<std::sync::Mutex<super::throttle::Bucket>>,
}

/// Percent-encode one path segment or query value (logins may hold `@`, names spaces).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn classify(status: u16, body: &str) -> ShipError {
    let msg = format!(
        "HTTP {status}: {}",
        body.chars().take(300).collect::<String>()
    );
    if status >= 500 || status == 408 || status == 429 {
        ShipError::Retryable(msg)
    } else {
        ShipError::Rejected(msg)
    }
}

impl UforgeHttp {
    pub fn new(
        base: &str,
        user: &str,
        credentials: Credentials,
        timeout: Duration,
        tls: ureq::tls::TlsConfig,
    ) -> UforgeHttp {
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(timeout))
            .timeout_send_body(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .build();
        UforgeHttp {
            base: base.trim_end_matches('/').to_string(),
            user: user.to_string(),
            basic: match &credentials {
                Credentials::Basic(p) => Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{user}:{}", p.expose()))
                )),
                Credentials::ApiKey { .. } => None,
            },
            apikey: match credentials {
                Credentials::ApiKey {
                    public,
                    secret,
                    form,
                } => Some((public, secret, form)),
                Credentials::Basic(_) => None,
            },
            agent: config.into(),
            bucket: None,
        }
    }

    /// Limit overlay bytes to `rate` per second.
    pub fn with_bwlimit(mut self, rate: Option<u64>) -> Self {
        self.bucket = rate.map(|r| std::sync::Mutex::new(super::throttle::Bucket::new(r)));
        self
    }

    fn url(&self, path: &str) -> String {
        self.signed(&format!("users/{}/{path}", encode(&self.user)))
    }

    /// The full URL of a path relative to the API base, signed when API keys are used.
    fn signed(&self, relative: &str) -> String {
        match &self.apikey {
            Some((public, secret, form)) => format!(
                "{}/{}",
                self.base,
                super::apikey::sign(relative, public, secret.expose().as_bytes(), *form)
            ),
            None => format!("{}/{relative}", self.base),
        }
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.basic {
            Some(h) => r.header("Authorization", h),
            None => r,
        }
    }

    fn answer<T: DeserializeOwned>(
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, T), ShipError> {
        let mut resp = r.map_err(|e| ShipError::Retryable(format!("network: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| ShipError::Retryable(format!("reading the answer: {e}")))?;
        if status == 409 {
            // Only an answer that states the committed length is an offset conflict (other
            // 409s, e.g. an instance without overlay, are rejections).
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(c) = v.get("committed").and_then(serde_json::Value::as_u64) {
                if v.get("complete").and_then(serde_json::Value::as_bool) == Some(true) {
                    return Err(ShipError::Complete);
                }
                return Err(ShipError::Conflict(c));
            }
        }
        if !(200..300).contains(&status) {
            return Err(classify(status, &text));
        }
        serde_json::from_str(&text)
            .map(|v| (status, v))
            .map_err(|e| ShipError::Rejected(format!("unexpected answer ({e}): {text:.200}")))
    }

    fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, ShipError> {
        let r = self
            .auth(self.agent.get(url))
            .header("Accept", "application/json")
            .call();
        Self::answer(r).map(|(_, v)| v)
    }

    /// `GET /api/status` without credentials, then an authenticated list: URL, TLS and
    /// credentials all checked (`upload --check`).
    pub fn check(&self) -> Result<(), ShipError> {
        let r = self.agent.get(format!("{}/status", self.base)).call();
        let _: serde_json::Value = Self::answer(r)?.1;
        let _: ScannedInstances = self.get(&self.url("scannedinstances"))?;
        Ok(())
    }
}

impl UploadTarget for UforgeHttp {
    fn instance(
        &self,
        name: &str,
        machine_id: Option<&str>,
        distribution: &Distribution,
        overlay: bool,
    ) -> Result<ScannedInstance, ShipError> {
        let list: ScannedInstances =
            self.get(&self.url(&format!("scannedinstances?name={}", encode(name))))?;
        // Same name and same machine (or a server that does not keep machine ids).
        let found = list.scanned_instances.into_iter().find(|i| {
            i.name == name
                && (i.machine_id.is_none()
                    || machine_id.is_none()
                    || i.machine_id.as_deref() == machine_id)
        });
        if let Some(i) = found {
            if i.overlay_included != overlay {
                return Err(ShipError::Rejected(format!(
                    "scanned instance {name:?} was created {} overlay; this upload is {} one (use another --name)",
                    if i.overlay_included { "with" } else { "without" },
                    if overlay { "with" } else { "without" }
                )));
            }
            return Ok(i);
        }
        let body = ScannedInstance {
            name: name.to_string(),
            distribution: distribution.clone(),
            overlay_included: overlay,
            machine_id: machine_id.map(str::to_string),
            ..ScannedInstance::default()
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| ShipError::Rejected(format!("encoding the instance: {e}")))?;
        let r = self
            .auth(self.agent.post(self.url("scannedinstances")))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .send(&json[..]);
        Self::answer(r).map(|(_, v)| v)
    }

    fn find_scan(&self, instance: &ScannedInstance, crc: &str) -> Result<Option<Scan>, ShipError> {
        let scans: Scans =
            self.get(&self.url(&format!("scannedinstances/{}/scans", instance.db_id)))?;
        Ok(scans
            .scans
            .into_iter()
            .find(|s| s.overlay_crc == crc && !s.status.cancelled && !s.status.error))
    }

    fn create_scan(
        &self,
        instance: &ScannedInstance,
        name: &str,
        crc: &str,
        report: ReportBody<'_>,
    ) -> Result<Scan, ShipError> {
        let url = self.url(&format!(
            "scannedinstances/{}/scans?name={}&crc={}&reportFileName={}",
            instance.db_id,
            encode(name),
            encode(crc),
            report.file_name()
        ));
        let req = self
            .auth(self.agent.post(url))
            .header("Accept", "application/json")
            .header("Content-Type", report.content_type());
        let r = match report {
            ReportBody::UforgeXml(b) | ReportBody::Json(b) => req.send(b),
            ReportBody::UforgeXmlFile(f) => {
                let mut f = f;
                if let Err(e) = f.rewind() {
                    return Err(ShipError::Rejected(format!(
                        "rewinding the scan report's temporary file: {e}"
                    )));
                }
                // ureq sends a file with its length as Content-Length.
                req.send(f)
            }
        };
        Self::answer(r).map(|(_, v)| v)
    }

    fn overlay_state(&self, scan: &Scan) -> Result<OverlayState, ShipError> {
        self.get(&self.signed(&format!("{}/status", scan.overlay_uri)))
    }

    fn send_chunk(
        &self,
        scan: &Scan,
        offset: u64,
        data: &[u8],
        blake3: &str,
        finish: Option<&str>,
    ) -> Result<OverlayState, ShipError> {
        let mut relative = format!("{}?offset={offset}", scan.overlay_uri);
        if let Some(digest) = finish {
            relative.push_str(&format!("&final=true&blake3={}", encode(digest)));
        }
        let req = self
            .auth(self.agent.post(self.signed(&relative)))
            .header("Accept", "application/json")
            .header("Content-Type", "application/octet-stream")
            .header("X-Livescan-Chunk-BLAKE3", blake3);
        let r = match &self.bucket {
            None => req.send(data),
            Some(bucket) => {
                let mut bucket = bucket.lock().unwrap_or_else(|p| p.into_inner());
                let mut body = super::throttle::Throttled {
                    data,
                    bucket: &mut bucket,
                };
                // A known length: the body goes out with Content-Length, not chunked.
                req.header("Content-Length", data.len().to_string())
                    .send(ureq::SendBody::from_reader(&mut body))
            }
        };
        match Self::answer::<serde_json::Value>(r) {
            Ok((_, v)) => {
                if finish.is_some() {
                    Ok(OverlayState {
                        committed: offset + data.len() as u64,
                        complete: v["status"]["complete"].as_bool().unwrap_or(false),
                    })
                } else {
                    serde_json::from_value(v)
                        .map_err(|e| ShipError::Rejected(format!("unexpected answer: {e}")))
                }
            }
            Err(e) => Err(e),
        }
    }

    fn cancel(&self, scan: &Scan) -> Result<(), ShipError> {
        let r = self
            .auth(
                self.agent
                    .delete(self.signed(&format!("{}/status", scan.uri))),
            )
            .header("Accept", "application/json")
            .call();
        Self::answer::<serde_json::Value>(r).map(|_| ())
    }
}
