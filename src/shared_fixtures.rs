//! Where tests find `../shared` (real package databases from other projects, never copied
//! into this repository). CI always has it beside the clone; a plain clone does not, and
//! tests that need it skip with a message naming what is missing.

use std::path::PathBuf;

/// `$LIVESCAN_SHARED`, else `<crate>/../shared`, if it exists.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVESCAN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.is_dir().then_some(dir)
}

/// A fixture below `shared/fixtures/pkgdb`, or `None` with a skip notice on stderr.
pub fn pkgdb_fixture(rel: &str) -> Option<PathBuf> {
    match shared_dir() {
        Some(d) => {
            let p = d.join("fixtures/pkgdb").join(rel);
            if p.exists() {
                Some(p)
            } else {
                eprintln!("SKIP: fixture {} is missing", p.display());
                None
            }
        }
        None => {
            eprintln!("SKIP: ../shared not found (set LIVESCAN_SHARED); fixture {rel} unavailable");
            None
        }
    }
}
