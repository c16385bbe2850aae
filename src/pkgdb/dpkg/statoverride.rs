//! `statoverride`: `<user> <group> <octal mode> <path>` lines (`dpkg-statoverride`), the only
//! modes and owners dpkg records. User and group may be `#<id>`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::pkgdb::{ExpectedAttrs, UserRef};

#[derive(Debug, Default)]
pub struct StatOverrides {
    by_path: BTreeMap<Vec<u8>, ExpectedAttrs>,
}

fn user_ref(word: &[u8]) -> Option<UserRef> {
    if word.is_empty() {
        return None;
    }
    match word.strip_prefix(b"#") {
        Some(id) => std::str::from_utf8(id)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(UserRef::Id),
        None => Some(UserRef::Name(String::from_utf8_lossy(word).into())),
    }
}

impl StatOverrides {
    pub fn parse(path: &Path, text: &[u8], warnings: &mut Vec<String>) -> StatOverrides {
        let mut by_path = BTreeMap::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            // The path is the rest of the line: it may contain spaces.
            let mut parts = line.splitn(4, |&b| b == b' ');
            let parsed = (|| {
                let user = user_ref(parts.next()?)?;
                let group = user_ref(parts.next()?)?;
                let mode = std::str::from_utf8(parts.next()?).ok()?;
                let mode = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777)?;
                let file = parts.next().filter(|p| p.starts_with(b"/"))?;
                Some((
                    file,
                    ExpectedAttrs {
                        mode: Some(mode),
                        user: Some(user),
                        group: Some(group),
                        ..ExpectedAttrs::default()
                    },
                ))
            })();
            match parsed {
                Some((file, attrs)) => {
                    by_path.insert(file.to_vec(), attrs);
                }
                None => warnings.push(format!(
                    "{}:{}: malformed statoverride line, ignored",
                    path.display(),
                    i + 1
                )),
            }
        }
        StatOverrides { by_path }
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// What a file at its real (diverted) location is expected to look like.
    pub fn get(&self, real_path: &[u8]) -> Option<&ExpectedAttrs> {
        if self.by_path.is_empty() {
            return None;
        }
        self.by_path.get(real_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_modes() {
        let mut w = Vec::new();
        let s = StatOverrides::parse(
            Path::new("statoverride"),
            b"root plocate 2755 /usr/bin/plocate\n#0 #112 710 /etc/ssl/private dir\nroot root 9999 /x\nroot root 755 rel\nroot #x 755 /y\nshort line\n",
            &mut w,
        );
        let p = s.get(b"/usr/bin/plocate").unwrap();
        assert_eq!(p.mode, Some(0o2755));
        assert_eq!(p.user, Some(UserRef::Name("root".into())));
        assert_eq!(p.group, Some(UserRef::Name("plocate".into())));
        let d = s.get(b"/etc/ssl/private dir").unwrap();
        assert_eq!(
            (d.user.clone(), d.group.clone()),
            (Some(UserRef::Id(0)), Some(UserRef::Id(112)))
        );
        assert_eq!(d.mode, Some(0o710));
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].starts_with("statoverride:3:"));
    }
}
