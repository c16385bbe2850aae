//! Who may run everything as root through sudo (UForge's `osUser.sudo`: 0 none, 1 sudo,
//! 2 without password), from the root's `/etc/sudoers` and the files it includes.
//!
//! Only rules that grant `ALL` commands count: a rule for a few commands is not "sudo" in
//! UForge's sense. User specifications may name users, `%group`, `%#gid`, `#uid`,
//! `User_Alias` names and `ALL`; negations (`!user`) and `Runas`/`Host` restrictions are
//! not evaluated (a rule limited to other hosts still counts: the migrated host keeps its
//! sudoers file either way).

use std::collections::HashMap;

use super::read;
use super::users::User;
use crate::rootfs::RootFs;

const MAX_FILES: usize = 256;
const MAX_DEPTH: usize = 8;

/// `(user specification, nopasswd)` of every rule that grants `ALL` commands.
#[derive(Debug, Default)]
pub struct Sudoers {
    rules: Vec<(Vec<String>, bool)>,
    aliases: HashMap<String, Vec<String>>,
}

pub fn load(root: &RootFs) -> Sudoers {
    let mut s = Sudoers::default();
    let mut files = 0;
    read_file(root, "/etc/sudoers", 0, &mut files, &mut s);
    s
}

/// One sudoers text without its includes (the fuzz target's entry).
pub fn parse(text: &str) -> Sudoers {
    let mut s = Sudoers::default();
    for l in text.replace("\\\n", " ").lines() {
        parse_line(strip_comment(l.trim()).trim(), &mut s);
    }
    s
}

fn read_file(root: &RootFs, path: &str, depth: usize, files: &mut usize, s: &mut Sudoers) {
    if depth > MAX_DEPTH || *files >= MAX_FILES {
        return;
    }
    *files += 1;
    let Some(text) = read::read_config(root, path) else {
        return;
    };
    // Continuation lines end in a backslash.
    let joined = text.replace("\\\n", " ");
    let dir = path.rsplit_once('/').map_or("/etc", |(d, _)| d);
    for raw in joined.lines() {
        let line = raw.trim();
        for (directive, is_dir) in [
            ("#includedir ", true),
            ("@includedir ", true),
            ("#include ", false),
            ("@include ", false),
        ] {
            if let Some(target) = line.strip_prefix(directive) {
                let target = target.trim();
                let target = if target.starts_with('/') {
                    target.to_string()
                } else {
                    format!("{dir}/{target}")
                };
                if is_dir {
                    // sudo skips names with a `.` or ending in `~` (editor and package files).
                    for name in read::dir_names(root, &target) {
                        if !name.contains('.') && !name.ends_with('~') {
                            read_file(root, &format!("{target}/{name}"), depth + 1, files, s);
                        }
                    }
                } else {
                    read_file(root, &target, depth + 1, files, s);
                }
            }
        }
        parse_line(strip_comment(line).trim(), s);
    }
}

/// `#` starts a comment unless digits follow it (`#1000`, `%#100`: ids, sudoers(5)).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return &line[..i];
        }
    }
    line
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn parse_line(line: &str, s: &mut Sudoers) {
    if line.is_empty() || line.starts_with("Defaults") {
        return;
    }
    if let Some(rest) = line.strip_prefix("User_Alias") {
        // `User_Alias ADMINS = alice, %wheel : OPS = bob`
        for def in rest.split(':') {
            if let Some((name, members)) = def.split_once('=') {
                s.aliases.insert(name.trim().to_string(), list(members));
            }
        }
        return;
    }
    if ["Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias"]
        .iter()
        .any(|a| line.starts_with(a))
    {
        return;
    }
    // `users hosts = (runas) TAGS: commands [: hosts = …]`
    let Some((who_hosts, rest)) = line.split_once('=') else {
        return;
    };
    let who_end = who_hosts
        .char_indices()
        .find(|&(i, c)| c.is_whitespace() && !who_hosts[..i].trim_end().ends_with(','))
        .map_or(who_hosts.len(), |(i, _)| i);
    let who = list(&who_hosts[..who_end]);
    let mut rest = rest.trim();
    if let Some(after) = rest.strip_prefix('(') {
        rest = after.split_once(')').map_or("", |(_, r)| r).trim();
    }
    let nopasswd = rest.contains("NOPASSWD:");
    let commands = rest.rsplit(':').next().unwrap_or(rest);
    if list(commands).iter().any(|c| c == "ALL") {
        s.rules.push((who, nopasswd));
    }
}

impl Sudoers {
    /// UForge's level for a user: 2 (all commands, no password), 1 (all commands), 0.
    pub fn level(&self, user: &User) -> u8 {
        let mut best = 0;
        for (who, nopasswd) in &self.rules {
            if who.iter().any(|w| self.matches(w, user, 0)) {
                best = best.max(if *nopasswd { 2 } else { 1 });
            }
        }
        best
    }

    fn matches(&self, spec: &str, u: &User, depth: usize) -> bool {
        if spec == "ALL" {
            return true;
        }
        if let Some(uid) = spec.strip_prefix('#') {
            return uid.parse() == Ok(u.uid);
        }
        if let Some(group) = spec.strip_prefix('%') {
            if let Some(gid) = group.strip_prefix('#') {
                return gid.parse() == Ok(u.gid);
            }
            return u.primary_group.as_deref() == Some(group)
                || u.secondary_groups.iter().any(|g| g == group);
        }
        if let Some(members) = self.aliases.get(spec) {
            return depth < MAX_DEPTH && members.iter().any(|m| self.matches(m, u, depth + 1));
        }
        spec == u.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_forms() {
        let s = parse(
            "Defaults    env_reset\n## Allows people in group wheel to run all commands\n%wheel\tALL=(ALL)\tALL\n# %sudo ALL=(ALL:ALL) ALL\nalice, bob ALL = (root) NOPASSWD: ALL\nUser_Alias OPS = carol, #1005\nOPS ALL=(ALL) /usr/bin/systemctl\nOPS ALL=(ALL) ALL\n%#100 ALL=(ALL:ALL) NOPASSWD:ALL\ndave ALL=/usr/bin/less\n",
        );
        let who: Vec<(Vec<String>, bool)> = s.rules.clone();
        assert_eq!(
            who,
            vec![
                (vec!["%wheel".to_string()], false),
                (vec!["alice".into(), "bob".into()], true),
                (vec!["OPS".into()], false),
                (vec!["%#100".into()], true),
            ]
        );
        assert_eq!(s.aliases["OPS"], ["carol", "#1005"]);
        assert_eq!(
            strip_comment("root ALL=(ALL) ALL # admin"),
            "root ALL=(ALL) ALL "
        );
    }
}
