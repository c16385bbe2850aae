//! Unit tests of the parsers; whole roots are in `tests/network_profile.rs`.

use super::*;

#[test]
fn netmasks_and_prefixes() {
    use std::net::Ipv4Addr;
    assert_eq!(addr::netmask_len(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
    assert_eq!(
        addr::netmask_len(Ipv4Addr::new(255, 255, 255, 255)),
        Some(32)
    );
    assert_eq!(addr::netmask_len(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
    assert_eq!(
        addr::netmask_len(Ipv4Addr::new(255, 0, 255, 0)),
        None,
        "not contiguous"
    );
    assert_eq!(addr::netmask_of(20).to_string(), "255.255.240.0");
    assert_eq!(addr::netmask_of(0).to_string(), "0.0.0.0");
    assert_eq!(addr::parse_cidr("10.0.0.1/33"), None);
    assert_eq!(addr::parse_cidr("2001:db8::1/129"), None);
    assert!(addr::parse_cidr("2001:db8::1/128").is_some());
    assert_eq!(
        addr::parse_cidr("fe80::1%eth0/64").map(|(_, l)| l),
        Some(Some(64))
    );
    assert_eq!(addr::parse_cidr("300.1.1.1/24"), None);
    let a = addr::address_from("192.168.1.7/255.255.252.0").unwrap();
    assert_eq!(
        (a.prefix_len, a.netmask.as_deref()),
        (Some(22), Some("255.255.252.0"))
    );
}

#[test]
fn macs_are_normalised_or_refused() {
    assert_eq!(
        addr::parse_mac("52:54:00:AB:cd:EF").as_deref(),
        Some("52:54:00:ab:cd:ef")
    );
    assert_eq!(
        addr::parse_mac("52-54-00-ab-cd-ef").as_deref(),
        Some("52:54:00:ab:cd:ef")
    );
    assert_eq!(addr::parse_mac("52:54:00:ab:cd"), None);
    assert_eq!(addr::parse_mac("52:54:00:ab:cd:eg"), None);
    assert_eq!(addr::parse_mac("525:4:00:ab:cd:ef"), None);
}

#[test]
fn ip_route_arguments() {
    let r = addr::parse_ip_route(
        &[
            "10.1.0.0/16",
            "via",
            "10.0.0.1",
            "dev",
            "eth1",
            "proto",
            "static",
            "metric",
            "7",
        ],
        Some("eth0"),
        "/x",
    )
    .unwrap();
    assert_eq!(r.destination, "10.1.0.0");
    assert_eq!(r.prefix_len, Some(16));
    assert_eq!(
        r.interface.as_deref(),
        Some("eth1"),
        "dev overrides the file's interface"
    );
    assert_eq!(r.metric, Some(7));
    let d = addr::parse_ip_route(&["default", "via", "fe80::1"], Some("eth0"), "/x").unwrap();
    assert!(d.is_default());
    assert_eq!(d.family, IpFamily::Ipv6);
    assert!(
        addr::parse_ip_route(&["via", "10.0.0.1"], None, "/x").is_none(),
        "no destination"
    );
    assert!(
        addr::parse_ip_route(&["10.0.0.0/8", "via", "fe80::1"], None, "/x").is_none(),
        "a gateway of the other family is not a route"
    );
}

#[test]
fn shell_assignments() {
    let vars = ifcfg::parse_vars(
        "# comment\nA=plain\nB=\"two words\" # trailing comment\nC='single $quoted'\n\
         export D=exported\nE=\"esc\\\"aped\"\nA=again\n 9X=bad\nF=a\"b c\"d\nnot an assignment\n",
    );
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("A"), Some("again"), "later assignments win");
    assert_eq!(get("B"), Some("two words"));
    assert_eq!(get("C"), Some("single $quoted"), "never expanded");
    assert_eq!(get("D"), Some("exported"));
    assert_eq!(get("E"), Some("esc\"aped"));
    assert_eq!(get("F"), Some("ab cd"), "adjacent quoted parts join");
    assert_eq!(get("9X"), None);
    assert_eq!(vars.len(), 6);
}

#[test]
fn interfaces_stanzas_and_continuations() {
    let items = interfaces::parse(
        "auto eth0 eth1\n# iface ghost inet dhcp\niface eth0 inet static\n  address 10.0.0.2\n  netmask 255.255.255.0\n\
         \x20 up ip route add 10.9.0.0/16 \\\n     via 10.0.0.254\nmapping eth1\n  script /bin/false\n  map x\n\
         iface eth1 inet6 auto\n\
         iface eth2 inet static\n  address 10.2.0.2/24\n  post-up /sbin/route add -net 10.7.0.0 netmask 255.255.0.0 gw 10.2.0.253\n\
         \x20 up route add default gw 10.2.0.1\n  up /bin/ip -6 route add 2001:db8:7::/48 via 2001:db8::1\n  up echo route add x\n",
    );
    let configs: Vec<IfaceConfig> = items
        .into_iter()
        .map(|i| interfaces::stanza_config("/etc/network/interfaces", i))
        .filter(|c| c.interface.is_some())
        .collect();
    assert_eq!(configs.len(), 3);
    let r: Vec<String> = configs[2]
        .routes
        .iter()
        .map(|r| {
            format!(
                "{}/{:?} {:?} {:?}",
                r.destination, r.prefix_len, r.gateway, r.interface
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            "10.7.0.0/Some(16) Some(\"10.2.0.253\") Some(\"eth2\")",
            "default/Some(0) Some(\"10.2.0.1\") Some(\"eth2\")",
            "2001:db8:7::/Some(48) Some(\"2001:db8::1\") Some(\"eth2\")",
        ],
        "net-tools and iproute2 forms; `echo route add` is no route"
    );
    assert_eq!(configs[0].addresses[0].prefix_len, Some(24));
    assert_eq!(configs[0].routes.len(), 1, "a continued `up` line");
    assert_eq!(configs[0].routes[0].gateway.as_deref(), Some("10.0.0.254"));
    assert_eq!(configs[1].ipv6_method, Some(Ipv6Method::Automatic));
    assert!(
        configs[1].addresses.is_empty(),
        "mapping options do not leak into stanzas"
    );
}

#[test]
fn resolv_conf_rules() {
    let mut dns = Dns::default();
    dns::parse_resolv(
        "domain old.example\nnameserver 10.0.0.1 # comment\nnameserver 10.0.0.1\nnameserver not-an-ip\n\
         nameserver fe80::1%eth0\nsearch a.example b.example\noptions rotate timeout:1\n",
        "/etc/resolv.conf",
        &mut dns,
    );
    let servers: Vec<&str> = dns.nameservers.iter().map(|n| n.value.as_str()).collect();
    assert_eq!(servers, ["10.0.0.1", "fe80::1"]);
    assert_eq!(
        dns.search,
        ["a.example", "b.example"],
        "the last search/domain line wins"
    );
    assert_eq!(dns.options, ["rotate", "timeout:1"]);
}

#[test]
fn procfs_formats() {
    // Lines as this kernel writes them (see tests/network_profile.rs for a whole tree).
    let routes = procfs::parse_route(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
         eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
         eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
         eth0\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0\n\
         lo\t0000FEA9\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
         short\tline\n",
    );
    assert_eq!(routes.len(), 3, "a route that is not up is left out");
    assert!(routes[0].is_default());
    assert_eq!(routes[0].gateway.as_deref(), Some("192.0.2.1"));
    assert_eq!(routes[1].destination, "192.0.2.0");
    assert_eq!(routes[1].prefix_len, Some(24));
    assert_eq!(routes[2].interface, None, "unreachable: no device");
    let locals = procfs::parse_fib_trie(
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     +-- 192.0.2.0/24 2 0 2\n        |-- 192.0.2.2\n           /32 host LOCAL\n\
         \x20       |-- 192.0.2.255\n           /32 link BROADCAST\n     |-- 198.51.100.9\n        /32 host LOCAL\n",
    );
    assert_eq!(locals.len(), 2);
    let attributed = procfs::attribute_v4(&locals, &routes);
    assert_eq!(
        attributed,
        [(locals[0], "eth0".to_string(), 24)],
        "no route holds 198.51.100.9"
    );
    let v6 =
        procfs::parse_if_inet6("fe8000000000000000fc00fffe000001 04 40 20 80     eth0\nzz 1 2 3\n");
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0].1.address, "fe80::fc:ff:fe00:1");
    assert_eq!(v6[0].1.permanent, Some(true));
}

#[test]
fn yaml_tree_is_bounded() {
    let doc = yaml::parse(
        "network:\n  ethernets:\n    eth0: {dhcp4: yes, addresses: [\"10.0.0.1/8\"]}\n",
    )
    .unwrap();
    let eth0 = doc
        .get("network")
        .unwrap()
        .get("ethernets")
        .unwrap()
        .get("eth0")
        .unwrap();
    assert_eq!(eth0.get("dhcp4").and_then(yaml::Node::bool), Some(true));
    assert_eq!(eth0.get("addresses").unwrap().items().len(), 1);
    let deep = format!("a: {}1{}", "[".repeat(200), "]".repeat(200));
    assert!(
        yaml::parse(&deep).is_err(),
        "nesting beyond the cap is refused"
    );
    let ok = format!("a: {}1{}", "[".repeat(20), "]".repeat(20));
    assert!(yaml::parse(&ok).is_ok());
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..40 {
        bomb.push_str(&format!(
            "l{i}: &l{i} [{}]\n",
            vec![format!("*l{}", i - 1); 10].join(", ")
        ));
    }
    let doc = yaml::parse(&bomb).unwrap();
    assert_eq!(doc.entries().len(), 40, "aliases are nulls, not copies");
    let many = "- x\n".repeat(yaml::MAX_NODES + 10);
    assert!(yaml::parse(&many).unwrap_err().contains("nodes"));
    assert!(yaml::parse("a: [unclosed\n")
        .unwrap_err()
        .starts_with("line "));
    assert_eq!(yaml::parse("").unwrap(), yaml::Node::Null);
}

#[test]
fn natural_order_of_names_and_kinds() {
    let merged = merge::merge(merge::Inputs {
        configs: ["eth10", "eth2", "lo", "br0", "eth1"]
            .iter()
            .map(|n| {
                let mut c = IfaceConfig::new("/x", ConfigFormat::Interfaces);
                c.interface = Some(n.to_string());
                c
            })
            .collect(),
        networkd: Default::default(),
        live_links: None,
        live_addresses: None,
        live_routes: &[],
        global_routes: &[],
    });
    let names: Vec<&str> = merged.nics.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["eth1", "eth2", "eth10", "br0", "lo"]);
}

/// Every parser over truncations and byte flips of real samples: total, no panic.
#[test]
fn parsers_are_total() {
    let samples = [
        "DEVICE=eth0\nBOOTPROTO=static\nIPADDR=10.0.0.2\nPREFIX=24\nIPV6INIT=yes\nIPV6ADDR=2001:db8::2/64\nDNS1=10.0.0.1\n",
        "ADDRESS0=10.1.0.0\nNETMASK0=255.255.0.0\nGATEWAY0=10.0.0.1\n10.2.0.0/16 via 10.0.0.1 dev eth0\n",
        "default 192.168.1.1 - -\n10.0.0.0 10.1.1.1 255.0.0.0 eth0 metric 5\n",
        "source-directory /etc/network/interfaces.d\nauto eth0\niface eth0 inet static\n address 10.0.0.2/24\n gateway 10.0.0.1\n up ip route add 10.3.0.0/16 via 10.0.0.9\n",
        "[connection]\nid=x\ntype=ethernet\ninterface-name=eth0\n[ipv4]\naddress1=10.0.0.2/24,10.0.0.1\naddresses2=10.0.0.3;24;10.0.0.1;\nroute1=10.4.0.0/16,10.0.0.9,10\nmethod=manual\n",
        "network:\n  version: 2\n  ethernets:\n    eth0:\n      match: {macaddress: \"52:54:00:00:00:01\"}\n      set-name: eth0\n      addresses: [10.0.0.2/24]\n      routes:\n        - to: default\n          via: 10.0.0.1\n",
        "[Match]\nName=en*\n[Network]\nAddress=10.0.0.2/24\nGateway=10.0.0.1\nDHCP=ipv6\n[Route]\nDestination=10.5.0.0/16\nGateway=10.0.0.9\n[NetDev]\nName=br0\nKind=bridge\n",
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nA\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n",
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.2\n        /32 host LOCAL\n",
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000002 00000000 00000003    eth0\n",
    ];
    let run = |text: &str| parse_all(text.as_bytes());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut runs = 0;
    for s in samples {
        let bytes = s.as_bytes();
        for cut in 0..=bytes.len() {
            run(&String::from_utf8_lossy(&bytes[..cut]));
            runs += 1;
        }
        for _ in 0..300 {
            let mut b = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = match next() % 4 {
                    0 => {
                        let special = b"[]{}:,-&*!|>'\"%#\n\t\\/.";
                        special[(next() as usize) % special.len()]
                    }
                    1 => b[i] ^ (1 << (next() % 8)),
                    2 => b'0' + (next() % 10) as u8,
                    _ => (next() % 256) as u8,
                };
            }
            run(&String::from_utf8_lossy(&b));
            runs += 1;
        }
    }
    assert!(runs > 3000);
}

#[test]
fn nm_keyfile_address_and_route_forms() {
    let c = nm_keyfile::parse(
        "/etc/NetworkManager/system-connections/old",
        "[connection]\nid=old style\ntype=802-3-ethernet\ninterface-name=eth3\n\n\
         [ipv4]\nmethod=manual\naddresses1=10.3.0.5;16;10.3.0.1;\naddress2=10.4.0.5\n\
         routes1=10.9.0.0/16;10.3.0.254;40;\nroute2=10.8.0.0/16,10.3.0.253\nroute3=garbage\n\n\
         [ipv6]\nmethod=ignore\n\n[gsm]\napn=internet\npassword=never-kept\n",
    );
    let a: Vec<String> = c
        .addresses
        .iter()
        .map(|a| format!("{}/{}", a.address, a.prefix_len.unwrap()))
        .collect();
    assert_eq!(
        a,
        ["10.3.0.5/16", "10.4.0.5/24"],
        "old list form; /24 assumed as NM does"
    );
    assert_eq!(c.gateway4.as_deref(), Some("10.3.0.1"));
    let r: Vec<(String, Option<u32>)> = c
        .routes
        .iter()
        .map(|r| {
            (
                format!("{}/{}", r.destination, r.prefix_len.unwrap()),
                r.metric,
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            ("10.9.0.0/16".to_string(), Some(40)),
            ("10.8.0.0/16".to_string(), None)
        ]
    );
    assert_eq!(c.ipv6_method, Some(Ipv6Method::Ignore));
    assert_eq!(c.auto_connect, Some(true), "NetworkManager's default");
    assert!(!format!("{c:?}").contains("never-kept"));
}

#[test]
fn huge_route_tables_are_read_in_part_and_noted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("net")).unwrap();
    let mut table = String::from(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n",
    );
    for i in 0..100_050u32 {
        table.push_str(&format!(
            "eth0\t{:08X}\t0100000A\t0003\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n",
            i.to_be()
        ));
    }
    std::fs::write(dir.path().join("net/route"), table).unwrap();
    let live = LiveSources {
        proc_dir: Some(dir.path().to_path_buf()),
        sys_dir: None,
    };
    let mut notes = Vec::new();
    let net = procfs::collect(&live, &mut notes);
    assert_eq!(net.routes.len(), 100_000);
    assert!(
        notes.iter().any(|n| n.contains("only the start read")),
        "{notes:?}"
    );
    assert_eq!(net.routes[1].destination, "0.0.0.1");
}
