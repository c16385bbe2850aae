//! `diversions`: triples of lines `from`, `to`, `package` (`:` = a local diversion). A
//! package's listed `from` really lives at `to`, unless that package is the diverter itself.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    pub to: Vec<u8>,
    /// The diverting package; `None` for a local diversion (`dpkg-divert --local`), which
    /// diverts every package's copy.
    pub by: Option<String>,
}

/// A BTreeMap: real systems have a handful of diversions, and a lookup per packaged path
/// is a few short comparisons instead of hashing 100 k paths.
#[derive(Debug, Default)]
pub struct Diversions {
    by_from: BTreeMap<Vec<u8>, Diversion>,
    /// Distinct lengths of the diverted paths, sorted: most paths are ruled out by their
    /// length alone.
    from_lengths: Vec<usize>,
}

impl Diversions {
    pub fn parse(path: &Path, text: &[u8], warnings: &mut Vec<String>) -> Diversions {
        let mut by_from = BTreeMap::new();
        let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        if lines.last() == Some(&&b""[..]) {
            lines.pop(); // the final newline
        }
        let triples = lines.chunks_exact(3);
        if !triples.remainder().is_empty() {
            warnings.push(format!(
                "{}:{}: incomplete diversion at the end, ignored",
                path.display(),
                lines.len() - triples.remainder().len() + 1
            ));
        }
        for (i, t) in triples.enumerate() {
            let (from, to, pkg) = (t[0], t[1], t[2]);
            if !from.starts_with(b"/") || !to.starts_with(b"/") || pkg.is_empty() {
                warnings.push(format!(
                    "{}:{}: malformed diversion, ignored",
                    path.display(),
                    i * 3 + 1
                ));
                continue;
            }
            let by = (pkg != b":").then(|| String::from_utf8_lossy(pkg).into_owned());
            by_from.insert(
                from.to_vec(),
                Diversion {
                    to: to.to_vec(),
                    by,
                },
            );
        }
        let mut from_lengths: Vec<usize> = by_from.keys().map(Vec::len).collect();
        from_lengths.sort_unstable();
        from_lengths.dedup();
        Diversions {
            by_from,
            from_lengths,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_from.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_from.len()
    }

    /// Where `package`'s listed `path` really lives.
    pub fn real_path<'a>(&'a self, path: &'a [u8], package: &str) -> &'a [u8] {
        if self.from_lengths.binary_search(&path.len()).is_err() {
            return path;
        }
        match self.by_from.get(path) {
            Some(d) if d.by.as_deref() != Some(package) => &d.to,
            _ => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverted_unless_diverter() {
        let mut w = Vec::new();
        let d = Diversions::parse(
            Path::new("diversions"),
            b"/usr/share/man/man1/sh.1.gz\n/usr/share/man/man1/sh.distrib.1.gz\ndash\n/etc/x\n/etc/x.orig\n:\n/bin/half\n",
            &mut w,
        );
        assert_eq!(d.len(), 2);
        assert_eq!(
            d.real_path(b"/usr/share/man/man1/sh.1.gz", "bash"),
            b"/usr/share/man/man1/sh.distrib.1.gz"
        );
        assert_eq!(
            d.real_path(b"/usr/share/man/man1/sh.1.gz", "dash"),
            b"/usr/share/man/man1/sh.1.gz"
        );
        // Local diversions move every package's copy.
        assert_eq!(d.real_path(b"/etc/x", "x"), b"/etc/x.orig");
        assert_eq!(d.real_path(b"/etc/y", "x"), b"/etc/y");
        assert_eq!(
            w,
            vec!["diversions:7: incomplete diversion at the end, ignored"]
        );
    }

    #[test]
    fn malformed_triples_are_skipped() {
        let mut w = Vec::new();
        let d = Diversions::parse(Path::new("d"), b"rel\n/to\npkg\n/a\n/b\np\n", &mut w);
        assert_eq!(d.len(), 1);
        assert_eq!(w, vec!["d:1: malformed diversion, ignored"]);
        assert!(Diversions::parse(Path::new("d"), b"", &mut w).is_empty());
    }
}
