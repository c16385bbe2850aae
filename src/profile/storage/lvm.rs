//! LVM2: the PV label (`LABELONE` in one of the first four sectors), the metadata area it
//! points to, and the metadata text (the same format as `/etc/lvm/backup/<vg>`): LVM2's
//! lib/format_text/layout.h and format-text.c, lib/label/label.c.

use std::collections::BTreeMap;
use std::io;

use super::probe::Superblock;
use super::reader::{le32, le64, BlockRead, MAX_READ};

/// LVM's CRC: the CRC-32 polynomial, seeded with this and not inverted at the end.
const INITIAL_CRC: u32 = 0xf597_a6cf;
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";

fn lvm_crc(data: &[u8]) -> u32 {
    // crc32fast inverts its state on entry and exit; undo both to get LVM's variant.
    let mut h = crc32fast::Hasher::new_with_initial(!INITIAL_CRC);
    h.update(data);
    !h.finalize()
}

/// A PV as its label says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// In LVM's 6-4-4-4-4-4-6 form.
    pub pv_uuid: String,
    pub device_size: u64,
    /// The metadata text of the newest copy in the first metadata area, if any.
    pub metadata: Option<String>,
}

/// LVM prints its 32-character ids in groups of 6-4-4-4-4-4-6.
pub fn format_id(raw: &str) -> String {
    if raw.len() != 32 || !raw.is_ascii() {
        return raw.to_string();
    }
    let cuts = [6, 4, 4, 4, 4, 4, 6];
    let mut out = String::with_capacity(38);
    let mut at = 0;
    for (i, n) in cuts.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&raw[at..at + n]);
        at += n;
    }
    out
}

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<(Superblock, PvLabel)>> {
    let head = dev.read_at(0, 2048)?;
    for s in 0..4 {
        let Some(sector) = head.get(s * 512..s * 512 + 512) else {
            break;
        };
        if &sector[0..8] != b"LABELONE" || &sector[24..32] != b"LVM2 001" {
            continue;
        }
        if le64(sector, 8) != s as u64 || lvm_crc(&sector[20..512]) != le32(sector, 16) {
            continue;
        }
        let off = le32(sector, 20) as usize;
        let Some(pvh) = sector.get(off..) else {
            continue;
        };
        if pvh.len() < 40 {
            continue;
        }
        let pv_uuid = String::from_utf8_lossy(&pvh[0..32]).into_owned();
        let device_size = le64(pvh, 32);
        // Two zero-terminated lists of {offset, size}: data areas, then metadata areas.
        let mut at = 40;
        let mut lists: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
        for list in lists.iter_mut() {
            while at + 16 <= pvh.len() {
                let (o, z) = (le64(pvh, at), le64(pvh, at + 8));
                at += 16;
                if o == 0 {
                    break;
                }
                list.push((o, z));
            }
        }
        let metadata = match lists[1].first() {
            Some(&(mda_off, mda_size)) => read_metadata(dev, mda_off, mda_size)?,
            None => None,
        };
        let label = PvLabel {
            pv_uuid: format_id(&pv_uuid),
            device_size,
            metadata,
        };
        return Ok(Some((
            Superblock {
                fstype: "LVM2_member".into(),
                uuid: Some(label.pv_uuid.clone()),
                version: Some("LVM2 001".into()),
                size: Some(device_size),
                ..Default::default()
            },
            label,
        )));
    }
    Ok(None)
}

/// The current metadata text of a metadata area: the header's first raw location, which
/// may wrap around the end of the circular buffer back to just after the 512-byte header.
fn read_metadata(dev: &dyn BlockRead, mda_off: u64, mda_size: u64) -> io::Result<Option<String>> {
    let h = dev.read_at(mda_off, 512)?;
    if h.len() < 512 || &h[4..20] != MDA_MAGIC || lvm_crc(&h[4..512]) != le32(&h, 0) {
        return Ok(None);
    }
    let (rel, size) = (le64(&h, 40), le64(&h, 48));
    if rel == 0 || size == 0 || size > MAX_READ as u64 || rel >= mda_size || rel < 512 {
        return Ok(None);
    }
    let size = size as usize;
    let first = size.min((mda_size - rel) as usize);
    let (Some(at), Some(wrap)) = (mda_off.checked_add(rel), mda_off.checked_add(512)) else {
        return Ok(None);
    };
    let mut text = dev.read_exact_at(at, first)?;
    if first < size {
        text.extend(dev.read_exact_at(wrap, size - first)?);
    }
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    text.truncate(end);
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
}

// ---------------------------------------------------------------------------------------------
// Metadata text: `name = value`, `name { … }`, values are numbers, "strings" or [lists].

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Section(Section),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// In file order: LV segments and PVs keep their order.
    pub items: Vec<(String, Value)>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key) {
            Some(Value::Section(s)) => Some(s),
            _ => None,
        }
    }
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.items.iter().filter_map(|(k, v)| match v {
            Value::Section(s) => Some((k.as_str(), s)),
            _ => None,
        })
    }
    pub fn strings(&self, key: &str) -> Vec<&str> {
        match self.get(key) {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Sections nest VG → logical_volumes → LV → segment: four deep; a hostile file gets a
/// little more and then an error, never a stack overflow.
const MAX_DEPTH: usize = 16;

struct Lexer<'a> {
    s: &'a [u8],
    at: usize,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Int(i64),
    Punct(u8),
    End,
}

impl Lexer<'_> {
    fn next(&mut self) -> Result<Tok, String> {
        loop {
            match self.s.get(self.at) {
                None => return Ok(Tok::End),
                Some(b'#') => {
                    while self.s.get(self.at).is_some_and(|&c| c != b'\n') {
                        self.at += 1;
                    }
                }
                Some(c) if c.is_ascii_whitespace() => self.at += 1,
                Some(_) => break,
            }
        }
        let start = self.at;
        let c = self.s[start];
        match c {
            b'{' | b'}' | b'[' | b']' | b'=' | b',' => {
                self.at += 1;
                Ok(Tok::Punct(c))
            }
            b'"' => {
                self.at += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.at) {
                        None => return Err(format!("unterminated string at byte {start}")),
                        Some(b'"') => {
                            self.at += 1;
                            break;
                        }
                        Some(b'\\') => {
                            if let Some(&n) = self.s.get(self.at + 1) {
                                out.push(n);
                            }
                            self.at += 2;
                        }
                        Some(&b) => {
                            out.push(b);
                            self.at += 1;
                        }
                    }
                }
                Ok(Tok::Str(String::from_utf8_lossy(&out).into_owned()))
            }
            b'-' | b'0'..=b'9' => {
                self.at += 1;
                while self
                    .s
                    .get(self.at)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
                {
                    self.at += 1;
                }
                let t = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
                // Floats (`version = 1.0` in old files) are kept as text.
                Ok(t.parse().map(Tok::Int).unwrap_or(Tok::Str(t)))
            }
            _ => {
                while self
                    .s
                    .get(self.at)
                    .is_some_and(|&c| !c.is_ascii_whitespace() && !b"{}[]=,\"#".contains(&c))
                {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(format!("unexpected byte {c:#04x} at byte {start}"));
                }
                Ok(Tok::Word(
                    String::from_utf8_lossy(&self.s[start..self.at]).into_owned(),
                ))
            }
        }
    }
}

/// Parse metadata text into its top-level section.
pub fn parse_text(text: &str) -> Result<Section, String> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        at: 0,
    };
    let sec = section(&mut lx, 0)?;
    Ok(sec)
}

fn section(lx: &mut Lexer, depth: usize) -> Result<Section, String> {
    if depth > MAX_DEPTH {
        return Err(format!("sections nested deeper than {MAX_DEPTH}"));
    }
    let mut sec = Section::default();
    loop {
        let name = match lx.next()? {
            Tok::End if depth == 0 => return Ok(sec),
            Tok::End => return Err("the text ends inside a section".into()),
            Tok::Punct(b'}') if depth > 0 => return Ok(sec),
            Tok::Word(w) => w,
            t => return Err(format!("expected a name at byte {}, got {t:?}", lx.at)),
        };
        match lx.next()? {
            Tok::Punct(b'{') => {
                let s = section(lx, depth + 1)?;
                sec.items.push((name, Value::Section(s)));
            }
            Tok::Punct(b'=') => {
                let v = match lx.next()? {
                    Tok::Int(n) => Value::Int(n),
                    Tok::Str(s) | Tok::Word(s) => Value::Str(s),
                    Tok::Punct(b'[') => Value::List(list(lx)?),
                    t => return Err(format!("bad value for {name}: {t:?}")),
                };
                sec.items.push((name, v));
            }
            t => return Err(format!("expected '=' or '{{' after {name}, got {t:?}")),
        }
    }
}

fn list(lx: &mut Lexer) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    loop {
        match lx.next()? {
            Tok::Punct(b']') => return Ok(out),
            Tok::Punct(b',') => {}
            Tok::Int(n) => out.push(Value::Int(n)),
            Tok::Str(s) | Tok::Word(s) => out.push(Value::Str(s)),
            t => return Err(format!("bad list item at byte {}: {t:?}", lx.at)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The volume group the text describes.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VgMeta {
    pub name: String,
    pub uuid: String,
    pub seqno: u64,
    /// Bytes.
    pub extent_size: u64,
    pub pvs: Vec<PvMeta>,
    pub lvs: Vec<LvMeta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PvMeta {
    /// `pv0`, … : how segments refer to it.
    pub key: String,
    pub uuid: String,
    /// The device LVM last saw it on (a hint: names change between boots).
    pub device_hint: Option<String>,
    pub pe_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LvMeta {
    pub name: String,
    pub uuid: String,
    pub extents: u64,
    /// Segment types in order (`striped`, `thin-pool`, `raid1`, …).
    pub segment_types: Vec<String>,
    /// `pvN` keys the LV's segments use, in first-use order.
    pub pvs: Vec<String>,
    /// Only LVs with the VISIBLE flag get a device node users see.
    pub visible: bool,
}

/// The first top-level section that looks like a VG (has `id` and `physical_volumes`).
pub fn vg_from_text(text: &str) -> Result<VgMeta, String> {
    let top = parse_text(text)?;
    let (name, vg) = top
        .sections()
        .find(|(_, s)| s.get("physical_volumes").is_some() && s.str("id").is_some())
        .ok_or("no volume group section")?;
    let extent_sectors = vg.int("extent_size").unwrap_or(0).max(0) as u64;
    let mut meta = VgMeta {
        name: name.to_string(),
        uuid: vg.str("id").unwrap_or_default().to_string(),
        seqno: vg.int("seqno").unwrap_or(0).max(0) as u64,
        extent_size: extent_sectors.saturating_mul(512),
        ..Default::default()
    };
    if let Some(pvs) = vg.section("physical_volumes") {
        for (key, pv) in pvs.sections() {
            meta.pvs.push(PvMeta {
                key: key.to_string(),
                uuid: pv.str("id").unwrap_or_default().to_string(),
                device_hint: pv.str("device").map(str::to_string),
                pe_count: pv.int("pe_count").unwrap_or(0).max(0) as u64,
            });
        }
    }
    if let Some(lvs) = vg.section("logical_volumes") {
        for (name, lv) in lvs.sections() {
            let mut l = LvMeta {
                name: name.to_string(),
                uuid: lv.str("id").unwrap_or_default().to_string(),
                visible: lv.strings("status").contains(&"VISIBLE"),
                ..Default::default()
            };
            for (_, seg) in lv.sections() {
                l.extents = l
                    .extents
                    .saturating_add(seg.int("extent_count").unwrap_or(0).max(0) as u64);
                if let Some(t) = seg.str("type") {
                    l.segment_types.push(t.to_string());
                }
                for key in ["stripes", "raids", "mirrors"] {
                    for s in seg.strings(key) {
                        if s.starts_with("pv") && !l.pvs.iter().any(|p| p == s) {
                            l.pvs.push(s.to_string());
                        }
                    }
                }
            }
            meta.lvs.push(l);
        }
    }
    Ok(meta)
}

/// Each VG once, by name: the copy with the highest seqno wins (metadata areas of the PVs
/// of one VG can lag when a PV was missing during a change).
pub fn newest(vgs: impl IntoIterator<Item = VgMeta>) -> Vec<VgMeta> {
    let mut by_name: BTreeMap<String, VgMeta> = BTreeMap::new();
    for vg in vgs {
        match by_name.get(&vg.name) {
            Some(old) if old.seqno >= vg.seqno => {}
            _ => {
                by_name.insert(vg.name.clone(), vg);
            }
        }
    }
    by_name.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_lists_escapes_and_comments() {
        let t = "# c\nvg { id = \"a\\\"b\" # trailing\n seqno = 3\n status = [\"READ\", \"WRITE\"]\n x = 1.5\n physical_volumes { pv0 { id = \"p\" pe_count = 10 } } }\n";
        let top = parse_text(t).unwrap();
        let vg = top.section("vg").unwrap();
        assert_eq!(vg.str("id"), Some("a\"b"));
        assert_eq!(vg.int("seqno"), Some(3));
        assert_eq!(vg.strings("status"), ["READ", "WRITE"]);
        assert_eq!(vg.str("x"), Some("1.5"));
        let meta = vg_from_text(t).unwrap();
        assert_eq!((meta.seqno, meta.pvs[0].pe_count), (3, 10));
    }

    #[test]
    fn broken_text_is_an_error_not_a_panic() {
        for t in ["vg {", "vg { a = }", "vg { a = \"x", "= 1", "a b", "{{{{"] {
            assert!(vg_from_text(t).is_err(), "{t}");
        }
        let deep = "a { ".repeat(100);
        assert!(parse_text(&deep).is_err());
    }

    #[test]
    fn newest_copy_of_a_vg_wins() {
        let vg = |seqno| VgMeta {
            name: "v".into(),
            seqno,
            ..Default::default()
        };
        let n = newest([vg(3), vg(7), vg(5)]);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].seqno, 7);
    }

    #[test]
    fn ids_are_grouped_as_lvm_prints_them() {
        assert_eq!(
            format_id("8bu30tHVGsm2efN9isYGARo9XmHYX20R"),
            "8bu30t-HVGs-m2ef-N9is-YGAR-o9Xm-HYX20R"
        );
        assert_eq!(format_id("short"), "short");
    }
}
