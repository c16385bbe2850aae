#!/usr/bin/env bash
# The whole test suite (the README's `./test.sh`): installs the Debian packages the tests
# use, only when they are missing, then runs cargo fmt --check, clippy -D warnings and
# cargo test. Meant for root on Debian 12 with a Rust toolchain; needs no network except
# Debian's archive (only when something is missing) and crates.io.
# CI runs .ci/run, which sets LIVESCAN_HOST_TESTS=1 (scan of this host vs dpkg --verify).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
  PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "test.sh: cargo not found; install Rust: https://rustup.rs" >&2; exit 1; }

# A command each package provides, and why the tests need it.
need=()
command -v dpkg-architecture >/dev/null || need+=(dpkg-dev)  # Debian build tools
command -v cruft >/dev/null || need+=(cruft-ng)              # reference for the unowned-file rules
command -v python3 >/dev/null || need+=(python3)             # src/lock.rs: a second process holds a lock
command -v setpriv >/dev/null || need+=(util-linux)          # tests/dpkg_root.rs: scan without CAP_DAC_OVERRIDE
command -v rpmbuild >/dev/null || need+=(rpm)                # tests/rpm_root.rs: real rpm roots, rpm -V/-q as oracle
command -v db_load >/dev/null || need+=(db-util)             # BDB rpmdb built from real headers
command -v pacman >/dev/null || need+=(pacman-package-manager) # tests/pacman_root.rs: pacman -r, -Qkk as oracle
command -v makepkg >/dev/null || need+=(makepkg)             # builds the pacman test package
command -v bsdtar >/dev/null || need+=(libarchive-tools)     # makepkg packs with it; export tests extract with it
command -v zstd >/dev/null || need+=(zstd)                   # GNU tar --zstd and the export tests
command -v setfacl >/dev/null || need+=(acl)                 # tests/export_roundtrip.rs: ACLs
command -v curl >/dev/null || need+=(curl)                   # tests/upload_e2e.rs: a stock client on the plain upload
command -v openssl >/dev/null || need+=(openssl)             # tests/upload_tls.rs: a test CA and leaf
command -v ip >/dev/null || need+=(iproute2)                # tests/network_profile.rs: ip -j addr/route as oracle
[ -x /usr/sbin/nginx ] || need+=(nginx)                        # tests/upload_tls.rs: TLS in front of the receiver
command -v systemctl >/dev/null || need+=(systemd)            # tests/profile_roots.rs: systemctl --root enables units, lists them as oracle
[ -x /usr/sbin/sfdisk ] || need+=(fdisk)                       # tests/storage_images.rs: MBR/GPT on image files, sfdisk -J as oracle
[ -x /usr/sbin/mkfs.xfs ] || need+=(xfsprogs)                  # tests/storage_images.rs: xfs superblocks
[ -x /usr/sbin/mkfs.btrfs ] || need+=(btrfs-progs)              # btrfs superblocks
[ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)               # FAT12/16/32 boot sectors
[ -x /usr/sbin/mdadm ] || need+=(mdadm)                        # md superblocks (where the kernel has md)
[ -x /usr/sbin/pvcreate ] || need+=(lvm2)                      # PV labels and metadata, lvs/pvs as oracle
[ -x /usr/sbin/blkid ] || need+=(util-linux)                   # blkid/lsblk/findmnt: the storage oracle
[ -x /usr/sbin/cryptsetup ] || need+=(cryptsetup-bin)         # LUKS1/2 headers made on image files
command -v xmllint >/dev/null || need+=(libxml2-utils)        # tests/uforge_xml.rs: --format xml validated against docs/uforge-livescan.xsd
command -v readelf >/dev/null || need+=(binutils)           # tests/static_binary.rs: no PT_INTERP, no DT_NEEDED
command -v shellcheck >/dev/null || need+=(shellcheck)       # tests/packages.rs: the .deb/.rpm scriptlets
command -v systemd-analyze >/dev/null || need+=(systemd)     # tests/packages.rs, .ci/run: systemd-analyze verify (same package)
command -v man >/dev/null || need+=(man-db)                  # systemd-analyze verify checks Documentation=man:livescan(1)
# musl-tools and the rust musl target are installed by packaging/build.sh (CI runs it first).
# dpkg, dpkg-deb, dpkg-divert, dpkg-statoverride, dpkg-query (package dpkg) and md5sum
# (coreutils) are Essential on Debian; the tests that use them skip with a message elsewhere.

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "test.sh: missing ${need[*]} (apt-get install --no-install-recommends ${need[*]} as root); the tests that need them will skip" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    # Packages with daemons (nginx) must not start them: the tests run their own instances.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_install() { apt-get install -y -q --no-install-recommends "${need[@]}"; }
    # `apt-get update` once, and only when the package lists are missing or outdated.
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || ! apt_install; then
      apt-get update -q
      apt_install
    fi
  fi
fi
for component in rustfmt clippy; do
  cmd=$([ "$component" = rustfmt ] && echo fmt || echo clippy)
  if ! cargo "$cmd" --version >/dev/null 2>&1 && command -v rustup >/dev/null; then
    rustup component add "$component"
  fi
done

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test (LIVESCAN_HOST_TESTS=${LIVESCAN_HOST_TESTS:-unset})"
cargo test --locked --no-fail-fast
