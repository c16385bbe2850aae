#!/usr/bin/env bash
# Regenerate the small seed corpora in fuzz/corpus/<target>/ from packages built here with
# the real tools (rpmbuild + rpm --root, db_load, dpkg-deb + dpkg --root, bsdtar). Nothing is
# copied from other projects. Needs root and: passwd openssl rpm db-util dpkg-dev libarchive-tools python3.
# The seeds are committed; CI replays them (tests/fuzz_seeds.rs) and never runs this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$corpus"/{rpm_header,rpm_bdb,rpm_ndb,dpkg_status,apk_installed,pacman_mtree,pacman_desc,caps,storage_disk,storage_text,verify_cache,profile_text,network_config}


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

# --- storage: tiny partition tables by sfdisk, the heads of images made by mkfs/mkswap/LVM ----
# Needs fdisk e2fsprogs xfsprogs btrfs-progs dosfstools cryptsetup-bin lvm2 (and a loop device for LVM).
sd=$corpus/storage_disk
truncate -s 40K "$work/mbr.img"
printf 'label: dos\nlabel-id: 0x5eed0001\nstart=2, size=8, type=83, bootable\nstart=10, size=4, type=82\nstart=14, size=60, type=5\nstart=16, size=10, type=83\nstart=28, size=10, type=8e\n' \
  | sfdisk -q "$work/mbr.img"
cp "$work/mbr.img" "$sd/mbr-logicals"
truncate -s 48K "$work/gpt.img"
printf 'label: gpt\nfirst-lba: 6\ntable-length: 4\nstart=6, size=8, type=U, name="EFI"\nstart=14, size=8, type=L, name="root"\n' \
  | sfdisk -q "$work/gpt.img"
cp "$work/gpt.img" "$sd/gpt"
# Filesystems: only the bytes up to the end of each superblock are kept.
fs_seed() { # name, head bytes, image MiB, mkfs command…
  local name=$1 head=$2 mib=$3; shift 3
  rm -f "$work/fs.img"; truncate -s "${mib}M" "$work/fs.img"
  "$@" "$work/fs.img" >/dev/null 2>&1
  head -c "$head" "$work/fs.img" > "$sd/$name"
}
fs_seed ext4 2048 8 mkfs.ext4 -q -F -L seed
fs_seed ext3 2048 8 mkfs.ext3 -q -F
fs_seed xfs 512 320 mkfs.xfs -q -f -L seed
fs_seed btrfs 69632 128 mkfs.btrfs -q -f -L seed
fs_seed vfat32 512 64 mkfs.vfat -F 32 -n SEED
fs_seed vfat16 512 16 mkfs.vfat -F 16
fs_seed swap 4096 1 mkswap -L seed
rm -f "$work/fs.img"; truncate -s 32M "$work/fs.img"
printf 'seed' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --label seed "$work/fs.img" -
head -c 4096 "$work/fs.img" > "$sd/luks2"
st=$corpus/storage_text
# An LVM PV with two LVs (metadata only: activation off), and the backup LVM writes of it.
truncate -s 16M "$work/pv.img"
if lo=$(losetup -f --show "$work/pv.img" 2>/dev/null); then
  mkdir -p "$work/lvm/backup"
  printf 'devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }\nglobal { activation = 0 use_lvmlockd = 0 event_activation = 0 }\nactivation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\nbackup { backup = 1 backup_dir = "%s" archive = 0 }\n' \
    "$work/lvm/backup" > "$work/lvm/lvm.conf"
  ( export LVM_SYSTEM_DIR=$work/lvm LVM_SUPPRESS_FD_WARNINGS=1
    pvcreate -q -y --devices "$lo" "$lo" && vgcreate -q --devices "$lo" -s 1m seed "$lo" &&
    lvcreate -q --devices "$lo" -an -Zn -L 4m -n root seed && lvcreate -q --devices "$lo" -an -Zn -L 2m -n my-data seed
  ) >/dev/null 2>&1
  losetup -d "$lo"
  head -c 16384 "$work/pv.img" > "$sd/lvm-pv"
  cp "$work/lvm/backup/seed" "$st/lvm-backup" && chmod 644 "$st/lvm-backup"
else
  echo "make-seeds: no loop device; LVM seeds left as they are" >&2
fi
printf '# /etc/fstab\nUUID=0a1b2c3d-0000-4000-8000-123456789abc / ext4 errors=remount-ro 0 1\nLABEL=BOOT /boot vfat umask=0077 0 1\nPARTUUID=5eed0001-05 /srv/my\\040data xfs noatime 0 2\n/dev/mapper/seed-root /mnt btrfs subvol=/@home,compress=zstd 0 0\n/swapfile none swap sw 0 0\nproc /proc proc defaults 0 0\n' \
  > "$st/fstab"
printf 'ARRAY /dev/md/0 metadata=1.2 UUID=3aaa0122:29827cfa:5331ad66:ca767371 name=host:0\n   devices=/dev/sda1,/dev/sdb1\nARRAY /dev/md1 level=raid1 num-devices=2 UUID=01234567:89abcdef:01234567:89abcdef\n' \
  > "$st/mdadm.conf"
printf '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n30 22 0:40 /@home /home rw,relatime shared:2 - btrfs /dev/sda2 rw,space_cache=v2,subvolid=257,subvol=/@home\n' \
  > "$st/mountinfo"

# --- profile_text: account files written by useradd/usermod/groupadd (shadow's own tools,
# --prefix: nothing of this host is touched), a release file, a kernel command line, meminfo.
pt=$corpus/profile_text
acct=$work/acct
mkdir -p "$acct/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$acct/etc/passwd"
printf 'root:*:19000:0:99999:7:::\n' > "$acct/etc/shadow"
printf 'root:x:0:\n' > "$acct/etc/group"
printf 'root:*::\n' > "$acct/etc/gshadow"
groupadd -P "$acct" -g 10 wheel
useradd -P "$acct" -M -u 1000 -U -c 'Jürgen & Co,Room 1,,' -G wheel -s /bin/sh jurgen
usermod -P "$acct" -p "$(openssl passwd -6 -salt seedsalt seed)" jurgen
useradd -P "$acct" -M -r -s /usr/sbin/nologin svc
useradd -P "$acct" -M -u 1001 -U locked
usermod -P "$acct" -p "$(openssl passwd -6 -salt lockedsalt seed)" locked
usermod -P "$acct" -L locked
for f in passwd shadow group gshadow; do cp "$acct/etc/$f" "$pt/$f"; chmod 644 "$pt/$f"; done
printf 'Oracle Linux Server release 6.10\n' > "$pt/oracle-release"
printf 'SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n' > "$pt/SuSE-release"
printf 'BOOT_IMAGE=/vmlinuz-6.1.0-17-amd64 root=UUID=0a1b2c3d-0000-4000-8000-123456789abc ro acpi_osi="!Windows 2012" quiet -- single\n' > "$pt/cmdline"
printf 'MemTotal:        8029036 kB\nMemFree:          172536 kB\nSwapTotal:       4128764 kB\n' > "$pt/meminfo"
printf 'Defaults env_reset\nroot\tALL=(ALL:ALL) ALL\n%%wheel ALL=(ALL) ALL\nUser_Alias OPS = jurgen, #1001\nOPS ALL=(root) NOPASSWD: ALL\n#includedir /etc/sudoers.d\n' > "$pt/sudoers"
# --- network configuration: one file of each format, written here ---------------------------
nc=$corpus/network_config
printf 'DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=static\nIPADDR=192.0.2.10\nPREFIX=24\nGATEWAY=192.0.2.1\nDNS1=192.0.2.53\nIPV6INIT=yes\nIPV6ADDR="2001:db8::10/64"\n' > "$nc/ifcfg-eth0"
printf '10.10.0.0/16 via 192.0.2.254 dev eth0 metric 10\ndefault 192.0.2.1 - -\nADDRESS0=10.20.0.0\nNETMASK0=255.255.0.0\nGATEWAY0=192.0.2.253\n' > "$nc/routes"
printf 'source-directory /etc/network/interfaces.d\nauto lo eth0\niface lo inet loopback\niface eth0 inet static\n    address 192.0.2.10/24\n    gateway 192.0.2.1\n    dns-nameservers 192.0.2.53\n    up ip route add 10.30.0.0/16 via 192.0.2.252\niface eth0 inet6 auto\n' > "$nc/interfaces"
printf '[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\n\n[ethernet]\nmac-address=52:54:00:12:34:56\n\n[ipv4]\naddress1=192.0.2.10/24,192.0.2.1\ndns=192.0.2.53;\nroute1=10.40.0.0/16,192.0.2.251,5\nmethod=manual\n\n[ipv6]\nmethod=auto\n' > "$nc/eth0.nmconnection"
printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      match: {macaddress: "52:54:00:12:34:56"}\n      set-name: eth0\n      addresses: [192.0.2.10/24]\n      routes:\n        - to: default\n          via: 192.0.2.1\n      nameservers: {addresses: [192.0.2.53], search: [example.net]}\n  bonds:\n    bond0:\n      interfaces: [eth1, eth2]\n      dhcp4: true\n' > "$nc/netplan.yaml"
printf '[Match]\nName=eth*\nMACAddress=52:54:00:12:34:56\n\n[Network]\nAddress=192.0.2.10/24\nGateway=192.0.2.1\nDNS=192.0.2.53\nVLAN=vlan5\n\n[Route]\nDestination=10.50.0.0/16\nGateway=192.0.2.250\n\n[NetDev]\nName=vlan5\nKind=vlan\n' > "$nc/networkd.network"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\nMain:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.0.2.10\n        /32 host LOCAL\nfe800000000000000000000000000001 02 40 20 80     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000002 00000000 00000003     eth0\nnameserver 192.0.2.53\nsearch example.net\n' > "$nc/proc-net"

echo "seeds written to $corpus:"
find "$corpus" -type f -printf '%s\t%P\n' | sort -k2
