//! rpm -V style attribute results: `SM5DLUGTP`, each `.` (checked, same), the letter
//! (checked, differs) or `?` (not checked: the database records nothing to compare, or the
//! file could not be read). dpkg records only digests (and statoverride modes/owners), so a
//! dpkg result looks like `??5??????`, exactly as `dpkg --verify` prints it.

use serde::{Serialize, Serializer};

use std::path::Path;

use super::caps;
use crate::accounts::Accounts;
use crate::pkgdb::{ExpectedAttrs, UserRef};
use crate::walk::{xattr, FileKind, Meta};

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
    pub fn and(self, other: Check) -> Check {
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

/// What is on disk at a recorded path.
pub struct OnDisk<'a> {
    pub meta: &'a Meta,
    pub link_target: Option<&'a [u8]>,
    /// Where to read xattrs (caps, ACL) from, on the host.
    pub host_path: &'a Path,
}

/// Compare everything but the digest that a record expects with what is on disk, under
/// rpm -V's rules (lib/verify.cc): a symlink has no mode, a non-symlink no target, a
/// non-regular file no size, mtime or caps; mtime is not compared when several packages own
/// the path (`shared`). A record that expects nothing leaves the flags unknown (`?`).
pub fn check_attrs(
    flags: &mut VerifyFlags,
    want: &ExpectedAttrs,
    disk: &OnDisk,
    shared: bool,
    accounts: &Accounts,
) {
    let meta = disk.meta;
    let is_link = meta.kind == FileKind::Symlink;
    let is_reg = meta.kind == FileKind::Regular;
    if let Some(mode) = want.mode.filter(|_| !is_link) {
        // Compare the type bits only when the database recorded them.
        let mask = if mode & libc::S_IFMT != 0 { !0 } else { 0o7777 };
        let mut ok = meta.mode & mask == mode & mask;
        if ok && want.acl_is_mode_change {
            ok = !xattr::has_extended_acl(disk.host_path).unwrap_or(false);
        }
        flags.mode = flags.mode.and(Check::from_ok(ok));
    }
    if let Some(target) = &want.link_target {
        if is_link {
            let ok = disk.link_target == Some(target.as_slice());
            flags.link = flags.link.and(Check::from_ok(ok));
        }
    }
    if let Some(rdev) = want.rdev {
        let want_type = want.mode.unwrap_or(0) & libc::S_IFMT;
        let is_dev = |t: u32| t == libc::S_IFCHR || t == libc::S_IFBLK;
        let disk_type = meta.mode & libc::S_IFMT;
        let ok = if is_dev(want_type) != is_dev(disk_type)
            || (is_dev(want_type) && want_type != disk_type)
        {
            false
        } else if is_dev(disk_type) {
            meta.rdev & 0xffff == rdev & 0xffff
        } else {
            true
        };
        flags.device = flags.device.and(Check::from_ok(ok));
    }
    if is_reg {
        if let Some(size) = want.size {
            flags.size = flags.size.and(Check::from_ok(meta.size == size));
        }
        if let Some(mtime) = want.mtime.filter(|_| !shared) {
            flags.mtime = flags.mtime.and(Check::from_ok(meta.mtime == mtime));
        }
        if let Some(caps) = &want.caps {
            flags.caps = flags.caps.and(check_caps(caps, disk.host_path));
        }
    }
    if let Some(user) = &want.user {
        flags.user = flags.user.and(compare_id(
            user,
            meta.uid,
            |i| accounts.user_name(i),
            |n| accounts.uid(n),
        ));
    }
    if let Some(group) = &want.group {
        flags.group = flags.group.and(compare_id(
            group,
            meta.gid,
            |i| accounts.group_name(i),
            |n| accounts.gid(n),
        ));
    }
}

/// Recorded capabilities (`cap_to_text`, "" = none) against the file's xattr.
fn check_caps(want: &str, host_path: &Path) -> Check {
    let Some(want) = caps::parse_text(want) else {
        return Check::Unknown;
    };
    match xattr::get(host_path, "security.capability") {
        Ok(None) => Check::from_ok(want == caps::FileCaps::default()),
        Ok(Some(v)) => {
            caps::parse_xattr(&v).map_or(Check::Failed, |have| Check::from_ok(have == want))
        }
        Err(_) => Check::Unknown,
    }
}

/// A recorded owner against the numeric one on disk, as rpm -V compares them: the name the
/// root's passwd/group gives the file's id is the recorded one, or the recorded name maps
/// to the file's id. A name the root does not know stands for root (id 0): rpm installs
/// such files as root, and its verify expects them so.
fn compare_id<'a>(
    want: &UserRef,
    actual: u32,
    name_of: impl Fn(u32) -> Option<&'a str>,
    lookup: impl Fn(&str) -> Option<u32>,
) -> Check {
    match want {
        UserRef::Id(id) => Check::from_ok(*id == actual),
        UserRef::Name(n) => {
            Check::from_ok(name_of(actual) == Some(&**n) || lookup(n).unwrap_or(0) == actual)
        }
    }
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
            group: Some(UserRef::Name("plocate".into())),
            ..ExpectedAttrs::default()
        };
        let check = |meta: &Meta| {
            let disk = OnDisk {
                meta,
                link_target: None,
                host_path: dir.path(),
            };
            let mut f = VerifyFlags::unchecked();
            check_attrs(&mut f, &want, &disk, false, &acc);
            f
        };
        assert_eq!(check(&meta).render(), "?.????.??");
        meta.mode = libc::S_IFREG | 0o755;
        let f = check(&meta);
        assert_eq!(f.render(), "?M????.??");
    }
}
