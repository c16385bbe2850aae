//! Entry points for the parsers of untrusted bytes, shared by the `cargo fuzz` targets
//! (`fuzz/fuzz_targets/*.rs`) and the seed replay in `tests/fuzz_seeds.rs`, so CI replays
//! exactly what the fuzzers run. Each must return (an error is fine) and never panic,
//! whatever the input; the extra reads exercise every accessor on what did parse.

use crate::pkgdb::rpm::{bdb, header, ndb, package};

/// A fuzz target: any bytes in, no panic.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: [(&str, Target); 14] = [
    ("rpm_header", rpm_header),
    ("rpm_bdb", rpm_bdb),
    ("rpm_ndb", rpm_ndb),
    ("dpkg_status", dpkg_status),
    ("caps", caps),
    ("apk_installed", apk_installed),
    ("pacman_mtree", pacman_mtree),
    ("pacman_desc", pacman_desc),
    ("storage_disk", storage_disk),
    ("storage_text", storage_text),
    ("verify_cache", verify_cache),
    ("profile_text", profile_text),
    ("network_config", network_config),
    ("uforge_xml", uforge_xml),
];

/// One header blob, then everything the scan reads from it.
pub fn rpm_header(data: &[u8]) {
    let Ok(h) = header::Header::parse(data) else {
        return;
    };
    let _ = package::package_from_header(&h, 0, &mut package::Interner::default());
    for t in [
        header::tag::NAME,
        header::tag::BASENAMES,
        header::tag::FILEMODES,
    ] {
        let _ = (h.string(t), h.string_array(t), h.ints(t), h.bin(t));
    }
}

/// A Berkeley DB `Packages` file; each record then as a header.
pub fn rpm_bdb(data: &[u8]) {
    if let Ok(records) = bdb::read_records(data) {
        for (_, blob) in records.iter().take(16) {
            rpm_header(blob);
        }
    }
}

/// An NDB `Packages.db`; each record then as a header.
pub fn rpm_ndb(data: &[u8]) {
    if let Ok(records) = ndb::read_records(data) {
        for (_, blob) in records.iter().take(16) {
            rpm_header(blob);
        }
    }
}

/// dpkg's `status` file (and, through the same parser, `status.d/*` and `updates/*`).
pub fn dpkg_status(data: &[u8]) {
    let _ = crate::pkgdb::dpkg::parse_status_bytes(data);
}

/// rpm's FILECAPS text and the `security.capability` xattr: both come from the scanned root.
pub fn caps(data: &[u8]) {
    let _ = crate::classify::caps::parse_xattr(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::classify::caps::parse_text(text);
    }
}

/// apk's `lib/apk/db/installed`.
pub fn apk_installed(data: &[u8]) {
    let _ = crate::pkgdb::apk::parse_installed(data, std::path::Path::new("installed"));
}

/// pacman's per-package mtree, compressed or not (the decompression bound is part of it).
pub fn pacman_mtree(data: &[u8]) {
    if let Ok(text) = crate::pkgdb::pacman::mtree::decompress(data) {
        let _ = crate::pkgdb::pacman::mtree::parse(&text);
    }
}

/// pacman's `desc`/`files` sections and version strings.
pub fn pacman_desc(data: &[u8]) {
    if let Ok(s) = crate::pkgdb::pacman::desc::parse_sections(data) {
        for v in s.get("VERSION").into_iter().flatten() {
            let _ = crate::pkgdb::pacman::desc::split_version(&String::from_utf8_lossy(v));
        }
    }
}

/// A disk image: partition tables, then every superblock probe on the whole image and on
/// each partition the tables name (through the same window the scan reads them with).
pub fn storage_disk(data: &[u8]) {
    use crate::profile::storage::reader::{Bytes, Window};
    use crate::profile::storage::{gpt, mbr, probe};
    let data = &Bytes(data);
    let _ = probe::probe(data);
    let _ = crate::profile::storage::btrfs::subvolumes(data);
    for ss in [512, 4096] {
        if let Ok(Some(t)) = mbr::parse(data, ss) {
            for p in t.partitions.iter().take(16) {
                let w = Window {
                    inner: data,
                    start: p.start.saturating_mul(ss),
                    size: p.sectors.saturating_mul(ss),
                };
                let _ = probe::probe(&w);
            }
        }
        if let Ok(Some(t)) = gpt::parse(data, ss) {
            for p in t.partitions.iter().take(16) {
                let w = Window {
                    inner: data,
                    start: p.first_lba.saturating_mul(t.sector_size),
                    size: p
                        .last_lba
                        .saturating_sub(p.first_lba)
                        .saturating_add(1)
                        .saturating_mul(t.sector_size),
                };
                let _ = probe::probe(&w);
            }
        }
    }
}

/// The text formats of the storage section: LVM metadata (on PVs and in /etc/lvm/backup),
/// fstab, mdadm.conf, /proc/self/mountinfo.
pub fn storage_text(data: &[u8]) {
    use crate::profile::storage::{fstab, lvm, md};
    let text = String::from_utf8_lossy(data);
    let _ = lvm::vg_from_text(&text);
    for e in fstab::parse(&text) {
        let _ = (e.spec(), e.subvolume());
    }
    let _ = md::parse_conf(&text);
    let _ = crate::walk::mounts::parse_mountinfo(data);
}

/// The verify cache file (`/var/lib/livescan/verify-cache`): as read, and with its trailer
/// re-signed and any root accepted, so mutations reach the entry parser behind the checksum.
pub fn verify_cache(data: &[u8]) {
    use crate::classify::verify_cache;
    let root = verify_cache::RootId {
        path: b"/".to_vec(),
        dev: 0,
        ino: 0,
    };
    let _ = verify_cache::decode(data, &root);
    let body = &data[..data.len().saturating_sub(32)];
    let mut signed = body.to_vec();
    signed.extend_from_slice(blake3::hash(body).as_bytes());
    if let Ok(c) = verify_cache::decode_any_root(&signed) {
        // Entries are decoded as the join reaches them: a query past every key reads all.
        let last = verify_cache::Key {
            dev: u64::MAX,
            ino: u64::MAX,
            size: u64::MAX,
            mtime: i64::MAX,
            mtime_nsec: u32::MAX,
            ctime: i64::MAX,
            ctime_nsec: u32::MAX,
        };
        let all = crate::pkgdb::digest::AlgoSet::default();
        let _ = c.len();
        let _ = c.answers(std::iter::once((last, all))).count();
    }
}

/// The install profile's parsers of the root's text files — passwd, group, shadow and
/// gshadow, sudoers, os-release and the old release files, a kernel command line, meminfo, a CPU
/// list — and the ELF header probe, all on the same bytes.
pub fn profile_text(data: &[u8]) {
    use crate::accounts;
    use crate::profile::{distribution, hardware, kernel, users};
    for u in accounts::parse_passwd(data) {
        let _ = users::password_state(&u.password);
    }
    for g in accounts::parse_group(data) {
        let _ = g.members.len();
    }
    for s in accounts::parse_shadow(data) {
        let _ = (
            users::password_state(&s.password),
            s.rest.first().map(|a| accounts::split_list(a)),
        );
    }
    let _ = crate::report::host::parse_os_release(data);
    let text = String::from_utf8_lossy(data);
    let _ = crate::profile::sudo::parse(&text);
    for line in text.lines().take(64) {
        let _ = distribution::parse_redhat_release(line);
    }
    let _ = distribution::parse_suse_release(&text);
    let _ = kernel::split_cmdline(&text);
    let _ = (
        hardware::meminfo_bytes(&text, "MemTotal"),
        hardware::count_cpu_list(text.trim()),
    );
    let mut head = [0u8; 20];
    let n = data.len().min(20);
    head[..n].copy_from_slice(&data[..n]);
    let _ = distribution::elf_arch(&head);
}

/// Network configuration and `/proc/net` text: every format's parser on the same bytes
/// (ifcfg, routes files, interfaces, NetworkManager keyfiles, netplan YAML, networkd,
/// resolv.conf, route/fib_trie/if_inet6/ipv6_route), then the merge of what parsed.
pub fn network_config(data: &[u8]) {
    crate::profile::network::parse_all(data);
}

/// UForge XML bodies the receiver reads: a scan report (split into its pieces, through a
/// small buffer as the receiver reads its stored file) and the scannedInstance / scan
/// request bodies.
pub fn uforge_xml(data: &[u8]) {
    use crate::receiver::{scan_report, xml_request};
    let mut parts = scan_report::Parts {
        install_profile: std::io::sink(),
        packages: std::io::sink(),
        files: std::io::sink(),
    };
    let _ = scan_report::split(std::io::BufReader::with_capacity(512, data), &mut parts);
    let _ = xml_request::read::<crate::uforge::ScannedInstance>(data, "scannedInstance");
    let _ = xml_request::read::<crate::uforge::Scan>(data, "scan");
}
