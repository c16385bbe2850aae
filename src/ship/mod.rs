//! Shipping a scan: one trait for an upload target ([`UploadTarget`]), the UForge-style
//! HTTP target ([`uforge_http`]), and the resumable upload of an export ([`upload`]).
//! The chunk protocol is documented in docs/upload-protocol.md.

pub mod apikey;
pub mod credentials;
pub mod interrupt;
pub mod prefetch;
pub mod stream;
pub mod throttle;
pub mod tls;
pub mod uforge_http;
pub mod upload;

use crate::uforge::{Distribution, OverlayState, Scan, ScannedInstance};

/// Why a call failed: worth retrying (network, timeout, 5xx) or not (4xx: fix something).
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("{0}")]
    Retryable(String),
    #[error("{0}")]
    Rejected(String),
    /// The server has a different committed offset than the chunk assumed.
    #[error("server has {0} bytes committed")]
    Conflict(u64),
    /// The overlay is already complete on the server (another agent finished it, or the
    /// answer to our last chunk was lost).
    #[error("the overlay is already complete on the server")]
    Complete,
    /// SIGINT/SIGTERM: the scan was marked cancelled on the server (if it could be).
    #[error("interrupted; {0}")]
    Interrupted(String),
}

/// The scan report sent with a new scan (`POST …/scans`, UForge's scan_create).
#[derive(Debug, Clone, Copy)]
pub enum ReportBody<'a> {
    /// The scan in UForge's XML (`report/uforge_xml.rs`): what livescan sends.
    UforgeXml(&'a [u8]),
    /// The same, in a file (a live upload writes it there rather than in memory); sent
    /// from its start.
    UforgeXmlFile(&'a std::fs::File),
    /// The JSON report: only for exports made before they carried the XML.
    Json(&'a [u8]),
}

impl ReportBody<'_> {
    pub fn content_type(&self) -> &'static str {
        match self {
            ReportBody::UforgeXml(_) | ReportBody::UforgeXmlFile(_) => "application/xml",
            ReportBody::Json(_) => "application/json",
        }
    }
    pub fn file_name(&self) -> &'static str {
        match self {
            ReportBody::UforgeXml(_) | ReportBody::UforgeXmlFile(_) => "report.xml",
            ReportBody::Json(_) => "report.json",
        }
    }
}

/// Where scans and overlays go. Implementations speak one protocol; the upload logic
/// (retries, resume, chunking) is theirs to share.
pub trait UploadTarget: Send + Sync {
    /// The scanned instance called `name` for this machine, created if missing.
    fn instance(
        &self,
        name: &str,
        machine_id: Option<&str>,
        distribution: &Distribution,
        overlay: bool,
    ) -> Result<ScannedInstance, ShipError>;
    /// A scan of `instance` whose overlay is the export with this digest, if any.
    fn find_scan(&self, instance: &ScannedInstance, crc: &str) -> Result<Option<Scan>, ShipError>;
    fn create_scan(
        &self,
        instance: &ScannedInstance,
        name: &str,
        crc: &str,
        report: ReportBody<'_>,
    ) -> Result<Scan, ShipError>;
    fn overlay_state(&self, scan: &Scan) -> Result<OverlayState, ShipError>;
    /// Send `data` at `offset` (`blake3`: its hex digest, computed by the caller so it can
    /// be done ahead of time); `finish` carries the export's digest on the last chunk.
    fn send_chunk(
        &self,
        scan: &Scan,
        offset: u64,
        data: &[u8],
        blake3: &str,
        finish: Option<&str>,
    ) -> Result<OverlayState, ShipError>;
    /// Mark the scan cancelled (SIGINT) or failed.
    fn cancel(&self, scan: &Scan) -> Result<(), ShipError>;
}
