//! The scan report's round trip through the receiver, all real: a dpkg root built with
//! dpkg-deb and `dpkg --root` (hostile file names, accounts with `&`, `<`, non-ASCII and a
//! Latin-1 GECOS, a systemd service, a static NIC), `livescan export`, `livescan upload` to
//! a running `livescan-receiver`, then the scan read back from the receiver's UForge
//! endpoints (`…/scans/{sid}` with totals and unixServices, `…/installProfile`,
//! `…/packages`, `…/files`) and compared field by field with the JSON report the same
//! export carries.
//!
//! Skipped, with a message, when the dpkg tools are missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::receiver::{add_user, Receiver};
use common::xml::{leaves, values};
use common::{decode_path, Deb, Root};
use serde_json::Value;

const USER: &str = "rt@example.com";
const PASSWORD: &str = "round:trip";

/// The JSON report inside an export (its `LSREPORT` section).
fn export_report(file: &Path) -> Value {
    use livescan::pack::container;
    let mut f = fs::File::open(file).unwrap();
    let (trailer, _) = container::read_trailer(&mut f).unwrap();
    assert!(trailer.uforge_xml.is_some(), "the export carries the XML");
    let section = container::read_section(
        &mut f,
        trailer.report.offset,
        container::TAG_REPORT,
        1 << 30,
    )
    .unwrap();
    serde_json::from_slice(&zstd::decode_all(section.as_slice()).unwrap()).unwrap()
}

fn get(url: &str, accept: &str) -> (String, Vec<u8>) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut resp = ureq::get(url)
        .header("Authorization", &format!("Basic {auth}"))
        .header("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ctype = resp
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.body_mut().read_to_vec().unwrap();
    (ctype, body)
}

fn text(v: &Value) -> Vec<u8> {
    decode_path(v)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The children of each `<item>` under `list`, one map per item, in document order.
fn items(xml: &[u8], list: &str, item: &str) -> Vec<BTreeMap<String, Vec<u8>>> {
    let prefix = format!("{list}/{item}/");
    let mut out: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let mut open = false;
    for (path, value) in leaves(xml) {
        if let Some(field) = path.strip_prefix(&prefix) {
            if !open {
                out.push(BTreeMap::new());
                open = true;
            }
            out.last_mut()
                .unwrap()
                .insert(field.to_string(), value.clone());
        } else if path == format!("{list}/{item}") {
            // The item's own end: the next field starts a new one.
            if !open {
                out.push(BTreeMap::new());
            }
            open = false;
        }
    }
    out
}

#[test]
fn xml_report_round_trips_through_the_receiver() {
    if !common::dpkg_tools("uforge_roundtrip") {
        return;
    }
    let r = Root::new();
    r.install(&[
        &Deb::new("pa")
            .dir("/usr/bin")
            .exe("/usr/bin/pa", "#!/bin/sh\n")
            .file("/usr/share/pa/data", "data\n")
            .symlink("/usr/bin/pa-link", "pa"),
        &Deb::new("pb++").file("/usr/share/pb/x", "x\n"),
    ]);
    fs::create_dir_all(r.p("/etc/systemd/system/multi-user.target.wants")).unwrap();
    fs::create_dir_all(r.p("/lib/systemd/system")).unwrap();
    // systemd is the init system (how the profile tells).
    fs::write(r.p("/lib/systemd/systemd"), "").unwrap();
    fs::create_dir_all(r.p("/etc/network")).unwrap();
    fs::create_dir_all(r.p("/etc/default")).unwrap();
    fs::write(
        r.p("/etc/os-release"),
        "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    fs::write(r.p("/etc/hostname"), "rt-host\n").unwrap();
    fs::write(r.p("/etc/timezone"), "Europe/Paris\n").unwrap();
    fs::write(
        r.p("/etc/default/keyboard"),
        "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"fr\"\n",
    )
    .unwrap();
    let mut passwd = b"root:x:0:0:root:/root:/bin/bash\njo:x:1000:1000:J\xc3\xb6 & <Co> \"x\":/home/jo:/bin/sh\n".to_vec();
    passwd.extend_from_slice(b"lat:x:1001:1001:J\xe9r\xf4me:/home/lat:/bin/sh\n");
    fs::write(r.p("/etc/passwd"), passwd).unwrap();
    fs::write(
        r.p("/etc/group"),
        "root:x:0:\njo:x:1000:\nlat:x:1001:\nadm:x:4:jo,lat\n",
    )
    .unwrap();
    fs::write(
        r.p("/lib/systemd/system/app.service"),
        "[Unit]\nDescription=app\n[Service]\nExecStart=/usr/bin/pa\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    symlink(
        "/lib/systemd/system/app.service",
        r.p("/etc/systemd/system/multi-user.target.wants/app.service"),
    )
    .unwrap();
    fs::write(
        r.p("/etc/network/interfaces"),
        "auto eth0\niface eth0 inet static\n  address 192.0.2.7/24\n  gateway 192.0.2.1\n",
    )
    .unwrap();
    // Changes of each kind, and names XML has to escape or cannot carry.
    fs::write(r.p("/usr/bin/pa"), "#!/bin/sh\necho changed\n").unwrap();
    fs::remove_file(r.p("/usr/share/pa/data")).unwrap();
    let hostile: Vec<Vec<u8>> = vec![
        b"/srv/a&b<c>".to_vec(),
        b"/srv/new\nline".to_vec(),
        b"/srv/latin\xe9".to_vec(),
        b"/srv/ctl\x01x".to_vec(),
        "/srv/café 'q' \"d\"".as_bytes().to_vec(),
    ];
    fs::create_dir_all(r.p("/srv")).unwrap();
    for h in &hostile {
        fs::write(r.p(h), b"x").unwrap();
    }
    symlink("a&b<c>", r.p("/srv/ln")).unwrap();

    // Export, then upload the export to a real receiver.
    let export = r.tmp().join("rt.lsx");
    let o = common::livescan()
        .arg("--config")
        .arg(r.tmp().join("livescan.toml"))
        .args(["export", "-q", "-o"])
        .arg(&export)
        .arg("--root")
        .arg(r.p(""))
        .arg("--mountinfo")
        .arg(r.tmp().join("mountinfo"))
        .arg("--lock-file")
        .arg(r.tmp().join("livescan.lock"))
        .arg("--cache-dir")
        .arg(r.tmp().join("cache"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "export: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json = export_report(&export);
    let data = r.tmp().join("receiver");
    add_user(&data, USER, PASSWORD);
    let rcv = Receiver::start(&data);
    let api = format!("http://{}/api", rcv.addr);
    let o = common::livescan()
        .args([
            "upload", "--url", &api, "--user", USER, "--name", "rt", "--from",
        ])
        .arg(&export)
        .env("LIVESCAN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "upload: {stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let uri = stdout
        .split(" to ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap_or_else(|| panic!("no scan uri in {stdout:?}"));
    let scan_url = format!("{api}/{}", uri.replace('@', "%40"));

    // The report as stored is the XML the export carries, byte for byte.
    let (ctype, report) = get(&format!("{scan_url}/report"), "*/*");
    assert_eq!(ctype, "application/xml");
    assert!(report.starts_with(b"<?xml") && report.ends_with(b"</ns0:scan>\n"));
    // It is valid by the schema, NICs, services and base64 names included.
    if common::have_tools("uforge_roundtrip (schema check)", &["xmllint"]) {
        let file = r.tmp().join("served.xml");
        fs::write(&file, &report).unwrap();
        common::xml::assert_valid_by_schema(&file, "the report the receiver served");
    }
    let l = leaves(&report);
    assert_eq!(
        values(&l, "ns0:scan/distribution/name"),
        [s(&json["profile"]["distribution"]["name"]).as_bytes()]
    );
    assert_eq!(
        values(&l, "ns0:scan/distribution/version"),
        [s(&json["profile"]["distribution"]["version"]).as_bytes()]
    );
    assert_eq!(values(&l, "ns0:scan/name"), [b"rt-host".as_slice()]);

    // The scan object: totals and services, in JSON.
    let (_, scan) = get(&scan_url, "application/json");
    let scan: Value = serde_json::from_slice(&scan).unwrap();
    let t = &json["totals"];
    for (key, total) in [
        ("totalFilesAdded", "added"),
        ("totalFilesDeleted", "deleted"),
        ("totalFilesModified", "modified"),
    ] {
        assert_eq!(scan[key], t[total], "{key}");
        assert!(t[total].as_u64().unwrap() > 0, "the root has {total} files");
    }
    let json_packages = json["packages"].as_array().unwrap();
    assert_eq!(
        scan["totalPackages"].as_u64(),
        Some(json_packages.len() as u64)
    );
    let services: BTreeSet<(String, String, String)> = scan["unixServices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                s(&u["serviceManager"]),
                s(&u["serviceName"]),
                s(&u["serviceStatus"]),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = json["profile"]["services"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (s(&v["manager"]), s(&v["name"]), s(&v["state"])))
        .collect();
    assert_eq!(services, want);
    assert!(services.contains(&("systemd".into(), "app.service".into(), "enabled".into())));
    // The same object in UForge's XML.
    let (ctype, scan_xml) = get(&scan_url, "application/xml");
    assert_eq!(ctype, "application/xml");
    assert!(values(
        &leaves(&scan_xml),
        "ns0:scan/unixServices/unixService/serviceName"
    )
    .contains(&b"app.service".as_slice()));

    // Packages: every field of every package.
    let (ctype, pk) = get(&format!("{scan_url}/packages"), "application/xml");
    assert_eq!(ctype, "application/xml");
    let got: BTreeSet<Vec<(String, Vec<u8>)>> =
        items(&pk, "ns0:scannedPackages/scannedPackages", "scannedPackage")
            .into_iter()
            .map(|m| m.into_iter().collect())
            .collect();
    let want: BTreeSet<Vec<(String, Vec<u8>)>> = json_packages
        .iter()
        .map(|p| {
            let mut m = BTreeMap::new();
            for k in ["name", "version", "release", "arch"] {
                if let Some(v) = p[k].as_str() {
                    m.insert(k.to_string(), v.as_bytes().to_vec());
                }
            }
            if let Some(e) = p["epoch"].as_u64() {
                m.insert("epoch".into(), e.to_string().into_bytes());
            }
            m.into_iter().collect()
        })
        .collect();
    assert_eq!(got, want);
    assert!(values(
        &leaves(&pk),
        "ns0:scannedPackages/scannedPackages/scannedPackage/name"
    )
    .contains(&b"pb++".as_slice()));
    assert_eq!(
        values(&leaves(&pk), "ns0:scannedPackages/total"),
        [json_packages.len().to_string().as_bytes()]
    );

    // Files: path, change and metadata of every change.
    let (_, fl) = get(&format!("{scan_url}/files"), "application/xml");
    let got: BTreeMap<Vec<u8>, BTreeMap<String, Vec<u8>>> =
        items(&fl, "ns0:scannedFiles/scannedFiles", "scannedFile")
            .into_iter()
            .map(|mut m| (m.remove("fullPath").unwrap(), m))
            .collect();
    let json_files = json["files"].as_array().unwrap();
    assert_eq!(got.len(), json_files.len());
    for f in json_files {
        let path = text(&f["path"]);
        let x = got
            .get(&path)
            .unwrap_or_else(|| panic!("{:?} not served back", String::from_utf8_lossy(&path)));
        let field = |k: &str| x.get(k).map(|v| String::from_utf8(v.clone()).unwrap());
        assert_eq!(field("changeType"), Some(s(&f["change"])), "{f}");
        if f["change"] == "deleted" {
            assert_eq!(x.len(), 1, "a deleted file has no metadata: {f}");
            continue;
        }
        assert_eq!(field("permissions"), Some(s(&f["mode"])), "{f}");
        assert_eq!(field("directory"), Some((f["type"] == "dir").to_string()));
        assert_eq!(
            field("size"),
            f["size"].as_u64().map(|n| n.to_string()),
            "{f}"
        );
        let owner = f["user"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| f["uid"].to_string());
        assert_eq!(field("owner"), Some(owner), "{f}");
        let group = f["group"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| f["gid"].to_string());
        assert_eq!(field("group"), Some(group), "{f}");
        assert_eq!(
            x.get("linkTarget").cloned(),
            f.get("link_target").map(text),
            "{f}"
        );
    }
    for h in &hostile {
        assert_eq!(
            got.get(h)
                .and_then(|m| m.get("changeType"))
                .map(Vec::as_slice),
            Some(b"added".as_slice()),
            "{:?}",
            String::from_utf8_lossy(h)
        );
    }
    assert_eq!(
        got[b"/srv/ln".as_slice()]
            .get("linkTarget")
            .map(Vec::as_slice),
        Some(b"a&b<c>".as_slice())
    );

    // The install profile: accounts, NIC, locale facts.
    let (_, ip) = get(&format!("{scan_url}/installProfile"), "application/xml");
    let li = leaves(&ip);
    let p = &json["profile"];
    assert_eq!(
        values(&li, "ns0:installProfile/timezone"),
        [s(&p["timezone"]["name"]).as_bytes()]
    );
    assert_eq!(
        values(&li, "ns0:installProfile/xkbLayout"),
        [s(&p["keyboard"]["xkb_layout"]).as_bytes()]
    );
    assert_eq!(
        values(&li, "ns0:installProfile/xkbLayout"),
        [b"fr".as_slice()]
    );
    let mut accounts = items(&ip, "ns0:installProfile", "rootUser");
    accounts.extend(items(&ip, "ns0:installProfile/users", "user"));
    let json_users = p["users"].as_array().unwrap();
    assert_eq!(accounts.len(), json_users.len());
    for (x, u) in accounts.iter().zip(json_users) {
        assert_eq!(x["name"], s(&u["name"]).into_bytes());
        assert_eq!(x["userId"], u["uid"].to_string().into_bytes());
        assert_eq!(x["primaryGroupId"], u["gid"].to_string().into_bytes());
        assert_eq!(x["homeDir"], text(&u["home"]));
        assert_eq!(x["shell"], text(&u["shell"]));
        assert_eq!(x["fullName"], text(&u["gecos"]), "{u}");
        let groups: Vec<String> = u["secondary_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(s)
            .collect();
        assert_eq!(x["secondaryGroups"], groups.join(",").into_bytes());
        assert_eq!(x["systemUser"], u["system_user"].to_string().into_bytes());
        assert_eq!(
            x["disablePasswordLogin"],
            u["password_locked"].to_string().into_bytes()
        );
        assert!(
            !x.contains_key("password"),
            "no hash without --include-password-hashes"
        );
    }
    let names: Vec<&[u8]> = accounts.iter().map(|a| a["name"].as_slice()).collect();
    assert_eq!(names, [b"root".as_slice(), b"jo", b"lat"]);
    assert_eq!(accounts[1]["fullName"], "Jö & <Co> \"x\"".as_bytes());
    assert_eq!(
        accounts[2]["fullName"], b"J\xe9r\xf4me",
        "Latin-1 GECOS, base64 in XML"
    );
    let groups = items(&ip, "ns0:installProfile/groups", "group");
    let json_groups = p["groups"].as_array().unwrap();
    assert_eq!(groups.len(), json_groups.len());
    for (x, g) in groups.iter().zip(json_groups) {
        assert_eq!(x["name"], s(&g["name"]).into_bytes());
        assert_eq!(x["groupId"], g["gid"].to_string().into_bytes());
        let members: Vec<String> = g["members"].as_array().unwrap().iter().map(s).collect();
        assert_eq!(x["members"], members.join(",").into_bytes());
    }
    let nics = items(&ip, "ns0:installProfile/nics", "nic");
    let json_nics = p["network"]["nics"].as_array().unwrap();
    assert_eq!(nics.len(), json_nics.len());
    let eth0 = json_nics
        .iter()
        .position(|n| n["name"] == "eth0")
        .expect("the interfaces file configures eth0");
    assert_eq!(nics[eth0]["name"], b"eth0");
    assert_eq!(
        nics[eth0].get("ipv4Method").map(Vec::as_slice),
        Some(b"MANUAL".as_slice())
    );
    assert_eq!(
        values(
            &li,
            "ns0:installProfile/nics/nic/ipAddresses/ipAddress/address"
        ),
        [b"192.0.2.7".as_slice()]
    );
    assert_eq!(
        values(
            &li,
            "ns0:installProfile/nics/nic/ipAddresses/ipAddress/netmask"
        ),
        [b"255.255.255.0".as_slice()]
    );
    assert_eq!(
        values(
            &li,
            "ns0:installProfile/nics/nic/ipAddresses/ipAddress/gateway"
        ),
        [b"192.0.2.1".as_slice()]
    );
}

/// The receiver refuses a report that is not a sound UForge scan (here: totals that do not
/// match what it lists) and stores nothing for it.
#[test]
fn receiver_refuses_an_inconsistent_xml_report() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("receiver");
    add_user(&data, USER, PASSWORD);
    let rcv = Receiver::start(&data);
    let api = format!("http://{}/api/users/{}", rcv.addr, USER.replace('@', "%40"));
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    let inst: Value = ureq::post(&format!("{api}/scannedinstances"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(br#"{"name":"x","overlayIncluded":false}"#)
        .unwrap()
        .body_mut()
        .read_to_vec()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let siid = inst["dbId"].as_u64().unwrap();
    let seed = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/uforge_xml/scan.xml"
    ))
    .unwrap();
    let post = |body: &[u8]| {
        ureq::post(&format!("{api}/scannedinstances/{siid}/scans?name=s"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/xml")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body)
            .unwrap()
    };
    let bad = String::from_utf8(seed.clone())
        .unwrap()
        .replace("<totalPackages>2<", "<totalPackages>3<");
    let mut resp = post(bad.as_bytes());
    assert_eq!(resp.status().as_u16(), 400);
    let msg = resp.body_mut().read_to_string().unwrap();
    assert!(msg.contains("totalPackages"), "{msg}");
    let list: Value = ureq::get(&format!("{api}/scannedinstances/{siid}/scans"))
        .header("Authorization", &auth)
        .header("Accept", "application/json")
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(list["total"], 0, "nothing stored for a refused report");
    // The sound report is taken.
    assert_eq!(post(&seed).status().as_u16(), 201);
}
