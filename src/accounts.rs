//! Users and groups of the scanned root, read from its own `/etc/passwd` and `/etc/group`
//! (not NSS: a static binary sees no sssd/LDAP, and with `--root` the host's users are wrong).

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
            for (name, id) in parse_id_file(&text) {
                a.users.entry(id).or_insert_with(|| name.clone());
                a.user_ids.entry(name).or_insert(id);
            }
        }
        if let Ok(text) = root.read("/etc/group") {
            for (name, id) in parse_id_file(&text) {
                a.groups.entry(id).or_insert_with(|| name.clone());
                a.group_ids.entry(name).or_insert(id);
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

/// `name:x:id:...` lines; comments, NIS `+`/`-` lines and malformed lines are skipped.
fn parse_id_file(text: &[u8]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() || name[0] == b'#' || name[0] == b'+' || name[0] == b'-' {
            continue;
        }
        let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok()) else {
            continue;
        };
        out.push((String::from_utf8_lossy(name).into_owned(), id));
    }
    out
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
}
