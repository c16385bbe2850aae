#!/usr/bin/env bash
# Build livescan and install it as /usr/local/bin/livescan, with an example
# configuration in /etc/livescan/livescan.toml (an existing one is never touched).
# Then `livescan scan` scans this host (README: `./install.sh && livescan scan`).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
  PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  cat >&2 <<'EOF'
install.sh: cargo not found. livescan needs Rust 1.85 or newer (Debian 12's own cargo is
too old). Install it with rustup, then run ./install.sh again:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    . "$HOME/.cargo/env"
EOF
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (it writes /usr/local/bin and /etc/livescan)" >&2
  exit 1
fi

cargo build --release --locked
install -D -m 0755 target/release/livescan /usr/local/bin/livescan

if [ ! -e /etc/livescan/livescan.toml ]; then
  # The same commented default the .deb and .rpm install (packaging/livescan.toml).
  install -D -m 0644 packaging/livescan.toml /etc/livescan/livescan.toml
  echo "wrote /etc/livescan/livescan.toml (every key documented, all commented out)"
fi
echo "installed /usr/local/bin/livescan ($(/usr/local/bin/livescan --version))"
