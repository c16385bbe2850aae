#!/usr/bin/env python3
"""Upload throughput on loopback: `livescan upload --from` (8 MiB chunks, each fsynced and
acknowledged) vs `curl -T` of the same export as one body, to the same receiver, in one run.

    bench/upload_compare.py [--mib 512] [--runs 3]

Never run in CI. Builds the release binaries if missing; writes
bench/results/upload-<date>.md.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.join(REPO, "target/release")
USER, PASSWORD = "bench@example.com", "bench-password"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", default="8M")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=REPO, check=True)
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
    try:
        for n in range(args.runs):
            t = time.monotonic()
            subprocess.run([f"{BIN}/livescan", "upload", "--url", url, "--user", USER,
                            "--name", f"bench{n}", "--from", export, "--chunk-size", args.chunk],
                           env=env, check=True,
                           stdout=subprocess.DEVNULL)
            ours.append(time.monotonic() - t)
            curl = ["curl", "-sS", "-u", f"{USER}:{PASSWORD}"]
            inst = json.loads(subprocess.run(curl + ["-X", "POST", "-H", "Content-Type: application/json",
                              "--data", json.dumps({"name": f"curl{n}", "overlayIncluded": True}),
                              f"{base}/scannedinstances"], capture_output=True, check=True).stdout)
            scan = json.loads(subprocess.run(curl + ["-X", "POST", "--data", "{}",
                              f"{base}/scannedinstances/{inst['dbId']}/scans"],
                              capture_output=True, check=True).stdout)
            t = time.monotonic()
            out = subprocess.run(curl + ["-X", "POST", "-T", export,
                                 f"{url}/{scan['overlayUri']}?crc={digest}"],
                                 capture_output=True, check=True).stdout
            theirs.append(time.monotonic() - t)
            assert json.loads(out)["status"]["complete"], out
    finally:
        rcv.kill()
    mo, mt = statistics.median(ours), statistics.median(theirs)
    date = datetime.date.today().isoformat()
    lines = [
        f"# Upload throughput on loopback, {date}",
        "",
        f"Export of {size} bytes ({args.mib} MiB of incompressible files), {args.runs} runs, median (min–max).",
        "Both end with the receiver verifying the whole export (BLAKE3 of every member).",
        "",
        "| client | seconds | MB/s | share of curl's throughput |",
        "|---|---|---|---|",
        f"| livescan upload --from ({args.chunk} chunks, fsync per chunk) | {mo:.2f} ({min(ours):.2f}–{max(ours):.2f}) | {size / mo / 1e6:.0f} | {mt / mo * 100:.0f} % |",
        f"| curl -T (one body) | {mt:.2f} ({min(theirs):.2f}–{max(theirs):.2f}) | {size / mt / 1e6:.0f} | 100 % |",
    ]
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"upload-{date}.md")
    open(path, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
