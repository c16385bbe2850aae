//! File capabilities for rpm -V's `P` check: rpm records them as `cap_to_text` strings
//! (`cap_net_raw=ep`), the kernel stores them in the `security.capability` xattr
//! (`struct vfs_cap_data`). Both are parsed into the same small set and compared, so no
//! libcap is needed.

/// What a file's capabilities grant: permitted and inheritable sets, and the single
/// effective bit a file can carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCaps {
    pub permitted: u64,
    pub inheritable: u64,
    pub effective: bool,
}

/// Capability names in bit order (linux/capability.h; 0 = cap_chown … 40 = cap_checkpoint_restore).
const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// Parse libcap's text form: whitespace-separated clauses `names op flags [op flags]…`,
/// names comma-separated (or `all`, or empty = all), op one of `= + -`, flags from `eip`.
/// Returns `None` for text we cannot read (then the check is reported as unknown, not failed).
pub fn parse_text(text: &str) -> Option<FileCaps> {
    let (mut e, mut i, mut p) = (0u64, 0u64, 0u64);
    for clause in text.split_ascii_whitespace() {
        let op_at = clause.find(['=', '+', '-'])?;
        let (names, mut rest) = clause.split_at(op_at);
        let mut mask = 0u64;
        if names.is_empty() || names.eq_ignore_ascii_case("all") {
            mask = (1u64 << NAMES.len()) - 1;
        } else {
            for name in names.split(',') {
                let name = name.to_ascii_lowercase();
                let bit = match NAMES.iter().position(|n| *n == name) {
                    Some(b) => b as u32,
                    None => name.parse::<u32>().ok().filter(|b| *b < 64)?,
                };
                mask |= 1u64 << bit;
            }
        }
        while let Some(op) = rest.chars().next() {
            rest = &rest[1..];
            let flags_end = rest.find(['=', '+', '-']).unwrap_or(rest.len());
            let (flags, tail) = rest.split_at(flags_end);
            rest = tail;
            let (fe, fi, fp) = (
                flags.contains('e'),
                flags.contains('i'),
                flags.contains('p'),
            );
            if flags.chars().any(|c| !"eip".contains(c)) {
                return None;
            }
            let apply = |set: &mut u64, on: bool| match op {
                '=' => *set = if on { *set | mask } else { *set & !mask },
                '+' if on => *set |= mask,
                '-' if on => *set &= !mask,
                _ => {}
            };
            apply(&mut e, fe);
            apply(&mut i, fi);
            apply(&mut p, fp);
        }
    }
    Some(FileCaps {
        permitted: p,
        inheritable: i,
        effective: e != 0,
    })
}

const VFS_CAP_REVISION_MASK: u32 = 0xff00_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;

/// Parse a `security.capability` xattr value (little-endian `vfs_cap_data`, revisions 1–3;
/// revision 3 adds the namespace root uid, which rpm does not record).
pub fn parse_xattr(value: &[u8]) -> Option<FileCaps> {
    let word = |k: usize| -> Option<u64> {
        let b = value.get(k * 4..k * 4 + 4)?;
        Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let magic = u32::try_from(word(0)?).ok()?;
    let (words, len) = match magic & VFS_CAP_REVISION_MASK {
        0x0100_0000 => (1, 12),
        0x0200_0000 => (2, 20),
        0x0300_0000 => (2, 24),
        _ => return None,
    };
    if value.len() != len {
        return None;
    }
    let mut caps = FileCaps {
        effective: magic & VFS_CAP_FLAGS_EFFECTIVE != 0,
        ..FileCaps::default()
    };
    for k in 0..words {
        caps.permitted |= word(1 + 2 * k)? << (32 * k);
        caps.inheritable |= word(2 + 2 * k)? << (32 * k);
    }
    Some(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_RAW: u64 = 1 << 13;

    #[test]
    fn text_forms_libcap_prints() {
        let ep = parse_text("cap_net_raw=ep").unwrap();
        assert_eq!(ep.permitted, NET_RAW);
        assert_eq!(ep.inheritable, 0);
        assert!(ep.effective);
        assert_eq!(parse_text("= cap_net_raw+ep"), Some(ep));
        assert_eq!(parse_text("cap_net_raw+pe"), Some(ep));
        let two = parse_text("cap_chown,cap_net_raw=p cap_setuid+i").unwrap();
        assert_eq!(two.permitted, 1 | NET_RAW);
        assert_eq!(two.inheritable, 1 << 7);
        assert!(!two.effective);
        assert_eq!(parse_text(""), Some(FileCaps::default()));
        assert_eq!(parse_text("="), Some(FileCaps::default()));
        assert_eq!(parse_text("cap_bogus=ep"), None);
        assert_eq!(parse_text("cap_chown=x"), None);
        assert_eq!(
            parse_text("all=p cap_chown-p").unwrap().permitted,
            (1 << 41) - 2
        );
    }

    #[test]
    fn xattr_revisions() {
        // What `setcap cap_net_raw=ep f` writes (revision 2).
        let mut v2 = Vec::new();
        for w in [0x0200_0001u32, NET_RAW as u32, 0, 0, 0] {
            v2.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(parse_xattr(&v2), parse_text("cap_net_raw=ep"));
        let mut v3 = v2.clone();
        v3[3] = 0x03;
        v3.extend_from_slice(&1000u32.to_le_bytes());
        assert_eq!(parse_xattr(&v3), parse_text("cap_net_raw=ep"));
        assert_eq!(parse_xattr(&v2[..19]), None);
        assert_eq!(parse_xattr(&[]), None);
        let mut high = v2.clone();
        high[12..16].copy_from_slice(&(1u32 << 7).to_le_bytes()); // bit 39 = cap_bpf
        assert_eq!(parse_xattr(&high).unwrap().permitted, NET_RAW | 1 << 39);
    }
}
