//! `livescan scan --format xml` on a real dpkg root with hostile file names and account
//! fields: the document validates against docs/uforge-livescan.xsd (xmllint), and parsed back
//! with quick-xml its names decode to the original bytes and its counts equal the JSON
//! report's.
//!
//! Skipped, with a message, when the dpkg tools or xmllint are missing.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::xml::{leaves, values};
use common::{Deb, Root};

#[test]
fn xml_scan_validates_and_round_trips_hostile_names() {
    if !common::dpkg_tools("uforge_xml") || !common::have_tools("uforge_xml", &["xmllint"]) {
        return;
    }
    let r = Root::new();
    r.install(&[&Deb::new("pa")
        .dir("/usr/bin")
        .exe("/usr/bin/pa", "#!/bin/sh\n")
        .file("/usr/share/pa/data", "data\n")]);
    fs::create_dir_all(r.p("/etc")).unwrap();
    fs::write(
        r.p("/etc/os-release"),
        "NAME=\"Rocky Linux\"\nID=rocky\nVERSION_ID=9.3\n",
    )
    .unwrap();
    fs::write(
        r.p("/etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\njo:x:1000:1000:Jö & <Co> \"x\":/home/jo:/bin/sh\n",
    )
    .unwrap();
    fs::write(r.p("/etc/group"), "root:x:0:\njo:x:1000:\nadm:x:4:jo\n").unwrap();
    // A modified packaged file and a deleted one, next to the hostile added names.
    fs::write(r.p("/usr/bin/pa"), "#!/bin/sh\necho changed\n").unwrap();
    fs::remove_file(r.p("/usr/share/pa/data")).unwrap();
    let hostile: Vec<Vec<u8>> = vec![
        b"/a&b<c>".to_vec(),
        b"/new\nline".to_vec(),
        b"/cr\rhere".to_vec(),
        b"/latin\xe9".to_vec(),
        b"/ctl\x01x".to_vec(),
        "/café 'q' \"d\"".as_bytes().to_vec(),
    ];
    for h in &hostile {
        fs::write(r.p(h), b"x").unwrap();
    }

    let json = r.scan_ok(&[]);
    let out = r.scan_command(&["--format", "xml"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml_file = r.tmp().join("scan.xml");
    fs::write(&xml_file, &out.stdout).unwrap();

    common::xml::assert_valid_by_schema(&xml_file, &String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ns0:scan xmlns:ns0=\"http://www.usharesoft.com/uforge\">"));

    let l = leaves(&out.stdout);
    let paths: BTreeSet<&[u8]> = values(&l, "ns0:scan/files/scannedFile/fullPath")
        .into_iter()
        .collect();
    for h in &hostile {
        assert!(
            paths.contains(h.as_slice()),
            "{:?} not decoded back",
            String::from_utf8_lossy(h)
        );
    }
    // The same files as the JSON report, with the same change types.
    let json_changes = json.changes();
    let changes = values(&l, "ns0:scan/files/scannedFile/changeType");
    assert_eq!(paths.len(), json_changes.len());
    assert_eq!(changes.len(), json.files().len());
    for kind in ["added", "deleted", "modified"] {
        let n = changes.iter().filter(|c| **c == kind.as_bytes()).count();
        let j = json_changes.iter().filter(|(_, c)| c == kind).count();
        assert_eq!(n, j, "{kind}");
        let total = values(&l, &format!("ns0:scan/totalFiles{}", capital(kind)));
        assert_eq!(total, vec![n.to_string().as_bytes()], "{kind}");
        assert!(n > 0, "the root has {kind} files");
    }
    assert!(json_changes.contains(&(b"/usr/bin/pa".to_vec(), "modified".into())));
    assert!(json_changes.contains(&(b"/usr/share/pa/data".to_vec(), "deleted".into())));

    // Packages, distribution, users.
    assert_eq!(values(&l, "ns0:scan/packages/package/name"), [b"pa"]);
    assert_eq!(values(&l, "ns0:scan/totalPackages"), [b"1"]);
    assert_eq!(
        values(&l, "ns0:scan/distribution/name"),
        [b"Rocky Linux".as_slice()]
    );
    // root is UForge's rootUser, the others are users.
    assert_eq!(
        values(&l, "ns0:scan/installProfile/rootUser/name"),
        [b"root".as_slice()]
    );
    let users = values(&l, "ns0:scan/installProfile/users/user/name");
    assert_eq!(users, [b"jo".as_slice()]);
    assert_eq!(
        values(&l, "ns0:scan/installProfile/users/user/fullName"),
        ["Jö & <Co> \"x\"".as_bytes()]
    );
    assert_eq!(
        values(&l, "ns0:scan/installProfile/users/user/secondaryGroups"),
        [b"adm"]
    );
    // No password element without --include-password-hashes.
    assert!(values(&l, "ns0:scan/installProfile/users/user/password").is_empty());
    assert!(values(&l, "ns0:scan/installProfile/rootUser/password").is_empty());
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The writer's vocabularies are the schema's: a name the writer lets through but the XSD
/// lacks would make valid hosts produce invalid documents.
#[test]
fn writer_vocabularies_are_in_the_schema() {
    let xsd = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/uforge-livescan.xsd"
    ))
    .unwrap();
    for v in livescan::report::uforge_xml::DISTRIBUTION_NAMES
        .iter()
        .chain(livescan::report::uforge_xml::ARCHES)
        .chain(livescan::report::uforge_xml::NIC_TYPES)
    {
        assert!(
            xsd.contains(&format!("<xs:enumeration value=\"{v}\"/>")),
            "{v} missing from the XSD"
        );
    }
}
