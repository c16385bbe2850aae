//! Users and groups for the install profile (UForge's `osUser`, `osGroup`), from the root's
//! passwd, group, shadow and gshadow (parsed by [`crate::accounts`]).
//!
//! Password hashes are secrets: without `--include-password-hashes` only whether a
//! password is set, locked or empty is recorded. The hash type's `Debug` is redacted, so
//! no log line or summary can print one by accident.

use std::collections::{BTreeSet, HashMap};

use serde::{Serialize, Serializer};

use super::read;
use crate::accounts::{self, ShadowEntry};
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Name of the group `gid` (UForge's `primaryGroup`); `null` when no group has that id.
    pub primary_group: Option<String>,
    /// Groups that list the user as a member (group and gshadow), primary group excluded.
    pub secondary_groups: Vec<String>,
    /// The GECOS field as it is (`&`, commas, non-ASCII kept; UForge's `fullName`).
    #[serde(with = "crate::path_bytes")]
    pub gecos: Vec<u8>,
    #[serde(with = "crate::path_bytes")]
    pub home: Vec<u8>,
    #[serde(with = "crate::path_bytes")]
    pub shell: Vec<u8>,
    /// `uid` below `UID_MIN` or above `UID_MAX` of login.defs (UForge's `systemUser`).
    pub system_user: bool,
    /// A password hash is recorded (possibly locked).
    pub password_set: bool,
    /// Password login is impossible: the field starts with `!` or `*` (`!!`, `*`, `!$6$…`).
    pub password_locked: bool,
    /// The field is empty: login without a password.
    pub password_empty: bool,
    /// Where the password field was read: `/etc/shadow`, `/etc/passwd`; `null` when passwd
    /// says `x` and shadow has no line for the user (state unknown).
    pub password_source: Option<String>,
    /// The password field exactly as it is (lock prefix included); only with
    /// `--include-password-hashes`.
    pub password_hash: Option<PasswordHash>,
    /// sudoers grants all commands: 0 no, 1 yes, 2 without a password (UForge's `sudo`).
    pub sudo: u8,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    /// Members listed in group and gshadow.
    pub members: Vec<String>,
    /// gshadow's administrators.
    pub admins: Vec<String>,
    /// `gid` below `GID_MIN` or above `GID_MAX` (UForge's `systemGroup`).
    pub system_group: bool,
    /// A group password hash is set (rare; `newgrp`).
    pub password_set: bool,
    /// Only with `--include-password-hashes`.
    pub password_hash: Option<PasswordHash>,
}

/// A password field: serialized as the plain string, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl Serialize for PasswordHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The id ranges of regular accounts (login.defs(5) defaults where the file is silent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRanges {
    pub uid_min: u32,
    pub uid_max: u32,
    pub gid_min: u32,
    pub gid_max: u32,
}

pub fn id_ranges(root: &RootFs) -> IdRanges {
    let mut r = IdRanges {
        uid_min: 1000,
        uid_max: 60000,
        gid_min: 1000,
        gid_max: 60000,
    };
    // SUSE (since 15 SP? / Tumbleweed) keeps the vendor file in /usr/etc.
    let Some(text) = read::read_config(root, "/etc/login.defs")
        .or_else(|| read::read_config(root, "/usr/etc/login.defs"))
    else {
        return r;
    };
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let (Some(k), Some(v)) = (w.next(), w.next()) else {
            continue;
        };
        let Ok(v) = v.parse::<u32>() else { continue };
        match k {
            "UID_MIN" => r.uid_min = v,
            "UID_MAX" => r.uid_max = v,
            "GID_MIN" => r.gid_min = v,
            "GID_MAX" => r.gid_max = v,
            _ => {}
        }
    }
    r
}

/// What a password field says. `(set, locked, empty)`.
pub fn password_state(field: &[u8]) -> (bool, bool, bool) {
    if field.is_empty() {
        return (false, false, true);
    }
    let locked = field[0] == b'!' || field[0] == b'*';
    let rest: &[u8] = {
        let mut r = field;
        while let Some((&c, tail)) = r.split_first() {
            if c != b'!' {
                break;
            }
            r = tail;
        }
        r
    };
    // A hash is anything but the "no password" markers (`*`, `!!`, `*LK*`, `x`).
    let set = !rest.is_empty() && rest[0] != b'*' && rest != b"x";
    (set, locked, false)
}

pub fn collect(root: &RootFs, include_hashes: bool) -> (Vec<User>, Vec<Group>) {
    let load = |p: &str| read::read_capped(root, p, read::MAX_ACCOUNTS).unwrap_or_default();
    let passwd = accounts::parse_passwd(&load("/etc/passwd"));
    let group = accounts::parse_group(&load("/etc/group"));
    let index = |entries: Vec<ShadowEntry>| -> HashMap<String, ShadowEntry> {
        let mut m = HashMap::new();
        for e in entries {
            m.entry(e.name.clone()).or_insert(e);
        }
        m
    };
    let shadow = index(accounts::parse_shadow(&load("/etc/shadow")));
    let gshadow = index(accounts::parse_shadow(&load("/etc/gshadow")));
    let ranges = id_ranges(root);
    let keep =
        |s: &[u8]| include_hashes.then(|| PasswordHash(String::from_utf8_lossy(s).into_owned()));

    let mut groups: Vec<Group> = Vec::new();
    let mut seen_groups = BTreeSet::new();
    for g in group {
        if !seen_groups.insert(g.name.clone()) {
            continue; // the first line of a name is the one that counts
        }
        let gs = gshadow.get(&g.name);
        let mut members = g.members.clone();
        let mut admins = Vec::new();
        if let Some(gs) = gs {
            admins = gs
                .rest
                .first()
                .map(|a| accounts::split_list(a))
                .unwrap_or_default();
            for m in gs
                .rest
                .get(1)
                .map(|m| accounts::split_list(m))
                .unwrap_or_default()
            {
                if !members.contains(&m) {
                    members.push(m);
                }
            }
        }
        let field: &[u8] = match gs {
            Some(gs) => &gs.password,
            None if g.password != b"x" => &g.password,
            None => b"",
        };
        groups.push(Group {
            system_group: g.gid < ranges.gid_min || g.gid > ranges.gid_max,
            password_set: password_state(field).0,
            password_hash: if gs.is_some() || g.password != b"x" {
                keep(field)
            } else {
                None
            },
            name: g.name,
            gid: g.gid,
            members,
            admins,
        });
    }

    let mut users = Vec::new();
    let mut seen_users = BTreeSet::new();
    for p in passwd {
        if !seen_users.insert(p.name.clone()) {
            continue;
        }
        let (field, source): (Option<&[u8]>, Option<&str>) = match shadow.get(&p.name) {
            Some(s) if p.password == b"x" => (Some(&s.password), Some("/etc/shadow")),
            _ if p.password != b"x" => (Some(&p.password), Some("/etc/passwd")),
            _ => (None, None),
        };
        let (set, locked, empty) = field.map(password_state).unwrap_or((false, false, false));
        let primary = groups
            .iter()
            .find(|g| g.gid == p.gid)
            .map(|g| g.name.clone());
        let secondary = groups
            .iter()
            .filter(|g| g.gid != p.gid && g.members.contains(&p.name))
            .map(|g| g.name.clone())
            .collect();
        users.push(User {
            system_user: p.uid < ranges.uid_min || p.uid > ranges.uid_max,
            password_set: set,
            password_locked: locked,
            password_empty: empty,
            password_source: source.map(str::to_string),
            password_hash: field.and_then(keep),
            sudo: 0,
            primary_group: primary,
            secondary_groups: secondary,
            name: p.name,
            uid: p.uid,
            gid: p.gid,
            gecos: p.gecos,
            home: p.home,
            shell: p.shell,
        });
    }
    let sudoers = super::sudo::load(root);
    for u in &mut users {
        u.sudo = sudoers.level(u);
    }
    (users, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_states() {
        assert_eq!(password_state(b"$6$s$h"), (true, false, false));
        assert_eq!(password_state(b"!$6$s$h"), (true, true, false));
        assert_eq!(password_state(b"!!"), (false, true, false));
        assert_eq!(password_state(b"!"), (false, true, false));
        assert_eq!(password_state(b"*"), (false, true, false));
        assert_eq!(password_state(b"!*"), (false, true, false));
        assert_eq!(password_state(b""), (false, false, true));
        assert_eq!(
            format!("{:?}", PasswordHash("$6$secret".into())),
            "PasswordHash(<redacted>)"
        );
    }
}
