#!/usr/bin/env python3
"""Side-by-side benchmark of a full host scan: livescan vs dpkg --verify vs cruft-ng.

Runs every tool N times in one invocation on this host (warm cache, after one warm-up run
each), and reports median wall time with min/max, CPU time (user+sys) and peak RSS of each,
plus the ratios, and livescan's distance to the MD5 lower bound:
    packaged bytes hashed / (cores x single-core MD5 throughput of the shipped digest code).
Writes bench/results/scan-<date>.md and .csv. Never run from CI.

Usage: bench/compare.py [--runs N] [--binary PATH] [--jobs N]
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run_once(cmd, stdout=subprocess.DEVNULL):
    """Run cmd; return (wall_s, cpu_s, maxrss_mib, returncode)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    cpu = ru.ru_utime + ru.ru_stime
    return wall, cpu, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def measure(name, cmd, runs):
    run_once(cmd)  # warm-up: page cache and dentry cache
    samples = [run_once(cmd) for _ in range(runs)]
    walls = [s[0] for s in samples]
    return {
        "tool": name,
        "cmd": " ".join(cmd),
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": statistics.median(s[1] for s in samples),
        "rss_max_mib": max(s[2] for s in samples),
        "rc": samples[-1][3],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the tools must read every file")
    if not os.path.exists(args.binary):
        subprocess.check_call(["cargo", "build", "--release"], cwd=REPO)
    subprocess.check_call(["cargo", "build", "--release", "--example", "md5_throughput"], cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    md5_mbs = float(subprocess.check_output([os.path.join(REPO, "target/release/examples/md5_throughput")]))

    report = "/tmp/livescan-bench-report.json"
    lock = "/tmp/livescan-bench.lock"
    results = [measure("livescan scan", [args.binary, "scan", "--report", report, "--quiet",
                                         "--lock-file", lock, "-j", str(args.jobs), "--no-cache"], args.runs)]
    with open(report) as f:
        rep = json.load(f)
    totals = rep["totals"]
    results.append(measure("dpkg --verify", ["dpkg", "--verify"], args.runs))
    if shutil.which("cruft"):
        results.append(measure("cruft-ng", ["cruft"], args.runs))
    ours = results[0]
    by = {r["tool"]: r for r in results}
    lower_bound = totals["hashed_bytes"] / (args.jobs * md5_mbs * 1e6)

    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    md = [f"# Full host scan, {stamp}",
          "",
          f"Host: {os.uname().nodename}, {os.cpu_count()} cores; binary `{args.binary}`; "
          f"{args.runs} runs after 1 warm-up (warm cache).",
          f"livescan walked {totals['walked_entries']:,} entries, hashed {totals['hashed_files']:,} files "
          f"({totals['hashed_bytes'] / 2**30:.2f} GiB); found {totals['added']:,} added, "
          f"{totals['modified']:,} modified, {totals['deleted']:,} deleted.",
          "",
          "| tool | wall median s | min | max | CPU s | peak RSS MiB | livescan speed-up |",
          "|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = r["wall_median"] / ours["wall_median"]
        md.append(f"| {r['tool']} | {r['wall_median']:.2f} | {r['wall_min']:.2f} | {r['wall_max']:.2f} | "
                  f"{r['cpu_median']:.2f} | {r['rss_max_mib']:.0f} | {ratio:.2f}x |")
    if "dpkg --verify" in by and "cruft-ng" in by:
        both = by["dpkg --verify"]["wall_median"] + by["cruft-ng"]["wall_median"]
        md.append("")
        md.append(f"dpkg --verify + cruft-ng one after the other: {both:.2f} s → livescan is "
                  f"{both / ours['wall_median']:.2f}x faster while doing strictly more.")
    md.append("")
    md.append(f"MD5 lower bound: {totals['hashed_bytes'] / 1e9:.2f} GB / ({args.jobs} cores x {md5_mbs:.0f} MB/s) "
              f"= {lower_bound:.2f} s; livescan is at {ours['wall_median'] / lower_bound:.2f}x the bound.")
    text = "\n".join(md) + "\n"
    base = os.path.join(HERE, "results", f"scan-{stamp}")
    with open(base + ".md", "w") as f:
        f.write(text)
    with open(base + ".csv", "w") as f:
        f.write("tool,wall_median_s,wall_min_s,wall_max_s,cpu_s,peak_rss_mib\n")
        for r in results:
            f.write(f"{r['tool']},{r['wall_median']:.3f},{r['wall_min']:.3f},{r['wall_max']:.3f},"
                    f"{r['cpu_median']:.3f},{r['rss_max_mib']:.1f}\n")
    print(text)


if __name__ == "__main__":
    main()
