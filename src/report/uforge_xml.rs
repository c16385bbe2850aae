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
use crate::profile::network::{Ipv4Method, NicKind};
use crate::profile::storage::{Disk, Partition};
use crate::profile::Profile;
use crate::walk::FileKind;

pub const NAMESPACE: &str = "http://www.usharesoft.com/uforge";

/// Whether XML 1.0 can carry `c` in element content (its `Char` production).
fn xml_char(c: char) -> bool {
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
    for f in r.files {
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
    for f in r.files {
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

fn distribution<W: Write>(w: &mut W, p: &Profile) -> io::Result<()> {
    let d = &p.distribution;
    w.write_all(b"<distribution>")?;
    // A name outside the vocabulary (os-release's NAME of a distribution nobody mapped)
    // would make the document invalid: it goes to `description` instead.
    match d.name.as_deref() {
        Some(n) if DISTRIBUTION_NAMES.contains(&n) => text(w, "name", n.as_bytes())?,
        _ => {}
    }
    opt_text(
        w,
        "description",
        d.pretty_name.as_deref().or(d.name.as_deref()),
    )?;
    opt_text(w, "version", d.version.as_deref())?;
    if let Some(a) = d.arch.as_deref().filter(|a| ARCHES.contains(a)) {
        plain(w, "arch", a)?;
    }
    if !d.family.is_empty() {
        text(w, "family", d.family.as_bytes())?;
    }
    opt_text(w, "pkgType", d.pkg_type.as_deref())?;
    w.write_all(b"</distribution>\n")
}

fn install_profile<W: Write>(w: &mut W, p: &Profile) -> io::Result<()> {
    w.write_all(b"<installProfile>\n")?;
    opt_text(w, "timezone", p.timezone.name.as_deref())?;
    opt_text(w, "keyboard", p.keyboard.keymap.as_deref())?;
    if !p.kernel.parameters.is_empty() {
        text(
            w,
            "kernelParameters",
            p.kernel.parameters.join(",").as_bytes(),
        )?;
    }
    if let Some(m) = p.hardware.memory_bytes {
        plain(w, "memorySize", m)?;
    }
    // UForge's seLinuxMode is an enum: anything else is left out, not made up.
    if let Some(mode @ ("disabled" | "permissive" | "enforcing")) = p.selinux.mode.as_deref() {
        plain(w, "seLinuxMode", mode)?;
    }
    w.write_all(b"\n<users>\n")?;
    for u in &p.users {
        w.write_all(b"<user>")?;
        text(w, "name", u.name.as_bytes())?;
        plain(w, "userId", u.uid)?;
        text(w, "homeDir", &u.home)?;
        text(w, "shell", &u.shell)?;
        opt_text(w, "primaryGroup", u.primary_group.as_deref())?;
        text(
            w,
            "secondaryGroups",
            u.secondary_groups.join(",").as_bytes(),
        )?;
        text(w, "fullName", &u.gecos)?;
        plain(w, "systemUser", u.system_user)?;
        plain(w, "sudo", u.sudo)?;
        plain(w, "disablePasswordLogin", u.password_locked)?;
        if let Some(h) = &u.password_hash {
            text(w, "password", h.0.as_bytes())?;
            plain(w, "encrypted", true)?;
        }
        w.write_all(b"</user>\n")?;
    }
    w.write_all(b"</users>\n<groups>\n")?;
    for g in &p.groups {
        w.write_all(b"<group>")?;
        text(w, "name", g.name.as_bytes())?;
        plain(w, "groupId", g.gid)?;
        plain(w, "systemGroup", g.system_group)?;
        if let Some(h) = &g.password_hash {
            text(w, "password", h.0.as_bytes())?;
            plain(w, "encrypted", true)?;
        }
        w.write_all(b"</group>\n")?;
    }
    w.write_all(b"</groups>\n<partitionTable><disks>\n")?;
    // A disk the schema cannot name would make the whole document invalid: left out here,
    // kept in the JSON report.
    for d in p
        .storage
        .disks
        .iter()
        .filter(|d| disk_name_in_schema(&d.name))
    {
        disk(w, d)?;
    }
    w.write_all(b"</disks></partitionTable>\n<nics>\n")?;
    for n in &p.network.nics {
        w.write_all(b"<nic>")?;
        text(w, "name", n.name.as_bytes())?;
        plain(w, "order", n.order)?;
        if n.kind == NicKind::Ethernet {
            plain(w, "type", "ETHERNET")?;
        }
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
        w.write_all(b"</nic>\n")?;
    }
    w.write_all(b"</nics>\n</installProfile>\n")
}

/// The XSD's `diskName`: `(sd|vd|xvd|hd|dasd)[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+`
/// (UForge's `sda`…`sdf` are among them).
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
    text(w, "name", d.name.as_bytes())?;
    match d.partition_type.as_deref() {
        Some("msdos") => plain(w, "partitionType", "MSDOS")?,
        Some("gpt") => plain(w, "partitionType", "GPT")?,
        _ => {}
    }
    plain(w, "size", d.size)?;
    w.write_all(b"<partitions>")?;
    for p in &d.partitions {
        partition(w, p, "partition")?;
    }
    w.write_all(b"</partitions></disk>\n")
}

/// Our filesystem type in UForge's `fstype` vocabulary; `None` for types it has no word for
/// (the element is then left out).
fn uforge_fstype(p: &Partition) -> Option<&'static str> {
    if p.kind.as_deref() == Some("extended") {
        return Some("Extended");
    }
    let Some(fs) = &p.filesystem else {
        return Some("unformatted");
    };
    Some(match fs.fstype.as_str() {
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

fn partition<W: Write>(w: &mut W, p: &Partition, el: &str) -> io::Result<()> {
    write!(w, "<{el}>")?;
    if let Some(t) = uforge_fstype(p) {
        plain(w, "fstype", t)?;
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
    write!(w, "</{el}>")
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
        p.distribution.arch = Some("aarch64".into());
        p.selinux.mode = Some("enforcing".into());
        p.kernel.parameters = vec!["ro".into(), "quiet".into()];
        p.hardware.memory_bytes = Some(1 << 30);
        p.storage.disks = ["vda", "nvme0n1", "sda", "xvdb", "mmcblk0", "rbd0"]
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
        p.users = vec![User {
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
        }];
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
            ipv6_method: None,
            ip_addresses: vec![],
            live_addresses: None,
            master: None,
            configs: vec![],
        }];
        let mut out = Vec::new();
        out.extend_from_slice(
            format!("<ns0:scan xmlns:ns0=\"{NAMESPACE}\"><name>x</name><error>false</error><scanned>true</scanned><status><complete>true</complete><error>false</error><percentage>100</percentage></status><totalFilesAdded>0</totalFilesAdded><totalFilesDeleted>0</totalFilesDeleted><totalFilesModified>0</totalFilesModified><totalPackages>0</totalPackages>").as_bytes(),
        );
        distribution(&mut out, &p).unwrap();
        install_profile(&mut out, &p).unwrap();
        out.extend_from_slice(b"<packages></packages><files></files></ns0:scan>\n");
        let doc = String::from_utf8(out.clone()).unwrap();
        // Unknown name and fstype left out, not made up; hashes only because they are there.
        assert!(!doc.contains("<name>Some Other Linux</name>"), "{doc}");
        assert!(doc.contains("<description>Some Other Linux</description>"));
        assert!(!doc.contains("zfs"));
        assert!(doc.contains("<name>mmcblk0</name>"));
        assert!(
            !doc.contains("rbd0"),
            "a disk name outside the schema is left out"
        );
        assert!(doc.contains("<password>$6$salt$h&amp;sh</password><encrypted>true</encrypted>"));
        assert!(
            doc.contains("<fullName encoding=\"base64\">"),
            "Latin-1 GECOS"
        );
        assert!(doc.contains("<kernelParameters>ro,quiet</kernelParameters>"));
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
