//! Replays every seed in `fuzz/corpus/<target>/` through the same entry points the fuzzers
//! use (`livescan::fuzz_targets`): CI runs this instead of fuzzing. Also checks that the
//! seeds are what they claim to be, so the fuzzers start from inputs that parse.

use std::path::{Path, PathBuf};

use livescan::fuzz_targets::TARGETS;
use livescan::pkgdb::rpm::{bdb, header, ndb};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(corpus(target).join(name)).unwrap()
}

#[test]
fn every_seed_replays_without_panic() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let dir = corpus(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target has seeds)", dir.display()));
        for entry in entries {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            target(&data);
            // Truncations and bit flips of each seed: cheap mutations a fuzzer starts with.
            for cut in [0, 1, 8, data.len() / 2, data.len().saturating_sub(1)] {
                target(&data[..cut.min(data.len())]);
            }
            for at in (0..data.len()).step_by(97) {
                let mut d = data.clone();
                d[at] ^= 0xff;
                target(&d);
            }
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len());
}

fn tiny_name(blob: &[u8]) -> Vec<u8> {
    let h = header::Header::parse(blob).unwrap();
    h.string(header::tag::NAME).unwrap().to_vec()
}

#[test]
fn rpm_seeds_hold_the_tiny_package() {
    assert_eq!(tiny_name(&seed("rpm_header", "tiny.hdr")), b"tiny");
    for file in ["tiny-le.bdb", "tiny-be.bdb"] {
        let records = bdb::read_records(&seed("rpm_bdb", file)).unwrap();
        assert_eq!(records.len(), 1, "{file}");
        assert_eq!(tiny_name(&records[0].1), b"tiny");
    }
    let records = ndb::read_records(&seed("rpm_ndb", "tiny.ndb")).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(tiny_name(&records[0].1), b"tiny");
}

#[test]
fn dpkg_seed_is_a_status_file() {
    let entries =
        livescan::pkgdb::dpkg::parse_status_bytes(&seed("dpkg_status", "tiny.status")).unwrap();
    assert_eq!(entries.len(), 1);
}

#[test]
fn caps_seeds_are_the_same_capability() {
    use livescan::classify::caps;
    let xattr = caps::parse_xattr(&seed("caps", "xattr-v2")).unwrap();
    assert_eq!(Some(xattr), caps::parse_text("cap_net_raw=ep"));
    let text = String::from_utf8(seed("caps", "text")).unwrap();
    assert!(caps::parse_text(&text).unwrap().effective);
}

#[test]
fn apk_seed_parses() {
    let c = livescan::pkgdb::apk::parse_installed(
        &seed("apk_installed", "seed"),
        std::path::Path::new("installed"),
    )
    .unwrap();
    assert_eq!(c.packages.len(), 2);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn pacman_seeds_parse() {
    use livescan::pkgdb::pacman::{desc, mtree};
    let text = mtree::decompress(&seed("pacman_mtree", "tiny.mtree")).unwrap();
    let entries = mtree::parse(&text).unwrap();
    assert!(
        entries.iter().any(|e| e.path == b"usr/bin/tiny link"),
        "vis escape decoded"
    );
    let s = desc::parse_sections(&seed("pacman_desc", "seed")).unwrap();
    assert_eq!(s["NAME"], vec![b"seed".to_vec()]);
}

#[test]
fn storage_disk_seeds_are_what_they_are_named() {
    use livescan::profile::storage::reader::Bytes;
    use livescan::profile::storage::{gpt, lvm, mbr, probe};
    let m = mbr::parse(&Bytes(&seed("storage_disk", "mbr-logicals")), 512)
        .unwrap()
        .unwrap();
    let numbers: Vec<u32> = m.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3, 5, 6]);
    let g = gpt::parse(&Bytes(&seed("storage_disk", "gpt")), 512)
        .unwrap()
        .unwrap();
    let names: Vec<_> = g.partitions.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, [Some("EFI"), Some("root")]);
    for (file, fstype) in [
        ("ext4", "ext4"),
        ("ext3", "ext3"),
        ("xfs", "xfs"),
        ("btrfs", "btrfs"),
        ("vfat32", "vfat"),
        ("vfat16", "vfat"),
        ("swap", "swap"),
        ("lvm-pv", "LVM2_member"),
        ("luks2", "crypto_LUKS"),
    ] {
        let c = probe::probe(&Bytes(&seed("storage_disk", file)))
            .unwrap()
            .unwrap_or_else(|| panic!("{file}: nothing found"));
        assert_eq!(c.superblock().fstype, fstype, "{file}");
        if let probe::Content::Lvm(_, pv) = c {
            let vg = lvm::vg_from_text(pv.metadata.as_deref().unwrap()).unwrap();
            assert_eq!((vg.name.as_str(), vg.lvs.len()), ("seed", 2));
        }
    }
}

#[test]
fn storage_text_seeds_parse() {
    use livescan::profile::storage::{fstab, lvm, md};
    let text = |f: &str| String::from_utf8(seed("storage_text", f)).unwrap();
    let vg = lvm::vg_from_text(&text("lvm-backup")).unwrap();
    let lvs: Vec<&str> = vg.lvs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!((vg.name.as_str(), lvs), ("seed", vec!["root", "my-data"]));
    let f = fstab::parse(&text("fstab"));
    assert_eq!(f.len(), 6);
    assert_eq!(f[2].mount_point, "/srv/my data");
    assert_eq!(f[3].subvolume().as_deref(), Some("@home"));
    let a = md::parse_conf(&text("mdadm.conf"));
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].name.as_deref(), Some("host:0"));
    assert_eq!(a[1].num_devices, Some(2));
    let m = livescan::walk::mounts::parse_mountinfo(&seed("storage_text", "mountinfo")).unwrap();
    assert_eq!(m.len(), 2);
}

#[test]
fn verify_cache_seed_is_what_the_scan_wrote() {
    let data = seed("verify_cache", "tiny-dpkg");
    let c = livescan::classify::verify_cache::decode_any_root(&data).unwrap();
    // The tiny package's conffile and data file.
    assert_eq!(c.len(), 2);
}

#[test]
fn profile_text_seeds_parse() {
    use livescan::accounts;
    use livescan::profile::{distribution, kernel, users};
    let passwd = accounts::parse_passwd(&seed("profile_text", "passwd"));
    let j = passwd.iter().find(|u| u.name == "jurgen").unwrap();
    assert_eq!(
        (j.uid, j.gecos.as_slice()),
        (1000, "Jürgen & Co,Room 1,,".as_bytes())
    );
    let shadow = accounts::parse_shadow(&seed("profile_text", "shadow"));
    let state =
        |n: &str| users::password_state(&shadow.iter().find(|s| s.name == n).unwrap().password);
    assert_eq!(state("jurgen"), (true, false, false));
    assert_eq!(state("locked"), (true, true, false));
    assert_eq!(state("root"), (false, true, false));
    let wheel = accounts::parse_group(&seed("profile_text", "group"))
        .into_iter()
        .find(|g| g.name == "wheel")
        .unwrap();
    assert_eq!(wheel.members, ["jurgen"]);
    let line = String::from_utf8(seed("profile_text", "oracle-release")).unwrap();
    let d = distribution::parse_redhat_release(line.trim()).unwrap();
    assert_eq!(d.name.as_deref(), Some("Oracle Linux"));
    let d = distribution::parse_suse_release(
        &String::from_utf8(seed("profile_text", "SuSE-release")).unwrap(),
    );
    assert_eq!(d.version.as_deref(), Some("11.4"));
    let c = kernel::split_cmdline(&String::from_utf8(seed("profile_text", "cmdline")).unwrap());
    assert!(c.contains(&"acpi_osi=\"!Windows 2012\"".to_string()));
    // The account seeds and the sudoers seed as a root: jurgen is in the NOPASSWD alias,
    // locked (uid 1001) too.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    for f in ["passwd", "shadow", "group", "gshadow", "sudoers"] {
        std::fs::write(root.path().join("etc").join(f), seed("profile_text", f)).unwrap();
    }
    let (u, _) = users::collect(&livescan::rootfs::RootFs::new(root.path()), false);
    let sudo: Vec<(&str, u8)> = u.iter().map(|u| (u.name.as_str(), u.sudo)).collect();
    assert_eq!(
        sudo,
        [("root", 1), ("jurgen", 2), ("svc", 0), ("locked", 2)]
    );
}

#[test]
fn network_config_seeds_configure_eth0_in_every_format() {
    use livescan::profile::network::{self, ConfigFormat, Ipv4Method};
    let root = tempfile::tempdir().unwrap();
    for (name, at) in [
        ("ifcfg-eth0", "etc/sysconfig/network-scripts/ifcfg-eth0"),
        ("routes", "etc/sysconfig/network-scripts/route-eth0"),
        ("interfaces", "etc/network/interfaces"),
        (
            "eth0.nmconnection",
            "etc/NetworkManager/system-connections/eth0.nmconnection",
        ),
        ("netplan.yaml", "etc/netplan/01-seed.yaml"),
        ("networkd.network", "etc/systemd/network/10-seed.network"),
    ] {
        let p = root.path().join(at);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, seed("network_config", name)).unwrap();
    }
    let net = network::collect(
        &livescan::rootfs::RootFs::new(root.path()),
        &livescan::profile::LiveSources::default(),
    );
    assert!(net.notes.is_empty(), "{:?}", net.notes);
    let eth0 = net.nics.iter().find(|n| n.name == "eth0").unwrap();
    let formats: Vec<ConfigFormat> = eth0.configs.iter().map(|c| c.format).collect();
    assert_eq!(
        formats,
        [
            ConfigFormat::Netplan,
            ConfigFormat::NmKeyfile,
            ConfigFormat::Networkd,
            ConfigFormat::IfcfgRhel,
            ConfigFormat::Interfaces,
            ConfigFormat::Interfaces,
        ]
    );
    assert_eq!(eth0.ipv4_method, Some(Ipv4Method::Manual));
    assert_eq!(eth0.ip_addresses[0].address, "192.0.2.10");
    assert!(net.nics.iter().any(|n| n.name == "bond0"));
}

/// The scan-report seed is a whole report the receiver accepts (so the fuzzer starts deep
/// inside the reader), and its counts are what it lists.
#[test]
fn uforge_xml_seeds_parse() {
    use livescan::receiver::scan_report;
    let mut parts = scan_report::Parts {
        install_profile: Vec::new(),
        packages: Vec::new(),
        files: Vec::new(),
    };
    let s = scan_report::split(&seed("uforge_xml", "scan.xml")[..], &mut parts).unwrap();
    assert_eq!(
        (s.packages, s.files_added, s.files_deleted, s.files_modified),
        (2, 2, 1, 1)
    );
    assert_eq!(s.unix_services.len(), 2);
    assert!(String::from_utf8(parts.install_profile)
        .unwrap()
        .contains("<logicalVolume><name>srv</name>"));
    let i: livescan::uforge::ScannedInstance = livescan::receiver::xml_request::read(
        &seed("uforge_xml", "scannedInstance.xml"),
        "scannedInstance",
    )
    .unwrap();
    assert_eq!(i.name, "R&D été");
}
