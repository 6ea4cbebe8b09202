"""What storing one capture's events costs: Sentinel's RunWriter against the floors of SQLite and of a log file.

    python benchmarks/bench_store.py [--file bench-data/cap_1M.pcap] [--runs 3]

Decodes the capture once (`analyze --no-detect` into a scratch store), reads its events back, then times, in
round-robin rounds on fresh files:

* `RunWriter`  — Sentinel's store path: row building (JSON of each kind's own fields) + executemany into the
  `event` table (SQLite, WAL, the schema's one secondary index), one transaction per 20,000 events;
* `sqlite floor` — the same finished row tuples executemany'd into a bare table with no secondary index and no
  JSON building: what any one-row-per-event SQLite store pays at least;
* `jsonl file` — the events as JSON lines in a file (what Zeek and Suricata's EVE write).

CPU seconds of this process are reported next to wall seconds (the machine is shared: CPU time is steadier).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=REPO / "bench-data" / "cap_1M.pcap")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    from sqlalchemy import create_engine

    from sentinel.store import RunWriter, open_store
    from sentinel.store.reader import run_events

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.db"
        subprocess.run([sys.executable, "-m", "sentinel.cli.main", "analyze", str(a.file), "--no-detect", "--json",
                        "--db", f"sqlite:///{src}"], check=True, stdout=subprocess.DEVNULL)
        events = list(run_events(open_store(f"sqlite:///{src}"), 1))
        print(f"{len(events):,} events from {a.file}")
        results: dict[str, list[tuple[float, float]]] = {"RunWriter": [], "sqlite floor": [], "jsonl file": []}
        for i in range(a.runs):
            db = open_store(f"sqlite:///{tmp}/w{i}.db")

            def writer() -> None:
                with RunWriter(db, "bench", []) as w:
                    w.add_many(events)

            results["RunWriter"].append(_timed(writer))
            w = RunWriter(db, "rows", [])
            w.run_id = 1
            rows = [w._row(e) for e in events]
            raw = create_engine(f"sqlite:///{tmp}/f{i}.db").raw_connection()
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("CREATE TABLE event (id INTEGER PRIMARY KEY, run_id, ts, kind, layer, sensor, src_ip, "
                        "src_port, dst_ip, dst_port, proto, uid, data)")

            def floor() -> None:
                for k in range(0, len(rows), 20000):
                    raw.executemany("INSERT INTO event (run_id, ts, kind, layer, sensor, src_ip, src_port, dst_ip, "
                                    "dst_port, proto, uid, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows[k:k + 20000])
                    raw.commit()

            results["sqlite floor"].append(_timed(floor))
            raw.close()
            path = Path(tmp) / f"e{i}.jsonl"

            def jsonl() -> None:
                with open(path, "wb") as f:
                    for k in range(0, len(events), 20000):
                        f.write(b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in events[k:k + 20000]))

            results["jsonl file"].append(_timed(jsonl))
            for p in Path(tmp).glob(f"[wfe]{i}.*"):
                os.remove(p)
    print(f"{'path':<16}{'wall s':>9}{'cpu s':>9}{'events/s':>12}{'µs/event':>10}")
    for k, v in results.items():
        wall = statistics.median(x[0] for x in v)
        cpu = statistics.median(x[1] for x in v)
        print(f"{k:<16}{wall:>9.2f}{cpu:>9.2f}{len(events) / wall:>12,.0f}{wall / len(events) * 1e6:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
