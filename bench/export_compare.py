#!/usr/bin/env python3
"""Export throughput: `livescan export` vs GNU tar + zstd over the same file list, in one run.

    sudo bench/export_compare.py [--root DIR] [--runs N] [--binary PATH]

--root defaults to /usr/share: a tree without a package database, so livescan packs all of
it (as "unowned"). The file list tar gets is the one livescan packed (read back from the
export's manifest), so both pack exactly the same members. Both run warm-cache, N times;
the table reports the median wall time with min/max, CPU time, peak RSS, output size and
the ratio. Never run in CI. Writes bench/results/export-<date>.md and .csv.
"""
import argparse
import datetime
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run_measured(cmd, **kw):
    """Run cmd; return (wall s, cpu s, peak RSS MiB of the child, returncode, load average
    at the start: the machine may be shared, compare CPU times)."""
    load = os.getloadavg()[0]
    t = time.monotonic()
    p = subprocess.Popen(cmd, **kw)
    # wait4's usage covers the child and the children it waited for (tar's zstd): CPU of
    # the whole pipeline, and the largest peak RSS among them.
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), load


def manifest_paths(export):
    # Only the footer, trailer and manifest are read: a whole export in this process would
    # show up as the peak RSS of every child forked after it (ru_maxrss counts the image
    # before exec).
    with open(export, "rb") as f:
        f.seek(-8, os.SEEK_END)
        (trailer_off,) = struct.unpack("<Q", f.read(8))
        f.seek(trailer_off)
        head = f.read(8)
        ln = struct.unpack("<I", head[4:8])[0]
        trailer = json.loads(f.read(ln)[8:])
        m = trailer["manifest"]
        f.seek(m["offset"] + 16)
        raw = f.read(m["length"] - 16)
    text = subprocess.run(["zstd", "-dc"], input=raw, capture_output=True, check=True).stdout
    paths = []
    for line in text.splitlines():
        v = json.loads(line)
        if "type" in v and isinstance(v["path"], str):
            paths.append(v["path"])
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/usr/share")
    ap.add_argument("--runs", type=int, default=3)
    musl = os.path.join(REPO, "target/x86_64-unknown-linux-musl/release/livescan")
    # The shipped build is the static musl one: measure that when it is there.
    ap.add_argument("--binary", default=musl if os.path.exists(musl) else os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for the .md and .csv")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    work = tempfile.mkdtemp(prefix="livescan-bench-")
    mountinfo = os.path.join(work, "mountinfo")
    with open(mountinfo, "w") as f:
        f.write("27 1 254:0 / / rw - ext4 /dev/vda rw\n")
    cfg = os.path.join(work, "cfg.toml")
    open(cfg, "w").close()

    rows = {"livescan export": [], "tar + zstd -T0": []}
    sizes = {}
    paths = None
    for i in range(args.runs + 1):  # the first run warms the cache and is not counted
        out = os.path.join(work, f"x{i}.lsx")
        cmd = [args.binary, "--config", cfg, "export", "-q", "-o", out, "--root", args.root,
               "--mountinfo", mountinfo, "--lock-file", os.path.join(work, "lock"),
               "--level", str(args.level), "--no-cache"]
        wall, cpu, rss, rc, load = run_measured(cmd)
        if rc not in (0, 3):
            sys.exit(f"livescan export failed ({rc})")
        if paths is None:
            paths = manifest_paths(out)
            with open(os.path.join(work, "list"), "wb") as f:
                f.write(b"\0".join(p.encode() for p in paths) + b"\0")
        sizes["livescan export"] = os.path.getsize(out)
        os.unlink(out)
        tar_out = os.path.join(work, f"t{i}.tar.zst")
        tcmd = ["tar", "--xattrs", "--acls", "-I", f"zstd -T0 -{args.level}", "-C", args.root,
                "--no-recursion", "--null", "-T", os.path.join(work, "list"), "-cf", tar_out]
        twall, tcpu, trss, trc, tload = run_measured(tcmd, stderr=subprocess.DEVNULL)
        sizes["tar + zstd -T0"] = os.path.getsize(tar_out)
        os.unlink(tar_out)
        if i == 0:
            continue
        rows["livescan export"].append((wall, cpu, rss, load))
        rows["tar + zstd -T0"].append((twall, tcpu, trss, tload))

    date = datetime.date.today().isoformat()
    med = {k: statistics.median(r[0] for r in v) for k, v in rows.items()}
    med_cpu = {k: statistics.median(r[1] for r in v) for k, v in rows.items()}
    lines = [
        f"# Export throughput, {date}",
        "",
        f"Root `{args.root}`, {len(paths)} members, zstd level {args.level}, {args.runs} warm runs "
        f"(median, min–max), {os.cpu_count()} cores. Both pack the same member list.",
        "",
        "| tool | wall s (min–max) | CPU s (min–max) | peak RSS MiB | output bytes | load avg "
        "| wall ratio to tar | CPU ratio to tar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    csv = ["tool,run,wall_s,cpu_s,rss_mib,output_bytes,load_avg"]
    tar = "tar + zstd -T0"
    for k, v in rows.items():
        walls = [r[0] for r in v]
        cpus = [r[1] for r in v]
        rss = [r[2] for r in v if r[2] is not None]
        load = statistics.median(r[3] for r in v)
        lines.append(
            f"| {k} | {med[k]:.2f} ({min(walls):.2f}–{max(walls):.2f}) | {med_cpu[k]:.2f} "
            f"({min(cpus):.2f}–{max(cpus):.2f}) | {max(rss) if rss else float('nan'):.0f} | {sizes[k]} "
            f"| {load:.1f} | {med[k] / med[tar]:.2f} | {med_cpu[k] / med_cpu[tar]:.2f} |")
        for n, (w, c, r, la) in enumerate(v):
            csv.append(f"{k},{n},{w:.3f},{c:.3f},{r if r else ''},{sizes[k]},{la:.2f}")
    lines.append("")
    lines.append("livescan also hashes every member (BLAKE3, for the manifest) and writes the report.")
    os.makedirs(args.out, exist_ok=True)
    md = os.path.join(args.out, f"export-{date}.md")
    open(md, "w").write("\n".join(lines) + "\n")
    open(md[:-3] + ".csv", "w").write("\n".join(csv) + "\n")
    print("\n".join(lines))
    print(f"\nwritten: {md}")


if __name__ == "__main__":
    main()
