"""`sentinel analyze` starts its capture workers before loading rules and the store, and stops them when that
start-up fails."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sentinel.capture.pipeline import _Inbox, analyze_files
from sentinel.decode.registry import default_registry
from tests.conftest import REPO, run_cli

SAMPLE = REPO / "samples" / "city.pcap"


def _pids_running(marker: str) -> list[int]:
    """Processes whose command line names `marker` (a capture path unique to the test)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != "Z":
            out.append(int(d))
    return out


def test_workers_decode_before_the_analysis_is_iterated_and_close_stops_them(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "seen"
    monkeypatch.setattr(_Inbox, "LIMIT", 1)  # the pipe readers fill up at once and then wait for room

    def prepare(events: list) -> list:
        seen.mkdir(exist_ok=True)
        (seen / str(os.getpid())).touch()
        return [None] * len(events)

    run = analyze_files([SAMPLE], registry=default_registry(), workers=2, chunk_size=64 * 1024, prepare=prepare)
    deadline = time.monotonic() + 20
    while not (seen.exists() and any(seen.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.exists() and any(seen.iterdir()), "no worker prepared a batch before the first next()"
    pids = [int(p.name) for p in seen.iterdir()]
    assert all(pid != os.getpid() for pid in pids)
    run.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # ended and reaped
            os.kill(pid, 0)
    run.close()  # twice is harmless
    deadline = time.monotonic() + 10
    while any(t.name == "sentinel-inbox" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "sentinel-inbox" for t in threading.enumerate()), "a pipe reader outlived close()"


def test_a_bad_rule_file_fails_after_the_workers_started_and_leaves_none_behind(tmp_path: Path,
                                                                                sqlite_url: str) -> None:
    capture = tmp_path / "unique-capture-name.pcap"
    capture.write_bytes(SAMPLE.read_bytes())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: broken\nlogsource: {product: sentinel, service: conn}\n"
                                      "detection:\n  sel: {dst_port: 23}\n  condition: sel and missing\n")
    started = time.monotonic()
    res = run_cli("analyze", str(capture), "--workers", "2", "--rules", str(rules), "--db", sqlite_url, "--json")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "broken.yml" in lines[0], lines
    assert b"Traceback" not in res.stderr
    assert time.monotonic() - started < 30
    assert _pids_running(str(capture)) == []
    # nothing stored: the run never began
    import sqlalchemy as sa

    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        tables = set(sa.inspect(c).get_table_names())
        assert "run" not in tables or c.execute(sa.text("select count(*) from run")).scalar() == 0
