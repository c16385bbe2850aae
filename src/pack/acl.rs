//! POSIX ACLs: the kernel's `system.posix_acl_access`/`_default` xattr value → the text form
//! GNU tar and bsdtar restore from `SCHILY.acl.access`/`SCHILY.acl.default` (neither restores
//! an ACL from the raw xattr record; crates.md §1). Numeric ids, so the target's user
//! database cannot remap them: `user::rw-,user:1000:r--,group::r-x,mask::r-x,other::r--`.

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;

fn perms(p: u16) -> String {
    [(4, 'r'), (2, 'w'), (1, 'x')]
        .iter()
        .map(|&(bit, c)| if p & bit != 0 { c } else { '-' })
        .collect()
}

/// `None` for a value that is not a version-2 ACL.
pub fn to_text(value: &[u8]) -> Option<String> {
    let header = value.get(0..4)?;
    if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != VERSION {
        return None;
    }
    let body = &value[4..];
    if body.len() % 8 != 0 {
        return None;
    }
    let mut parts = Vec::with_capacity(body.len() / 8);
    for e in body.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let p = perms(perm);
        parts.push(match tag {
            USER_OBJ => format!("user::{p}"),
            USER => format!("user:{id}:{p}"),
            GROUP_OBJ => format!("group::{p}"),
            GROUP => format!("group:{id}:{p}"),
            MASK => format!("mask::{p}"),
            OTHER => format!("other::{p}"),
            _ => return None,
        });
    }
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u16, perm: u16, id: u32) -> Vec<u8> {
        [
            tag.to_le_bytes().as_slice(),
            &perm.to_le_bytes(),
            &id.to_le_bytes(),
        ]
        .concat()
    }

    #[test]
    fn access_acl_with_a_named_user() {
        let mut v = VERSION.to_le_bytes().to_vec();
        v.extend(entry(USER_OBJ, 6, u32::MAX));
        v.extend(entry(USER, 4, 1000));
        v.extend(entry(GROUP_OBJ, 5, u32::MAX));
        v.extend(entry(MASK, 5, u32::MAX));
        v.extend(entry(OTHER, 4, u32::MAX));
        assert_eq!(
            to_text(&v).unwrap(),
            "user::rw-,user:1000:r--,group::r-x,mask::r-x,other::r--"
        );
        assert_eq!(to_text(&v[..7]), None);
        assert_eq!(to_text(&[1, 0, 0, 0]), None);
    }
}
