//! Who was scanned: hostname, distribution (`/etc/os-release`), kernel, machine id.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default)]
pub struct HostInfo {
    pub hostname: Option<String>,
    pub machine_id: Option<String>,
    /// `uname -r` of the running kernel; only when the scanned root is the running host.
    pub kernel: Option<String>,
    pub arch: String,
    pub os_release: BTreeMap<String, String>,
}

impl HostInfo {
    pub fn collect(root: &RootFs) -> HostInfo {
        let live = root.is_host_root();
        let uname = if live {
            nix::sys::utsname::uname().ok()
        } else {
            None
        };
        let hostname = first_line(root.read("/etc/hostname").ok()).or_else(|| {
            uname
                .as_ref()
                .map(|u| u.nodename().to_string_lossy().into_owned())
        });
        let os_release = root
            .read("/etc/os-release")
            .or_else(|_| root.read("/usr/lib/os-release"))
            .map(|b| parse_os_release(&b))
            .unwrap_or_default();
        HostInfo {
            hostname,
            machine_id: first_line(root.read("/etc/machine-id").ok()),
            kernel: uname.map(|u| u.release().to_string_lossy().into_owned()),
            arch: std::env::consts::ARCH.to_string(),
            os_release,
        }
    }

    pub fn pretty_name(&self) -> Option<&str> {
        self.os_release
            .get("PRETTY_NAME")
            .or_else(|| self.os_release.get("NAME"))
            .map(String::as_str)
    }
}

fn first_line(bytes: Option<Vec<u8>>) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes?).into_owned();
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}

/// `KEY=value` lines, values optionally quoted (os-release(5)).
pub fn parse_os_release(bytes: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        out.insert(
            k.trim().to_string(),
            v.replace("\\\"", "\"").replace("\\\\", "\\"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_release_quotes() {
        let m = super::parse_os_release(
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n# c\nVERSION_ID='12'\n",
        );
        assert_eq!(m["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["VERSION_ID"], "12");
    }
}
