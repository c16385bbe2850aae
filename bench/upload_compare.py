#!/usr/bin/env python3
"""Upload throughput on loopback: `livescan upload --from` (8 MiB chunks, each fsynced and
acknowledged) vs `curl -T` of the same export as one body, to the same receiver, in one run.

    bench/upload_compare.py [--mib 512] [--runs 3] [--chunk 8M] [--bindir DIR] [--label TEXT]

Never run in CI. Builds the release binaries (unless --bindir names others, e.g. a build of
an older commit to compare against); prints and writes bench/results/upload-<date>.md:
wall time (median, min-max), CPU time of the client and of the receiver per run (medians),
and the load average before and after (the machine is shared).
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.join(REPO, "target/release")
USER, PASSWORD = "bench@example.com", "bench-password"


def proc_cpu(pid):
    """User + system CPU seconds of a running process so far."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd, env):
    """Run cmd; its user + system CPU seconds."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {p.returncode}")
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", default="8M")
    ap.add_argument("--bindir", default=None)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", default=None, help="results file (default bench/results/upload-<date>.md, appended)")
    args = ap.parse_args()
    global BIN
    if args.bindir:
        BIN = os.path.abspath(args.bindir)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=REPO, check=True)
    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="livescan-upload-bench-")
    root = os.path.join(work, "R", "srv")
    os.makedirs(root)
    for i in range(args.mib):
        with open(os.path.join(root, f"f{i:05}"), "wb") as f:
            f.write(os.urandom(1 << 20))
    open(os.path.join(work, "cfg.toml"), "w").close()
    with open(os.path.join(work, "mountinfo"), "w") as f:
        f.write("27 1 254:0 / / rw - ext4 /dev/vda rw\n")
    export = os.path.join(work, "x.lsx")
    subprocess.run([f"{BIN}/livescan", "--config", f"{work}/cfg.toml", "export", "-q", "-o", export,
                    "--root", f"{work}/R", "--mountinfo", f"{work}/mountinfo",
                    "--lock-file", f"{work}/lock"], check=True)
    size = os.path.getsize(export)
    digest = subprocess.run([f"{BIN}/livescan", "verify", export], capture_output=True,
                            text=True, check=True).stdout.split()[-1]
    data = os.path.join(work, "data")
    subprocess.run([f"{BIN}/livescan-receiver", "user", "add", USER, "--data", data],
                   input=PASSWORD + "\n", text=True, check=True)
    rcv = subprocess.Popen([f"{BIN}/livescan-receiver", "serve", "--listen", "127.0.0.1:0",
                            "--data", data], stdout=subprocess.PIPE, text=True)
    url = rcv.stdout.readline().split()[2]
    base = f"{url}/users/{USER.replace('@', '%40')}"
    env = dict(os.environ, LIVESCAN_PASSWORD=PASSWORD)
    ours, theirs = [], []
    cpu = {"ours": [], "theirs": [], "rcv_ours": [], "rcv_theirs": []}
    try:
        for n in range(args.runs):
            r0 = proc_cpu(rcv.pid)
            t = time.monotonic()
            secs = timed([f"{BIN}/livescan", "upload", "--url", url, "--user", USER,
                          "--name", f"bench{n}", "--from", export, "--chunk-size", args.chunk], env)
            ours.append(time.monotonic() - t)
            cpu["ours"].append(secs)
            cpu["rcv_ours"].append(proc_cpu(rcv.pid) - r0)
            curl = ["curl", "-sS", "-u", f"{USER}:{PASSWORD}"]
            inst = json.loads(subprocess.run(curl + ["-X", "POST", "-H", "Content-Type: application/json",
                              "--data", json.dumps({"name": f"curl{n}", "overlayIncluded": True}),
                              f"{base}/scannedinstances"], capture_output=True, check=True).stdout)
            scan = json.loads(subprocess.run(curl + ["-X", "POST", "--data", "{}",
                              f"{base}/scannedinstances/{inst['dbId']}/scans"],
                              capture_output=True, check=True).stdout)
            r0 = proc_cpu(rcv.pid)
            t = time.monotonic()
            out_path = os.path.join(work, "curl.out")
            secs = timed(curl + ["-o", out_path, "-X", "POST", "-T", export,
                                 f"{url}/{scan['overlayUri']}?crc={digest}"], env)
            theirs.append(time.monotonic() - t)
            cpu["theirs"].append(secs)
            cpu["rcv_theirs"].append(proc_cpu(rcv.pid) - r0)
            out = open(out_path, "rb").read()
            assert json.loads(out)["status"]["complete"], out
    finally:
        rcv.kill()
        rcv.wait()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    mo, mt = statistics.median(ours), statistics.median(theirs)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    date = datetime.date.today().isoformat()
    la = lambda l: " ".join(f"{x:.1f}" for x in l)
    lines = [
        f"## {args.label or 'run'} ({datetime.datetime.now(datetime.timezone.utc):%H:%M} UTC)",
        "",
        f"Export of {size} bytes ({args.mib} MiB of incompressible files), {args.runs} runs, median (min–max).",
        "Both end with the receiver verifying the whole export (BLAKE3 of every member).",
        f"Load average (1/5/15 min) before: {la(load_before)}, after: {la(load_after)}.",
        "",
        "| client | seconds | MB/s | share of curl's throughput | client CPU s | receiver CPU s |",
        "|---|---|---|---|---|---|",
        f"| livescan upload --from ({args.chunk} chunks, fsync per chunk) | {mo:.2f} ({min(ours):.2f}–{max(ours):.2f}) | {size / mo / 1e6:.0f} | {mt / mo * 100:.0f} % | {med['ours']:.2f} | {med['rcv_ours']:.2f} |",
        f"| curl -T (one body) | {mt:.2f} ({min(theirs):.2f}–{max(theirs):.2f}) | {size / mt / 1e6:.0f} | 100 % | {med['theirs']:.2f} | {med['rcv_theirs']:.2f} |",
        "",
        "Per run (livescan s / curl s): " + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(ours, theirs)),
        "",
    ]
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = args.out or os.path.join(HERE, "results", f"upload-{date}.md")
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
