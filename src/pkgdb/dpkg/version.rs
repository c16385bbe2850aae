//! Debian version strings: `[epoch:]upstream[-revision]` (deb-version(7)).

/// A version split the way dpkg splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    /// `None` when absent or `0`: dpkg-query prints no epoch for either, so neither do we.
    pub epoch: Option<u32>,
    pub upstream: String,
    /// Everything after the last `-`; `None` for native packages.
    pub revision: Option<String>,
}

/// Parse a version, refusing what dpkg's `parseversion()` refuses even in its lax mode
/// (empty parts, a non-numeric or too big epoch, embedded whitespace). What dpkg only warns
/// about (an upstream not starting with a digit, odd characters) is accepted.
pub fn parse(v: &str) -> Result<DebVersion, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("empty version".into());
    }
    if v.chars().any(char::is_whitespace) {
        return Err(format!("version {v:?} has embedded whitespace"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() {
                return Err(format!("version {v:?}: empty epoch"));
            }
            if !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("version {v:?}: epoch is not a number"));
            }
            // dpkg keeps epochs in an int.
            let epoch: u32 = e
                .parse()
                .ok()
                .filter(|&n| n <= i32::MAX as u32)
                .ok_or_else(|| format!("version {v:?}: epoch too big"))?;
            if rest.is_empty() {
                return Err(format!("version {v:?}: nothing after the epoch colon"));
            }
            ((epoch != 0).then_some(epoch), rest)
        }
        None => (None, v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(format!("version {v:?}: empty revision")),
        Some((up, rev)) => (up, Some(rev.to_string())),
        None => (rest, None),
    };
    if upstream.is_empty() {
        return Err(format!("version {v:?}: empty upstream version"));
    }
    Ok(DebVersion {
        epoch,
        upstream: upstream.to_string(),
        revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> (Option<u32>, String, Option<String>) {
        let d = parse(v).unwrap();
        (d.epoch, d.upstream, d.revision)
    }

    #[test]
    fn splits_epoch_upstream_revision() {
        assert_eq!(
            ok("1:2.20.1-2+deb10u3"),
            (Some(1), "2.20.1".into(), Some("2+deb10u3".into()))
        );
        assert_eq!(
            ok("5.2.15-2+b8"),
            (None, "5.2.15".into(), Some("2+b8".into()))
        );
        assert_eq!(ok("1.0"), (None, "1.0".into(), None));
        // The revision is after the *last* hyphen; upstream may contain hyphens and colons.
        assert_eq!(ok("1.0-a-b"), (None, "1.0-a".into(), Some("b".into())));
        assert_eq!(ok("2:1.0:x-1"), (Some(2), "1.0:x".into(), Some("1".into())));
        assert_eq!(ok("0:1.0"), (None, "1.0".into(), None));
        assert_eq!(ok("1:4.13+dfsg1-1+deb12u1").0, Some(1));
    }

    #[test]
    fn refuses_what_dpkg_refuses() {
        for bad in [
            "",
            ":1",
            "a:1",
            "1:",
            "1.0-",
            "-1",
            "1 0",
            "99999999999:1",
            "-1:2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
