#!/usr/bin/env bash
# Build livescan and install it as /usr/local/bin/livescan, with an example
# configuration in /etc/livescan/ (kept if one exists).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cargo >/dev/null; then
  echo "install.sh: cargo not found. Install Rust first: https://rustup.rs (curl ... | sh), then rerun." >&2
  exit 1
fi
cargo build --release --locked
install -D -m 0755 target/release/livescan /usr/local/bin/livescan
if [ ! -e /etc/livescan/livescan.toml ]; then
  install -d -m 0755 /etc/livescan
  cat > /etc/livescan/livescan.toml <<'TOML'
# livescan configuration. Every key is optional; flags on the command line override
# single values and add to lists. Unknown keys are an error.
[scan]
# Absolute paths of the scanned system to leave out (whole components, no globs).
# exclude = ["/srv/scratch"]
# jobs = 2                 # worker threads (default: all cores)
# report = "/var/lib/livescan/report.json"
# lock_wait_secs = 60      # wait for a package manager's lock, then exit 4
# nice = 10
# ionice_idle = true
TOML
fi
echo "installed /usr/local/bin/livescan"
