#!/usr/bin/env bash
# Regenerate the small seed corpora in fuzz/corpus/<target>/ from packages built here with
# the real tools (rpmbuild + rpm --root, db_load, dpkg-deb + dpkg --root, bsdtar). Nothing is
# copied from other projects. Needs root and: rpm db-util dpkg-dev libarchive-tools python3.
# The seeds are committed; CI replays them (tests/fuzz_seeds.rs) and never runs this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$corpus"/{rpm_header,rpm_bdb,rpm_ndb,dpkg_status,apk_installed,pacman_mtree,pacman_desc,caps,verify_cache}

# --- rpm: a tiny package with a config file, a symlink, a ghost and caps -------------------
mkdir -p "$work/top/SPECS" "$work/root"
cp "$here/seeds/tiny.spec" "$work/top/SPECS/"
rpmbuild --quiet --define "_topdir $work/top" --define '_build_id_links none' \
  -bb "$work/top/SPECS/tiny.spec" >/dev/null
rpm --root "$work/root" --dbpath /var/lib/rpm --initdb
rpm --root "$work/root" --dbpath /var/lib/rpm --nodeps --force-debian --justdb \
  -i "$work"/top/RPMS/noarch/*.rpm
python3 - "$work/root/var/lib/rpm/rpmdb.sqlite" "$corpus" "$work" <<'PY'
import sqlite3, struct, sys, zlib
db, corpus, work = sys.argv[1:]
blob = sqlite3.connect(db).execute("select blob from Packages").fetchone()[0]
open(f"{corpus}/rpm_header/tiny.hdr", "wb").write(blob)
# db_dump text for db_load: hex key/value lines; key 0 is rpm's instance counter.
def dump(path, fmt):
    with open(path, "w") as f:
        f.write("VERSION=3\nformat=bytevalue\ntype=hash\nh_ffactor=8\ndb_pagesize=512\nHEADER=END\n")
        for k, v in ((0, struct.pack(fmt, 1)), (1, blob)):
            f.write(" " + struct.pack(fmt, k).hex() + "\n " + v.hex() + "\n")
        f.write("DATA=END\n")
dump(f"{work}/le.dump", "<I")
dump(f"{work}/be.dump", ">I")
# NDB (package-databases.md §1c): header slot page + one blob.
slot_pages = 1
blkoff = slot_pages * 4096 // 16
bloblen = len(blob)
blkcnt = -(-(16 + bloblen + 12) // 16)
area = bytearray(blkcnt * 16)
area[0:16] = struct.pack("<4I", 0x53626C42, 1, 1, bloblen)
area[16:16 + bloblen] = blob
area[-12:] = struct.pack("<3I", zlib.adler32(bytes(area[:-12])), bloblen, 0x45626C42)
page = bytearray(4096)
page[0:20] = struct.pack("<5I", 0x506D7052, 0, 1, slot_pages, 2)
for off in range(32, 4096, 16):  # every slot carries the magic; free ones have blkoff 0
    page[off:off + 16] = struct.pack("<4I", 0x746F6C53, 0, 0, 0)
page[32:48] = struct.pack("<4I", 0x746F6C53, 1, blkoff, blkcnt)
open(f"{corpus}/rpm_ndb/tiny.ndb", "wb").write(bytes(page) + bytes(area))
PY
db_load -f "$work/le.dump" "$corpus/rpm_bdb/tiny-le.bdb"
db_load -c db_lorder=4321 -f "$work/be.dump" "$corpus/rpm_bdb/tiny-be.bdb"

# --- dpkg: a status file written by dpkg itself ----------------------------------------------
mkdir -p "$work/deb/DEBIAN" "$work/deb/etc/tiny" "$work/droot/var/lib/dpkg/"{info,updates}
printf 'Package: tiny\nVersion: 1:1.0-1\nArchitecture: all\nMaintainer: livescan <dev@example.com>\nDescription: seed\n multi-line\n .\n description\n' \
  > "$work/deb/DEBIAN/control"
echo /etc/tiny/tiny.conf > "$work/deb/DEBIAN/conffiles"
echo 'a=1' > "$work/deb/etc/tiny/tiny.conf"
dpkg-deb --root-owner-group -b "$work/deb" "$work/tiny.deb" >/dev/null
touch "$work/droot/var/lib/dpkg/status"
dpkg --root="$work/droot" --admindir="$work/droot/var/lib/dpkg" --log=/dev/null \
  --force-script-chrootless -i "$work/tiny.deb" >/dev/null
cp "$work/droot/var/lib/dpkg/status" "$corpus/dpkg_status/tiny.status"

# --- verify cache: what `livescan scan` writes for that root (the cache leaves out files
# changed in the last 2 s, hence the wait) -----------------------------------------------------
sleep 3
printf '27 1 254:0 / / rw - ext4 /dev/vda rw\n' > "$work/mountinfo"
(cd "$here/.." && cargo run --release --quiet --bin livescan -- scan --root "$work/droot" \
  --mountinfo "$work/mountinfo" --cache-dir "$work/cache" --lock-file "$work/lock" \
  --report /dev/null --quiet)
cp "$work/cache/verify-cache" "$corpus/verify_cache/tiny-dpkg"

# --- pacman: an mtree as makepkg writes it (bsdtar, same keywords), gzip-compressed -----------
mkdir -p "$work/pkg/usr/bin" "$work/pkg/etc"
echo 'x=1' > "$work/pkg/etc/tiny.conf"
printf '#!/bin/sh\n' > "$work/pkg/usr/bin/tiny" && chmod 755 "$work/pkg/usr/bin/tiny"
ln -s tiny "$work/pkg/usr/bin/tiny link"
(cd "$work/pkg" && LANG=C bsdtar -czf "$corpus/pacman_mtree/tiny.mtree" --format=mtree \
  --options='!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link' etc usr)

# --- caps: libcap's text form, and the v2 xattr `setcap cap_net_raw=ep` writes ---------------
printf 'cap_chown,cap_net_raw=ep cap_setuid+i' > "$corpus/caps/text"
printf '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' \
  > "$corpus/caps/xattr-v2"

# --- apk: hand-written (Debian has no apk-tools): M:, a: with an xattr digest, f:S, X1 ---------
printf 'C:Q1zwvKMnYs1b6ZdPTBJ0Z7D5P3jyA=\nP:seed\nV:1.0-r1\nA:x86_64\nD:so:libc.musl-x86_64.so.1\nF:etc\nM:0:0:755\nR:seed.conf\na:0:0:600\nZ:Q1SLkS9hBidUbPwwrw+XR0Whv3ww8=\nR:link\na:0:0:777:Q1JaDEHQHBbizhEzoWK1YxuraNU/4=\nZ:Q1kiljhXXH1LlQroHsEJIkPZg2eiw=\n\nP:seed-s\nV:2-r0\nA:x86_64\nf:S\nF:usr/lib\nR:lib.so\nZ:X1a8076d3d28d21e02012b20eaf7dbf75409a62771\n\n' \
  > "$corpus/apk_installed/seed"

# --- pacman desc/files: hand-written in pacman's section format --------------------------------
printf '%%NAME%%\nseed\n\n%%VERSION%%\n1:2.0-3\n\n%%ARCH%%\nany\n\n%%FILES%%\netc/\netc/seed.conf\n\n%%BACKUP%%\netc/seed.conf\t0f343b0931126a20f133d67c2b018a3b\n\n' \
  > "$corpus/pacman_desc/seed"

echo "seeds written to $corpus:"
find "$corpus" -type f -printf '%s\t%P\n' | sort -k2
