//! The scan in UForge's XML (`livescan scan --format xml`): a `<ns0:scan>` document in the
//! namespace `http://www.usharesoft.com/uforge`, with the scan's packages (`scannedPackage`),
//! changed files (`scannedFile`) and the install profile, as `docs/uforge-livescan.xsd`
//! describes it (UForge's types, extended where our data is richer: see docs/report-format.md).
//!
//! Streamed like the JSON report: each element goes to the writer as soon as it is known, so
//! a host with millions of files never has its document in memory.
//!
//! XML 1.0 cannot carry non-UTF-8 bytes nor most control characters, even as character
//! references. A value that has either is written as `<el encoding="base64">` with the
//! standard base64 of its raw bytes (the JSON report's `{"base64": …}` in XML form).

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::ReportInput;
use crate::classify::Change;
use crate::profile::network::{IpFamily, Ipv4Method, Ipv6Method, Nic, NicKind};
use crate::profile::storage::{Disk, Filesystem, LogicalGroup, LogicalVolume, Partition};
use crate::profile::users::{Group, User};
use crate::profile::Profile;
use crate::walk::FileKind;

pub const NAMESPACE: &str = "http://www.usharesoft.com/uforge";

/// Whether XML 1.0 can carry `c` in element content (its `Char` production).
pub(crate) fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Write `<name>value</name>`, escaped: the one place text reaches the document.
/// `&<>"'` become entities, CR a character reference (a parser would turn a raw CR into LF),
/// other UTF-8 is kept as it is; bytes XML cannot carry make the element base64.
fn text<W: Write>(w: &mut W, name: &str, value: &[u8]) -> io::Result<()> {
    match std::str::from_utf8(value) {
        Ok(s) if s.chars().all(xml_char) => {
            write!(w, "<{name}>")?;
            let mut start = 0;
            for (i, c) in s.char_indices() {
                let esc = match c {
                    '&' => "&amp;",
                    '<' => "&lt;",
                    '>' => "&gt;",
                    '"' => "&quot;",
                    '\'' => "&apos;",
                    '\r' => "&#13;",
                    _ => continue,
                };
                w.write_all(&s.as_bytes()[start..i])?;
                w.write_all(esc.as_bytes())?;
                start = i + c.len_utf8();
            }
            w.write_all(&s.as_bytes()[start..])?;
            write!(w, "</{name}>")
        }
        _ => write!(
            w,
            "<{name} encoding=\"base64\">{}</{name}>",
            STANDARD.encode(value)
        ),
    }
}

fn opt_text<W: Write>(w: &mut W, name: &str, value: Option<&str>) -> io::Result<()> {
    match value {
        Some(v) => text(w, name, v.as_bytes()),
        None => Ok(()),
    }
}

/// Numbers and booleans: nothing to escape.
fn plain<W: Write>(w: &mut W, name: &str, value: impl std::fmt::Display) -> io::Result<()> {
    write!(w, "<{name}>{value}</{name}>")
}

/// Write the scan as UForge XML to `w` (buffer it).
pub fn write_scan<W: Write>(w: &mut W, r: &ReportInput) -> io::Result<()> {
    let (mut added, mut deleted, mut modified) = (0u64, 0u64, 0u64);
    added += r.files.added.len() as u64;
    for f in &r.files.records {
        match f.change {
            Change::Added => added += 1,
            Change::Deleted => deleted += 1,
            Change::Modified => modified += 1,
        }
    }
    let packages: usize = r.databases.iter().map(|d| d.packages.len()).sum();
    let p = r.profile;

    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(w, "<ns0:scan xmlns:ns0=\"{NAMESPACE}\">")?;
    let name = p
        .hostname
        .as_deref()
        .map(str::as_bytes)
        .unwrap_or(&r.scan.root);
    text(w, "name", name)?;
    w.write_all(b"\n")?;
    plain(w, "error", !r.errors.is_empty())?;
    if !r.errors.is_empty() {
        let msg = format!("{} paths could not be read", r.errors.len());
        text(w, "errorMsg", msg.as_bytes())?;
    }
    plain(w, "scanned", true)?;
    w.write_all(b"\n<status>")?;
    plain(w, "complete", true)?;
    plain(w, "error", !r.errors.is_empty())?;
    plain(w, "percentage", 100)?;
    w.write_all(b"</status>\n")?;
    plain(w, "totalFilesAdded", added)?;
    plain(w, "totalFilesDeleted", deleted)?;
    plain(w, "totalFilesModified", modified)?;
    plain(w, "totalPackages", packages)?;
    w.write_all(b"\n")?;
    distribution(w, p)?;
    install_profile(w, p)?;
    unix_services(w, p)?;

    w.write_all(b"<packages>\n")?;
    for d in r.databases {
        for pkg in d.packages {
            w.write_all(b"<package>")?;
            text(w, "name", pkg.name.as_bytes())?;
            text(w, "version", pkg.version.as_bytes())?;
            opt_text(w, "release", pkg.release.as_deref())?;
            text(w, "arch", pkg.arch.as_bytes())?;
            if let Some(e) = pkg.epoch {
                plain(w, "epoch", e)?;
            }
            w.write_all(b"</package>\n")?;
        }
    }
    w.write_all(b"</packages>\n<files>\n")?;
    for f in r.files.iter() {
        w.write_all(b"<scannedFile>")?;
        text(w, "fullPath", &f.path)?;
        let change = match f.change {
            Change::Added => "added",
            Change::Deleted => "deleted",
            Change::Modified => "modified",
        };
        plain(w, "changeType", change)?;
        if let Some(m) = &f.meta {
            plain(w, "directory", m.kind == FileKind::Dir)?;
            if m.kind == FileKind::Regular {
                plain(w, "size", m.size)?;
            }
            match r.accounts.user_name(m.uid) {
                Some(u) => text(w, "owner", u.as_bytes())?,
                None => plain(w, "owner", m.uid)?,
            }
            match r.accounts.group_name(m.gid) {
                Some(g) => text(w, "group", g.as_bytes())?,
                None => plain(w, "group", m.gid)?,
            }
            write!(w, "<permissions>{:04o}</permissions>", m.mode & 0o7777)?;
        }
        if let Some(t) = &f.link_target {
            text(w, "linkTarget", t)?;
        }
        w.write_all(b"</scannedFile>\n")?;
    }
    w.write_all(b"</files>\n</ns0:scan>\n")?;
    w.flush()
}

/// `distribution/name` values: UForge's enum, then our extensions (the names
/// `profile::distribution` gives distributions UForge does not know). Kept equal to the
/// enum of docs/uforge-livescan.xsd (a test checks).
pub const DISTRIBUTION_NAMES: &[&str] = &[
    "CentOS",
    "Debian",
    "Fedora Core",
    "OpenSUSE",
    "Oracle Linux",
    "RedHat Enterprise Linux",
    "Scientific Linux",
    "SUSE Linux Enterprise Server",
    "Ubuntu",
    "Windows",
    "SUSE Linux Enterprise Desktop",
    "Rocky Linux",
    "AlmaLinux",
    "Amazon Linux",
    "Alpine Linux",
    "Arch Linux",
];

/// `distribution/arch` values: UForge's enum, then the ones `distribution::elf_arch` adds.
pub const ARCHES: &[&str] = &[
    "i386",
    "i586",
    "i686",
    "noarch",
    "x86_64",
    "aarch64",
    "armv7l",
    "ppc",
    "ppc64",
    "ppc64le",
    "s390",
    "s390x",
    "riscv64",
    "loongarch64",
];

/// An element with a closed vocabulary: `<name>` when `value` is one of `allowed`, else the
/// extension element `<other>` (`otherName`, `otherArch`, …) with the value as the host has
/// it — never left out, never made to look like a UForge word.
fn vocab<W: Write>(
    w: &mut W,
    name: &str,
    other: &str,
    allowed: &[&str],
    value: &str,
) -> io::Result<()> {
    if allowed.contains(&value) {
        text(w, name, value.as_bytes())
    } else {
        text(w, other, value.as_bytes())
    }
}

/// `distribution/family`.
const FAMILIES: &[&str] = &["linux", "unix", "windows"];
/// `installProfile/seLinuxMode`.
const SELINUX_MODES: &[&str] = &["disabled", "permissive", "enforcing"];

fn distribution<W: Write>(w: &mut W, p: &Profile) -> io::Result<()> {
    let d = &p.distribution;
    w.write_all(b"<distribution>")?;
    if let Some(n) = d.name.as_deref() {
        vocab(w, "name", "otherName", DISTRIBUTION_NAMES, n)?;
    }
    opt_text(w, "description", d.pretty_name.as_deref())?;
    opt_text(w, "version", d.version.as_deref())?;
    if let Some(a) = d.arch.as_deref() {
        vocab(w, "arch", "otherArch", ARCHES, a)?;
    }
    if !d.family.is_empty() {
        vocab(w, "family", "otherFamily", FAMILIES, &d.family)?;
    }
    opt_text(w, "pkgType", d.pkg_type.as_deref())?;
    w.write_all(b"</distribution>\n")
}

fn install_profile<W: Write>(w: &mut W, p: &Profile) -> io::Result<()> {
    w.write_all(b"<installProfile>\n")?;
    opt_text(w, "timezone", p.timezone.name.as_deref())?;
    // uforge-api.md does not list UForge's keymap enum (only "67 console keymaps" and a few
    // examples): the host's keymap name goes as it is.
    opt_text(w, "keyboard", p.keyboard.keymap.as_deref())?;
    // Extensions: the X keyboard settings (`/etc/default/keyboard`, vconsole's XKB*), often
    // all a Debian host has, which UForge's console keymap cannot say.
    let k = &p.keyboard;
    opt_text(w, "xkbLayout", k.xkb_layout.as_deref())?;
    opt_text(w, "xkbModel", k.xkb_model.as_deref())?;
    opt_text(w, "xkbVariant", k.xkb_variant.as_deref())?;
    opt_text(w, "xkbOptions", k.xkb_options.as_deref())?;
    // Extension: the system locale (`LANG`); UForge's installProfile has no field for it.
    opt_text(w, "locale", p.locale.lang.as_deref())?;
    if !p.kernel.parameters.is_empty() {
        text(
            w,
            "kernelParameters",
            p.kernel.parameters.join(",").as_bytes(),
        )?;
        // UForge's form is comma-separated, but a parameter may hold commas
        // (`console=ttyS0,115200n8`): the list keeps each one whole.
        w.write_all(b"<kernelParameterList>")?;
        for k in &p.kernel.parameters {
            text(w, "kernelParameter", k.as_bytes())?;
        }
        w.write_all(b"</kernelParameterList>")?;
    }
    if let Some(m) = p.hardware.memory_bytes {
        plain(w, "memorySize", m)?;
    }
    if let Some(s) = p.hardware.swap_bytes {
        plain(w, "swapSize", s)?;
    }
    if let Some(f) = p.firewall.enabled {
        plain(w, "firewallEnabled", f)?;
    }
    if let Some(mode) = p.selinux.mode.as_deref() {
        vocab(w, "seLinuxMode", "otherSeLinuxMode", SELINUX_MODES, mode)?;
    }
    // UForge keeps root apart (`rootUser`, "includes root password information").
    let is_root = |u: &&User| u.uid == 0 && u.name == "root";
    if let Some(root) = p.users.iter().find(is_root) {
        user(w, root, "rootUser")?;
    }
    w.write_all(b"\n<users>\n")?;
    for u in p.users.iter().filter(|u| !is_root(u)) {
        user(w, u, "user")?;
        w.write_all(b"\n")?;
    }
    w.write_all(b"</users>\n<groups>\n")?;
    for g in &p.groups {
        group(w, g)?;
    }
    w.write_all(b"</groups>\n<partitionTable><disks>\n")?;
    for d in &p.storage.disks {
        disk(w, d)?;
    }
    w.write_all(b"</disks>\n<logicalGroups>\n")?;
    for g in &p.storage.logical_groups {
        logical_group(w, g)?;
    }
    w.write_all(b"</logicalGroups>\n<logicalVolumes>\n")?;
    for v in &p.storage.logical_volumes {
        logical_volume(w, v)?;
    }
    w.write_all(b"</logicalVolumes></partitionTable>\n<nics>\n")?;
    for n in &p.network.nics {
        nic(w, n)?;
    }
    w.write_all(b"</nics>\n</installProfile>\n")
}

fn user<W: Write>(w: &mut W, u: &User, el: &str) -> io::Result<()> {
    write!(w, "<{el}>")?;
    text(w, "name", u.name.as_bytes())?;
    plain(w, "userId", u.uid)?;
    text(w, "homeDir", &u.home)?;
    text(w, "shell", &u.shell)?;
    opt_text(w, "primaryGroup", u.primary_group.as_deref())?;
    // Extension: the numeric primary group, which `primaryGroup` cannot say when no group
    // has that id.
    plain(w, "primaryGroupId", u.gid)?;
    text(
        w,
        "secondaryGroups",
        u.secondary_groups.join(",").as_bytes(),
    )?;
    text(w, "fullName", &u.gecos)?;
    plain(w, "systemUser", u.system_user)?;
    plain(w, "sudo", u.sudo)?;
    plain(w, "disablePasswordLogin", u.password_locked)?;
    // Extensions: shadow's "no password" and "set" states (UForge's changelog 7196: the
    // lock and no-password flags were lost).
    plain(w, "passwordSet", u.password_set)?;
    plain(w, "passwordEmpty", u.password_empty)?;
    if let Some(h) = &u.password_hash {
        text(w, "password", h.0.as_bytes())?;
        plain(w, "encrypted", true)?;
    }
    write!(w, "</{el}>")
}

fn group<W: Write>(w: &mut W, g: &Group) -> io::Result<()> {
    w.write_all(b"<group>")?;
    text(w, "name", g.name.as_bytes())?;
    plain(w, "groupId", g.gid)?;
    plain(w, "systemGroup", g.system_group)?;
    if let Some(h) = &g.password_hash {
        text(w, "password", h.0.as_bytes())?;
        plain(w, "encrypted", true)?;
    }
    // Extension: members and gshadow administrators, comma-separated like
    // osUser/secondaryGroups (a member without a passwd line is kept here).
    text(w, "members", g.members.join(",").as_bytes())?;
    text(w, "admins", g.admins.join(",").as_bytes())?;
    w.write_all(b"</group>\n")
}

/// `nic/type`: UForge's `ETHERNET`, then the kinds `profile::network` tells apart.
pub const NIC_TYPES: &[&str] = &[
    "ETHERNET",
    "WIRELESS",
    "INFINIBAND",
    "LOOPBACK",
    "BOND",
    "TEAM",
    "BRIDGE",
    "VLAN",
    "TUNNEL",
    "VETH",
    "VIRTUAL",
    "UNKNOWN",
];

fn nic_type(k: NicKind) -> &'static str {
    match k {
        NicKind::Ethernet => "ETHERNET",
        NicKind::Wireless => "WIRELESS",
        NicKind::Infiniband => "INFINIBAND",
        NicKind::Loopback => "LOOPBACK",
        NicKind::Bond => "BOND",
        NicKind::Team => "TEAM",
        NicKind::Bridge => "BRIDGE",
        NicKind::Vlan => "VLAN",
        NicKind::Tunnel => "TUNNEL",
        NicKind::Veth => "VETH",
        NicKind::Virtual => "VIRTUAL",
        NicKind::Unknown => "UNKNOWN",
    }
}

fn nic<W: Write>(w: &mut W, n: &Nic) -> io::Result<()> {
    w.write_all(b"<nic>")?;
    text(w, "name", n.name.as_bytes())?;
    plain(w, "order", n.order)?;
    plain(w, "type", nic_type(n.kind))?;
    if let Some(a) = n.auto_connect {
        plain(w, "autoConnect", a)?;
    }
    if let Some(m) = n.ipv4_method {
        let m = match m {
            Ipv4Method::Automatic => "AUTOMATIC",
            Ipv4Method::Manual => "MANUAL",
            Ipv4Method::Disabled => "DISABLED",
        };
        plain(w, "ipv4Method", m)?;
    }
    if let Some(m) = n.ipv6_method {
        let m = match m {
            Ipv6Method::Automatic => "AUTOMATIC",
            Ipv6Method::Manual => "MANUAL",
            Ipv6Method::Ignore => "IGNORE",
        };
        plain(w, "ipv6Method", m)?;
    }
    w.write_all(b"<ipAddresses>")?;
    for a in &n.ip_addresses {
        w.write_all(b"<ipAddress>")?;
        text(w, "address", a.address.as_bytes())?;
        opt_text(w, "gateway", a.gateway.as_deref())?;
        opt_text(w, "netmask", a.netmask.as_deref())?;
        // uforge-api.md says only "int, IPv4/IPv6": livescan writes 4 or 6.
        plain(
            w,
            "type",
            match a.family {
                IpFamily::Ipv4 => 4,
                IpFamily::Ipv6 => 6,
            },
        )?;
        // Extension: the prefix length (an IPv6 address has no dotted netmask).
        if let Some(l) = a.prefix_len {
            plain(w, "prefixLength", l)?;
        }
        w.write_all(b"</ipAddress>")?;
    }
    w.write_all(b"</ipAddresses>")?;
    // Extensions: what identifies the card on the target.
    opt_text(w, "macAddress", n.mac.as_deref())?;
    opt_text(w, "driver", n.driver.as_deref())?;
    if let Some(m) = n.mtu {
        plain(w, "mtu", m)?;
    }
    opt_text(w, "master", n.master.as_deref())?;
    w.write_all(b"</nic>\n")
}

/// A VG: UForge's `logicalGroup` names it (`groupName`, and `name`); its disks and
/// partitions are URIs on a server, so the agent gives them by extension instead: size,
/// extent size, free bytes, uuid and the physical volumes.
fn logical_group<W: Write>(w: &mut W, g: &LogicalGroup) -> io::Result<()> {
    w.write_all(b"<logicalGroup>")?;
    text(w, "groupName", g.name.as_bytes())?;
    text(w, "name", g.name.as_bytes())?;
    text(w, "uuid", g.uuid.as_bytes())?;
    plain(w, "size", g.size)?;
    plain(w, "extentSize", g.extent_size)?;
    plain(w, "free", g.free)?;
    w.write_all(b"<physicalVolumes>")?;
    for pv in &g.physical_volumes {
        w.write_all(b"<physicalVolume>")?;
        text(w, "uuid", pv.uuid.as_bytes())?;
        opt_text(w, "device", pv.device.as_deref())?;
        opt_text(w, "deviceHint", pv.device_hint.as_deref())?;
        plain(w, "size", pv.size)?;
        w.write_all(b"</physicalVolume>")?;
    }
    w.write_all(b"</physicalVolumes></logicalGroup>\n")
}

/// An LV: UForge's `logicalVolume` (`name`, `volumes/volume` — the filesystem it holds, as a
/// partition); its VG by name (`groupName`, extension: `groupUri` is a server URI).
fn logical_volume<W: Write>(w: &mut W, v: &LogicalVolume) -> io::Result<()> {
    w.write_all(b"<logicalVolume>")?;
    text(w, "name", v.name.as_bytes())?;
    text(w, "groupName", v.group.as_bytes())?;
    text(w, "uuid", v.uuid.as_bytes())?;
    plain(w, "size", v.size)?;
    text(w, "mapperName", v.mapper_name.as_bytes())?;
    opt_text(w, "device", v.device.as_deref())?;
    text(w, "segmentTypes", v.segment_types.join(",").as_bytes())?;
    w.write_all(b"<volumes><volume>")?;
    match &v.filesystem {
        Some(fs) => fstype(w, &fs.fstype)?,
        None => plain(w, "fstype", "unformatted")?,
    }
    if let Some(fs) = &v.filesystem {
        opt_text(w, "label", fs.label.as_deref())?;
        opt_text(w, "mpoint", fs.mount_point.as_deref())?;
        filesystem_ext(w, fs)?;
    }
    text(w, "name", v.name.as_bytes())?;
    plain(w, "size", v.size)?;
    w.write_all(b"</volume></volumes></logicalVolume>\n")
}

/// Whether the schema's `diskName` (UForge's `sda`…`sdf`, and the pattern
/// `(sd|vd|xvd|hd|dasd)[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+`) covers `name`.
fn disk_name_in_schema(name: &str) -> bool {
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = ["dasd", "xvd", "sd", "vd", "hd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
    {
        return letters(rest);
    }
    if let Some(rest) = name.strip_prefix("nvme") {
        return rest
            .split_once('n')
            .is_some_and(|(c, n)| digits(c) && digits(n));
    }
    name.strip_prefix("mmcblk").is_some_and(digits)
}

fn disk<W: Write>(w: &mut W, d: &Disk) -> io::Result<()> {
    w.write_all(b"<disk>")?;
    plain(w, "blockSize", d.block_size)?;
    // A kernel name the pattern does not cover (`rbd0`, `pmem0`) is kept as `otherName`.
    if disk_name_in_schema(&d.name) {
        text(w, "name", d.name.as_bytes())?;
    } else {
        text(w, "otherName", d.name.as_bytes())?;
    }
    match d.partition_type.as_deref() {
        Some("msdos") => plain(w, "partitionType", "MSDOS")?,
        Some("gpt") => plain(w, "partitionType", "GPT")?,
        Some(other) => text(w, "otherPartitionType", other.as_bytes())?,
        None => {}
    }
    plain(w, "size", d.size)?;
    w.write_all(b"<partitions>")?;
    for p in &d.partitions {
        partition(w, p, "partition")?;
    }
    w.write_all(b"</partitions>")?;
    // Extension: what a disk without a partition table holds (a whole-disk PV, a
    // filesystem on the bare device).
    if let Some(fs) = &d.filesystem {
        w.write_all(b"<filesystem>")?;
        fstype(w, &fs.fstype)?;
        opt_text(w, "label", fs.label.as_deref())?;
        opt_text(w, "mpoint", fs.mount_point.as_deref())?;
        filesystem_ext(w, fs)?;
        w.write_all(b"</filesystem>")?;
    }
    w.write_all(b"</disk>\n")
}

/// Our filesystem type (blkid's names) in UForge's `fstype` vocabulary; `None` when it has
/// no word for it.
fn uforge_fstype(fs: &str) -> Option<&'static str> {
    Some(match fs {
        "ext2" => "ext2",
        "ext3" => "ext3",
        "ext4" => "ext4",
        "xfs" => "xfs",
        "btrfs" => "btrfs",
        "jfs" => "jfs",
        "ntfs" => "ntfs",
        "vfat" => "fat32",
        "swap" => "linux-swap",
        "LVM2_member" => "lvm2",
        // Extensions (docs/uforge-livescan.xsd): UForge has no word for these.
        "crypto_LUKS" => "crypto_LUKS",
        "linux_raid_member" => "linux_raid_member",
        _ => return None,
    })
}

/// `<fstype>`, or `<otherFstype>` with blkid's name for a type neither UForge nor our
/// extension names (`zfs_member`, `exfat`, …).
fn fstype<W: Write>(w: &mut W, fs: &str) -> io::Result<()> {
    match uforge_fstype(fs) {
        Some(t) => plain(w, "fstype", t),
        None => text(w, "otherFstype", fs.as_bytes()),
    }
}

/// Extensions after UForge's partition fields: the filesystem's identity and usage.
fn filesystem_ext<W: Write>(w: &mut W, fs: &Filesystem) -> io::Result<()> {
    opt_text(w, "uuid", fs.uuid.as_deref())?;
    opt_text(w, "mountOptions", fs.mount_options.as_deref())?;
    if let Some(s) = fs.size {
        plain(w, "fsSize", s)?;
    }
    if let Some(u) = fs.used {
        plain(w, "fsUsed", u)?;
    }
    opt_text(w, "memberOf", fs.member_of.as_deref())
}

fn partition<W: Write>(w: &mut W, p: &Partition, el: &str) -> io::Result<()> {
    write!(w, "<{el}>")?;
    if p.kind.as_deref() == Some("extended") {
        plain(w, "fstype", "Extended")?;
    } else {
        match &p.filesystem {
            Some(fs) => fstype(w, &fs.fstype)?,
            None => plain(w, "fstype", "unformatted")?,
        }
    }
    if let Some(fs) = &p.filesystem {
        opt_text(w, "label", fs.label.as_deref())?;
    }
    if !p.logical_partitions.is_empty() {
        w.write_all(b"<logicalPartitions>")?;
        for l in &p.logical_partitions {
            partition(w, l, "logicalPartition")?;
        }
        w.write_all(b"</logicalPartitions>")?;
    }
    if let Some(fs) = &p.filesystem {
        opt_text(w, "mpoint", fs.mount_point.as_deref())?;
    }
    opt_text(w, "name", p.name.as_deref())?;
    plain(w, "size", p.size)?;
    plain(w, "volumeOrder", p.number)?;
    plain(w, "mbrBoot", p.bootable)?;
    if let Some(fs) = &p.filesystem {
        filesystem_ext(w, fs)?;
    }
    write!(w, "</{el}>")
}

/// The scan's `unixServices/unixService` (UForge's strings: `serviceManager`,
/// `serviceName`, `serviceStatus` = systemctl's state words), and the SysV/OpenRC runlevels
/// by extension.
fn unix_services<W: Write>(w: &mut W, p: &Profile) -> io::Result<()> {
    w.write_all(b"<unixServices>\n")?;
    for s in &p.services.services {
        w.write_all(b"<unixService>")?;
        text(w, "serviceManager", s.manager.as_bytes())?;
        text(w, "serviceName", s.name.as_bytes())?;
        text(w, "serviceStatus", s.state.as_bytes())?;
        if !s.runlevels.is_empty() {
            text(w, "runlevels", s.runlevels.join(",").as_bytes())?;
        }
        w.write_all(b"</unixService>\n")?;
    }
    w.write_all(b"</unixServices>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(v: &[u8]) -> String {
        let mut out = Vec::new();
        text(&mut out, "x", v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_markup_and_keeps_utf8() {
        assert_eq!(
            esc("a&b<c>\"'café\n".as_bytes()),
            "<x>a&amp;b&lt;c&gt;&quot;&apos;café\n</x>"
        );
        assert_eq!(esc(b"a\rb"), "<x>a&#13;b</x>");
    }

    #[test]
    fn disk_names_as_the_schema_pattern() {
        for n in [
            "sda", "sdf", "sdaa", "vda", "xvda", "hda", "dasdb", "nvme0n1", "nvme12n3", "mmcblk0",
        ] {
            assert!(disk_name_in_schema(n), "{n}");
        }
        for n in [
            "rbd0",
            "sd",
            "sda1",
            "nvme0",
            "nvme0n1p1",
            "mmcblk",
            "mmcblk0p1",
            "pmem0",
            "Sda",
        ] {
            assert!(!disk_name_in_schema(n), "{n}");
        }
    }

    #[test]
    fn base64_for_what_xml_cannot_carry() {
        assert_eq!(esc(b"caf\xe9"), "<x encoding=\"base64\">Y2Fm6Q==</x>");
        assert_eq!(esc(b"a\x01"), "<x encoding=\"base64\">YQE=</x>");
        assert_eq!(
            esc("\u{FFFE}".as_bytes()),
            "<x encoding=\"base64\">77++</x>"
        );
    }

    /// The install profile parts a tempdir root leaves empty (disks, partitions, NICs,
    /// hashes), written into a scan document and validated with xmllint against the XSD.
    #[test]
    fn install_profile_validates_against_the_schema() {
        use crate::profile::network::Nic;
        use crate::profile::storage::Filesystem;
        use crate::profile::users::{PasswordHash, User};
        if std::process::Command::new("xmllint")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIP install_profile_validates_against_the_schema: xmllint not found (apt-get install libxml2-utils)");
            return;
        }
        let fs = |t: &str, mp: Option<&str>| Filesystem {
            fstype: t.into(),
            label: Some("lab<el>".into()),
            mount_point: mp.map(str::to_string),
            ..Filesystem::default()
        };
        let part = |n: u32, kind: &str, f: Option<Filesystem>| Partition {
            number: n,
            name: Some(format!("vda{n}")),
            kind: Some(kind.into()),
            size: 1 << 20,
            filesystem: f,
            ..Partition::default()
        };
        let mut extended = part(2, "extended", None);
        extended.logical_partitions = vec![
            part(5, "logical", Some(fs("swap", None))),
            part(6, "logical", Some(fs("LVM2_member", None))),
            part(7, "logical", Some(fs("zfs_member", None))),
        ];
        let mut p = Profile::default();
        p.distribution.name = Some("Some Other Linux".into());
        p.distribution.arch = Some("mips64".into());
        p.selinux.mode = Some("weird".into());
        p.kernel.parameters = vec!["ro".into(), "quiet".into(), "console=ttyS0,115200n8".into()];
        p.hardware.memory_bytes = Some(1 << 30);
        p.hardware.swap_bytes = Some(1 << 29);
        p.firewall.enabled = Some(true);
        p.keyboard.keymap = Some("fr-latin9".into());
        p.keyboard.xkb_layout = Some("fr".into());
        p.keyboard.xkb_variant = Some("oss".into());
        p.locale.lang = Some("fr_FR.UTF-8".into());
        p.storage.disks = ["vda", "nvme0n1", "sda", "xvdb", "mmcblk0", "rbd0", "pmem0"]
            .iter()
            .map(|n| Disk {
                name: n.to_string(),
                size: 1 << 30,
                block_size: 512,
                partition_type: Some(if *n == "vda" { "msdos" } else { "gpt" }.into()),
                partitions: vec![
                    part(1, "primary", Some(fs("ext4", Some("/")))),
                    extended.clone(),
                ],
                ..Disk::default()
            })
            .collect();
        p.storage.logical_groups = vec![LogicalGroup {
            name: "vg0".into(),
            uuid: "u-vg".into(),
            extent_size: 4 << 20,
            size: 1 << 30,
            free: 1 << 20,
            physical_volumes: vec![crate::profile::storage::PhysicalVolume {
                uuid: "u-pv".into(),
                device: Some("vda6".into()),
                device_hint: Some("/dev/vda6".into()),
                size: 1 << 30,
            }],
        }];
        p.storage.logical_volumes = vec![LogicalVolume {
            name: "root".into(),
            group: "vg0".into(),
            uuid: "u-lv".into(),
            size: 1 << 29,
            mapper_name: "vg0-root".into(),
            device: Some("dm-0".into()),
            segment_types: vec!["striped".into()],
            physical_volumes: vec!["u-pv".into()],
            filesystem: Some(fs("xfs", Some("/srv"))),
        }];
        p.groups = vec![Group {
            name: "adm".into(),
            gid: 4,
            members: vec!["jo".into(), "ann".into()],
            admins: vec![],
            system_group: true,
            password_set: false,
            password_hash: None,
        }];
        p.services.services = vec![crate::profile::services::Service {
            name: "sshd.service".into(),
            manager: "systemd".into(),
            state: "enabled".into(),
            runlevels: vec![],
            file: Some("/usr/lib/systemd/system/sshd.service".into()),
        }];
        let root = User {
            name: "root".into(),
            uid: 0,
            gid: 0,
            primary_group: Some("root".into()),
            secondary_groups: vec![],
            gecos: b"root".to_vec(),
            home: b"/root".to_vec(),
            shell: b"/bin/bash".to_vec(),
            system_user: true,
            password_set: true,
            password_locked: true,
            password_empty: false,
            password_source: Some("/etc/shadow".into()),
            password_hash: None,
            sudo: 0,
        };
        p.users = vec![
            root,
            User {
                name: "jo".into(),
                uid: 1000,
                gid: 1000,
                primary_group: Some("jo".into()),
                secondary_groups: vec!["adm".into(), "wheel".into()],
                gecos: b"J\xe9r\xf4me".to_vec(),
                home: b"/home/jo".to_vec(),
                shell: b"/bin/sh".to_vec(),
                system_user: false,
                password_set: true,
                password_locked: false,
                password_empty: false,
                password_source: Some("/etc/shadow".into()),
                password_hash: Some(PasswordHash("$6$salt$h&sh".into())),
                sudo: 2,
            },
        ];
        let addr = |family, a: &str, l: u8, mask: Option<&str>, gw: Option<&str>| {
            crate::profile::network::IpAddress {
                family,
                address: a.into(),
                prefix_len: Some(l),
                netmask: mask.map(str::to_string),
                gateway: gw.map(str::to_string),
                permanent: None,
            }
        };
        p.network.nics = vec![Nic {
            name: "eth0".into(),
            order: 0,
            kind: NicKind::Ethernet,
            physical: None,
            mac: None,
            driver: None,
            operstate: None,
            mtu: None,
            ifindex: None,
            default_route: true,
            auto_connect: Some(true),
            ipv4_method: Some(Ipv4Method::Automatic),
            ipv6_method: Some(Ipv6Method::Manual),
            ip_addresses: vec![
                addr(
                    IpFamily::Ipv4,
                    "192.0.2.7",
                    24,
                    Some("255.255.255.0"),
                    Some("192.0.2.1"),
                ),
                addr(IpFamily::Ipv6, "2001:db8::7", 64, None, None),
            ],
            live_addresses: None,
            master: None,
            configs: vec![],
        }];
        let mut bond = p.network.nics[0].clone();
        bond.name = "bond0".into();
        bond.order = 1;
        bond.kind = NicKind::Bond;
        bond.mac = Some("52:54:00:12:34:56".into());
        bond.ip_addresses.clear();
        p.network.nics.push(bond);
        let mut out = Vec::new();
        out.extend_from_slice(
            format!("<ns0:scan xmlns:ns0=\"{NAMESPACE}\"><name>x</name><error>false</error><scanned>true</scanned><status><complete>true</complete><error>false</error><percentage>100</percentage></status><totalFilesAdded>0</totalFilesAdded><totalFilesDeleted>0</totalFilesDeleted><totalFilesModified>0</totalFilesModified><totalPackages>0</totalPackages>").as_bytes(),
        );
        distribution(&mut out, &p).unwrap();
        install_profile(&mut out, &p).unwrap();
        unix_services(&mut out, &p).unwrap();
        out.extend_from_slice(b"<packages></packages><files></files></ns0:scan>\n");
        let doc = String::from_utf8(out.clone()).unwrap();
        // Values outside UForge's vocabularies are kept, in the extension elements, never
        // passed off as UForge words; hashes only because they are there.
        assert!(!doc.contains("<name>Some Other Linux</name>"), "{doc}");
        assert!(doc.contains("<otherName>Some Other Linux</otherName>"));
        assert!(doc.contains("<otherArch>mips64</otherArch>"));
        assert!(doc.contains("<otherSeLinuxMode>weird</otherSeLinuxMode>"));
        assert!(doc.contains("<otherFstype>zfs_member</otherFstype>"));
        assert!(doc.contains("<name>mmcblk0</name>"));
        assert!(doc.contains("<otherName>rbd0</otherName>"));
        assert!(doc.contains("<otherName>pmem0</otherName>"));
        assert!(doc.contains("<kernelParameter>console=ttyS0,115200n8</kernelParameter>"));
        assert!(doc.contains("<rootUser><name>root</name>"));
        assert!(doc.contains(
            "<ipAddress><address>192.0.2.7</address><gateway>192.0.2.1</gateway><netmask>255.255.255.0</netmask><type>4</type><prefixLength>24</prefixLength></ipAddress>"
        ), "{doc}");
        assert!(doc.contains(
            "<address>2001:db8::7</address><type>6</type><prefixLength>64</prefixLength>"
        ));
        assert!(doc.contains("<ipv6Method>MANUAL</ipv6Method>"));
        assert!(doc.contains("<type>BOND</type>"));
        assert!(doc.contains("<macAddress>52:54:00:12:34:56</macAddress>"));
        assert!(doc.contains("<logicalGroup><groupName>vg0</groupName><name>vg0</name>"));
        assert!(doc.contains("<logicalVolume><name>root</name><groupName>vg0</groupName>"));
        assert!(doc.contains("<volumes><volume><fstype>xfs</fstype>"));
        assert!(doc.contains("<members>jo,ann</members>"));
        assert!(doc.contains("<keyboard>fr-latin9</keyboard><xkbLayout>fr</xkbLayout><xkbVariant>oss</xkbVariant><locale>fr_FR.UTF-8</locale>"), "{doc}");
        assert!(
            doc.contains("<swapSize>536870912</swapSize><firewallEnabled>true</firewallEnabled>")
        );
        assert!(doc.contains("<password>$6$salt$h&amp;sh</password><encrypted>true</encrypted>"));
        assert!(
            doc.contains("<fullName encoding=\"base64\">"),
            "Latin-1 GECOS"
        );
        assert!(
            doc.contains("<kernelParameters>ro,quiet,console=ttyS0,115200n8</kernelParameters>")
        );
        assert!(doc.contains("<secondaryGroups>adm,wheel</secondaryGroups>"));
        assert!(doc.contains("<fstype>Extended</fstype>"));
        assert!(doc.contains("<logicalPartition><fstype>linux-swap</fstype>"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.xml");
        std::fs::write(&file, &out).unwrap();
        let lint = std::process::Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/docs/uforge-livescan.xsd"
            ))
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            lint.status.success(),
            "{}\n{doc}",
            String::from_utf8_lossy(&lint.stderr)
        );
    }
}
