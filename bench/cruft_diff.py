#!/usr/bin/env python3
"""Compare livescan's unowned (`added`) and `deleted` sets with cruft-ng's on this host and
sort every difference into a class, so each class can be explained (docs/cruft-ng.md).

Usage: bench/cruft_diff.py [--binary PATH] [--report FILE]   (as root)
"""
import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# cruft-ng never looks below these (hard-coded in cruft.cc), and updatedb prunes these.
CRUFT_SKIPS = ("/dev", "/home", "/mnt", "/root", "/tmp")


def updatedb_prunepaths():
    try:
        for line in open("/etc/updatedb.conf"):
            if line.startswith("PRUNEPATHS="):
                return tuple(line.split("=", 1)[1].strip().strip('"').split())
    except OSError:
        pass
    return ()


def under(path, prefixes):
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def cruft_sets():
    out = subprocess.run(["cruft"], capture_output=True, text=True, errors="surrogateescape").stdout
    section, missing, unexplained = None, set(), set()
    for line in out.splitlines():
        if line.startswith("---- missing"):
            section = missing
        elif line.startswith("---- unexplained"):
            section = unexplained
        elif line.startswith("        ") and section is not None:
            p = line.strip()
            p = p.split(" (Bug:")[0]
            section.add(p)
    return missing, unexplained


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--report", default="/tmp/livescan-cruft-report.json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    subprocess.run([args.binary, "scan", "--report", args.report, "--quiet",
                    "--lock-file", "/tmp/livescan-cruft.lock"], check=False)
    rep = json.load(open(args.report))
    ours_added, ours_deleted, cat = set(), set(), {}
    for f in rep["files"]:
        p = f["path"] if isinstance(f["path"], str) else None
        if p is None:
            continue
        if f["change"] == "added":
            ours_added.add(p)
            cat[p] = f.get("category")
        elif f["change"] == "deleted":
            ours_deleted.add(p)
    skipped = [m["mount_point"] for m in rep["mounts"]["skipped"] if isinstance(m["mount_point"], str)]
    c_missing, c_unexplained = cruft_sets()
    prune = updatedb_prunepaths()

    classes = collections.Counter()
    examples = collections.defaultdict(list)

    def note(cls, p):
        classes[cls] += 1
        if len(examples[cls]) < 3:
            examples[cls].append(p)

    for p in sorted(ours_added - c_unexplained):
        if under(p, CRUFT_SKIPS):
            note("ours only: below a directory cruft-ng never scans (/home /root /tmp /dev /mnt)", p)
        elif prune and under(p, prune):
            note("ours only: below an updatedb PRUNEPATH", p)
        elif cat.get(p) not in (None, "unowned"):
            note(f"ours only: filtered by cruft-ng rules/explain scripts; ours reports it as `{cat[p]}`", p)
        elif os.path.isdir(p) and not os.path.islink(p):
            note("ours only: a directory cruft-ng explains (ruleset glob or parent rule)", p)
        else:
            note("ours only: unowned, filtered by a cruft-ng rule or explain script", p)
    for p in sorted(c_unexplained - ours_added):
        if under(p, skipped):
            note("cruft only: below a mount livescan skips (pseudo/network/bind)", p)
        elif os.path.realpath(p) != p:
            note("cruft only: path through a symlinked directory (we report the canonical path)", p)
        elif not os.path.lexists(p):
            note("cruft only: vanished between the runs", p)
        else:
            note("cruft only: owned in livescan's view (alternatives, diversion or canonicalisation)", p)
    for p in sorted(c_missing ^ ours_deleted):
        side = "cruft" if p in c_missing else "ours"
        note(f"missing, {side} only", p)

    print(f"livescan: {len(ours_added):,} added, {len(ours_deleted):,} deleted; "
          f"cruft-ng: {len(c_unexplained):,} unexplained, {len(c_missing):,} missing; "
          f"common unowned: {len(ours_added & c_unexplained):,}")
    for cls, n in classes.most_common():
        print(f"{n:>9,}  {cls}")
        for e in examples[cls]:
            print(f"           e.g. {e}")


if __name__ == "__main__":
    main()
