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
  install -d -m 0755 /etc/livescan
  cat > /etc/livescan/livescan.toml <<'TOML'
# livescan configuration (read by `livescan scan`; `--config FILE` names another).
# Every key is optional. Flags on the command line override single values and add to
# lists. Unknown keys are an error, so a typo cannot silently change what is scanned.
[scan]
# Absolute paths of the scanned system to leave out: whole path components, no globs.
# exclude = ["/srv/scratch", "/var/tmp"]
# Worker threads for walking and hashing (default: all cores).
# jobs = 2
# Where the full JSON report goes ("-" = stdout; default ./livescan-report.json).
# report = "/var/lib/livescan/report.json"
# Seconds to wait while a package manager holds its database lock, then exit 4.
# lock_wait_secs = 60
# CPU niceness of the scan (0-19).
# nice = 10
# Use the idle I/O scheduling class, so the workload's I/O always goes first.
# ionice_idle = true
TOML
  chmod 0644 /etc/livescan/livescan.toml
  echo "wrote /etc/livescan/livescan.toml (example, all keys commented out)"
fi
echo "installed /usr/local/bin/livescan ($(/usr/local/bin/livescan --version))"
