//! The kernel: the running release and command line (live facts), the parameters the boot
//! loader is configured with, and every installed kernel.

use std::collections::BTreeMap;

use serde::Serialize;

use super::read;
use super::LiveSources;
use crate::pkgdb::DbContents;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Kernel {
    /// Release of the running kernel (`/proc/sys/kernel/osrelease`); live only.
    pub running_release: Option<String>,
    /// `/proc/cmdline` as it is; live only.
    pub cmdline: Option<String>,
    /// The parameters a target image should boot with: those of `/proc/cmdline` when live,
    /// else the boot loader configuration's; without the boot-only ones (`dropped_parameters`).
    pub parameters: Vec<String>,
    /// Where `parameters` came from: `/proc/cmdline`, `/etc/default/grub`, `/etc/kernel/cmdline`.
    pub parameters_source: Option<String>,
    /// Parameters left out of `parameters`: `BOOT_IMAGE=`, `initrd=` and `root=` name the
    /// source's boot files and root device (the image's boot loader writes its own), and
    /// whatever follows `--` is for init, not the kernel.
    pub dropped_parameters: Vec<String>,
    /// Kernels installed in the root (`/lib/modules/*`, `/boot/vmlinuz-*`), by release.
    pub installed: Vec<InstalledKernel>,
    /// Kernel packages the package database lists (`kernel-core`, `linux-image-*`, …).
    pub packages: Vec<KernelPackage>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InstalledKernel {
    /// The release (`uname -r`), or the `/boot` file's suffix when no modules match it.
    pub release: String,
    /// The kernel image (`/boot/vmlinuz-…`, `/lib/modules/…/vmlinuz`), if found.
    pub image: Option<String>,
    /// Whether `/lib/modules/<release>` holds modules.
    pub modules: bool,
    /// Whether it is the running kernel (`false` when that is unknown).
    pub running: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KernelPackage {
    pub name: String,
    pub version: String,
}

/// Prefixes of parameters that only make sense for the source's own boot: its boot loader's
/// file names and its root device (the image builder writes its own).
const BOOT_ONLY: &[&str] = &["BOOT_IMAGE=", "initrd=", "root="];

pub fn collect(root: &RootFs, live: &LiveSources, dbs: &[DbContents]) -> Kernel {
    let running_release = live
        .read_proc_text("sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let cmdline = live
        .read_proc_text("cmdline")
        .map(|s| s.trim_end_matches(['\0', '\n']).to_string());
    let (source, raw) = match &cmdline {
        Some(c) => (Some("/proc/cmdline".to_string()), split_cmdline(c)),
        None => configured_parameters(root)
            .map(|(s, p)| (Some(s.to_string()), p))
            .unwrap_or_default(),
    };
    // Everything after `--` is for init, not the kernel.
    let init_args = raw.iter().position(|p| p == "--").unwrap_or(raw.len());
    let (mut dropped, parameters): (Vec<String>, Vec<String>) = raw[..init_args]
        .iter()
        .cloned()
        .partition(|p| BOOT_ONLY.iter().any(|b| p.starts_with(b)));
    dropped.extend(raw[init_args..].iter().cloned());
    Kernel {
        installed: installed(root, running_release.as_deref()),
        packages: packages(dbs),
        running_release,
        cmdline,
        parameters,
        parameters_source: source,
        dropped_parameters: dropped,
    }
}

/// Split a kernel command line: spaces separate parameters except inside double quotes
/// (`acpi_osi="!Windows 2012"`); the quotes stay, as the kernel shows them.
pub fn split_cmdline(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The boot loader's configured command line, for roots without a live one.
fn configured_parameters(root: &RootFs) -> Option<(&'static str, Vec<String>)> {
    if let Some(grub) = read::read_assignments(root, "/etc/default/grub") {
        let mut params = Vec::new();
        for key in ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"] {
            if let Some(v) = grub.get(key) {
                params.extend(split_cmdline(v));
            }
        }
        if !params.is_empty() {
            return Some(("/etc/default/grub", params));
        }
    }
    let line = read::read_config(root, "/etc/kernel/cmdline")?;
    Some(("/etc/kernel/cmdline", split_cmdline(line.trim())))
}

fn installed(root: &RootFs, running: Option<&str>) -> Vec<InstalledKernel> {
    let mut by_release: BTreeMap<String, InstalledKernel> = BTreeMap::new();
    let mut seen_dirs = Vec::new();
    for modules_dir in ["/usr/lib/modules", "/lib/modules"] {
        let resolved = read::resolve(root, modules_dir);
        if seen_dirs.contains(&resolved) {
            continue; // merged /usr: the same directory twice
        }
        seen_dirs.push(resolved);
        for rel in read::dir_names(root, modules_dir) {
            let dir = format!("{modules_dir}/{rel}");
            // RHEL leaves `weak-updates` behind in the directory of a removed kernel.
            let modules = read::exists(root, &format!("{dir}/kernel"))
                || read::exists(root, &format!("{dir}/modules.dep"));
            let image = format!("{dir}/vmlinuz");
            let image = read::exists(root, &image).then_some(image);
            if !modules && image.is_none() {
                continue;
            }
            by_release.insert(
                rel.clone(),
                InstalledKernel {
                    running: running == Some(rel.as_str()),
                    release: rel,
                    image,
                    modules,
                },
            );
        }
    }
    for name in read::dir_names(root, "/boot") {
        let Some(suffix) = ["vmlinuz-", "vmlinux-", "Image-", "kernel-"]
            .iter()
            .find_map(|p| name.strip_prefix(p))
        else {
            continue;
        };
        if suffix.ends_with(".hmac") || suffix.contains("rescue") {
            continue; // FIPS checksum files; the dracut rescue image is no kernel of its own
        }
        let path = format!("/boot/{name}");
        // Alpine's `vmlinuz-lts` is the flavour of `6.6.14-0-lts`; Arch's `vmlinuz-linux` is
        // the `pkgbase` of its modules directory.
        let release = if by_release.contains_key(suffix) {
            suffix.to_string()
        } else {
            by_release
                .keys()
                .find(|r| {
                    r.ends_with(&format!("-{suffix}"))
                        || read::first_line(root, &format!("/usr/lib/modules/{r}/pkgbase"))
                            .as_deref()
                            == Some(suffix)
                })
                .cloned()
                .unwrap_or_else(|| suffix.to_string())
        };
        let entry = by_release
            .entry(release.clone())
            .or_insert_with(|| InstalledKernel {
                running: running == Some(release.as_str()),
                release,
                image: None,
                modules: false,
            });
        if entry.image.is_none() {
            entry.image = Some(path);
        }
    }
    by_release.into_values().collect()
}

/// Installed packages that are kernels, by the names each distribution gives them.
fn packages(dbs: &[DbContents]) -> Vec<KernelPackage> {
    let is_kernel = |n: &str| {
        matches!(
            n,
            "kernel"
                | "kernel-core"
                | "kernel-uek"
                | "kernel-uek-core"
                | "kernel-default"
                | "kernel-rt"
                | "kernel-PAE"
                | "kernel-xen"
                | "kernel-lt"
                | "kernel-ml"
                | "kernel-azure"
                | "linux"
                | "linux-lts"
                | "linux-virt"
                | "linux-edge"
                | "linux-zen"
                | "linux-hardened"
                | "linux-rpi"
        ) || (n.starts_with("linux-image-") && !n.ends_with("-dbg"))
    };
    let mut out: Vec<KernelPackage> = dbs
        .iter()
        .flat_map(|d| &d.packages)
        .filter(|p| is_kernel(&p.name) && p.state != "config-files" && p.state != "not-installed")
        .map(|p| KernelPackage {
            name: p.name.clone(),
            version: match &p.release {
                Some(r) => format!("{}-{r}", p.version),
                None => p.version.clone(),
            },
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_packages_by_name() {
        let pkg =
            |name: &str, version: &str, release: Option<&str>, state: &str| crate::pkgdb::Package {
                name: name.into(),
                epoch: None,
                version: version.into(),
                release: release.map(str::to_string),
                arch: "x86_64".into(),
                state: state.into(),
            };
        let db = DbContents {
            packages: vec![
                pkg("kernel-core", "5.14.0", Some("362.8.1.el9_3"), "installed"),
                pkg("kernel-tools", "5.14.0", Some("362.8.1.el9_3"), "installed"),
                pkg(
                    "linux-image-6.1.0-17-amd64",
                    "6.1.69",
                    Some("1"),
                    "installed",
                ),
                pkg(
                    "linux-image-6.1.0-13-amd64",
                    "6.1.55",
                    Some("1"),
                    "config-files",
                ),
                pkg(
                    "linux-image-6.1.0-17-amd64-dbg",
                    "6.1.69",
                    Some("1"),
                    "installed",
                ),
                pkg("linux-lts", "6.6.14", None, "installed"),
                pkg("linux-firmware", "20240115", None, "installed"),
            ],
            files: Vec::new(),
            warnings: Vec::new(),
        };
        let names: Vec<(String, String)> = packages(&[db])
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "kernel-core".to_string(),
                    "5.14.0-362.8.1.el9_3".to_string()
                ),
                ("linux-image-6.1.0-17-amd64".into(), "6.1.69-1".into()),
                ("linux-lts".into(), "6.6.14".into()),
            ]
        );
    }

    #[test]
    fn cmdline_quotes_and_spaces() {
        assert_eq!(
            split_cmdline(
                "BOOT_IMAGE=/vmlinuz-6.1 root=UUID=x ro  acpi_osi=\"!Windows 2012\" quiet\n"
            ),
            vec![
                "BOOT_IMAGE=/vmlinuz-6.1",
                "root=UUID=x",
                "ro",
                "acpi_osi=\"!Windows 2012\"",
                "quiet"
            ]
        );
        assert!(split_cmdline("  ").is_empty());
    }
}
