//! Why an unowned file is there, and whether the overlay packs it by default.
//!
//! "Unowned" is not "unknown": many files are written by maintainer scripts or at run time.
//! They are still real data on a migrated host, so they are *reported*; the category lets
//! a user filter them, and decides the default packing policy the overlay follows.
//! First matching rule wins; rules are checked in the order of [`RULES`].

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Private keys and password hashes: listed, never packed unless asked for by name.
    Secret,
    /// Must differ on every machine (machine-id, random seed): listed, not packed.
    HostIdentity,
    /// Swap files: listed, not packed (contents are stale memory).
    Swap,
    /// Files of a running database server: a copy is torn; packed, with a warning.
    LiveDb,
    /// Container images and volumes: images can be pulled again, volumes are data; packed.
    ContainerStorage,
    /// The package manager's own database: the target image builds its own; not packed.
    PackageDb,
    /// Caches and compiled files a package or program rebuilds; packed (harmless), filterable.
    Regenerable,
    /// Logs: real history of the host; packed.
    Log,
    /// Nothing special is known: user or admin data; packed.
    Unowned,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Secret,
        Category::HostIdentity,
        Category::Swap,
        Category::LiveDb,
        Category::ContainerStorage,
        Category::PackageDb,
        Category::Regenerable,
        Category::Log,
        Category::Unowned,
    ];

    /// Default overlay policy: packed unless the user names the path or category.
    pub fn packed_by_default(self) -> bool {
        !matches!(
            self,
            Category::Secret | Category::HostIdentity | Category::Swap | Category::PackageDb
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Secret => "secret",
            Category::HostIdentity => "host-identity",
            Category::Swap => "swap",
            Category::LiveDb => "live-db",
            Category::ContainerStorage => "container-storage",
            Category::PackageDb => "package-db",
            Category::Regenerable => "regenerable",
            Category::Log => "log",
            Category::Unowned => "unowned",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// How a rule matches a path of the scanned system.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    /// This exact path.
    Exact(&'static str),
    /// This directory and everything below it.
    Under(&'static str),
    /// Any path component equal to this (e.g. `__pycache__`).
    Component(&'static str),
    /// The last component ends with this.
    Suffix(&'static str),
    /// Files in a directory directly below `dir` (e.g. `/home/*/.ssh/`), last component
    /// starting with `prefix` and not ending in `.pub`.
    PrivateKeyIn {
        dir: &'static str,
        sub: &'static str,
    },
}

pub struct Rule {
    pattern: Pattern,
    pub category: Category,
    pub reason: &'static str,
}

const fn rule(pattern: Pattern, category: Category, reason: &'static str) -> Rule {
    Rule {
        pattern,
        category,
        reason,
    }
}

use Category::*;
use Pattern::*;

/// The built-in rules. Sources: cruft-ng's ruleset and explain scripts, blueprint's ignore
/// list, and what migrations break on (../shared/docs/peer-tools.md §2, §4).
pub static RULES: &[Rule] = &[
    // --- secrets: never leave the host by default
    rule(Exact("/etc/shadow"), Secret, "password hashes"),
    rule(Exact("/etc/shadow-"), Secret, "password hashes (backup)"),
    rule(Exact("/etc/gshadow"), Secret, "group password hashes"),
    rule(
        Exact("/etc/gshadow-"),
        Secret,
        "group password hashes (backup)",
    ),
    rule(
        Exact("/etc/security/opasswd"),
        Secret,
        "old password hashes",
    ),
    rule(
        PrivateKeyIn {
            dir: "/etc/ssh",
            sub: "ssh_host_",
        },
        Secret,
        "SSH host private key",
    ),
    rule(
        PrivateKeyIn {
            dir: "/root/.ssh",
            sub: "id_",
        },
        Secret,
        "SSH user private key",
    ),
    rule(
        PrivateKeyIn {
            dir: "/home/*/.ssh",
            sub: "id_",
        },
        Secret,
        "SSH user private key",
    ),
    rule(Under("/etc/ssl/private"), Secret, "TLS private keys"),
    rule(Under("/etc/pki/tls/private"), Secret, "TLS private keys"),
    rule(Under("/root/.gnupg"), Secret, "GnuPG private keyring"),
    rule(Component(".gnupg"), Secret, "GnuPG private keyring"),
    rule(Exact("/etc/krb5.keytab"), Secret, "Kerberos host keytab"),
    // --- identity of this one machine
    rule(Exact("/etc/machine-id"), HostIdentity, "systemd machine id"),
    rule(
        Exact("/var/lib/dbus/machine-id"),
        HostIdentity,
        "D-Bus machine id",
    ),
    rule(Exact("/etc/hostid"), HostIdentity, "host id"),
    rule(
        Exact("/var/lib/systemd/random-seed"),
        HostIdentity,
        "random seed",
    ),
    rule(Exact("/var/lib/random-seed"), HostIdentity, "random seed"),
    rule(
        Exact("/var/lib/urandom/random-seed"),
        HostIdentity,
        "random seed",
    ),
    rule(
        Under("/var/lib/systemd/credential.secret"),
        HostIdentity,
        "systemd credential key",
    ),
    // --- package databases (the target image's package manager writes its own)
    rule(Under("/var/lib/dpkg"), PackageDb, "dpkg database"),
    rule(Under("/var/lib/rpm"), PackageDb, "rpm database"),
    rule(Under("/usr/lib/sysimage/rpm"), PackageDb, "rpm database"),
    rule(Under("/var/lib/pacman/local"), PackageDb, "pacman database"),
    rule(Under("/lib/apk/db"), PackageDb, "apk database"),
    rule(
        Under("/var/lib/apt/lists"),
        Regenerable,
        "apt package lists (apt update)",
    ),
    rule(
        Exact("/var/lib/apt/extended_states"),
        PackageDb,
        "apt auto-install marks",
    ),
    rule(Under("/var/cache/apt"), Regenerable, "apt cache"),
    rule(Under("/var/cache/yum"), Regenerable, "yum cache"),
    rule(Under("/var/cache/dnf"), Regenerable, "dnf cache"),
    rule(
        Under("/var/lib/livescan"),
        Regenerable,
        "livescan's own state (verify cache: rebuilt by the next scan)",
    ),
    // --- running databases: a file copy of a live server is torn
    rule(
        Under("/var/lib/mysql"),
        LiveDb,
        "MySQL/MariaDB data directory",
    ),
    rule(
        Under("/var/lib/postgresql"),
        LiveDb,
        "PostgreSQL data directory",
    ),
    rule(Under("/var/lib/pgsql"), LiveDb, "PostgreSQL data directory"),
    rule(Under("/var/lib/mongodb"), LiveDb, "MongoDB data directory"),
    rule(Under("/var/lib/redis"), LiveDb, "Redis data directory"),
    rule(Under("/var/lib/etcd"), LiveDb, "etcd data directory"),
    rule(
        Under("/var/lib/influxdb"),
        LiveDb,
        "InfluxDB data directory",
    ),
    rule(
        Under("/var/lib/cassandra"),
        LiveDb,
        "Cassandra data directory",
    ),
    rule(
        Under("/var/lib/elasticsearch"),
        LiveDb,
        "Elasticsearch data directory",
    ),
    // --- containers
    rule(
        Under("/var/lib/docker"),
        ContainerStorage,
        "Docker images, containers and volumes",
    ),
    rule(
        Under("/var/lib/containers"),
        ContainerStorage,
        "Podman/CRI-O storage",
    ),
    rule(
        Under("/var/lib/containerd"),
        ContainerStorage,
        "containerd storage",
    ),
    rule(Under("/var/lib/lxc"), ContainerStorage, "LXC containers"),
    rule(Under("/var/lib/lxd"), ContainerStorage, "LXD containers"),
    rule(
        Under("/var/lib/kubelet"),
        ContainerStorage,
        "kubelet pods and volumes",
    ),
    rule(
        Under("/var/lib/snapd/snaps"),
        ContainerStorage,
        "snap images (reinstallable)",
    ),
    // --- logs
    rule(Under("/var/log"), Log, "log file"),
    // --- regenerable: caches and compiled artefacts
    rule(
        Component("__pycache__"),
        Regenerable,
        "Python bytecode cache",
    ),
    rule(Suffix(".pyc"), Regenerable, "Python bytecode"),
    rule(Suffix(".pyo"), Regenerable, "Python bytecode"),
    rule(Exact("/etc/ld.so.cache"), Regenerable, "ldconfig cache"),
    rule(
        Under("/etc/ssl/certs"),
        Regenerable,
        "CA hash links (update-ca-certificates)",
    ),
    rule(
        Under("/etc/pki/ca-trust/extracted"),
        Regenerable,
        "CA bundle (update-ca-trust)",
    ),
    rule(
        Under("/var/cache/fontconfig"),
        Regenerable,
        "fontconfig cache",
    ),
    rule(Under("/var/cache/man"), Regenerable, "man page index"),
    rule(
        Under("/var/cache/ldconfig"),
        Regenerable,
        "ldconfig auxiliary cache",
    ),
    rule(
        Under("/var/cache/debconf"),
        PackageDb,
        "debconf answers database",
    ),
    rule(Under("/var/lib/ucf"), PackageDb, "ucf conffile registry"),
    rule(
        Under("/var/lib/systemd/deb-systemd-helper-enabled"),
        PackageDb,
        "deb-systemd-helper state",
    ),
    rule(
        Under("/var/lib/systemd/deb-systemd-user-helper-enabled"),
        PackageDb,
        "deb-systemd-helper state",
    ),
    rule(
        Exact("/usr/share/info/dir"),
        Regenerable,
        "info directory (install-info)",
    ),
    rule(Suffix("icon-theme.cache"), Regenerable, "GTK icon cache"),
    rule(
        Suffix("gschemas.compiled"),
        Regenerable,
        "GSettings schema cache",
    ),
    rule(Suffix("giomodule.cache"), Regenerable, "GIO module cache"),
    rule(
        Suffix("loaders.cache"),
        Regenerable,
        "gdk-pixbuf loaders cache",
    ),
    rule(Exact("/etc/udev/hwdb.bin"), Regenerable, "udev hwdb"),
    rule(Exact("/usr/lib/udev/hwdb.bin"), Regenerable, "udev hwdb"),
    rule(
        Under("/usr/lib/locale/locale-archive"),
        Regenerable,
        "compiled locales (locale-gen)",
    ),
    rule(Under("/var/cache"), Regenerable, "cache directory"),
    rule(
        Under("/boot/grub/grub.cfg"),
        Regenerable,
        "generated by update-grub",
    ),
    rule(
        Suffix(".dpkg-old"),
        Unowned,
        "previous conffile kept by dpkg",
    ),
];

/// The category and reason of an unowned path. `swap_files` come from `/proc/swaps`.
pub fn categorize(path: &[u8], swap_files: &[Vec<u8>]) -> (Category, &'static str) {
    let rule = rule_for(path, swap_files);
    (rule.category(), rule.reason())
}

/// Which rule put an unowned path in its category, as a number: what a packed report
/// record holds instead of the category and its reason's `&'static str` (two bytes, not
/// twenty-four).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryRule(u16);

/// The numbers before the rules': the two verdicts no rule gives.
const SWAP: u16 = 0;
const NO_RULE: u16 = 1;
const FIRST_RULE: u16 = 2;

impl CategoryRule {
    pub fn number(self) -> u16 {
        self.0
    }

    /// `None` for a number no verdict has.
    pub fn from_number(n: u16) -> Option<CategoryRule> {
        (usize::from(n) < usize::from(FIRST_RULE) + RULES.len()).then_some(CategoryRule(n))
    }

    pub fn category(self) -> Category {
        match self.0 {
            SWAP => Swap,
            NO_RULE => Unowned,
            n => RULES
                .get(usize::from(n - FIRST_RULE))
                .map_or(Unowned, |r| r.category),
        }
    }

    pub fn reason(self) -> &'static str {
        match self.0 {
            SWAP => "active swap file (/proc/swaps)",
            NO_RULE => "no package owns it",
            n => RULES
                .get(usize::from(n - FIRST_RULE))
                .map_or("no package owns it", |r| r.reason),
        }
    }
}

/// [`categorize`], as the number of the rule that decided.
pub fn rule_for(path: &[u8], swap_files: &[Vec<u8>]) -> CategoryRule {
    if swap_files.iter().any(|s| s == path) {
        return CategoryRule(SWAP);
    }
    let index = RuleIndex::get();
    let candidates = index
        .by_top
        .get(top_component(path))
        .unwrap_or(&index.anywhere);
    for &i in candidates {
        if matches(RULES[i].pattern, path) {
            // The table has a few dozen rules.
            return u16::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(FIRST_RULE))
                .map_or(CategoryRule(NO_RULE), CategoryRule);
        }
    }
    CategoryRule(NO_RULE)
}

/// The rules grouped by the first component of the path they are anchored at, so that a
/// path is checked only against the rules that can match it (perf: checking all of them on
/// every unowned entry was a visible part of a rescan).
struct RuleIndex {
    /// First path component → the numbers, in `RULES` order, of the rules anchored below it
    /// together with the rules that match anywhere: checking them in this order gives the
    /// same first match as checking every rule.
    by_top: std::collections::HashMap<&'static [u8], Vec<usize>>,
    /// The rules that can match anywhere (`Component`, `Suffix`): the candidates of a path
    /// below a component no rule is anchored at.
    anywhere: Vec<usize>,
}

impl RuleIndex {
    fn get() -> &'static RuleIndex {
        static INDEX: std::sync::OnceLock<RuleIndex> = std::sync::OnceLock::new();
        INDEX.get_or_init(|| {
            let anchor = |r: &Rule| match r.pattern {
                Exact(p) | Under(p) => Some(p),
                PrivateKeyIn { dir, .. } => Some(dir),
                Component(_) | Suffix(_) => None,
            };
            let anywhere: Vec<usize> = (0..RULES.len())
                .filter(|&i| anchor(&RULES[i]).is_none())
                .collect();
            let mut by_top: std::collections::HashMap<&'static [u8], Vec<usize>> =
                Default::default();
            for (i, r) in RULES.iter().enumerate() {
                let Some(a) = anchor(r) else { continue };
                by_top
                    .entry(top_component(a.as_bytes()))
                    .or_insert_with(|| anywhere.clone())
                    .push(i);
            }
            for list in by_top.values_mut() {
                list.sort_unstable();
            }
            RuleIndex { by_top, anywhere }
        })
    }
}

/// `usr` of `/usr/lib/x`; the empty slice for `/`.
fn top_component(path: &[u8]) -> &[u8] {
    let rest = path.strip_prefix(b"/").unwrap_or(path);
    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    &rest[..end]
}

fn under(path: &[u8], dir: &[u8]) -> bool {
    path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

fn matches(p: Pattern, path: &[u8]) -> bool {
    match p {
        Exact(e) => path == e.as_bytes(),
        Under(d) => under(path, d.as_bytes()),
        Component(c) => path.split(|&b| b == b'/').any(|part| part == c.as_bytes()),
        Suffix(s) => path.ends_with(s.as_bytes()),
        PrivateKeyIn { dir, sub } => {
            let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
                return false;
            };
            let (parent, name) = (&path[..slash], &path[slash + 1..]);
            name.starts_with(sub.as_bytes())
                && !name.ends_with(b".pub")
                && dir_matches(parent, dir.as_bytes())
        }
    }
}

/// `dir` may contain one `*` standing for exactly one path component (`/home/*/.ssh`).
fn dir_matches(parent: &[u8], dir: &[u8]) -> bool {
    let a: Vec<&[u8]> = parent.split(|&b| b == b'/').collect();
    let b: Vec<&[u8]> = dir.split(|&b| b == b'/').collect();
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| *y == b"*" || x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_number_stands_for_its_category_and_reason() {
        for (i, r) in RULES.iter().enumerate() {
            let n = u16::try_from(i).unwrap() + FIRST_RULE;
            let rule = CategoryRule::from_number(n).expect("every rule has a number");
            assert_eq!((rule.category(), rule.reason()), (r.category, r.reason));
        }
        let past = u16::try_from(RULES.len()).unwrap() + FIRST_RULE;
        assert_eq!(CategoryRule::from_number(past), None);
        let swap = vec![b"/swapfile".to_vec()];
        assert_eq!(rule_for(b"/swapfile", &swap).category(), Swap);
        assert_eq!(rule_for(b"/srv/data", &[]).reason(), "no package owns it");
        let key = rule_for(b"/etc/ssh/ssh_host_rsa_key", &[]);
        assert_eq!(
            (key.category(), key.reason()),
            categorize_linear(b"/etc/ssh/ssh_host_rsa_key")
        );
        assert_ne!(key.category(), Unowned);
    }

    /// Every rule checked in order: what the index must agree with.
    fn categorize_linear(path: &[u8]) -> (Category, &'static str) {
        RULES
            .iter()
            .find(|r| matches(r.pattern, path))
            .map_or((Unowned, "no package owns it"), |r| (r.category, r.reason))
    }

    #[test]
    fn rule_index_agrees_with_checking_every_rule() {
        // Each rule's anchor, below it, beside it, and with the anywhere-patterns mixed in
        // (a `.pyc` under /var/cache must still be the earlier rule's).
        let mut paths: Vec<Vec<u8>> = vec![b"/".to_vec(), b"".to_vec(), b"relative/x".to_vec()];
        for r in RULES {
            let anchor: &str = match r.pattern {
                Exact(p) | Under(p) | Component(p) | Suffix(p) => p,
                PrivateKeyIn { dir, .. } => dir,
            };
            let anchor = anchor.replace('*', "alice");
            for tail in [
                "",
                "/x",
                "/id_rsa",
                "/ssh_host_rsa_key",
                "/__pycache__/m.pyc",
                "x",
                ".pub",
            ] {
                paths.push(format!("{anchor}{tail}").into_bytes());
                paths.push(format!("/srv{anchor}{tail}").into_bytes());
                paths.push(format!("/{anchor}{tail}").into_bytes());
            }
        }
        let mut checked = 0;
        for p in &paths {
            assert_eq!(
                categorize(p, &[]),
                categorize_linear(p),
                "{}",
                String::from_utf8_lossy(p)
            );
            checked += 1;
        }
        assert!(checked > RULES.len() * 10);
    }

    fn cat(p: &str) -> Category {
        categorize(p.as_bytes(), &[b"/swapfile".to_vec()]).0
    }

    #[test]
    fn secrets_are_recognised_and_not_packed() {
        assert_eq!(cat("/etc/shadow"), Secret);
        assert_eq!(cat("/etc/ssh/ssh_host_ed25519_key"), Secret);
        assert_eq!(cat("/etc/ssh/ssh_host_ed25519_key.pub"), Unowned);
        assert_eq!(cat("/home/alice/.ssh/id_rsa"), Secret);
        assert_eq!(cat("/home/alice/.ssh/id_rsa.pub"), Unowned);
        assert_eq!(cat("/home/alice/x/.ssh/id_rsa"), Unowned);
        assert_eq!(cat("/root/.ssh/id_ed25519"), Secret);
        assert!(!Secret.packed_by_default());
        assert!(!HostIdentity.packed_by_default());
        assert!(!Swap.packed_by_default());
        assert!(LiveDb.packed_by_default());
    }

    #[test]
    fn other_categories() {
        assert_eq!(cat("/swapfile"), Swap);
        assert_eq!(cat("/etc/machine-id"), HostIdentity);
        assert_eq!(cat("/var/lib/mysql/ibdata1"), LiveDb);
        assert_eq!(cat("/var/lib/docker/overlay2/x"), ContainerStorage);
        assert_eq!(
            cat("/usr/lib/python3/dist-packages/x/__pycache__/a.cpython-311.pyc"),
            Regenerable
        );
        assert_eq!(cat("/var/lib/dpkg/status"), PackageDb);
        assert_eq!(cat("/var/lib/dpkgx"), Unowned);
        assert_eq!(cat("/var/log/syslog"), Log);
        assert_eq!(cat("/srv/www/index.html"), Unowned);
    }

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
        }
    }
}
