#!/usr/bin/env bash
# Build every release artifact into dist/ (no make):
#   dist/livescan-VERSION-x86_64-linux-musl   the static binary (LTO, stripped)
#   dist/livescan_VERSION-1_amd64.deb         cargo-deb
#   dist/livescan-VERSION-1.x86_64.rpm        cargo-generate-rpm, gzip payload (rpm < 4.14,
#                                             i.e. CentOS 7, cannot read zstd payloads)
#   dist/doc/                                 man pages and bash/zsh/fish completions,
#                                             generated from the CLI (examples/gen_docs.rs)
#   dist/SHA256SUMS
# Installs what is missing, only when missing: Debian's musl-tools (apt, as root), the rust
# musl target (rustup), cargo-deb and cargo-generate-rpm (cargo install --locked; each
# install is timed, it is the slowest step on a fresh CI machine).
# LIVESCAN_AARCH64=1 also tries aarch64-unknown-linux-musl (see the README: not shipped).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
  PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
TARGET=x86_64-unknown-linux-musl
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
step() { echo "== packaging/build.sh: $*"; }
timed() { local t0=$SECONDS; "$@"; echo "   ($(( SECONDS - t0 )) s: $*)"; }

if ! command -v x86_64-linux-musl-gcc >/dev/null; then
  step "installing musl-tools (the C parts: ring, zstd, sqlite need a musl C compiler)"
  if [ "$(id -u)" != 0 ]; then
    echo "packaging/build.sh: needs musl-tools: apt-get install --no-install-recommends musl-tools (as root)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends musl-tools \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends musl-tools; }
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
  step "rustup target add $TARGET"
  rustup target add "$TARGET"
fi
for tool in cargo-deb:deb cargo-generate-rpm:generate-rpm; do
  crate=${tool%%:*}; sub=${tool#*:}
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    step "cargo install --locked $crate (only because it is missing)"
    timed cargo install --locked "$crate"
  fi
done

# A tarball without .git still builds; its commit can be given as LIVESCAN_GIT_COMMIT.
step "static binary ($TARGET, release: thin LTO, stripped)"
timed cargo build --release --locked --target "$TARGET" --bin livescan
BIN=target/$TARGET/release/livescan

step "man pages and completions from the CLI"
rm -rf dist && mkdir -p dist/doc
timed cargo run --quiet --locked --example gen_docs -- dist/doc
gzip -9n dist/doc/*.1

step ".deb"
timed cargo deb --locked --target "$TARGET" --no-build --no-strip --output dist/
step ".rpm (gzip payload)"
timed cargo generate-rpm --target "$TARGET" --payload-compress gzip --output dist/

cp "$BIN" "dist/livescan-$VERSION-x86_64-linux-musl"

if [ "${LIVESCAN_AARCH64:-0}" = 1 ]; then
  # Debian ships no aarch64 musl C compiler: the C parts are built with the glibc cross gcc
  # against musl's headers is not possible, so this is an experiment (README).
  step "aarch64-unknown-linux-musl (experimental)"
  if CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc \
     CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc \
     cargo build --release --locked --target aarch64-unknown-linux-musl --bin livescan; then
    cp target/aarch64-unknown-linux-musl/release/livescan "dist/livescan-$VERSION-aarch64-linux-musl"
  else
    echo "packaging/build.sh: aarch64 build failed (see the README); x86_64 artifacts are complete" >&2
  fi
fi

(cd dist && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > ../target/SHA256SUMS.tmp)
mv target/SHA256SUMS.tmp dist/SHA256SUMS
step "done: $(wc -l < dist/SHA256SUMS) files in dist/, binary $(stat -c %s "$BIN") bytes"
