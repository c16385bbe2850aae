#!/usr/bin/env python3
"""The benchmark entry point (issue 8). One invocation, one machine, side by side.

Sections (--sections, default all of them, in this order):

  host      full scan of this host: livescan first scan (empty verify cache), livescan
            rescan (cache from the run before), livescan --no-cache, `dpkg --verify`,
            `cruft-ng`, and dpkg --verify + cruft-ng run one after the other;
  bounds    the hashing lower bounds, packaged bytes / (cores x MD5 throughput): scalar
            (`openssl speed -multi CORES -evp md5`, and one core x cores) and multi-buffer
            (examples/md5_multi_throughput, the AVX2 8-lane MD5 the scan uses); the walk
            phase of the scans (the report's timings: there is no walk-only mode); our
            ratio to each;
  impact    page cache (/proc/meminfo Cached) before and after a scan; the scan's CPU and
            I/O share (its /proc/PID/io and getrusage against /proc/stat and /proc/diskstats
            over the same interval) with --jobs 1 and --jobs CORES;
  rpm       a real rpm root built here (rpmbuild + rpm --root, some files then modified,
            chmod-ed, deleted and added): livescan scan --root R vs `rpm --root R -Va` and
            vs the unowned-files pipeline a user would script (rpm -qa FILENAMES | sort,
            find | sort, comm -13), and rpm -Va + that pipeline;
  trees     generated roots (bench/gen_tree.py, --gen SIZE[:PROFILE], or --tree DIR for a
            tree generated before): first scan and rescan per file count -> the scaling
            table (time, CPU, RSS, bytes per entry), its CSV and a PNG chart (gnuplot).
  export    `livescan export --root DIR` (--export DIR, default /usr/share) vs `tar --xattrs
            --acls -I 'zstd -T0 -3'` of the same member list (also followed by `sync` of
            its output, the durability livescan's export has), and vs `dpkg --verify` +
            `cruft-ng` + that tar (the pipeline a user would script);

--cold adds, for host and trees, first scans right after `echo 3 > /proc/sys/vm/drop_caches`
(the output says so when drop_caches is not writable). Every measurement is the median of
N runs with min/max: wall time, CPU time (user+sys of the process tree) and peak RSS, each
with the load average when it was taken (the machine may be shared: compare CPU times).
Host scans exclude the bench's own work dir and the generated trees (-e), nothing else.
Writes bench/results/bench-<stamp>.md, .csv, -scaling.csv and a PNG of the scaling curve, and
points bench/results/LATEST.md at them. --quick (1 run, tiny trees and rpm root, results in a
temp dir, LATEST.md untouched) is for smoke tests. Never run from CI.

Duration of a full run on the 2-core dev VM (rough, from the 2026-12-01 measurements): the
host section ~12 scans of / plus 4 runs each of dpkg --verify and cruft-ng; the trees section
is dominated by generating them (gen_tree.py, I/O bound: ~17 min for 1 M files, so ~50 min for
3 M, ~18 GiB) and by the 1 M and 3 M scans (minutes each): plan on 2-3 hours; `--keep-trees
--gen-dir DIR` spares the generation on the next run.

  sudo bench/run.py [--runs 3] [--sections host,bounds,...] [--gen 1M[:small]]... [--cold]
  sudo bench/run.py --quick --sections rpm,trees
"""
import argparse
import csv
import datetime
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MUSL_TARGET = "x86_64-unknown-linux-musl"
MUSL = os.path.join(REPO, f"target/{MUSL_TARGET}/release/livescan")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ owned by root in the work tree
import gen_tree  # noqa: E402  (its size estimate decides whether a tree fits)

# The order sections run in: the host ones first, before this bench puts an rpm root and
# generated trees on the disk (they are excluded from host scans, but cruft-ng and
# dpkg --verify know nothing of excludes).
ORDER = ["host", "bounds", "impact", "rpm", "trees", "export"]
DEFAULT_GEN = ["100k:small", "1M:small", "3M:small", "100k:mixed", "100k:large"]
QUICK_GEN = ["2k:small", "5k:small", "2k:mixed", "1k:large"]
HEAD = ("| what | wall s, median (min-max) | CPU s, median (min-max) | peak RSS MiB | load avg | runs |\n"
        "|---|---|---|---|---|---|")


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


GNU_TIME = "/usr/bin/time"


def with_rss_probe(cmd, work):
    """cmd run under GNU time, which writes the peak RSS (KiB) to a file, and that file.
    Why: a child's ru_maxrss starts at the RSS of the process that forked it (Linux records
    the forked copy's high-water mark at exec), so measured from this Python process every
    tool would show at least Python's ~25 MiB; GNU time is a small parent."""
    if not os.path.exists(GNU_TIME):
        return cmd, None
    probe = os.path.join(work, "rss.txt")
    return [GNU_TIME, "-f", "%M", "-o", probe, "--"] + list(cmd), probe


def probed_rss_mib(probe, ru):
    if probe:
        try:
            with open(probe) as f:
                return int(f.read().split()[-1]) / 1024.0
        except (OSError, ValueError, IndexError):
            pass
    return ru.ru_maxrss / 1024.0


def run_once(cmd, work, stdout=subprocess.DEVNULL):
    """(wall s, cpu s, peak RSS MiB, exit code, load average at the start). CPU is user+sys of
    cmd and every child it waited for."""
    cmd, probe = with_rss_probe(cmd, work)
    load = loadavg()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    return wall, ru.ru_utime + ru.ru_stime, probed_rss_mib(probe, ru), os.waitstatus_to_exitcode(status), load


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


def sum_rows(name, a, b):
    """Two tools run one after the other: times add, the peak is the larger one."""
    both = {k: a[k] + b[k] for k in ("wall_median", "wall_min", "wall_max", "cpu_median", "cpu_min", "cpu_max")}
    return dict(both, what=name, runs=min(a["runs"], b["runs"]), rss_max_mib=max(a["rss_max_mib"], b["rss_max_mib"]),
                load_avg=(a["load_avg"] + b["load_avg"]) / 2, rc=max(a["rc"], b["rc"]))


def fmt(row):
    rss = f"{row['rss_max_mib']:.0f}"
    return (f"| {row['what']} | {row['wall_median']:.2f} ({row['wall_min']:.2f}-{row['wall_max']:.2f}) "
            f"| {row['cpu_median']:.2f} ({row['cpu_min']:.2f}-{row['cpu_max']:.2f}) | {rss} "
            f"| {row['load_avg']:.1f} | {row['runs']} |")


def ratio_lines(ratios):
    out = ["| ratio | wall | CPU |", "|---|---|---|"]
    for name, a, b in ratios:
        out.append(f"| {name} | {a['wall_median'] / max(b['wall_median'], 1e-9):.1f}x "
                   f"| {a['cpu_median'] / max(b['cpu_median'], 1e-9):.1f}x |")
    return out + [""]


class Bench:
    """What the sections share: options, the work dir, the rows for the CSV, the Markdown,
    and what one section measured that a later one uses (the host's totals for the bounds)."""

    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.cores = os.cpu_count()
        self.rows = []
        self.md = []
        self.cold_rows = []
        self.cold_notes = []
        self.host = None  # {"first", "rescan", "nocache", "totals"} once measured
        self.points = []  # scaling points of the trees section
        # Paths on the host that are this bench's, not the host's: never in a host scan.
        self.host_excludes = [self.work]


# ---------------------------------------------------------------------------------------
# livescan runs


def livescan_cmd(b, root, report, cache_dir, extra=()):
    cmd = [b.args.binary, "--config", "/dev/null", "scan", "--root", root, "--report", report,
           "--quiet", "--lock-file", os.path.join(b.work, "lock")]
    cmd += ["--no-cache"] if cache_dir is None else ["--cache-dir", cache_dir]
    if root == "/":
        for e in b.host_excludes:
            cmd += ["-e", e]
    else:
        cmd += ["--mountinfo", os.path.join(b.work, "mountinfo")]
    return cmd + list(extra)


def read_report(path, cmd, rc):
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        raise RuntimeError(f"no report from {' '.join(cmd)} (exit {rc}): {e}") from e
    return r["totals"], r["timings"]


def scan_series(b, name, root, mode, runs, extra=(), before=None):
    """mode: 'first' (fresh cache each run), 'rescan' (cache primed), 'nocache'.
    before: called right before each measured run (the cold sections drop the caches)."""
    samples, reports = [], []
    if mode == "first" and before is None and not b.args.quick and root == "/" and shutil.which("dpkg"):
        # Warm-up, as the peers get one. Not with livescan itself: it drops the files it
        # reads from the page cache unless they were cached before, so back-to-back livescan
        # runs each read from disk (bench-2026-12-02-0001: 5,005 MB from disk in "warm" rows)
        # while each peer's warm-up caches the files for its own runs. `dpkg --verify` reads
        # every packaged file, which puts all tools on the same warm cache.
        log(f"{name}: warm-up (dpkg --verify caches the packaged files)")
        run_once(["dpkg", "--verify"], work=b.work)
    for i in range(runs):
        log(f"{name}: run {i + 1}/{runs}")
        report = os.path.join(b.work, "report.json")
        if os.path.exists(report):
            os.unlink(report)
        if mode == "nocache":
            cache = None
        else:
            cache = tempfile.mkdtemp(dir=b.work, prefix="cache-")
            if mode == "rescan":
                run_once(livescan_cmd(b, root, report, cache, extra), work=b.work)
        if before:
            before()
        cmd = livescan_cmd(b, root, report, cache, extra)
        samples.append(run_once(cmd, work=b.work))
        reports.append(read_report(report, cmd, samples[-1][3]))
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    totals, _ = reports[len(reports) // 2]
    return summarize(name, samples, {
        "walk_s": statistics.median(t["walk_s"] for _, t in reports),
        "classify_s": statistics.median(t.get("classify_s", 0) for _, t in reports),
        "hashed_bytes": totals["hashed_bytes"],
        "cached_bytes": totals.get("cached_bytes", 0),
        "entries": totals["walked_entries"],
    }), totals


def tool_series(b, name, cmd, runs, warm=True, before=None, stdout_path=None):
    """A peer tool, N runs after one warm-up (page and dentry cache, as for livescan's own
    runs; none in --quick or when `before` makes the runs cold)."""
    if warm and not b.args.quick:
        log(f"{name}: warm-up")
        run_once(cmd, work=b.work)
    samples = []
    for i in range(runs):
        log(f"{name}: run {i + 1}/{runs}")
        if before:
            before()
        if stdout_path:
            with open(stdout_path, "wb") as out:
                samples.append(run_once(cmd, stdout=out, work=b.work))
        else:
            samples.append(run_once(cmd, work=b.work))
    return summarize(name, samples)


# ---------------------------------------------------------------------------------------
# cold cache


def drop_caches_unavailable():
    """None when the page cache can be dropped, else why not (opened, not written)."""
    try:
        with open("/proc/sys/vm/drop_caches", "w"):
            return None
    except OSError as e:
        return f"/proc/sys/vm/drop_caches is not writable here ({e.strerror}): no cold-cache numbers"


def drop_caches():
    subprocess.run(["sync"], check=False)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def cold_hook(b):
    """The `before` hook of cold runs, or None (with the reason noted once) when --cold is off
    or drop_caches is not writable."""
    if not b.args.cold:
        return None
    why = drop_caches_unavailable()
    if why:
        if why not in b.cold_notes:
            b.cold_notes.append(why)
        return None
    return drop_caches


# ---------------------------------------------------------------------------------------
# host


def section_host(b):
    args = b.args
    md = ["## Full host scan", "",
          f"Scanned: `/`, excluding only this bench's own files ({', '.join(f'`{e}`' for e in b.host_excludes)}).", ""]
    first, totals = scan_series(b, "livescan scan, first (empty cache)", "/", "first", args.runs)
    rescan, _ = scan_series(b, "livescan scan, rescan (verify cache)", "/", "rescan", args.runs)
    nocache, _ = scan_series(b, "livescan scan --no-cache", "/", "nocache", args.runs)
    b.host = {"first": first, "rescan": rescan, "nocache": nocache, "totals": totals}
    rows = [first, rescan, nocache]
    dv = tool_series(b, "dpkg --verify", ["dpkg", "--verify"], args.runs)
    rows.append(dv)
    cr = both = None
    if shutil.which("cruft-ng"):
        cr = tool_series(b, "cruft-ng", ["cruft-ng"], args.runs)
        both = sum_rows("dpkg --verify + cruft-ng (one after the other)", dv, cr)
        rows += [cr, both]
    b.host.update(dpkg_verify=dv, cruft_ng=cr)  # the export section's pipeline reuses them
    b.rows += rows
    md += [HEAD] + [fmt(r) for r in rows] + [""]
    if not cr:
        md += ["cruft-ng is not installed (`apt-get install -y cruft-ng`): no cruft-ng rows.", ""]
    md.append(f"livescan walked {totals['walked_entries']:,} entries; hashed {totals['hashed_files']:,} files "
              f"({totals['hashed_bytes'] / 1e9:.2f} GB); added {totals['added']:,}, modified {totals['modified']:,}, "
              f"deleted {totals['deleted']:,}.")
    md.append("")
    ratios = [("dpkg --verify / livescan first scan", dv, first)]
    if both:
        ratios.append(("(dpkg --verify + cruft-ng) / livescan first scan", both, first))
        ratios.append(("(dpkg --verify + cruft-ng) / livescan rescan", both, rescan))
    ratios.append(("livescan first scan / rescan", first, rescan))
    md += ratio_lines(ratios)

    hook = cold_hook(b)
    if hook:
        cold, _ = scan_series(b, "host: livescan scan, first, cold cache", "/", "first", args.runs, before=hook)
        cold_dv = tool_series(b, "host: dpkg --verify, cold cache", ["dpkg", "--verify"], args.runs, warm=False,
                              before=hook)
        b.cold_rows += [cold, cold_dv]
        if cr:
            cold_cr = tool_series(b, "host: cruft-ng, cold cache", ["cruft-ng"], args.runs, warm=False, before=hook)
            b.cold_rows += [cold_cr, sum_rows("host: dpkg --verify + cruft-ng, cold cache", cold_dv, cold_cr)]
    b.md += md


# ---------------------------------------------------------------------------------------
# lower bounds


def openssl_md5_mbs(seconds, multi=None):
    """MB/s of `openssl speed -evp md5` on 1 MiB blocks; with multi, the sum over that many
    processes (one per core: the scalar bound of the whole machine)."""
    cmd = ["openssl", "speed", "-seconds", str(seconds), "-bytes", "1048576"]
    if multi:
        cmd += ["-multi", str(multi)]
    out = subprocess.run(cmd + ["-evp", "md5"], capture_output=True, text=True).stdout
    m = re.search(r"^md5\s+([\d.]+)k", out, re.M)
    return float(m.group(1)) * 1000 / 1e6 if m else None


def md5_multi_example(b):
    """examples/md5_multi_throughput next to the measured binary (built by prepare())."""
    return os.path.join(os.path.dirname(b.args.binary), "examples", "md5_multi_throughput")


def md5_multi_mbs(b):
    """The multi-buffer MD5's own throughput, MB/s of thread CPU time on one core:
    {'scalar', 'kernel', 'scheduler', 'mixed', 'engine'}, or None (with why)."""
    exe = md5_multi_example(b)
    if not os.path.exists(exe):
        return None, f"{exe} is missing (`cargo build --release --example md5_multi_throughput`)"
    out = subprocess.run([exe, "1" if b.args.quick else "5"], capture_output=True, text=True).stdout
    got = {}
    for key, pat in (("scalar", r"^scalar md-5.*?([\d.]+) MB/s"),
                     ("kernel", r"kernel, 8 lanes in L2:\s+([\d.]+) MB/s"),
                     ("scheduler", r"scheduler, 8 x 128 MiB streams:\s+([\d.]+) MB/s"),
                     ("mixed", r"^20000 streams.*, \S+ \S+ ([\d.]+) MB/s \(")):
        m = re.search(pat, out, re.M)
        if m:
            got[key] = float(m.group(1))
    m = re.search(r"^(\S+ x\d+) scheduler", out, re.M)
    got["engine"] = m.group(1) if m else "?"
    if "scheduler" not in got:
        return None, f"{exe} measured no multi-buffer engine (no AVX2?): {out.strip().splitlines()[-2:]}"
    return got, None


def section_bounds(b):
    args = b.args
    secs = 1 if args.quick else 3
    if b.host is None:
        # The bounds are about a host scan: measure one when the host section did not run.
        first, totals = scan_series(b, "livescan scan, first (empty cache)", "/", "first", 1)
        rescan, _ = scan_series(b, "livescan scan, rescan (verify cache)", "/", "rescan", 1)
        b.rows += [first, rescan]
        b.host = {"first": first, "rescan": rescan, "nocache": None, "totals": totals}
    first, rescan, nocache = b.host["first"], b.host["rescan"], b.host["nocache"]
    hashed = b.host["totals"]["hashed_bytes"]
    log("bounds: openssl speed")
    one = openssl_md5_mbs(secs)
    multi = openssl_md5_mbs(secs, b.cores)
    log("bounds: md5_multi_throughput")
    mb, why = md5_multi_mbs(b)
    md = ["## Lower bounds", "",
          f"Packaged bytes hashed by the first scan: {hashed / 1e9:.2f} GB on {b.cores} cores. "
          "A bound in wall seconds assumes every core hashes all the time; the CPU column compares "
          "the scan's CPU time with the CPU seconds of hashing alone (fairer on a loaded machine).", "",
          "| bound | MD5 throughput | bound wall s | first scan wall / bound | --no-cache wall / bound "
          "| bound CPU s | first scan CPU / bound CPU |",
          "|---|---|---|---|---|---|---|"]

    def bound_row(name, per_core_mbs, total_mbs):
        wall_bound = hashed / (total_mbs * 1e6)
        cpu_bound = hashed / (per_core_mbs * 1e6)
        nc = f"{nocache['wall_median'] / wall_bound:.2f}x" if nocache else "-"
        md.append(f"| {name} | {per_core_mbs:.0f} MB/s per core, {total_mbs:.0f} MB/s total | {wall_bound:.2f} "
                  f"| {first['wall_median'] / wall_bound:.2f}x | {nc} | {cpu_bound:.2f} "
                  f"| {first['cpu_median'] / cpu_bound:.2f}x |")
        b.rows.append({"what": f"bound: {name}", "wall_median": wall_bound, "cpu_median": cpu_bound,
                       "mbs_per_core": per_core_mbs, "mbs_total": total_mbs, "hashed_bytes": hashed})

    if one:
        bound_row("scalar, `openssl speed -evp md5` on one core x cores", one, one * b.cores)
    if multi:
        bound_row(f"scalar, `openssl speed -multi {b.cores} -evp md5` (all cores at once)", multi / b.cores, multi)
    if mb:
        bound_row(f"multi-buffer, {mb['engine']} through its lane scheduler (examples/md5_multi_throughput)",
                  mb["scheduler"], mb["scheduler"] * b.cores)
    md.append("")
    if not (one or multi):
        md += ["`openssl speed` failed: no scalar bound.", ""]
    if mb:
        md.append(f"examples/md5_multi_throughput, one thread, MB/s of thread CPU time: scalar md-5 "
                  f"{mb.get('scalar', 0):.0f}, {mb['engine']} kernel alone (lanes in L2) {mb.get('kernel', 0):.0f}, "
                  f"through the scheduler (8 x 128 MiB) {mb['scheduler']:.0f}, 20,000 streams of 1 B-4 MiB "
                  f"{mb.get('mixed', 0):.0f}. The multi-buffer bound uses the scheduler figure: the fastest "
                  "that includes copying the data into the lanes, as reading files does.")
    else:
        md.append(f"No multi-buffer bound: {why}. The scalar bounds above are the only ones.")
    md += ["",
           "Walk (no walk-only mode exists: the report's `timings.walk_s`, the phase that lstats every entry):", "",
           "| scan | wall s | walk s | wall / walk |", "|---|---|---|---|"]
    for r in (first, rescan):
        md.append(f"| {r['what']} | {r['wall_median']:.2f} | {r['walk_s']:.2f} "
                  f"| {r['wall_median'] / max(r['walk_s'], 1e-9):.2f}x |")
    md.append("")
    b.md += md


# ---------------------------------------------------------------------------------------
# host impact


def meminfo_cached_mib():
    for line in open("/proc/meminfo"):
        if line.startswith("Cached:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_busy_s():
    """Busy CPU seconds of the whole host so far (all cores; /proc/stat, idle and iowait out)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def disk_bytes():
    """(read, written) bytes of every whole disk so far (/proc/diskstats, 512-byte sectors)."""
    disks = {d for d in os.listdir("/sys/block") if not d.startswith(("loop", "ram", "zram"))}
    rd = wr = 0
    for line in open("/proc/diskstats"):
        f = line.split()
        if f[2] in disks:
            rd += int(f[5]) * 512
            wr += int(f[9]) * 512
    return rd, wr


def proc_io(pid):
    out = {}
    for line in open(f"/proc/{pid}/io"):
        k, v = line.split(":")
        out[k] = int(v)
    return out


def run_with_io(cmd, work):
    """Run cmd; its wall, CPU, RSS, /proc/PID/io read when it has exited but is not yet
    reaped (waitid WNOWAIT: the counters of all its threads), getrusage block counts, and the
    host's busy CPU and disk bytes over the same interval."""
    cached0, busy0, disk0, t0 = meminfo_cached_mib(), cpu_busy_s(), disk_bytes(), time.monotonic()
    load = loadavg()
    cmd, probe = with_rss_probe(cmd, work)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    try:
        io = proc_io(p.pid)
    except OSError:
        io = {}
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    busy1, disk1, cached1 = cpu_busy_s(), disk_bytes(), meminfo_cached_mib()
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": probed_rss_mib(probe, ru), "load": load,
            "rc": os.waitstatus_to_exitcode(status), "inblock": ru.ru_inblock, "oublock": ru.ru_oublock,
            "rchar": io.get("rchar", 0), "read_bytes": io.get("read_bytes", 0),
            "write_bytes": io.get("write_bytes", 0), "host_busy": busy1 - busy0,
            "disk_read": disk1[0] - disk0[0], "disk_written": disk1[1] - disk0[1],
            "cached_before": cached0, "cached_after": cached1}


def impact_row(b, label, runs):
    """One Markdown row (and one CSV row) from the medians of run_with_io results."""
    r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
    machine = r["cpu"] / max(r["wall"] * b.cores, 1e-9)
    busy = r["cpu"] / max(r["host_busy"], 1e-9)
    disk_share = f"{100 * r['read_bytes'] / r['disk_read']:.0f} %" if r["disk_read"] else "- (no disk reads)"
    b.rows.append({"what": f"impact --no-cache --jobs {label}", "runs": len(runs), "wall_median": r["wall"],
                   "cpu_median": r["cpu"], "rss_max_mib": max(x["rss"] for x in runs), "load_avg": r["load"],
                   **{k: r[k] for k in ("rchar", "read_bytes", "write_bytes", "inblock", "oublock", "host_busy",
                                        "disk_read", "cached_before", "cached_after")}})
    return (f"| {label} | {r['wall']:.2f} | {r['cpu']:.2f} | {100 * machine:.0f} % ({100 * r['cpu'] / r['wall']:.0f} % "
            f"of one core) | {100 * min(busy, 1):.0f} % | {r['rchar'] / 1e9:.2f} | {r['read_bytes'] / 1e6:.0f} "
            f"(inblock {r['inblock'] * 512 / 1e6:.0f}) | {disk_share} | {r['write_bytes'] / 1e6:.0f} "
            f"| {r['cached_before']:.0f} -> {r['cached_after']:.0f} ({r['cached_after'] - r['cached_before']:+.0f}) "
            f"| {r['load']:.1f} | {len(runs)} |")


def section_impact(b):
    args = b.args
    md = ["## Host impact", "",
          "`livescan scan --no-cache` of the host (every packaged file read) with --jobs 1 and "
          f"--jobs {b.cores}. CPU share: the scan's CPU time over wall x cores, and over all the host's busy CPU in "
          "the same interval (/proc/stat). I/O: bytes the scan read through syscalls (rchar) and from disk "
          "(read_bytes of /proc/PID/io; getrusage inblock x 512 agrees), and its share of all disk reads in "
          "the interval (/proc/diskstats). Page cache: /proc/meminfo Cached before and after.", "",
          "| jobs | wall s | CPU s | CPU share of the machine | share of the host's busy CPU | read via syscalls GB "
          "| read from disk MB | share of disk reads | written MB | page cache before -> after MiB | load avg | runs |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    hook = cold_hook(b)
    modes = [("warm", None)] + ([("cold", hook)] if hook else [])
    for mode, before in modes:
        for jobs in sorted({1, b.cores}):
            runs = []
            for i in range(args.runs):
                log(f"impact --jobs {jobs} ({mode}): run {i + 1}/{args.runs}")
                if before:
                    before()
                runs.append(run_with_io(livescan_cmd(b, "/", os.path.join(b.work, "report.json"), None,
                                                     ["--jobs", str(jobs)]), b.work))
            md.append(impact_row(b, f"{jobs}{', cold cache' if before else ''}", runs))
    md += ["", "On a warm page cache the disk columns are small (what other processes evicted); with `--cold` the "
           "cold rows show reading from disk. The page cache should not grow by the bytes read: files the scan "
           "reads are dropped after hashing unless they were cached before (the growth left is the report "
           "written, the database and metadata).", ""]
    b.md += md


# ---------------------------------------------------------------------------------------
# rpm root


RPM_DB = ["--dbpath", "/var/lib/rpm"]
# The unowned files a user of an rpm system would script: every path in the database, every
# path on disk, the difference. $1 = root, $2 = output file.
UNOWNED_SH = r"""
set -e
rpm --root "$1" --dbpath /var/lib/rpm -qa --qf '[%{FILENAMES}\n]' | LC_ALL=C sort -u > "$2.owned"
(cd "$1" && find . -xdev -mindepth 1 | sed 's|^\.||') | LC_ALL=C sort > "$2.all"
LC_ALL=C comm -13 "$2.owned" "$2.all" > "$2"
"""


def rpm_run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def build_rpm_root(b, nfiles, npkgs):
    """Build npkgs packages of nfiles files in all (log-uniform sizes 64 B-256 KiB, as real
    packages have many small files and a few large ones) with rpmbuild, install them with
    rpm --root into a fresh root, then change it as a used system is: ~1 % of the files
    modified, 0.5 % chmod-ed, 0.5 % deleted, one config file edited, and unowned files added
    (5 % as many as packaged). Returns (root, what was done)."""
    rng = random.Random(8)
    top = os.path.join(b.work, "rpmbuild")
    src = os.path.join(b.work, "rpm-src")
    root = os.path.join(b.work, "rpm-root")
    for d in ("SPECS", "BUILD", "BUILDROOT", "RPMS", "SOURCES"):
        os.makedirs(os.path.join(top, d), exist_ok=True)
    blob = rng.randbytes(1 << 20)
    per_pkg = max(3, nfiles // npkgs)
    spec = ["Name: lsbench", "Version: 1.0", "Release: 1", "Summary: livescan bench", "License: MIT",
            "BuildArch: noarch", "AutoReqProv: no", "", "%description", "livescan bench packages.", "",
            "%install", "mkdir -p %{buildroot}", f"cp -a {src}/. %{{buildroot}}/", ""]
    total_bytes = 0
    regular = []
    for p in range(npkgs):
        name = f"lsbench-p{p:03d}"
        base = f"/opt/lsbench/p{p:03d}"
        listed = [f"{base}", f"%config(noreplace) /etc/lsbench/p{p:03d}.conf",
                  f"%doc /usr/share/doc/{name}/README"]
        os.makedirs(os.path.join(src, "etc/lsbench"), exist_ok=True)
        with open(os.path.join(src, f"etc/lsbench/p{p:03d}.conf"), "w") as f:
            f.write(f"# {name}\nsetting = {p}\n")
        os.makedirs(os.path.join(src, f"usr/share/doc/{name}"), exist_ok=True)
        with open(os.path.join(src, f"usr/share/doc/{name}/README"), "w") as f:
            f.write(f"{name}: generated by bench/run.py\n")
        for i in range(per_pkg - 2):
            rel = f"{base}/d{i // 100:02d}/f{i:05d}.dat"
            path = os.path.join(src, rel.lstrip("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            n = int(2 ** rng.uniform(6, 18))
            off = rng.randrange(0, len(blob) - n)
            with open(path, "wb") as f:
                f.write(blob[off:off + n])
            if i % 7 == 0:
                os.chmod(path, 0o755)
            total_bytes += n
            regular.append(rel)
        os.symlink("d00/f00000.dat", os.path.join(src, base.lstrip("/"), "current"))
        spec += [f"%package -n {name}", f"Summary: {name}", "", f"%description -n {name}", f"{name}.", "",
                 f"%files -n {name}", "%defattr(-,root,root,-)"] + listed + [""]
    spec_path = os.path.join(top, "SPECS", "lsbench.spec")
    with open(spec_path, "w") as f:
        f.write("\n".join(spec) + "\n")
    log(f"rpm: rpmbuild of {npkgs} packages, {len(regular) + 2 * npkgs} files, {total_bytes / 1e6:.0f} MB")
    t0 = time.monotonic()
    rpm_run(["rpmbuild", "--define", f"_topdir {top}", "--define", "_build_id_links none",
             "--define", "debug_package %{nil}", "--define", "__os_install_post %{nil}",
             "--define", "_binary_payload w1.gzdio", "-bb", spec_path])
    build_s = time.monotonic() - t0
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\n")
    rpm_run(["rpm", "--root", root] + RPM_DB + ["--initdb"])
    rpms = sorted(os.path.join(top, "RPMS/noarch", x) for x in os.listdir(os.path.join(top, "RPMS/noarch")))
    t0 = time.monotonic()
    rpm_run(["rpm", "--root", root] + RPM_DB + ["--nodeps", "--force-debian", "-i"] + rpms)
    install_s = time.monotonic() - t0
    shutil.rmtree(src)
    # A used system: distinct files for each change.
    picks = rng.sample(regular, max(3, len(regular) * 2 // 100))
    third = len(picks) // 2
    modified, chmodded, deleted = picks[:third], picks[third:third + len(picks) // 4], picks[third + len(picks) // 4:]
    for rel in modified:
        with open(os.path.join(root, rel.lstrip("/")), "ab") as f:
            f.write(b"local change\n")
    for rel in chmodded:
        os.chmod(os.path.join(root, rel.lstrip("/")), 0o600)
    for rel in deleted:
        os.unlink(os.path.join(root, rel.lstrip("/")))
    with open(os.path.join(root, "etc/lsbench/p000.conf"), "a") as f:
        f.write("local = yes\n")
    added = max(1, len(regular) // 20)
    os.makedirs(os.path.join(root, "srv/data"), exist_ok=True)
    os.makedirs(os.path.join(root, "var/log/lsbench"), exist_ok=True)
    for i in range(added):
        d = "srv/data" if i % 2 else "var/log/lsbench"
        with open(os.path.join(root, d, f"local{i:05d}"), "wb") as f:
            f.write(blob[i:i + 1 + i % 4096])
    return root, {"packages": len(rpms), "files": len(regular) + 2 * npkgs, "bytes": total_bytes,
                  "modified": len(modified) + 1, "chmodded": len(chmodded), "deleted": len(deleted),
                  "added": added, "build_s": build_s, "install_s": install_s}


def section_rpm(b):
    args = b.args
    md = ["## rpm root (`livescan scan --root R` vs `rpm --root R -Va`)", ""]
    missing = [t for t in ("rpm", "rpmbuild") if not shutil.which(t)]
    if missing:
        b.md += md + [f"Skipped: {' and '.join(missing)} not installed (`apt-get install -y rpm`).", ""]
        return
    nfiles, npkgs = (600, 6) if args.quick and args.rpm_files is None else (args.rpm_files or 4000, args.rpm_packages)
    root, done = build_rpm_root(b, nfiles, npkgs)
    va = ["rpm", "--root", root] + RPM_DB + ["-Va", "--nodeps"]
    va_out = os.path.join(b.work, "rpm-va.txt")
    unowned_out = os.path.join(b.work, "rpm-unowned.txt")
    first, totals = scan_series(b, "rpm root: livescan scan, first (empty cache)", root, "first", args.runs)
    rescan, _ = scan_series(b, "rpm root: livescan scan, rescan (verify cache)", root, "rescan", args.runs)
    nocache, _ = scan_series(b, "rpm root: livescan scan --no-cache", root, "nocache", args.runs)
    rv = tool_series(b, "rpm root: rpm -Va --nodeps", va, args.runs, stdout_path=va_out)
    un = tool_series(b, "rpm root: unowned files (rpm -qa FILENAMES, find, sort, comm -13)",
                     ["sh", "-c", UNOWNED_SH, "sh", root, unowned_out], args.runs)
    both = sum_rows("rpm root: rpm -Va + unowned files (one after the other)", rv, un)
    rows = [first, rescan, nocache, rv, un, both]
    b.rows += rows
    va_lines = sum(1 for line in open(va_out, "rb") if line.strip())
    un_lines = sum(1 for line in open(unowned_out, "rb") if line.strip())
    md += [f"The root: {done['packages']} packages built here with rpmbuild ({done['build_s']:.0f} s) and installed "
           f"with `rpm --root` ({done['install_s']:.0f} s): {done['files']:,} files, {done['bytes'] / 1e6:.0f} MB "
           "(sha256 file digests, rpm's default), then "
           f"{done['modified']} files modified, {done['chmodded']} chmod-ed, {done['deleted']} deleted and "
           f"{done['added']} unowned files added.", "", HEAD] + [fmt(r) for r in rows] + [""]
    ours = totals["modified"] + totals["deleted"]

    def same(a, c):
        return "equal" if a == c else "**they differ**"

    md.append(f"Found: `rpm -Va` printed {va_lines:,} lines; livescan reported {totals['modified']:,} modified + "
              f"{totals['deleted']:,} deleted = {ours:,} ({same(va_lines, ours)}; tests/rpm_root.rs compares "
              f"the two line by line). The unowned pipeline printed {un_lines:,} paths (directories no package "
              f"lists included); livescan reported {totals['added']:,} added, with categories "
              f"({same(un_lines, totals['added'])}). livescan walked {totals['walked_entries']:,} entries and hashed "
              f"{totals['hashed_bytes'] / 1e6:.0f} MB.")
    md.append("")
    md += ratio_lines([("rpm -Va / livescan first scan", rv, first),
                       ("(rpm -Va + unowned files) / livescan first scan", both, first),
                       ("livescan first scan / rescan", first, rescan)])
    b.md += md
    shutil.rmtree(os.path.join(b.work, "rpmbuild"), ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# generated trees


def parse_gen(spec):
    """'100k', '1M:mixed', '3000000:large' -> (files, profile)."""
    size, _, profile = spec.partition(":")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", size)
    if not m:
        raise argparse.ArgumentTypeError(f"{spec}: SIZE is a count with an optional k or M (100k, 1M)")
    n = int(float(m.group(1)) * {"": 1, "k": 1000, "m": 1000000}[m.group(2).lower()])
    profile = profile or "small"
    if profile not in gen_tree.PROFILES:
        raise argparse.ArgumentTypeError(f"{spec}: profile is one of {', '.join(gen_tree.PROFILES)}")
    return n, profile


def short_count(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def gen_space_problem(dest_parent, files, profile):
    """None when a tree fits in dest_parent, else why not (with what it needs)."""
    need = gen_tree.estimate(profile, files)
    st = os.statvfs(dest_parent)
    free = st.f_bavail * st.f_frsize
    inodes = gen_tree.inodes_needed(files)
    if need * 1.2 > free:
        return (f"needs ~{need / 2**30:.1f} GiB (+20 % margin), {free / 2**30:.1f} GiB free in {dest_parent}")
    if st.f_files and inodes * 1.2 > st.f_favail:
        return f"needs ~{inodes:,} inodes (+20 %), {st.f_favail:,} free in {dest_parent}"
    return None


def generate(b, files, profile):
    """A tree made here, or reused from --gen-dir when --keep-trees left one with the same
    parameters: (dir, seconds it took to generate or None when reused, None), or
    (None, None, why not) when there is no room to generate it. A kept tree is not checked
    for room: it already takes it (the check refused a kept 3 M-file tree for its own bytes)."""
    tree = os.path.join(b.args.gen_dir, f"{short_count(files)}-{profile}")
    marker = tree + ".json"
    params = {"files": files, "profile": profile, "seed": 1}
    if os.path.isdir(tree) and os.path.exists(marker):
        with open(marker) as f:
            if json.load(f) == params:
                log(f"trees: reusing {tree}")
                return tree, None, None
    why = gen_space_problem(b.args.gen_dir, files, profile)
    if why:
        return None, None, why
    shutil.rmtree(tree, ignore_errors=True)
    log(f"trees: generating {files:,} files ({profile}) in {tree}")
    t0 = time.monotonic()
    subprocess.run([sys.executable, os.path.join(HERE, "gen_tree.py"), tree, "--files", str(files),
                    "--profile", profile, "--progress"], check=True, stdout=subprocess.DEVNULL)
    with open(marker, "w") as f:
        json.dump(params, f)
    return tree, time.monotonic() - t0, None


def scan_tree(b, tree, label, profile, files):
    args = b.args
    first, totals = scan_series(b, f"{label}: first scan", tree, "first", args.runs)
    rescan, _ = scan_series(b, f"{label}: rescan", tree, "rescan", args.runs)
    for r in (first, rescan):
        r["files"] = totals["walked_entries"]
        r["profile"] = profile
    b.rows += [first, rescan]
    point = {"label": label, "profile": profile, "files": files or totals["walked_entries"],
             "entries": totals["walked_entries"], "first_wall": first["wall_median"], "first_cpu": first["cpu_median"],
             "rescan_wall": rescan["wall_median"], "rescan_cpu": rescan["cpu_median"],
             "rss": max(first["rss_max_mib"], rescan["rss_max_mib"]), "walk": first["walk_s"],
             "hashed_mb": totals["hashed_bytes"] / 1e6, "cold_wall": None, "cold_cpu": None}
    hook = cold_hook(b)
    if hook:
        cold, _ = scan_series(b, f"{label}: first scan, cold cache", tree, "first", args.runs, before=hook)
        cold["files"] = totals["walked_entries"]
        b.cold_rows.append(cold)
        point["cold_wall"], point["cold_cpu"] = cold["wall_median"], cold["cpu_median"]
    b.points.append(point)
    return [fmt(first), fmt(rescan)]


def section_trees(b):
    """With --trees-image, the trees live on a filesystem image mounted at --gen-dir only for
    this section: the host section's peers (cruft-ng, dpkg --verify) take no excludes and
    would otherwise walk millions of generated files that are not part of the host."""
    args = b.args
    if not args.trees_image:
        return section_trees_mounted(b)
    subprocess.run(["mount", "-o", "loop", args.trees_image, args.gen_dir], check=True)
    try:
        return section_trees_mounted(b)
    finally:
        subprocess.run(["umount", args.gen_dir], check=False)


def section_trees_mounted(b):
    args = b.args
    gens = args.gen or ([] if args.tree else [parse_gen(g) for g in (QUICK_GEN if args.quick else DEFAULT_GEN)])
    md = ["## Generated trees (bench/gen_tree.py; half the files owned by a generated dpkg database)", "",
          "Profiles: small = files of 0-4 KiB; mixed = 95 % 0-4 KiB, 5 % 4-64 KiB; large = 1 % of 1-16 MiB, the "
          "rest 0-4 KiB. dpkg and cruft-ng have nothing to say about a generated tree: the curve is ours alone.", "",
          HEAD]
    notes = []
    for files, profile in gens:
        label = f"{short_count(files)} {profile}"
        tree, gen_s, why = generate(b, files, profile)
        if why:
            notes.append(f"- {label}: skipped, {why}.")
            continue
        need = f"~{gen_tree.estimate(profile, files) / 2**30:.1f} GiB estimated"
        used = subprocess.run(["du", "-s", "-B1", tree], capture_output=True, text=True).stdout.split()
        used = f", {int(used[0]) / 2**30:.2f} GiB on disk (du)" if used else ""
        notes.append(f"- {label}: " + (f"generated in {gen_s:.0f} s" if gen_s is not None else "reused")
                     + f" ({need}{used}; {tree}).")
        md += scan_tree(b, tree, label, profile, files)
        if not args.keep_trees:
            shutil.rmtree(tree, ignore_errors=True)
            os.unlink(tree + ".json")
    for tree in args.tree:
        tree = os.path.abspath(tree)
        md += scan_tree(b, tree, os.path.basename(tree), "given", None)
    md += [""] + notes + ([""] if notes else [])
    md += ["| tree | entries | first scan wall s | first CPU s | rescan wall s | rescan CPU s | peak RSS MiB "
           "| bytes per entry | walk s | hashed MB | cold first wall s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in sorted(b.points, key=lambda p: (p["profile"], p["entries"])):
        cold = f"{p['cold_wall']:.2f}" if p["cold_wall"] is not None else "-"
        md.append(f"| {p['label']} | {p['entries']:,} | {p['first_wall']:.2f} | {p['first_cpu']:.2f} "
                  f"| {p['rescan_wall']:.2f} | {p['rescan_cpu']:.2f} | {p['rss']:.0f} "
                  f"| {p['rss'] * 2**20 / p['entries']:.0f} | {p['walk']:.2f} | {p['hashed_mb']:.0f} | {cold} |")
    md.append("")
    b.md += md


def write_scaling_csv(points, path):
    keys = ["label", "profile", "files", "entries", "first_wall", "first_cpu", "rescan_wall", "rescan_cpu", "rss",
            "walk", "hashed_mb", "cold_wall", "cold_cpu"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys + ["bytes_per_entry"])
        w.writeheader()
        for p in sorted(points, key=lambda p: (p["profile"], p["entries"])):
            w.writerow({**{k: p[k] for k in keys}, "bytes_per_entry": round(p["rss"] * 2**20 / p["entries"])})


def plot(points, png, work):
    """CPU time (first scan, rescan) and peak RSS against the file count, one line each per
    profile. False when gnuplot is missing or made nothing."""
    if not points or not shutil.which("gnuplot"):
        return False
    plots = []
    for profile in sorted({p["profile"] for p in points}):
        data = os.path.join(work, f"scaling-{profile}.dat")
        with open(data, "w") as f:
            for p in sorted((p for p in points if p["profile"] == profile), key=lambda p: p["entries"]):
                f.write(f"{p['entries']} {p['first_cpu']:.3f} {p['rescan_cpu']:.3f} {p['rss']:.1f}\n")
        plots += [f"'{data}' using 1:2 with linespoints title '{profile}: first scan CPU s'",
                  f"'{data}' using 1:3 with linespoints title '{profile}: rescan CPU s'",
                  f"'{data}' using 1:4 axes x1y2 with linespoints dashtype 2 title '{profile}: peak RSS MiB'"]
    script = f"""
set terminal png size 1000,560
set output '{png}'
set title 'livescan on generated trees: CPU time and peak RSS by entries walked (log-log: slope 1 = linear growth)'
set xlabel 'entries'
set ylabel 'CPU seconds'
set y2label 'peak RSS MiB'
set y2tics
set ytics nomirror
set key below
set logscale x
set logscale y
set logscale y2
plot {", ".join(plots)}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    return os.path.exists(png)


# ---------------------------------------------------------------------------------------
# the run




def build_info(binary):
    f = subprocess.run(["file", "-b", binary], capture_output=True, text=True).stdout.strip()
    kind = "musl, static" if "static" in f else "glibc, dynamic"
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{binary} ({kind}; commit {head}{', with uncommitted changes' if dirty else ''})"


def prepare(b, sections):
    """Before any measurement: the multi-buffer MD5 example the bounds need, built for the
    same target as the measured binary when it is missing (so the build never overlaps a run)."""
    if "bounds" in sections and not os.path.exists(md5_multi_example(b)) and shutil.which("cargo"):
        target = MUSL_TARGET if f"/{MUSL_TARGET}/" in b.args.binary else None
        log("building examples/md5_multi_throughput")
        subprocess.run(["cargo", "build", "--release", "--locked", "--example", "md5_multi_throughput"]
                       + (["--target", target] if target else []), cwd=REPO, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def update_latest(out, base, md_head):
    with open(os.path.join(out, "LATEST.md"), "w") as f:
        name = os.path.basename(base)
        f.write(f"# Latest benchmark results\n\n[{name}.md]({name}.md) (data: [{name}.csv]({name}.csv)"
                f"{f', scaling: [{name}-scaling.csv]({name}-scaling.csv)' if os.path.exists(base + '-scaling.csv') else ''})"
                f", written by `bench/run.py`.\n\n" + "\n".join(md_head) + "\n")


def export_section(b):
    """export: `livescan export` vs the pipeline a user would script, `dpkg --verify` +
    `cruft-ng` + `tar --xattrs --acls -I 'zstd -T0 -3'`, tar packing the very member list
    livescan packed (read back from its manifest, as bench/export_compare.py does).
    Returns (rows, Markdown lines)."""
    from export_compare import manifest_paths
    args = b.args
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
    # livescan export returns with its output on disk (written back as it goes, fsync at the
    # end); tar returns with it in the page cache, written back by the kernel after tar has
    # exited, outside its wall and CPU time. `sync FILE` (coreutils: fsync) makes the two alike.
    tar_sync = ["sh", "-c", shlex.join(tar) + " && sync " + shlex.quote(tar_out)]

    def once(c, output):
        if os.path.exists(output):
            os.unlink(output)
        s = run_once(c, work=b.work)
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
    ls, ts, tss = [], [], []
    for _ in range(args.runs):  # interleaved, so all see the same load
        ls.append(once(cmd, out))
        ts.append(once(tar, tar_out))
        tss.append(once(tar_sync, tar_out))
    lrow = summarize("livescan export (scan + pack + zstd, BLAKE3 manifest)", [x for x, _ in ls],
                     {"output_bytes": ls[-1][1], "members": len(paths)})
    trow = summarize("tar --xattrs --acls -I 'zstd -T0 -3', same members", [x for x, _ in ts],
                     {"output_bytes": ts[-1][1], "members": len(paths)})
    tsrow = summarize("the same tar, then `sync` of its output (on disk, as livescan's)",
                      [x for x, _ in tss], {"output_bytes": tss[-1][1], "members": len(paths)})
    rows = [lrow, trow, tsrow]
    pipeline = None
    if shutil.which("cruft-ng"):
        # The host section measured them already in this run: reuse, do not re-measure.
        dv = (b.host or {}).get("dpkg_verify") or tool_series(b, "dpkg --verify", ["dpkg", "--verify"], args.runs)
        cr = (b.host or {}).get("cruft_ng") or tool_series(b, "cruft-ng", ["cruft-ng"], args.runs)
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
    for name, other in (("livescan export / tar + zstd", trow),
                        ("livescan export / tar + zstd + sync (same durability)", tsrow),
                        ("livescan export / whole pipeline", pipeline)):
        if other:
            md.append(f"| {name} | {lrow['wall_median'] / other['wall_median']:.2f}x "
                      f"| {lrow['cpu_median'] / max(other['cpu_median'], 1e-9):.2f}x |")
    md.append("")
    if root != "/":
        md += [f"Under `--root {root}` there is no package database, so livescan packs every file "
               "(as unowned) and verifies none, while `dpkg --verify` and `cruft-ng` always check the "
               "whole host: the tar + zstd rows are the like-for-like ones (with `sync`, the same durability: "
               "livescan's output is on disk when it exits); `--export /` compares whole "
               "pipelines.", ""]
    for p in (out, tar_out):
        if os.path.exists(p):
            os.unlink(p)
    b.rows += rows
    b.md += md


SECTIONS = {"host": section_host, "bounds": section_bounds, "impact": section_impact, "rpm": section_rpm,
            "trees": section_trees, "export": export_section}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=None, help="runs per row (default 3; 1 with --quick)")
    ap.add_argument("--sections", default=",".join(ORDER),
                    help=f"comma-separated, run in this order whatever the order given: {','.join(ORDER)}")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 run, no warm-ups, tiny trees and rpm root, results in a temp dir")
    ap.add_argument("--binary", default=MUSL if os.path.exists(MUSL) else os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--gen", action="append", default=[], type=parse_gen, metavar="SIZE[:PROFILE]",
                    help="generate a tree of SIZE files (100k, 1M; profile small|mixed|large, default small); "
                    f"repeatable; default {' '.join(DEFAULT_GEN)} unless --tree is given")
    ap.add_argument("--gen-dir", help="where generated trees go (default: the bench's work dir)")
    ap.add_argument("--trees-image", help="a filesystem image holding --gen-dir's trees, mounted there "
                    "(loop) only during the trees section")
    ap.add_argument("--keep-trees", action="store_true",
                    help="keep generated trees in --gen-dir and reuse them on the next run")
    ap.add_argument("--tree", action="append", default=[], help="a root generated before (bench/gen_tree.py)")
    ap.add_argument("--rpm-files", type=int, help="files in the rpm root (default 4000; 600 with --quick)")
    ap.add_argument("--rpm-packages", type=int, default=None, help="packages in the rpm root (default 40)")
    ap.add_argument("--cold", action="store_true", help="also first scans right after dropping the page cache")
    ap.add_argument("--skip-host", action="store_true", help="the same as leaving host out of --sections")
    ap.add_argument("--out", help="results directory (default bench/results; a temp dir with --quick)")
    ap.add_argument("--export", default="/usr/share", metavar="DIR",
                    help="export section: livescan export of DIR vs dpkg --verify + cruft-ng + tar | zstd")
    args = ap.parse_args()
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section {', '.join(unknown)} (known: {', '.join(ORDER)})")
    if args.skip_host and "host" in sections:
        sections.remove("host")
    sections = [s for s in ORDER if s in sections]
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.rpm_packages is None:
        args.rpm_packages = 6 if args.quick and args.rpm_files is None else 40
    if os.geteuid() != 0:
        sys.exit("run as root: the tools must read every file")
    args.binary = os.path.abspath(args.binary)
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary}: no such binary (cargo build --release --target {MUSL_TARGET})")
    if args.keep_trees and not args.gen_dir:
        ap.error("--keep-trees needs --gen-dir (the default is inside the work dir, removed at the end)")
    args.work = tempfile.mkdtemp(prefix="livescan-bench-")
    args.gen_dir = os.path.abspath(args.gen_dir or os.path.join(args.work, "gen"))
    os.makedirs(args.gen_dir, exist_ok=True)
    out = args.out or (tempfile.mkdtemp(prefix="livescan-bench-quick-") if args.quick else os.path.join(HERE, "results"))
    with open(os.path.join(args.work, "mountinfo"), "w") as f:
        f.write("27 1 254:0 / / rw - ext4 /dev/vda rw\n")
    b = Bench(args)
    if args.gen_dir not in b.host_excludes and not args.gen_dir.startswith(args.work + "/"):
        b.host_excludes.append(args.gen_dir)
    b.host_excludes += [os.path.abspath(t) for t in args.tree if os.path.abspath(t) != "/"]
    prepare(b, sections)

    head = [f"# livescan benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
            + (" (--quick smoke run: 1 run, tiny inputs; not results)" if args.quick else ""), "",
            f"- build measured: {build_info(args.binary)}",
            f"- machine: {b.cores} cores, {os.uname().release}; load average at start {loadavg():.1f} "
            "(shared with other builds when above ~1: compare CPU times, not wall times)",
            f"- sections: {', '.join(sections)}; runs per row: {args.runs} (median, min-max); warm cache "
            "(one warm-up run of each peer tool) unless marked cold", ""]
    b.md += head
    try:
        for name in sections:
            log(f"section {name}")
            try:
                SECTIONS[name](b)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                # One broken section must not lose the numbers of the others (a full run takes hours).
                log(f"section {name} failed: {e}")
                b.md += [f"## Section {name} failed", "", "```", str(e), "```", ""]
    except KeyboardInterrupt:
        b.md += [f"**Interrupted during section {name}**: the sections before it are complete.", ""]

    if args.cold:
        b.md += ["## Cold cache (`echo 3 > /proc/sys/vm/drop_caches` before each run)", ""]
        if b.cold_rows:
            b.md += [HEAD] + [fmt(r) for r in b.cold_rows] + [""]
            b.rows += b.cold_rows
        b.md += b.cold_notes + ([""] if b.cold_notes else [])
        if not b.cold_rows and not b.cold_notes:
            b.md += ["No section with cold runs (host, trees) was selected.", ""]

    os.makedirs(out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H%M")
    base = os.path.join(out, f"bench-{stamp}")
    written = [base + ".md", base + ".csv"]
    if b.points:
        write_scaling_csv(b.points, base + "-scaling.csv")
        written.append(base + "-scaling.csv")
        if plot(b.points, base + ".png", args.work):
            b.md += [f"![scaling]({os.path.basename(base)}.png) (data: "
                     f"[{os.path.basename(base)}-scaling.csv]({os.path.basename(base)}-scaling.csv))", ""]
            written.append(base + ".png")
        else:
            b.md += ["No PNG: gnuplot is missing (`apt-get install -y gnuplot-nox`).", ""]
    with open(base + ".md", "w") as f:
        f.write("\n".join(b.md) + "\n")
    keys = sorted({k for r in b.rows for k in r})
    with open(base + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(b.rows)
    if not args.quick:
        update_latest(out, base, head[2:4])
        written.append(os.path.join(out, "LATEST.md"))
    shutil.rmtree(args.work, ignore_errors=True)
    print("\n".join(b.md))
    print("\nwritten: " + ", ".join(written))


if __name__ == "__main__":
    main()
