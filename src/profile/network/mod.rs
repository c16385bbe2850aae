//! NICs, addresses, routes, DNS, and the configuration files that define them.
//!
//! Data flow: each configuration format has its own small module that reads its files
//! inside the scanned root and returns [`IfaceConfig`] stanzas, each carrying the path it
//! came from ([`ifcfg`] for RHEL and SUSE, [`interfaces`] for Debian and Alpine, [`nm_keyfile`],
//! [`netplan`], [`networkd`]); [`sysfs`] and [`procfs`] read the live facts when
//! [`LiveSources`] has them; [`merge`] joins both into one ordered list of [`Nic`]s;
//! [`dns`] fills the rest (the host name is the profile's own `hostname`). Names map onto UForge's `nic`/`ipAddress`
//! (`ipv4Method` `AUTOMATIC|MANUAL|DISABLED`, `ipv6Method` `AUTOMATIC|MANUAL|IGNORE`).

mod addr;
mod dns;
mod files;
mod ifcfg;
mod ini;
mod interfaces;
mod merge;
mod netplan;
mod networkd;
mod nm_keyfile;
mod procfs;
mod sysfs;
mod yaml;

#[cfg(test)]
mod tests;

use serde::Serialize;

use super::LiveSources;
use crate::rootfs::RootFs;

/// The `network` part of the profile.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Network {
    /// Every interface, in the order documented in `docs/install-profile.md`: the one
    /// carrying the default route first, then physical NICs, bonds, bridges and VLANs,
    /// other virtual devices, loopback last. `order` is the position.
    pub nics: Vec<Nic>,
    /// Routes that belong to no one interface: the kernel's table (live) and global
    /// configuration (SUSE `routes`, RHEL `/etc/sysconfig/network` `GATEWAY`).
    pub routes: Vec<Route>,
    pub dns: Dns,
    /// Configuration stanzas that apply to no known interface (a networkd `Name=en*` on a
    /// root without live facts, a Wi-Fi profile without an interface name).
    pub unmatched_configs: Vec<IfaceConfig>,
    /// Every network configuration file read, in the order read.
    pub config_files: Vec<ConfigFile>,
    /// What could not be read or understood, with the path.
    pub notes: Vec<String>,
}

/// A value and the file (or live source) it came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sourced {
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ConfigFormat {
    /// RHEL/Fedora `network-scripts/ifcfg-*`, `route-*`, `route6-*`, `/etc/sysconfig/network`.
    IfcfgRhel,
    /// SUSE `sysconfig/network/ifcfg-*`, `ifroute-*`, `routes`.
    IfcfgSuse,
    /// Debian/Alpine `/etc/network/interfaces` and what it sources.
    Interfaces,
    NmKeyfile,
    Netplan,
    Networkd,
    ResolvConf,
    SystemdResolved,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: String,
    pub format: ConfigFormat,
    /// The file whose `source`/`source-directory` line brought this one in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included_from: Option<String>,
}

/// UForge `nic/ipv4Method`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Ipv4Method {
    /// DHCP (or BOOTP, link-local autoconfiguration).
    Automatic,
    /// Static addresses.
    Manual,
    /// No IPv4 on this interface (bond and bridge ports, `manual` stanzas).
    Disabled,
}

/// UForge `nic/ipv6Method`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Ipv6Method {
    /// SLAAC or DHCPv6.
    Automatic,
    Manual,
    Ignore,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum IpFamily {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NicKind {
    Ethernet,
    Wireless,
    Infiniband,
    Loopback,
    Bond,
    Team,
    Bridge,
    Vlan,
    /// tun/tap, GRE, WireGuard, … (`tun_flags`, or configured as such).
    Tunnel,
    Veth,
    /// Any other device without hardware behind it (dummy, ifb, macvlan, …).
    Virtual,
    Unknown,
}

/// UForge `ipAddress`: `address`, `netmask` (IPv4), `gateway`, `type`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IpAddress {
    pub family: IpFamily,
    pub address: String,
    pub prefix_len: Option<u8>,
    /// Dotted netmask of an IPv4 prefix.
    pub netmask: Option<String>,
    pub gateway: Option<String>,
    /// Live addresses: whether the kernel marks it permanent (`false`: given by DHCPv6 or
    /// SLAAC). Only IPv6 tells; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
}

/// UForge `route`: `address` (destination), `netmask`, `gateway`, `metric`, `type`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Route {
    pub family: IpFamily,
    /// `default`, or the destination network address.
    pub destination: String,
    pub prefix_len: Option<u8>,
    pub netmask: Option<String>,
    pub gateway: Option<String>,
    pub interface: Option<String>,
    pub metric: Option<u32>,
    /// File (or `/proc/net/route`, `/proc/net/ipv6_route`) the route came from.
    pub source: String,
}

impl Route {
    pub fn is_default(&self) -> bool {
        self.destination == "default"
    }
}

/// How a configuration stanza picks its interface when it does not name one: a networkd
/// `[Match]`, a netplan `match:`, a NetworkManager `mac-address` without `interface-name`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct MatchRule {
    /// Shell globs (networkd, netplan); a leading `!` negates.
    pub names: Vec<String>,
    pub macs: Vec<String>,
    pub drivers: Vec<String>,
    /// networkd `Type=` (`ether`, `wlan`, `bond`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Conditions not evaluated (`Virtualization=`, `Host=`, …): a rule with any never
    /// matches, so vendor defaults for containers do not land on a host's NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
}

/// One stanza of one configuration file, for one interface (or one match rule).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IfaceConfig {
    pub path: String,
    pub format: ConfigFormat,
    /// The interface it is for, when the stanza names one literally.
    pub interface: Option<String>,
    /// The stanza's own name where it has one apart from the interface (NetworkManager
    /// `id`, netplan id, networkd file name).
    pub id: Option<String>,
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_rule: Option<MatchRule>,
    pub kind: Option<NicKind>,
    pub mac: Option<String>,
    pub auto_connect: Option<bool>,
    pub ipv4_method: Option<Ipv4Method>,
    pub ipv6_method: Option<Ipv6Method>,
    /// The method as written (`dhcp`, `static`, `BOOTPROTO=none`, `link-local`, …).
    pub method_raw: Vec<String>,
    pub addresses: Vec<IpAddress>,
    pub gateway4: Option<String>,
    pub gateway6: Option<String>,
    pub routes: Vec<Route>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub mtu: Option<u32>,
    /// The bond, team or bridge this interface is a port of.
    pub master: Option<String>,
    /// Ports of a bond, team or bridge.
    pub members: Vec<String>,
    /// VLAN: the parent link and the id.
    pub vlan_parent: Option<String>,
    pub vlan_id: Option<u16>,
}

impl IfaceConfig {
    /// An IP alias (`eth0:1`, the old way of adding an address) configures its base
    /// interface: it becomes a stanza of `eth0` that only adds addresses (no method of its
    /// own, so the base's stanza stays the effective one), its label kept as `id`.
    fn fold_alias(&mut self) {
        let Some((base, _)) = self.interface.as_deref().and_then(|n| n.split_once(':')) else {
            return;
        };
        let base = base.to_string();
        self.id = self.interface.replace(base);
        self.ipv4_method = None;
        self.ipv6_method = None;
        self.auto_connect = None;
    }

    fn new(path: &str, format: ConfigFormat) -> Self {
        IfaceConfig {
            path: path.to_string(),
            format,
            interface: None,
            id: None,
            match_rule: None,
            kind: None,
            mac: None,
            auto_connect: None,
            ipv4_method: None,
            ipv6_method: None,
            method_raw: Vec::new(),
            addresses: Vec::new(),
            gateway4: None,
            gateway6: None,
            routes: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            mtu: None,
            master: None,
            members: Vec::new(),
            vlan_parent: None,
            vlan_id: None,
        }
    }
}

/// One network interface: live facts (when there are any) and what configures it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    /// Position in `nics` (UForge `nic/order`).
    pub order: u32,
    pub kind: NicKind,
    /// Whether hardware backs it (`/sys/class/net/<if>/device`); `None` without live facts.
    pub physical: Option<bool>,
    pub mac: Option<String>,
    pub driver: Option<String>,
    pub operstate: Option<String>,
    pub mtu: Option<u32>,
    pub ifindex: Option<u32>,
    /// Whether it carries a default route (live table, else its configuration).
    pub default_route: bool,
    pub auto_connect: Option<bool>,
    pub ipv4_method: Option<Ipv4Method>,
    pub ipv6_method: Option<Ipv6Method>,
    /// Configured (static) addresses of the effective configuration, with its gateway.
    pub ip_addresses: Vec<IpAddress>,
    /// Addresses the kernel has now (including DHCP/SLAAC ones); `None` without live
    /// facts (unknown), empty when the live system has none on it.
    pub live_addresses: Option<Vec<IpAddress>>,
    pub master: Option<String>,
    /// Every stanza that configures it, the effective one first (precedence in the docs).
    pub configs: Vec<IfaceConfig>,
}

/// Name resolution: `/etc/resolv.conf`, or systemd-resolved's configuration when
/// resolv.conf only points at its stub.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Dns {
    pub resolver: Option<Resolver>,
    pub nameservers: Vec<Sourced>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Resolver {
    ResolvConf,
    SystemdResolved,
}

/// Every parser of this module over the same bytes, whatever they are: the fuzz target
/// `network_config` (`src/fuzz_targets.rs`) and the totality test. Never panics.
#[doc(hidden)]
pub fn parse_all(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let _ = ifcfg::parse_vars(text);
    let mut configs = vec![
        ifcfg::parse_ifcfg("/p", "eth0", text, ConfigFormat::IfcfgRhel),
        ifcfg::parse_ifcfg("/p", "eth0", text, ConfigFormat::IfcfgSuse),
        nm_keyfile::parse("/p", text),
    ];
    let mut global_routes = ifcfg::parse_rhel_routes("/p", "eth0", text);
    global_routes.extend(ifcfg::parse_suse_routes("/p", None, text));
    configs.extend(
        interfaces::parse(text)
            .into_iter()
            .map(|i| interfaces::stanza_config("/p", i)),
    );
    if let Ok(doc) = yaml::parse(text) {
        configs.extend(netplan::parse_doc("/p", &doc));
    }
    let sections = ini::parse(text);
    let networkd = networkd::Networkd {
        networks: vec![networkd::network("/p", "x.network", &sections)],
        netdevs: networkd::netdev("/p", &sections).into_iter().collect(),
    };
    let mut live_routes = procfs::parse_route(text);
    let locals = procfs::parse_fib_trie(text);
    let mut addresses = std::collections::BTreeMap::<String, Vec<IpAddress>>::new();
    for (ip, dev, len) in procfs::attribute_v4(&locals, &live_routes) {
        let a = addr::ip_address(ip.into(), Some(len));
        addresses.entry(dev).or_default().push(a);
    }
    for (dev, a) in procfs::parse_if_inet6(text) {
        addresses.entry(dev).or_default().push(a);
    }
    live_routes.extend(procfs::parse_ipv6_route(text));
    let mut dns = Dns::default();
    dns::parse_resolv(text, "/p", &mut dns);
    // And what the merge makes of it all (globs and MACs from the input included).
    let merged = merge::merge(merge::Inputs {
        configs,
        networkd,
        live_links: None,
        live_addresses: Some(addresses),
        live_routes: &live_routes,
        global_routes: &global_routes,
    });
    let _ = (merged.nics.len(), merged.unmatched.len());
}

/// Collect the network section of `root`. Never fails; problems go to `notes`.
pub fn collect(root: &RootFs, live: &LiveSources) -> Network {
    let mut reader = files::Reader::new(root);
    let mut configs = Vec::new();
    configs.extend(netplan::collect(&mut reader));
    configs.extend(nm_keyfile::collect(&mut reader));
    let networkd = networkd::collect(&mut reader);
    let mut global_routes = Vec::new();
    configs.extend(ifcfg::collect(&mut reader, &mut global_routes));
    configs.extend(interfaces::collect(&mut reader));

    let live_links = sysfs::collect(live, &mut reader.notes);
    let live_net = procfs::collect(live, &mut reader.notes);

    let merged = merge::merge(merge::Inputs {
        configs,
        networkd,
        live_links,
        live_addresses: live_net.addresses,
        live_routes: &live_net.routes,
        global_routes: &global_routes,
    });

    let mut routes = live_net.routes;
    routes.extend(global_routes);
    let dns = dns::collect(&mut reader, live);
    let (config_files, notes) = reader.finish();
    Network {
        nics: merged.nics,
        routes,
        dns,
        unmatched_configs: merged.unmatched,
        config_files,
        notes,
    }
}
