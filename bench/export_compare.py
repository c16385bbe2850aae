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
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run_measured(cmd, **kw):
    """Run cmd; return (wall s, cpu s, peak RSS MiB of the child, returncode)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    p = subprocess.run(cmd, **kw)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measure each tool in its
    # own process tree via /usr/bin/time when available for a per-run figure.
    return wall, cpu, after.ru_maxrss / 1024, p.returncode


def time_v(cmd):
    """Per-run peak RSS through GNU time, if installed."""
    if not os.path.exists("/usr/bin/time"):
        return None
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    try:
        return int(out.stderr.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return None


def manifest_paths(export):
    data = open(export, "rb").read()
    (trailer_off,) = struct.unpack("<Q", data[-8:])
    ln = struct.unpack("<I", data[trailer_off + 4:trailer_off + 8])[0]
    trailer = json.loads(data[trailer_off + 16:trailer_off + 8 + ln])
    m = trailer["manifest"]
    raw = data[m["offset"] + 16:m["offset"] + m["length"]]
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
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/livescan"))
    ap.add_argument("--level", type=int, default=3)
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
        wall, cpu, _, rc = run_measured(cmd)
        if rc not in (0, 3):
            sys.exit(f"livescan export failed ({rc})")
        rss = time_v(cmd[:6] + [out + ".rss"] + cmd[7:])
        if os.path.exists(out + ".rss"):
            os.unlink(out + ".rss")
        if paths is None:
            paths = manifest_paths(out)
            with open(os.path.join(work, "list"), "wb") as f:
                f.write(b"\0".join(p.encode() for p in paths) + b"\0")
        sizes["livescan export"] = os.path.getsize(out)
        os.unlink(out)
        tar_out = os.path.join(work, f"t{i}.tar.zst")
        tcmd = ["tar", "--xattrs", "--acls", "-I", f"zstd -T0 -{args.level}", "-C", args.root,
                "--no-recursion", "--null", "-T", os.path.join(work, "list"), "-cf", tar_out]
        twall, tcpu, _, trc = run_measured(tcmd, stderr=subprocess.DEVNULL)
        trss = time_v(tcmd[:-1] + [tar_out + ".rss"])
        for p in (tar_out + ".rss",):
            if os.path.exists(p):
                os.unlink(p)
        sizes["tar + zstd -T0"] = os.path.getsize(tar_out)
        os.unlink(tar_out)
        if i == 0:
            continue
        rows["livescan export"].append((wall, cpu, rss))
        rows["tar + zstd -T0"].append((twall, tcpu, trss))

    date = datetime.date.today().isoformat()
    med = {k: statistics.median(w for w, _, _ in v) for k, v in rows.items()}
    lines = [
        f"# Export throughput, {date}",
        "",
        f"Root `{args.root}`, {len(paths)} members, zstd level {args.level}, {args.runs} warm runs "
        f"(median, min–max), {os.cpu_count()} cores. Both pack the same member list.",
        "",
        "| tool | wall s (min–max) | CPU s | peak RSS MiB | output bytes | ratio to tar |",
        "|---|---|---|---|---|---|",
    ]
    csv = ["tool,run,wall_s,cpu_s,rss_mib,output_bytes"]
    for k, v in rows.items():
        walls = [w for w, _, _ in v]
        cpus = statistics.median(c for _, c, _ in v)
        rss = [r for _, _, r in v if r is not None]
        lines.append(
            f"| {k} | {med[k]:.2f} ({min(walls):.2f}–{max(walls):.2f}) | {cpus:.2f} | "
            f"{max(rss) if rss else float('nan'):.0f} | {sizes[k]} | {med[k] / med['tar + zstd -T0']:.2f} |")
        for n, (w, c, r) in enumerate(v):
            csv.append(f"{k},{n},{w:.3f},{c:.3f},{r if r else ''},{sizes[k]}")
    lines.append("")
    lines.append("livescan also hashes every member (BLAKE3, for the manifest) and writes the report.")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    md = os.path.join(HERE, "results", f"export-{date}.md")
    open(md, "w").write("\n".join(lines) + "\n")
    open(md[:-3] + ".csv", "w").write("\n".join(csv) + "\n")
    print("\n".join(lines))
    print(f"\nwritten: {md}")


if __name__ == "__main__":
    main()
