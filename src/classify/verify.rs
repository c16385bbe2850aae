//! rpm -V style attribute results: `SM5DLUGTP`, each `.` (checked, same), the letter
//! (checked, differs) or `?` (not checked: the database records nothing to compare, or the
//! file could not be read). dpkg records only digests (and statoverride modes/owners), so a
//! dpkg result looks like `??5??????`, exactly as `dpkg --verify` prints it.

use serde::{Serialize, Serializer};

use crate::accounts::Accounts;
use crate::pkgdb::{ExpectedAttrs, UserRef};
use crate::walk::Meta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Check {
    #[default]
    Unknown,
    Ok,
    Failed,
}

impl Check {
    pub fn from_ok(ok: bool) -> Check {
        if ok {
            Check::Ok
        } else {
            Check::Failed
        }
    }

    /// Combine two checks of the same attribute: any failure wins, then any pass.
    fn and(self, other: Check) -> Check {
        match (self, other) {
            (Check::Failed, _) | (_, Check::Failed) => Check::Failed,
            (Check::Ok, _) | (_, Check::Ok) => Check::Ok,
            _ => Check::Unknown,
        }
    }

    fn symbol(self, letter: char) -> char {
        match self {
            Check::Unknown => '?',
            Check::Ok => '.',
            Check::Failed => letter,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyFlags {
    pub size: Check,
    pub mode: Check,
    pub digest: Check,
    pub device: Check,
    pub link: Check,
    pub user: Check,
    pub group: Check,
    pub mtime: Check,
    pub caps: Check,
}

impl VerifyFlags {
    pub fn unchecked() -> VerifyFlags {
        VerifyFlags::default()
    }

    pub fn any_failed(&self) -> bool {
        [
            self.size,
            self.mode,
            self.digest,
            self.device,
            self.link,
            self.user,
            self.group,
            self.mtime,
            self.caps,
        ]
        .contains(&Check::Failed)
    }

    /// The nine-character string, in rpm's order `S M 5 D L U G T P`.
    pub fn render(&self) -> String {
        [
            self.size.symbol('S'),
            self.mode.symbol('M'),
            self.digest.symbol('5'),
            self.device.symbol('D'),
            self.link.symbol('L'),
            self.user.symbol('U'),
            self.group.symbol('G'),
            self.mtime.symbol('T'),
            self.caps.symbol('P'),
        ]
        .iter()
        .collect()
    }
}

impl Serialize for VerifyFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.render())
    }
}

/// Compare the recorded mode/owner/group (dpkg: statoverride) with `lstat`.
pub fn check_expected(
    flags: &mut VerifyFlags,
    want: &ExpectedAttrs,
    meta: &Meta,
    accounts: &Accounts,
) {
    if let Some(mode) = want.mode {
        // Compare the type bits only when the database recorded them.
        let mask = if mode & libc::S_IFMT != 0 { !0 } else { 0o7777 };
        flags.mode = flags
            .mode
            .and(Check::from_ok(meta.mode & mask == mode & mask));
    }
    if let Some(user) = &want.user {
        flags.user = flags
            .user
            .and(compare_id(user, meta.uid, |n| accounts.uid(n)));
    }
    if let Some(group) = &want.group {
        flags.group = flags
            .group
            .and(compare_id(group, meta.gid, |n| accounts.gid(n)));
    }
}

/// A recorded owner against the numeric one on disk; a name unknown in the root's
/// passwd/group cannot be checked.
fn compare_id(want: &UserRef, actual: u32, lookup: impl Fn(&str) -> Option<u32>) -> Check {
    let id = match want {
        UserRef::Id(id) => Some(*id),
        UserRef::Name(n) => lookup(n),
    };
    id.map_or(Check::Unknown, |id| Check::from_ok(id == actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_dpkg_verify() {
        let mut f = VerifyFlags::unchecked();
        assert_eq!(f.render(), "?????????");
        f.digest = Check::Failed;
        assert_eq!(f.render(), "??5??????");
        assert!(f.any_failed());
        f.digest = Check::Ok;
        f.mode = Check::Failed;
        assert_eq!(f.render(), "?M.??????");
    }

    #[test]
    fn statoverride_mode_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/group"), "plocate:x:997:\n").unwrap();
        let acc = Accounts::load(&crate::rootfs::RootFs::new(dir.path()));
        let mut meta = crate::walk::Meta::from_std(&std::fs::metadata(dir.path()).unwrap());
        meta.mode = libc::S_IFREG | 0o2755;
        meta.gid = 997;
        let want = ExpectedAttrs {
            mode: Some(0o2755),
            user: None,
            group: Some(UserRef::Name("plocate".into())),
        };
        let mut f = VerifyFlags::unchecked();
        check_expected(&mut f, &want, &meta, &acc);
        assert_eq!(f.render(), "?.????.??");
        meta.mode = libc::S_IFREG | 0o755;
        let mut f = VerifyFlags::unchecked();
        check_expected(&mut f, &want, &meta, &acc);
        assert_eq!(f.render(), "?M????.??");
    }
}
