"""Time `sentinel analyze` against `tshark -q -z conv,ip` on the same capture, in one run.

    python benchmarks/bench_capture.py [--packets 1000000] [--runs 3] [--mix dense|city] [--file F.pcap] [--no-detect]

Generates the capture with gen_capture.py when it is missing: bench-data/cap_1M.pcap for the default `dense` mix,
bench-data/cap_1M_city.pcap for `--mix city` (bulk flows, mostly camera video: see gen_capture.py); `--file` takes
any capture instead. Each round runs both tools (round-robin, so machine drift spreads over both), into a fresh
SQLite store for Sentinel. Peak memory is the largest *sum* of memory over the whole process tree (Sentinel's
workers included), as RSS (shared pages counted once per process, which overstates) and as PSS (each shared page
divided among the processes sharing it: forked workers share the parent's pages).

why PSS comes from an extra, untimed run of each tool: reading /proc/PID/smaps_rollup walks the process's page
tables, 13 ms of CPU per read of a 500 MB process (measured here). Polled every 20 ms over Sentinel's three
processes it took most of a core from a tool that uses both, and almost nothing from single-threaded tshark: the
timed rounds therefore read only /proc/PID/status (VmRSS, 0.05 ms per read). Prints a table, the events per kind
of the last round and a JSON line.
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


def _proc_kb(path: str, field: str) -> int:
    """A `Field:   N kB` line of a /proc file, in KiB (0 when the process is gone)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """PSS of one process: each page divided among the processes that share it, so a sum over a process tree
    counts forked workers' shared pages once. Costly to read (see the module docstring)."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _rss_kb(pid: int) -> int:
    """RSS of one process, from /proc/PID/status (cheap)."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def run_measured(cmd: list[str], env: dict | None = None,
                 mem=_rss_kb) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds, the peak of `mem` summed over the process tree (KiB), and the result.

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
            peak = max(peak, sum(mem(p) for p in tree))
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return wall, peak, subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file", type=Path, default=None, help="an existing capture (--mix and --packets then unused)")
    ap.add_argument("--mix", choices=("dense", "city"), default="dense", help="the generated capture's mix")
    ap.add_argument("--no-detect", action="store_true", help="time `analyze --no-detect` (decode and store only)")
    a = ap.parse_args(argv)
    if a.file is not None and not a.file.is_file():
        ap.error(f"--file {a.file}: no such capture file")  # generating into a path the user named would surprise
    if a.packets < 1 or a.runs < 1:
        ap.error("--packets and --runs must be at least 1")
    size = f"{a.packets // 1_000_000}M" if a.packets % 1_000_000 == 0 else f"{a.packets // 1000}k"
    name = f"cap_{size}.pcap" if a.mix == "dense" else f"cap_{size}_{a.mix}.pcap"
    cap = a.file or REPO / "bench-data" / name
    if not cap.exists():
        cap.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_capture.py"), str(cap), "--packets",
                        str(a.packets), "--mix", a.mix], check=True)
    sentinel = [sys.executable, "-m", "sentinel.cli.main", "analyze", str(cap), "--json",
                *(["--no-detect"] if a.no_detect else [])]
    tshark = ["tshark", "-r", str(cap), "-q", "-z", "conv,ip"]
    results: dict[str, list[tuple[float, int, int]]] = {"sentinel": [], "tshark": []}
    packets = None
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.runs):
            db = Path(tmp) / f"run{i}.db"
            env = {**os.environ, "SENTINEL_DB": f"sqlite:///{db}"}
            wall, rss, res = run_measured(sentinel, env)
            if res.returncode != 0:
                print(res.stderr.decode(errors="replace"), file=sys.stderr)
                return 1
            summary = json.loads(res.stdout)
            packets, events = summary["packets"], summary["events"]
            results["sentinel"].append((wall, rss))
            wall, rss, res = run_measured(tshark)
            if res.returncode != 0:
                print(res.stderr.decode(errors="replace"), file=sys.stderr)
                return 1
            results["tshark"].append((wall, rss))
        env = {**os.environ, "SENTINEL_DB": f"sqlite:///{Path(tmp) / 'pss.db'}"}
        pss = {"sentinel": run_measured(sentinel, env, _pss_kb)[1], "tshark": run_measured(tshark, None, _pss_kb)[1]}
    med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    rss = {k: max(r[1] for r in v) for k, v in results.items()}
    print(f"capture: {cap} ({cap.stat().st_size:,} bytes, {packets:,} packets), {a.runs} rounds, medians")
    print(f"{'tool':<30}{'wall s':>9}{'min-max':>15}{'pkt/s':>12}{'peak PSS MiB':>14}{'peak RSS MiB':>14}")
    for k, label in (("sentinel", "sentinel analyze (SQLite)"), ("tshark", "tshark -q -z conv,ip")):
        ws = [r[0] for r in results[k]]
        if k == "sentinel" and a.no_detect:
            label = "sentinel analyze --no-detect"
        print(f"{label:<30}{med[k]:>9.2f}{min(ws):>7.2f}-{max(ws):<7.2f}{packets / med[k]:>12,.0f}"
              f"{pss[k] / 1024:>14.0f}{rss[k] / 1024:>14.0f}")
    ratio = med["tshark"] / med["sentinel"]
    print(f"sentinel is {ratio:.2f}x the speed of tshark conv,ip (peak memory: sums over the process tree; "
          "PSS from one more, untimed run of each)")
    n_events = sum(events.values())
    print(f"events: {n_events:,} ({n_events / packets:.3f} per packet): "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(events.items(), key=lambda kv: -kv[1])))
    print(json.dumps({"packets": packets, "sentinel_s": med["sentinel"], "tshark_s": med["tshark"], "ratio": ratio,
                      "sentinel_peak_pss_mib": pss["sentinel"] / 1024, "sentinel_peak_rss_mib": rss["sentinel"] / 1024,
                      "tshark_peak_pss_mib": pss["tshark"] / 1024, "tshark_peak_rss_mib": rss["tshark"] / 1024,
                      "events": n_events, "events_by_kind": events}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
