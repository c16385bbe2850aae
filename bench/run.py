#!/usr/bin/env python3
"""The benchmark entry point (issue 8). One invocation, one machine, side by side:

  host      full scan of this host: livescan first scan (empty verify cache), livescan
            rescan (cache from the run before), livescan --no-cache, `dpkg --verify`,
            `cruft-ng`, and dpkg --verify + cruft-ng run one after the other;
  bounds    MD5 throughput of one core (openssl speed), the hashing lower bound
            packaged bytes / (cores x MD5 throughput), livescan's walk phase, and the ratios;
  impact    page cache (/proc/meminfo Cached) before and after a scan, and the scan's CPU
            share with --jobs 1;
  trees     generated roots (bench/gen_tree.py): first scan, rescan, time and peak RSS per
            file count -> the scaling curve;
  cold      with --cold: the first scan again after `echo 3 > /proc/sys/vm/drop_caches`.
  export    `livescan export --root DIR` (--export DIR, default /usr/share) vs `dpkg --verify`
            + `cruft-ng` + `tar --xattrs --acls -I 'zstd -T0'` of the same member list.

Every measurement is the median of N runs with min/max: wall time, CPU time (user+sys of
the process tree) and peak RSS, each with the load average when it was taken (the machine
may be shared: compare CPU times). Writes bench/results/bench-<date>.md, .csv and a PNG of
the scaling curve (gnuplot). Never run from CI.

  sudo bench/run.py [--runs 3] [--binary PATH] [--tree DIR]... [--cold] [--skip-host]
                        [--export DIR] [--skip-export]
"""
import argparse
import csv
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MUSL = os.path.join(REPO, "target/x86_64-unknown-linux-musl/release/livescan")


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


def run_once(cmd, stdout=subprocess.DEVNULL):
    """(wall s, cpu s, peak RSS MiB, exit code, load average at the start)."""
    load = loadavg()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), load


def summarize(name, samples, extra=None):
    walls = [s[0] for s in samples]
    cpus = [s[1] for s in samples]
    row = {
        "what": name,
        "runs": len(samples),
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": statistics.median(cpus),
        "cpu_min": min(cpus),
        "cpu_max": max(cpus),
        "rss_max_mib": max(s[2] for s in samples),
        "load_avg": statistics.median(s[4] for s in samples),
        "rc": samples[-1][3],
    }
    row.update(extra or {})
    return row


def livescan_cmd(args, root, report, cache_dir, extra=()):
    cmd = [args.binary, "--config", "/dev/null", "scan", "--root", root, "--report", report,
           "--quiet", "--lock-file", os.path.join(args.work, "lock")]
    cmd += ["--no-cache"] if cache_dir is None else ["--cache-dir", cache_dir]
    if root != "/":
        cmd += ["--mountinfo", os.path.join(args.work, "mountinfo")]
    return cmd + list(extra)


def read_report(path):
    with open(path) as f:
        r = json.load(f)
    return r["totals"], r["timings"]


def scan_series(args, name, root, mode, runs, extra=()):
    """mode: 'first' (fresh cache each run), 'rescan' (cache primed), 'nocache'."""
    samples, reports = [], []
    for _ in range(runs):
        report = os.path.join(args.work, "report.json")
        if mode == "nocache":
            cache = None
        else:
            cache = tempfile.mkdtemp(dir=args.work, prefix="cache-")
            if mode == "rescan":
                run_once(livescan_cmd(args, root, report, cache, extra))
        samples.append(run_once(livescan_cmd(args, root, report, cache, extra)))
        reports.append(read_report(report))
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    totals, timings = reports[len(reports) // 2]
    walk = statistics.median(t["walk_s"] for _, t in reports)
    return summarize(name, samples, {
        "walk_s": walk,
        "hashed_bytes": totals["hashed_bytes"],
        "cached_bytes": totals.get("cached_bytes", 0),
        "entries": totals["walked_entries"],
    }), totals


def tool_series(name, cmd, runs):
    run_once(cmd)  # warm-up: page and dentry cache, as for livescan's own runs
    return summarize(name, [run_once(cmd) for _ in range(runs)])


def md5_mbs():
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "-bytes", "1048576", "-evp", "md5"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^md5\s+([\d.]+)k", out, re.M)
    return float(m.group(1)) * 1000 / 1e6 if m else None


def build_info(binary):
    f = subprocess.run(["file", "-b", binary], capture_output=True, text=True).stdout.strip()
    kind = "musl, static" if "static" in f else "glibc, dynamic"
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return f"{binary} ({kind}; commit {head})"


def meminfo_cached_mib():
    for line in open("/proc/meminfo"):
        if line.startswith("Cached:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fmt(row):
    rss = f"{row['rss_max_mib']:.0f}"
    return (f"| {row['what']} | {row['wall_median']:.2f} ({row['wall_min']:.2f}-{row['wall_max']:.2f}) "
            f"| {row['cpu_median']:.2f} ({row['cpu_min']:.2f}-{row['cpu_max']:.2f}) | {rss} "
            f"| {row['load_avg']:.1f} | {row['runs']} |")


HEAD = "| what | wall s, median (min-max) | CPU s, median (min-max) | peak RSS MiB | load avg | runs |\n|---|---|---|---|---|---|"


def plot(points, png, work):
    if not points or not shutil.which("gnuplot"):
        return False
    data = os.path.join(work, "scaling.dat")
    with open(data, "w") as f:
        for p in sorted(points, key=lambda p: p["files"]):
            f.write(f"{p['files']} {p['first_cpu']:.3f} {p['rescan_cpu']:.3f} {p['rss']:.1f}\n")
    script = f"""
set terminal png size 900,500
set output '{png}'
set title 'livescan on generated trees (CPU time and peak RSS by file count)'
set xlabel 'files'
set ylabel 'CPU seconds'
set y2label 'peak RSS MiB'
set y2tics
set key left top
set logscale x
plot '{data}' using 1:2 with linespoints title 'first scan CPU s', \\
     '{data}' using 1:3 with linespoints title 'rescan CPU s', \\
     '{data}' using 1:4 axes x1y2 with linespoints title 'peak RSS MiB'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    return os.path.exists(png)


def export_section(args):
    """export: `livescan export` vs the pipeline a user would script, `dpkg --verify` +
    `cruft-ng` + `tar --xattrs --acls -I 'zstd -T0 -3'`, tar packing the very member list
    livescan packed (read back from its manifest, as bench/export_compare.py does).
    Returns (rows, Markdown lines)."""
    from export_compare import manifest_paths
    root = os.path.abspath(args.export)
    out = os.path.join(args.work, "x.lsx")
    cmd = [args.binary, "--config", "/dev/null", "export", "-q", "-o", out, "--root", root,
           "--lock-file", os.path.join(args.work, "lock"), "--level", "3", "--no-cache"]
    if root != "/":
        cmd += ["--mountinfo", os.path.join(args.work, "mountinfo")]
    tar_out = os.path.join(args.work, "t.tar.zst")
    member_list = os.path.join(args.work, "members")
    tar = ["tar", "--xattrs", "--acls", "-I", "zstd -T0 -3", "-C", root, "--no-recursion",
           "--null", "-T", member_list, "-cf", tar_out]

    def once(c, output):
        if os.path.exists(output):
            os.unlink(output)
        s = run_once(c)
        size = os.path.getsize(output) if os.path.exists(output) else 0
        return s, size

    # Warm-up (page and dentry cache), and the member list tar gets.
    s, _ = once(cmd, out)
    if s[3] not in (0, 3):
        sys.exit(f"livescan export failed ({s[3]}): {' '.join(cmd)}")
    paths = manifest_paths(out)
    with open(member_list, "wb") as f:
        f.write(b"\0".join(p.encode() for p in paths) + b"\0")
    once(tar, tar_out)
    ls, ts = [], []
    for _ in range(args.runs):  # interleaved, so both see the same load
        ls.append(once(cmd, out))
        ts.append(once(tar, tar_out))
    lrow = summarize("livescan export (scan + pack + zstd, BLAKE3 manifest)", [x for x, _ in ls],
                     {"output_bytes": ls[-1][1], "members": len(paths)})
    trow = summarize("tar --xattrs --acls -I 'zstd -T0 -3', same members", [x for x, _ in ts],
                     {"output_bytes": ts[-1][1], "members": len(paths)})
    rows = [lrow, trow]
    pipeline = None
    if shutil.which("cruft-ng"):
        dv = tool_series("dpkg --verify", ["dpkg", "--verify"], args.runs)
        cr = tool_series("cruft-ng", ["cruft-ng"], args.runs)
        keys = ("wall_median", "wall_min", "wall_max", "cpu_median", "cpu_min", "cpu_max")
        pipeline = dict({k: dv[k] + cr[k] + trow[k] for k in keys},
                        what="dpkg --verify + cruft-ng + tar + zstd (one after the other)",
                        runs=args.runs, load_avg=(dv["load_avg"] + cr["load_avg"] + trow["load_avg"]) / 3,
                        rss_max_mib=max(dv["rss_max_mib"], cr["rss_max_mib"], trow["rss_max_mib"]), rc=0)
        rows += [dv, cr, pipeline]
    for r in rows:
        r["section"] = "export"
    md = [f"## Export (`--export {root}`: {len(paths):,} members, zstd level 3)", "", HEAD]
    md += [fmt(r) for r in rows] + [""]
    md += [f"Output: livescan {lrow['output_bytes']:,} bytes, tar + zstd {trow['output_bytes']:,} bytes.", ""]
    md += ["| ratio | wall | CPU |", "|---|---|---|"]
    for name, other in (("livescan export / tar + zstd", trow), ("livescan export / whole pipeline", pipeline)):
        if other:
            md.append(f"| {name} | {lrow['wall_median'] / other['wall_median']:.2f}x "
                      f"| {lrow['cpu_median'] / max(other['cpu_median'], 1e-9):.2f}x |")
    md.append("")
    if root != "/":
        md += [f"Under `--root {root}` there is no package database, so livescan packs every file "
               "(as unowned) and verifies none, while `dpkg --verify` and `cruft-ng` always check the "
               "whole host: the tar + zstd row is the like-for-like one; `--export /` compares whole "
               "pipelines.", ""]
    for p in (out, tar_out):
        if os.path.exists(p):
            os.unlink(p)
    return rows, md


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", default=MUSL if os.path.exists(MUSL) else os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--tree", action="append", default=[], help="generated root (bench/gen_tree.py)")
    ap.add_argument("--cold", action="store_true", help="also drop the page cache before a first scan")
    ap.add_argument("--skip-host", action="store_true")
    ap.add_argument("--export", default="/usr/share", metavar="DIR",
                    help="export section: livescan export of DIR vs dpkg --verify + cruft-ng + tar | zstd")
    ap.add_argument("--skip-export", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the tools must read every file")
    args.binary = os.path.abspath(args.binary)
    args.work = tempfile.mkdtemp(prefix="livescan-bench-")
    with open(os.path.join(args.work, "mountinfo"), "w") as f:
        f.write("27 1 254:0 / / rw - ext4 /dev/vda rw\n")
    cores = os.cpu_count()
    md = [f"# livescan benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
          f"- build measured: {build_info(args.binary)}",
          f"- machine: {cores} cores, {os.uname().release}; load average at start {loadavg():.1f} "
          "(shared with other builds when above ~1: compare CPU times, not wall times)",
          f"- runs per row: {args.runs} (median, min-max); warm cache unless marked cold", ""]
    rows = []
    mbs = md5_mbs()
    md.append(f"MD5, one core (openssl speed -evp md5, 1 MiB blocks): {mbs:.0f} MB/s" if mbs else "MD5: openssl speed failed")
    md.append("")

    if not args.skip_host:
        first, totals = scan_series(args, "livescan scan, first (empty cache)", "/", "first", args.runs)
        rescan, _ = scan_series(args, "livescan scan, rescan (verify cache)", "/", "rescan", args.runs)
        nocache, _ = scan_series(args, "livescan scan --no-cache", "/", "nocache", args.runs)
        host_rows = [first, rescan, nocache]
        dv = tool_series("dpkg --verify", ["dpkg", "--verify"], args.runs)
        host_rows.append(dv)
        cr = None
        if shutil.which("cruft-ng"):
            cr = tool_series("cruft-ng", ["cruft-ng"], args.runs)
            host_rows.append(cr)
            both = {k: dv[k] + cr[k] for k in ("wall_median", "wall_min", "wall_max", "cpu_median", "cpu_min", "cpu_max")}
            host_rows.append(dict(both, what="dpkg --verify + cruft-ng (one after the other)", runs=args.runs,
                                  rss_max_mib=max(dv["rss_max_mib"], cr["rss_max_mib"]),
                                  load_avg=(dv["load_avg"] + cr["load_avg"]) / 2, rc=0))
        rows += host_rows
        md += ["## Full host scan", "", HEAD] + [fmt(r) for r in host_rows] + [""]
        md.append(f"livescan walked {totals['walked_entries']:,} entries; hashed {totals['hashed_files']:,} files "
                  f"({totals['hashed_bytes'] / 1e9:.2f} GB); added {totals['added']:,}, modified {totals['modified']:,}, "
                  f"deleted {totals['deleted']:,}.")
        md.append("")
        ratios = [("dpkg --verify / livescan first scan", dv, first)]
        if cr:
            ratios.append(("(dpkg --verify + cruft-ng) / livescan first scan", host_rows[-1], first))
        ratios.append(("livescan first scan / rescan", first, rescan))
        md += ["| ratio | wall | CPU |", "|---|---|---|"]
        for name, a, b in ratios:
            md.append(f"| {name} | {a['wall_median'] / b['wall_median']:.1f}x | {a['cpu_median'] / max(b['cpu_median'], 1e-9):.1f}x |")
        md.append("")
        if mbs:
            bound = totals["hashed_bytes"] / (cores * mbs * 1e6)
            md += ["## Lower bounds", "",
                   f"- hashing bound: {totals['hashed_bytes'] / 1e9:.2f} GB / ({cores} x {mbs:.0f} MB/s) = {bound:.2f} s; "
                   f"first scan wall {first['wall_median']:.2f} s = {first['wall_median'] / bound:.2f}x the bound "
                   f"(--no-cache: {nocache['wall_median'] / bound:.2f}x)",
                   f"- walk phase (lstat of every entry, from the report's timings): first scan {first['walk_s']:.2f} s, "
                   f"rescan {rescan['walk_s']:.2f} s; rescan wall = {rescan['wall_median'] / max(rescan['walk_s'], 1e-9):.2f}x its walk", ""]
        # Host impact: page cache across one scan, and the CPU share of --jobs 1.
        before = meminfo_cached_mib()
        one = run_once(livescan_cmd(args, "/", os.path.join(args.work, "report.json"), None, ["--jobs", "1"]))
        after = meminfo_cached_mib()
        md += ["## Host impact", "",
               f"- page cache (/proc/meminfo Cached) across one `--no-cache --jobs 1` scan: {before:.0f} -> {after:.0f} MiB "
               f"({after - before:+.0f} MiB); files read are dropped after hashing unless they were cached before",
               f"- `--jobs 1`: wall {one[0]:.2f} s, CPU {one[1]:.2f} s = {100 * one[1] / one[0]:.0f} % of one core "
               f"of {cores} (load average {one[4]:.1f})", ""]
        if args.cold:
            subprocess.run(["sync"])
            open("/proc/sys/vm/drop_caches", "w").write("3\n")
            cold, _ = scan_series(args, "livescan scan, first, cold cache", "/", "first", 1)
            rows.append(cold)
            md += ["## Cold cache (drop_caches before the run)", "", HEAD, fmt(cold), ""]

    if not args.skip_export:
        export_rows, export_md = export_section(args)
        rows += export_rows
        md += export_md

    points = []
    if args.tree:
        md += ["## Generated trees (bench/gen_tree.py; half the files owned by a generated dpkg database)", "", HEAD]
        for tree in args.tree:
            tree = os.path.abspath(tree)
            first, totals = scan_series(args, f"first scan {os.path.basename(tree)}", tree, "first", args.runs)
            rescan, _ = scan_series(args, f"rescan {os.path.basename(tree)}", tree, "rescan", args.runs)
            for r in (first, rescan):
                r["files"] = totals["walked_entries"]
            rows += [first, rescan]
            md += [fmt(first), fmt(rescan)]
            points.append({"files": totals["walked_entries"], "first_cpu": first["cpu_median"],
                           "rescan_cpu": rescan["cpu_median"], "rss": max(first["rss_max_mib"], rescan["rss_max_mib"]),
                           "walk": first["walk_s"]})
        md += ["", "| entries | peak RSS MiB | bytes per entry | first CPU s | rescan CPU s | walk s |", "|---|---|---|---|---|---|"]
        for p in sorted(points, key=lambda p: p["files"]):
            md.append(f"| {p['files']:,} | {p['rss']:.0f} | {p['rss'] * 2**20 / p['files']:.0f} | {p['first_cpu']:.2f} "
                      f"| {p['rescan_cpu']:.2f} | {p['walk']:.2f} |")
        md.append("")

    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H%M")
    base = os.path.join(args.out, f"bench-{stamp}")
    if plot(points, base + ".png", args.work):
        md += [f"![scaling]({os.path.basename(base)}.png)", ""]
    with open(base + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    keys = sorted({k for r in rows for k in r})
    with open(base + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    shutil.rmtree(args.work, ignore_errors=True)
    print("\n".join(md))
    print(f"\nwritten: {base}.md, .csv" + (", .png" if points else ""))


if __name__ == "__main__":
    main()
