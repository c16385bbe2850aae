//! Users and groups of the scanned root, read from its own `/etc/passwd`, `/etc/group`,
//! `/etc/shadow` and `/etc/gshadow` (not NSS: a static binary sees no sssd/LDAP, and with
//! `--root` the host's users are wrong). One parser for all four files; [`Accounts`] is the
//! id ↔ name lookup the classifier uses, `profile::users` the full records.

use std::collections::HashMap;

use crate::rootfs::RootFs;

#[derive(Debug, Default, Clone)]
pub struct Accounts {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    user_ids: HashMap<String, u32>,
    group_ids: HashMap<String, u32>,
}

impl Accounts {
    pub fn load(root: &RootFs) -> Accounts {
        let mut a = Accounts::default();
        if let Ok(text) = root.read("/etc/passwd") {
            for u in parse_passwd(&text) {
                a.users.entry(u.uid).or_insert_with(|| u.name.clone());
                a.user_ids.entry(u.name).or_insert(u.uid);
            }
        }
        if let Ok(text) = root.read("/etc/group") {
            for g in parse_group(&text) {
                a.groups.entry(g.gid).or_insert_with(|| g.name.clone());
                a.group_ids.entry(g.name).or_insert(g.gid);
            }
        }
        a
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }
    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.user_ids.get(name).copied()
    }
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.group_ids.get(name).copied()
    }
}

/// One line of `/etc/passwd`. Text fields are bytes: a GECOS written in Latin-1 on an old
/// host is kept as it is, not "repaired".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// The password field: `x` when the hash is in shadow.
    pub password: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub gecos: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub password: Vec<u8>,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One line of `/etc/shadow` or `/etc/gshadow`: the name, the password field, and the rest
/// (shadow: aging fields; gshadow: administrators, members).
#[derive(Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub password: Vec<u8>,
    pub rest: Vec<Vec<u8>>,
}

/// Never prints the password field: a `{:?}` in a log line must not leak a hash.
impl std::fmt::Debug for ShadowEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowEntry")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `:`-separated records of an account file: comments, NIS `+`/`-` lines and lines
/// with fewer than `min_fields` fields are skipped.
fn records(text: &[u8], min_fields: usize) -> impl Iterator<Item = Vec<&[u8]>> {
    text.split(|&b| b == b'\n').filter_map(move |line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let name = fields.first()?;
        if fields.len() < min_fields
            || name.is_empty()
            || name[0] == b'#'
            || name[0] == b'+'
            || name[0] == b'-'
        {
            return None;
        }
        Some(fields)
    })
}

fn id(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.trim().parse().ok()
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// `name:password:uid:gid:gecos:home:shell`; lines with an unreadable id are skipped, as
/// glibc skips them. Old files may lack the last fields: they are empty then.
pub fn parse_passwd(text_bytes: &[u8]) -> Vec<PasswdEntry> {
    records(text_bytes, 3)
        .filter_map(|f| {
            let field = |i: usize| f.get(i).map(|v| v.to_vec()).unwrap_or_default();
            Some(PasswdEntry {
                name: text(f[0]),
                password: f[1].to_vec(),
                uid: id(f[2])?,
                gid: f.get(3).and_then(|g| id(g))?,
                gecos: field(4),
                home: field(5),
                shell: field(6),
            })
        })
        .collect()
}

/// `name:password:gid:member,member`.
pub fn parse_group(text_bytes: &[u8]) -> Vec<GroupEntry> {
    records(text_bytes, 3)
        .filter_map(|f| {
            Some(GroupEntry {
                name: text(f[0]),
                password: f[1].to_vec(),
                gid: id(f[2])?,
                members: f.get(3).map(|m| split_list(m)).unwrap_or_default(),
            })
        })
        .collect()
}

/// `name:password:…` of shadow and gshadow.
pub fn parse_shadow(text_bytes: &[u8]) -> Vec<ShadowEntry> {
    records(text_bytes, 2)
        .map(|f| ShadowEntry {
            name: text(f[0]),
            password: f[1].to_vec(),
            rest: f[2..].iter().map(|v| v.to_vec()).collect(),
        })
        .collect()
}

/// `a,b,,c` → `[a, b, c]`.
pub fn split_list(field: &[u8]) -> Vec<String> {
    field
        .split(|&b| b == b',')
        .map(|m| text(m).trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_roots_own_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\n+nis\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nplocate:x:997:\n").unwrap();
        let a = Accounts::load(&RootFs::new(dir.path()));
        assert_eq!(a.user_name(1000), Some("alice"));
        assert_eq!(a.uid("root"), Some(0));
        assert_eq!(a.gid("plocate"), Some(997));
        assert_eq!(a.group_name(5), None);
    }

    #[test]
    fn full_records() {
        let p = parse_passwd(
            b"bob:x:1001:100:Bob & Co,Room 1,,:/home/bob:/bin/zsh\r\nold:x:5:5\n# c:x:1:1::/:/\nbad:x:u:1::/:/\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].gecos, b"Bob & Co,Room 1,,");
        assert_eq!(p[0].shell, b"/bin/zsh");
        assert_eq!(p[1].name, "old");
        assert!(p[1].home.is_empty());
        let g = parse_group(b"wheel:x:10:alice,,bob\nempty:x:11:\n");
        assert_eq!(g[0].members, vec!["alice", "bob"]);
        assert!(g[1].members.is_empty());
        let s = parse_shadow(b"root:$6$salt$hash:19000:0:99999:7:::\nx\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].password, b"$6$salt$hash");
        assert!(
            !format!("{s:?}").contains("salt"),
            "Debug must not print the hash"
        );
    }
}
