#!/usr/bin/env bash
# The whole test suite: installs what the tests need (only when missing), then
# fmt, clippy and cargo test. Run as root on Debian 12 with a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v dpkg-deb >/dev/null || need+=(dpkg-dev)
command -v cruft >/dev/null || need+=(cruft-ng)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  else
    echo "test.sh: missing ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
  fi
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy || true

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
