#!/usr/bin/env python3
"""Generate a synthetic root for the scaling bench: N files in directories of 1000, with
a dpkg database (one package per directory, `.list` + `.md5sums` computed here) owning a
share of them, so a scan both verifies packaged files and finds unowned ones.

  bench/gen_tree.py DEST --files 1000000 --profile small|mixed|large [--owned 0.5] [--progress]

Profiles (sizes of the files): small 0-4 KiB; mixed 95 % 0-4 KiB, 5 % 4-64 KiB; large
1 % of the files 1-16 MiB, the rest 0-4 KiB. Deterministic for a given seed. Refuses to
start when the estimated bytes or inodes do not fit in the free space of DEST with 20 % to
spare (bench/run.py checks the same before it calls this, with estimate() and inodes_needed()).
"""
import argparse
import hashlib
import os
import random
import shutil
import sys

PER_DIR = 1000
PROFILES = ("small", "mixed", "large")


def sizes(profile, rng):
    if profile == "small":
        return lambda: rng.randrange(0, 4097)
    if profile == "mixed":
        return lambda: rng.randrange(4096, 65537) if rng.random() < 0.05 else rng.randrange(0, 4097)
    if profile == "large":
        return lambda: rng.randrange(1 << 20, 16 << 20) if rng.random() < 0.01 else rng.randrange(0, 4097)
    raise SystemExit(f"unknown profile {profile}")


def estimate(profile, n):
    per_file = {"small": 2048 + 4096, "mixed": 0.95 * 6144 + 0.05 * 40000,
                "large": 0.99 * 6144 + 0.01 * (8.5 * 2**20)}[profile]
    return int(n * per_file + n * 256)


def inodes_needed(n):
    """Files, their directories (PER_DIR each, 100 per parent) and the dpkg database files."""
    dirs = (n + PER_DIR - 1) // PER_DIR
    return n + dirs + dirs // 100 + 2 * dirs + 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dest")
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--owned", type=float, default=0.5, help="share of files a package owns")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--progress", action="store_true", help="a line on stderr every 100 directories")
    a = ap.parse_args()
    if a.profile not in PROFILES:
        sys.exit(f"unknown profile {a.profile} (one of {', '.join(PROFILES)})")
    os.makedirs(a.dest, exist_ok=True)
    need = estimate(a.profile, a.files)
    free = shutil.disk_usage(a.dest).free
    if need * 1.2 > free:
        sys.exit(f"need ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free in {a.dest}: refusing")
    st = os.statvfs(a.dest)
    if st.f_files and inodes_needed(a.files) * 1.2 > st.f_favail:
        sys.exit(f"need ~{inodes_needed(a.files):,} inodes, {st.f_favail:,} free in {a.dest}: refusing")
    rng = random.Random(a.seed)
    blob = rng.randbytes(32 << 20)
    size = sizes(a.profile, rng)
    admin = os.path.join(a.dest, "var/lib/dpkg")
    info = os.path.join(admin, "info")
    os.makedirs(info, exist_ok=True)
    os.makedirs(os.path.join(admin, "updates"), exist_ok=True)
    status = []
    ndirs = (a.files + PER_DIR - 1) // PER_DIR
    made = 0
    for d in range(ndirs):
        if a.progress and d and d % 100 == 0:
            print(f"gen_tree: {made:,} of {a.files:,} files", file=sys.stderr, flush=True)
        rel_dir = f"srv/gen/d{d // 100:03d}/d{d:05d}"
        host_dir = os.path.join(a.dest, rel_dir)
        os.makedirs(host_dir, exist_ok=True)
        pkg = f"gen{d:05d}"
        listed, sums = [], []
        for i in range(min(PER_DIR, a.files - made)):
            n = size()
            off = rng.randrange(0, len(blob) - n) if n < len(blob) else 0
            data = blob[off:off + n]
            name = f"f{i:04d}.dat"
            with open(os.path.join(host_dir, name), "wb") as f:
                f.write(data)
            if rng.random() < a.owned:
                listed.append(f"/{rel_dir}/{name}")
                sums.append(f"{hashlib.md5(data).hexdigest()}  {rel_dir}/{name}")
            made += 1
        if listed:
            with open(os.path.join(info, pkg + ".list"), "w") as f:
                f.write("\n".join([f"/{rel_dir}"] + listed) + "\n")
            with open(os.path.join(info, pkg + ".md5sums"), "w") as f:
                f.write("\n".join(sums) + "\n")
            status.append(f"Package: {pkg}\nStatus: install ok installed\nPriority: optional\n"
                          f"Maintainer: bench <bench@example.com>\nArchitecture: all\n"
                          f"Version: 1.0\nDescription: generated\n")
    with open(os.path.join(admin, "status"), "w") as f:
        f.write("\n".join(status))
    print(f"{made} files in {ndirs} directories, {len(status)} packages under {a.dest}")


if __name__ == "__main__":
    main()
