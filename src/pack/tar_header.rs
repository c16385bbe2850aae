//! POSIX.1-2001 (PAX) tar headers, written by us rather than the `tar` crate: a live host
//! needs what that crate leaves out (`../shared/docs/crates.md` §1) — sizes we control,
//! PAX 1.0 sparse files, ACL text records, owner names, nanosecond mtimes — and every value
//! that does not fit a ustar field goes into a PAX record, so names of any bytes and length,
//! sizes over 8 GiB and ids over 2^21 survive GNU tar and bsdtar.

pub const BLOCK: usize = 512;

/// ustar type flags we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Regular,
    HardLink,
    Symlink,
    Directory,
}

impl EntryType {
    fn flag(self) -> u8 {
        match self {
            EntryType::Regular => b'0',
            EntryType::HardLink => b'1',
            EntryType::Symlink => b'2',
            EntryType::Directory => b'5',
        }
    }
}

/// Everything one archive member's header says.
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// Relative path in the archive (no leading `/`); directories without a trailing `/`.
    pub path: Vec<u8>,
    pub kind: Option<EntryType>,
    /// Permission bits (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub uname: Option<String>,
    pub gname: Option<String>,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Bytes of data that follow the header (for sparse files: map + data runs).
    pub size: u64,
    /// Symlink target, or the archive path a hardlink points to.
    pub link: Option<Vec<u8>>,
    /// Extra PAX records, in order (xattrs, ACLs, sparse keys).
    pub records: Vec<(String, Vec<u8>)>,
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record,
/// itself included.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    loop {
        let total = body + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Octal, NUL-terminated, right-aligned in `field`; `false` if it does not fit.
fn put_octal(field: &mut [u8], value: u64) -> bool {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    if s.len() > digits {
        return false;
    }
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
    true
}

fn put_bytes(field: &mut [u8], value: &[u8]) -> bool {
    if value.len() > field.len() {
        return false;
    }
    field[..value.len()].copy_from_slice(value);
    true
}

/// Split a path into ustar `prefix` (≤155) and `name` (≤100) at a `/`, if possible.
fn ustar_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    let min_split = path.len().saturating_sub(101);
    (min_split..path.len().min(156))
        .filter(|&i| path.get(i) == Some(&b'/'))
        .map(|i| (&path[..i], &path[i + 1..]))
        .find(|(_, name)| !name.is_empty() && name.len() <= 100)
}

fn ustar_block(m: &Member, name: &[u8], prefix: &[u8], kind: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    put_bytes(&mut h[0..100], name);
    // Values that do not fit are in PAX records already; the ustar fields then get what
    // fits (0 or a truncated form), as GNU tar does.
    let mode_ok = put_octal(&mut h[100..108], u64::from(m.mode & 0o7777));
    debug_assert!(mode_ok);
    if !put_octal(&mut h[108..116], u64::from(m.uid)) {
        put_octal(&mut h[108..116], 0);
    }
    if !put_octal(&mut h[116..124], u64::from(m.gid)) {
        put_octal(&mut h[116..124], 0);
    }
    if !put_octal(&mut h[124..136], size) {
        put_octal(&mut h[124..136], 0);
    }
    let mtime = u64::try_from(m.mtime).unwrap_or(0);
    if !put_octal(&mut h[136..148], mtime) {
        put_octal(&mut h[136..148], 0);
    }
    h[148..156].fill(b' ');
    h[156] = kind;
    if let Some(link) = &m.link {
        if link.len() <= 100 {
            put_bytes(&mut h[157..257], link);
        }
    }
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    if let Some(u) = &m.uname {
        if u.len() < 32 {
            put_bytes(&mut h[265..297], u.as_bytes());
        }
    }
    if let Some(g) = &m.gname {
        if g.len() < 32 {
            put_bytes(&mut h[297..329], g.as_bytes());
        }
    }
    put_octal(&mut h[329..337], 0);
    put_octal(&mut h[337..345], 0);
    put_bytes(&mut h[345..500], prefix);
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put_octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

fn fits_ustar_text(b: &[u8]) -> bool {
    b.iter().all(|&c| c.is_ascii() && c != 0)
}

/// An ASCII stand-in for a name readers take from a PAX record instead.
fn stand_in(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|&c| if c.is_ascii() && c != 0 { c } else { b'_' })
        .take(100)
        .collect()
}

/// The header blocks for `m`: an optional PAX extended header (`x`) and its records, then
/// the ustar header. Data (`m.size` bytes, padded to a block) follows, written by the caller.
pub fn encode(m: &Member) -> Vec<u8> {
    let kind = m.kind.unwrap_or(EntryType::Regular);
    let mut records = Vec::new();
    // A PAX 1.0 sparse member carries its real name in GNU.sparse.name; the ustar name is
    // a stand-in (`GNUSparseFile.0/<name>`) that sparse-unaware readers extract harmlessly.
    let sparse = m.records.iter().any(|(k, _)| k == "GNU.sparse.name");
    let (prefix, name, path_record): (&[u8], Vec<u8>, bool) = if sparse {
        let base = m.path.rsplit(|&c| c == b'/').next().unwrap_or(&m.path);
        (
            &[],
            stand_in(&[b"GNUSparseFile.0/".as_slice(), base].concat()),
            false,
        )
    } else {
        match ustar_split(&m.path).filter(|_| fits_ustar_text(&m.path)) {
            Some((p, n)) => (p, n.to_vec(), false),
            None => (&[], stand_in(&m.path), true),
        }
    };
    let binary = std::str::from_utf8(&m.path).is_err()
        || m.link
            .as_deref()
            .is_some_and(|l| std::str::from_utf8(l).is_err());
    if binary {
        // Names are raw bytes of the scanned system: say so, or readers would try to
        // convert them from UTF-8 (POSIX hdrcharset).
        pax_record(&mut records, "hdrcharset", b"BINARY");
    }
    if path_record {
        pax_record(&mut records, "path", &m.path);
    }
    if let Some(link) = &m.link {
        if link.len() > 100 || !fits_ustar_text(link) {
            pax_record(&mut records, "linkpath", link);
        }
    }
    if m.size > 0o77777777777 {
        pax_record(&mut records, "size", m.size.to_string().as_bytes());
    }
    if m.uid > 0o7777777 {
        pax_record(&mut records, "uid", m.uid.to_string().as_bytes());
    }
    if m.gid > 0o7777777 {
        pax_record(&mut records, "gid", m.gid.to_string().as_bytes());
    }
    // Nanoseconds, and times before 1970 or after 2242 that ustar cannot hold.
    if m.mtime_nsec > 0 || m.mtime < 0 || m.mtime > 0o77777777777 {
        let mtime = if m.mtime_nsec > 0 {
            format!("{}.{:09}", m.mtime, m.mtime_nsec)
        } else {
            m.mtime.to_string()
        };
        pax_record(&mut records, "mtime", mtime.as_bytes());
    }
    if let Some(u) = &m.uname {
        if u.len() >= 32 || !fits_ustar_text(u.as_bytes()) {
            pax_record(&mut records, "uname", u.as_bytes());
        }
    }
    if let Some(g) = &m.gname {
        if g.len() >= 32 || !fits_ustar_text(g.as_bytes()) {
            pax_record(&mut records, "gname", g.as_bytes());
        }
    }
    for (k, v) in &m.records {
        pax_record(&mut records, k, v);
    }

    let mut out = Vec::with_capacity(3 * BLOCK + records.len());
    if !records.is_empty() {
        let pax_member = Member {
            mode: 0o644,
            mtime: m.mtime.max(0),
            ..Member::default()
        };
        // GNU tar's name for the extended header: PaxHeaders/<name>.
        let mut pax_name = b"PaxHeaders/".to_vec();
        let base = name.rsplit(|&c| c == b'/').next().unwrap_or(&name);
        pax_name.extend_from_slice(&base[..base.len().min(89)]);
        out.extend_from_slice(&ustar_block(
            &pax_member,
            &pax_name,
            &[],
            b'x',
            records.len() as u64,
        ));
        out.extend_from_slice(&records);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    let data_size = match kind {
        EntryType::Regular => m.size,
        _ => 0,
    };
    out.extend_from_slice(&ustar_block(m, &name, prefix, kind.flag(), data_size));
    out
}

/// Zero bytes that pad `size` bytes of data to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The end of an archive: two zero blocks.
pub const END: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        for (k, v) in [
            ("path", &b"a"[..]),
            ("path", &[b'x'; 90][..]),
            ("mtime", b"1.5"),
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, k, v);
            let (len, _) = out.split_at(out.iter().position(|&c| c == b' ').unwrap());
            let len: usize = std::str::from_utf8(len).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "{:?}", String::from_utf8_lossy(&out));
        }
        // The boundary where the length gains a digit: 9 bytes, then 11 (10 is impossible).
        let mut out = Vec::new();
        pax_record(&mut out, "k", b"abcd");
        assert_eq!(out, b"9 k=abcd\n".to_vec());
        let mut out = Vec::new();
        pax_record(&mut out, "k", b"abcde");
        assert_eq!(out, b"11 k=abcde\n".to_vec());
    }

    #[test]
    fn ustar_header_checksum_and_fields() {
        let m = Member {
            path: b"etc/hosts".to_vec(),
            kind: Some(EntryType::Regular),
            mode: 0o644,
            size: 10,
            mtime: 1_700_000_000,
            uname: Some("root".into()),
            gname: Some("root".into()),
            ..Member::default()
        };
        let h = encode(&m);
        assert_eq!(h.len(), BLOCK, "no PAX header needed");
        assert_eq!(&h[0..9], b"etc/hosts");
        assert_eq!(&h[124..136], b"00000000012\0");
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        let mut copy = h.clone();
        copy[148..156].fill(b' ');
        assert_eq!(stored, copy.iter().map(|&b| u32::from(b)).sum::<u32>());
    }

    #[test]
    fn long_binary_and_huge_values_go_to_pax() {
        let mut path = b"srv/".to_vec();
        path.extend_from_slice(&[b'n'; 300]);
        path.extend_from_slice(b"/caf\xe9");
        let m = Member {
            path: path.clone(),
            kind: Some(EntryType::Regular),
            size: 9 << 30,
            uid: 5_000_000,
            mtime: 1,
            mtime_nsec: 5,
            ..Member::default()
        };
        let h = encode(&m);
        assert_eq!(h[156], b'x');
        let text = &h[BLOCK..];
        let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"hdrcharset=BINARY\n"));
        assert!(has(&[b"path=".as_slice(), &path, b"\n"].concat()));
        assert!(has(b"size=9663676416\n"));
        assert!(has(b"uid=5000000\n"));
        assert!(has(b"mtime=1.000000005\n"));
    }

    #[test]
    fn ustar_split_uses_the_prefix() {
        let p = [&[b'd'; 120][..], b"/", &[b'f'; 90]].concat();
        let (pre, name) = ustar_split(&p).unwrap();
        assert_eq!(pre.len(), 120);
        assert_eq!(name.len(), 90);
        assert!(ustar_split(&[b'x'; 101]).is_none(), "no slash to split at");
    }
}
