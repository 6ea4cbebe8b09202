"""Log parsing speed: Sentinel's parser vs a one-regex baseline, and full `sentinel ingest` into SQLite.

    .venv/bin/python benchmarks/bench_logs.py [--lines 1000000] [--keep DIR]

Generates a deterministic (seed 1) combined access log, then measures in one run:
  baseline  - `re.match` of one combined-log regex per line, building a dict (what a quick script would do);
  parse     - sentinel.logs.reader.read_file (decode, sniff, parse, build HttpAccess events), events discarded;
  ingest    - `sentinel ingest FILE --json --db sqlite:///fresh.db` as a subprocess (parse + store + summary).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = re.compile(r'(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"')
UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", "curl/8.4.0",
       "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None)", "python-requests/2.31.0", "Googlebot/2.1"]
PATHS = ["/", "/index.html", "/login", "/api/v1/sensors?id=", "/static/app.js", "/wp-login.php", "/.git/HEAD"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def generate(path: Path, n: int) -> None:
    rnd = random.Random(1)
    t = 1_700_000_000
    with open(path, "w") as f:
        for _ in range(n):
            t += rnd.randint(0, 2)
            g = time.gmtime(t)
            ip = f"10.{rnd.randint(0, 3)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}" if rnd.random() < 0.97 \
                else f"2001:db8::{rnd.randint(1, 65535):x}"
            f.write(f'{ip} - - [{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{g.tm_hour:02d}:{g.tm_min:02d}:'
                    f'{g.tm_sec:02d} +0000] "{rnd.choice(["GET", "GET", "POST"])} {rnd.choice(PATHS)}'
                    f'{rnd.randint(0, 999) if rnd.random() < 0.3 else ""} HTTP/1.1" {rnd.choice([200, 200, 304, 404, 500])} '
                    f'{rnd.randint(0, 50000)} "-" "{rnd.choice(UAS)}"\n')


def baseline(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = BASELINE.match(line)
            if m:
                ip, ident, user, ts, req, status, size, ref, ua = m.groups()
                _d = {"ip": ip, "ident": ident, "user": user, "ts": ts, "request": req, "status": int(status),
                      "bytes": size, "referrer": ref, "ua": ua}
                n += 1
    return n


def sentinel_parse(path: Path) -> int:
    from sentinel.logs.reader import Stats, read_file

    stats = Stats()
    read_file(str(path), "auto", stats, lambda ev: None)
    assert stats.unparsed == 0
    return stats.parsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", help="directory to keep the generated log and store in")
    ap.add_argument("--ingest-lines", type=int, default=None,
                    help="time the full `sentinel ingest` (store + detection) on the first N lines only")
    a = ap.parse_args()
    d = Path(a.keep or tempfile.mkdtemp(prefix="bench_logs_"))
    d.mkdir(parents=True, exist_ok=True)
    log = d / "access.log"
    t0 = time.perf_counter()
    generate(log, a.lines)
    print(f"generated {a.lines:,} lines ({log.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s")
    results = {}
    for name, fn in (("baseline (one re.match + dict)", baseline), ("sentinel parse (events built)", sentinel_parse)):
        t0 = time.perf_counter()
        n = fn(log)
        dt = time.perf_counter() - t0
        assert n == a.lines, (name, n)
        results[name] = (dt, n / dt)
        print(f"{name:48} {dt:8.2f} {n / dt:10,.0f}", flush=True)
    if a.ingest_lines:  # detection over a million web events takes minutes: time it on a prefix
        with open(log, "rb") as src, open(d / "prefix.log", "wb") as dst:
            for _ in range(a.ingest_lines):
                dst.write(src.readline())
        log, a.lines = d / "prefix.log", a.ingest_lines
    db = d / "bench.db"
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "sentinel.cli.main", "ingest", str(log), "--json", "--db", f"sqlite:///{db}"],
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["events"] == {"http_access": a.lines}
    results[f"sentinel ingest ({a.lines:,} lines) -> fresh SQLite"] = (dt, a.lines / dt)
    print(f"{'measure':48} {'seconds':>8} {'lines/s':>10}")
    for name, (dt, rate) in results.items():
        print(f"{name:48} {dt:8.2f} {rate:10,.0f}")
    print(f"store: {db.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
