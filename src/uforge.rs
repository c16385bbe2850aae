//! The UForge object model the agent and the receiver share (`../shared/docs/uforge-api.md`
//! §2), as JSON (camelCase keys, like the UForge API's JSON). Only the fields livescan reads
//! or writes are modelled; unknown fields from a real server are ignored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Distribution {
    pub name: String,
    pub version: String,
    pub arch: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScannedInstance {
    pub db_id: u64,
    pub name: String,
    pub uri: String,
    pub distribution: Distribution,
    /// Whether scans of this instance carry an overlay (hammr refuses to mix).
    pub overlay_included: bool,
    /// livescan's addition: the host's machine-id, so clones with the same name stay apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    pub total_scans: u64,
    pub scans_uri: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScannedInstances {
    pub scanned_instances: Vec<ScannedInstance>,
    pub total: u64,
}

/// An operation's status (`OpStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpStatus {
    pub complete: bool,
    pub error: bool,
    pub cancelled: bool,
    pub error_message: String,
    pub message: String,
    pub percentage: u32,
    pub bytes_loaded: u64,
    pub bytes_total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Scan {
    pub db_id: u64,
    pub name: String,
    pub uri: String,
    pub scanned_instance_uri: String,
    pub overlay_uri: String,
    /// The export's whole-file BLAKE3 (its trailer digest): how an agent restarted with the
    /// same `--from FILE` finds the scan it was uploading.
    pub overlay_crc: String,
    pub scanned: bool,
    pub status: OpStatus,
    /// From a UForge XML report: its totals and services (the report's pieces —
    /// installProfile, packages, files — are served at their own URIs).
    pub total_files_added: u64,
    pub total_files_deleted: u64,
    pub total_files_modified: u64,
    pub total_packages: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unix_services: Vec<UnixService>,
}

/// A service of the scanned system (`unixService`: UForge's three strings, and the
/// runlevels by livescan's extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnixService {
    pub service_manager: String,
    pub service_name: String,
    pub service_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runlevels: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Scans {
    pub scans: Vec<Scan>,
    pub total: u64,
}

/// livescan's chunk protocol: what the receiver has committed of an overlay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OverlayState {
    /// Bytes durably stored, from offset 0; the next chunk must start here.
    pub committed: u64,
    pub complete: bool,
}
