//! A real pacman root: a package built here with `makepkg` (as nobody: makepkg refuses
//! root), installed with `pacman -r`, tampered with, then scanned; the paths livescan reports
//! modified or deleted equal the paths `pacman -Qkk` flags. Skips when pacman is missing.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

const PKGBUILD: &str = r#"pkgname=lstest
pkgver=1.0
pkgrel=3
epoch=1
pkgdesc="livescan test package"
arch=('any')
license=('MIT')
backup=('etc/lstest/main.conf')
package() {
  mkdir -p "$pkgdir/etc/lstest" "$pkgdir/usr/bin" "$pkgdir/usr/share/doc/lstest" "$pkgdir/usr/lib/lstest"
  printf 'setting=1\n' > "$pkgdir/etc/lstest/main.conf"
  printf '#!/bin/sh\necho lstest\n' > "$pkgdir/usr/bin/lstest"
  chmod 0755 "$pkgdir/usr/bin/lstest"
  ln -s lstest "$pkgdir/usr/bin/lstest-link"
  printf 'docs\n' > "$pkgdir/usr/share/doc/lstest/README"
  printf 'data\n' > "$pkgdir/usr/lib/lstest/data"
  printf 'gone\n' > "$pkgdir/usr/lib/lstest/gone"
  printf 'same size\n' > "$pkgdir/usr/lib/lstest/edited"
}
"#;

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build the package as `nobody` in `dir`, return the package file.
fn build_package(dir: &Path) -> std::path::PathBuf {
    fs::write(dir.join("PKGBUILD"), PKGBUILD).unwrap();
    run(
        Command::new("chown").args(["-R", "nobody"]).arg(dir),
        "chown",
    );
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    run(
        Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c"])
            .arg(format!(
                "cd '{}' && PKGEXT=.pkg.tar.zst makepkg --nodeps --skipinteg",
                dir.display()
            )),
        "makepkg",
    );
    dir.join("lstest-1:1.0-3-any.pkg.tar.zst")
}

fn pacman_flags(root: &Path) -> BTreeSet<String> {
    let out = Command::new("pacman")
        .arg("-r")
        .arg(root)
        .arg("--dbpath")
        .arg(root.join("var/lib/pacman"))
        .args(["-Qkk", "lstest"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let prefix = root.display().to_string();
    text.lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("warning: lstest: ")
                .or_else(|| l.strip_prefix("backup file: lstest: "))?;
            let path = rest.rsplit_once(" (")?.0;
            Some(path.strip_prefix(&prefix).unwrap_or(path).to_string())
        })
        .collect()
}

#[test]
fn tampering_matches_pacman_qkk() {
    if !common::euid_is_root() {
        eprintln!("SKIP: makepkg must run as nobody, pacman -r as root");
        return;
    }
    if !common::have_tools("pacman_root", &["pacman", "makepkg", "bsdtar"]) {
        return;
    }
    let r = common::Root::new();
    fs::remove_dir_all(r.p("/var/lib/dpkg")).unwrap();
    let build = r.tmp().join("build");
    fs::create_dir(&build).unwrap();
    let pkg = build_package(&build);
    fs::create_dir_all(r.p("/var/lib/pacman")).unwrap();
    fs::create_dir_all(r.p("/var/cache/pacman/pkg")).unwrap();
    run(
        Command::new("pacman")
            .arg("-r")
            .arg(&r.path)
            .arg("--dbpath")
            .arg(r.p("/var/lib/pacman"))
            .arg("--cachedir")
            .arg(r.p("/var/cache/pacman/pkg"))
            .args(["--noconfirm", "--nodeps", "-U"])
            .arg(&pkg),
        "pacman -U",
    );

    let clean = r.scan_ok(&[]);
    assert_eq!(clean.json["databases"][0]["format"], "pacman");
    assert_eq!(
        clean.total("modified"),
        0,
        "{}",
        common::show_set(&clean.changes())
    );
    assert_eq!(clean.total("deleted"), 0);
    assert!(pacman_flags(&r.path).is_empty());

    fs::write(r.p("/usr/bin/lstest"), "#!/bin/sh\necho changed\n").unwrap();
    fs::write(r.p("/etc/lstest/main.conf"), "setting=2\n").unwrap();
    fs::write(r.p("/usr/lib/lstest/edited"), "SAME SIZE\n").unwrap();
    fs::remove_file(r.p("/usr/lib/lstest/gone")).unwrap();
    fs::set_permissions(
        r.p("/usr/lib/lstest/data"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::remove_file(r.p("/usr/bin/lstest-link")).unwrap();
    symlink("other", r.p("/usr/bin/lstest-link")).unwrap();
    std::os::unix::fs::chown(r.p("/usr/share/doc/lstest/README"), Some(4242), None).unwrap();

    let s = r.scan_ok(&[]);
    let ours: BTreeSet<String> = s
        .files()
        .iter()
        .filter(|f| f["change"] != "added")
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let theirs = pacman_flags(&r.path);
    assert_eq!(ours, theirs, "livescan vs pacman -Qkk");
    assert_eq!(theirs.len(), 7, "{theirs:?}");
    assert_eq!(s.entry("/etc/lstest/main.conf")["config"], true);
    assert_eq!(s.entry("/usr/lib/lstest/gone")["verify"], "missing");
    // pacman records no device numbers or capabilities: those stay unchecked (`?`).
    assert_eq!(
        s.entry("/usr/share/doc/lstest/README")["verify"],
        "...??U..?"
    );
}
