"""Time `sentinel analyze` against `tshark -q -z conv,ip` on the same capture, in one run.

    python benchmarks/bench_capture.py [--packets 1000000] [--runs 3] [--file bench-data/cap_1M.pcap]

Generates the capture with gen_capture.py when it is missing. Each round runs both tools (round-robin, so machine
drift spreads over both), into a fresh SQLite store for Sentinel. Peak memory is the largest *sum* of RSS over the
whole process tree (Sentinel's workers included), sampled every 20 ms from /proc; this counts pages shared between
processes more than once, so it overstates rather than understates. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds, peak summed RSS (KiB) of the process tree, and the result.

    Output goes to temporary files, not pipes: a pipe nobody drains while we poll would block a tool that prints
    more than the pipe holds (analyze --json with many alerts does).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak = 0
        while proc.poll() is None:
            tree, todo = [], [proc.pid]
            while todo:
                p = todo.pop()
                tree.append(p)
                todo += _children(p)
            peak = max(peak, sum(_rss_kb(p) for p in tree))
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return wall, peak, subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file", type=Path, default=None)
    ap.add_argument("--no-detect", action="store_true", help="time `analyze --no-detect` (decode and store only)")
    a = ap.parse_args(argv)
    name = f"cap_{a.packets // 1_000_000}M.pcap" if a.packets % 1_000_000 == 0 else f"cap_{a.packets // 1000}k.pcap"
    cap = a.file or REPO / "bench-data" / name
    if not cap.exists():
        cap.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_capture.py"), str(cap), "--packets",
                        str(a.packets)], check=True)
    sentinel = [sys.executable, "-m", "sentinel.cli.main", "analyze", str(cap), "--json",
                *(["--no-detect"] if a.no_detect else [])]
    tshark = ["tshark", "-r", str(cap), "-q", "-z", "conv,ip"]
    results: dict[str, list[tuple[float, int]]] = {"sentinel": [], "tshark": []}
    packets = None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.runs):
            db = Path(tmp) / f"run{i}.db"
            env = {**os.environ, "SENTINEL_DB": f"sqlite:///{db}"}
            wall, peak, res = run_measured(sentinel, env)
            if res.returncode != 0:
                print(res.stderr.decode(errors="replace"), file=sys.stderr)
                return 1
            summary = json.loads(res.stdout)
            packets = summary["packets"]
            results["sentinel"].append((wall, peak))
            wall, peak, res = run_measured(tshark)
            if res.returncode != 0:
                print(res.stderr.decode(errors="replace"), file=sys.stderr)
                return 1
            results["tshark"].append((wall, peak))
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    peak = {k: max(p for _, p in v) for k, v in results.items()}
    print(f"capture: {cap} ({cap.stat().st_size:,} bytes, {packets:,} packets), {a.runs} rounds, medians")
    print(f"{'tool':<28}{'wall s':>9}{'min-max':>15}{'pkt/s':>12}{'peak MiB':>10}")
    for k, label in (("sentinel", "sentinel analyze (SQLite)"), ("tshark", "tshark -q -z conv,ip")):
        ws = [w for w, _ in results[k]]
        if k == "sentinel" and a.no_detect:
            label = "sentinel analyze --no-detect"
        print(f"{label:<28}{med[k]:>9.2f}{min(ws):>7.2f}-{max(ws):<7.2f}{packets / med[k]:>12,.0f}{peak[k] / 1024:>10.0f}")
    ratio = med["tshark"] / med["sentinel"]
    print(f"sentinel is {ratio:.2f}x the speed of tshark conv,ip")
    print(json.dumps({"packets": packets, "sentinel_s": med["sentinel"], "tshark_s": med["tshark"], "ratio": ratio,
                      "sentinel_peak_mib": peak["sentinel"] / 1024, "tshark_peak_mib": peak["tshark"] / 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
