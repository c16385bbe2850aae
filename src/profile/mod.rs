//! The host's install profile: what a target image needs besides files — distribution,
//! kernel, locale and keyboard, users, disks, network, services (UForge's `installProfile`).
//!
//! Everything is read from the scanned root's own files. Live facts (mount table, kernel
//! command line, NIC addresses, memory) come from [`LiveSources`]: the running host's
//! `/proc` and `/sys` when the root is `/`, captured trees given with `--proc`/`--sys`
//! otherwise, and are `null` ("unknown") when neither is there — never the scanning host's
//! facts passed off as the image's.

pub mod distribution;
pub mod hardware;
pub mod kernel;
pub mod live;
pub mod locale;
pub mod network;
mod read;
pub mod security;
pub mod services;
pub mod storage;
pub mod sudo;
pub mod users;

use serde::Serialize;

pub use live::LiveSources;

use crate::pkgdb::DbContents;
use crate::rootfs::RootFs;

/// The `profile` section of the report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Profile {
    /// Whether live facts were available (`/proc`, `/sys` of the scanned system).
    pub live: bool,
    pub distribution: distribution::Distribution,
    pub hostname: Option<String>,
    pub kernel: kernel::Kernel,
    pub timezone: locale::Timezone,
    pub keyboard: locale::Keyboard,
    pub locale: locale::Locale,
    pub selinux: security::Selinux,
    pub firewall: security::Firewall,
    pub hardware: hardware::Hardware,
    /// Whether `password_hash` fields were filled (`--include-password-hashes`).
    pub password_hashes_included: bool,
    pub users: Vec<users::User>,
    pub groups: Vec<users::Group>,
    pub services: services::Services,
    pub storage: storage::Storage,
    pub network: network::Network,
}

/// What the user chose to put in the profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileOptions {
    /// `--include-password-hashes`: record users' and groups' password fields.
    pub include_password_hashes: bool,
}

/// Collect the profile of `root`. Never fails: what cannot be read is recorded as unknown
/// (`null`), so one odd file cannot lose the scan.
/// `databases` are the root's package databases, already read by the scan (kernel packages).
pub fn collect(
    root: &RootFs,
    live: &LiveSources,
    databases: &[DbContents],
    opts: &ProfileOptions,
) -> Profile {
    let services = services::collect(root);
    let (users, groups) = users::collect(root, opts.include_password_hashes);
    Profile {
        live: live.is_available(),
        distribution: distribution::collect(root, live),
        hostname: hostname(root, live),
        kernel: kernel::collect(root, live, databases),
        timezone: locale::timezone(root),
        keyboard: locale::keyboard(root),
        locale: locale::locale(root),
        selinux: security::selinux(root, live),
        firewall: security::firewall(root, &services),
        hardware: hardware::collect(live),
        password_hashes_included: opts.include_password_hashes,
        users,
        groups,
        services,
        storage: storage::collect(root, live),
        network: network::collect(root, live),
    }
}

/// The host name the root is configured with (`/etc/hostname`; `/etc/HOSTNAME` on SUSE;
/// `HOSTNAME=` in `/etc/sysconfig/network` on RHEL ≤ 6), else the live one.
fn hostname(root: &RootFs, live: &LiveSources) -> Option<String> {
    read::first_line(root, "/etc/hostname")
        .or_else(|| read::first_line(root, "/etc/HOSTNAME"))
        .or_else(|| {
            read::read_assignments(root, "/etc/sysconfig/network")?
                .get("HOSTNAME")
                .filter(|h| !h.is_empty())
                .cloned()
        })
        .or_else(|| {
            let h = live
                .read_proc_text("sys/kernel/hostname")?
                .trim()
                .to_string();
            (!h.is_empty()).then_some(h)
        })
}
