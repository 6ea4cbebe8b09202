"""`sentinel ingest` through a real subprocess: exit codes, JSON summary, store contents, --follow with rotation."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO.parent / "shared" / "corpus" / "logs"
LINE = '10.0.0.1 - - [01/Jan/2021:00:00:00 +0000] "GET /n/{} HTTP/1.1" 200 5 "-" "ua"\n'


def sentinel(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=kw.pop("cwd", None), **kw)


def stored_uris(db):
    with sqlite3.connect(db) as c:
        return [json.loads(d)["uri"] for (d,) in c.execute("select data from event where kind='http_access' order by id")]


def test_json_summary_and_store(tmp_path):
    if not LOGS.is_dir():
        pytest.skip(f"corpus missing: {LOGS}")
    db = tmp_path / "s.db"
    events = tmp_path / "ev.jsonl"
    r = sentinel("ingest", str(LOGS / "dev_log08_error_nginx_basic_auth_bruteforce.log"),
                 str(LOGS / "dev_log07_auth_ssh_bruteforce_user_enum.log"), "--json", "--db", f"sqlite:///{db}",
                 "--events", str(events))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["lines"], out["unparsed"], out["events"], out["unparsed_lines"]) == (
        29, 0, {"auth": 22, "http_access": 6}, {})
    assert len(events.read_text().splitlines()) == 28
    with sqlite3.connect(db) as c:
        assert c.execute("select command, status from run").fetchall() == [("ingest", "complete")]
        assert c.execute("select count(*) from event where kind='auth' and src_ip='35.188.49.176'").fetchone() == (6,)


def test_unparsed_lines_listed_and_unreadable_file_is_exit_2(tmp_path):
    log = tmp_path / "a.log"
    log.write_text(LINE.format(1) + "not a log line\n" + LINE.format(2))
    r = sentinel("ingest", str(log), "--format", "combined", "--json", "--db", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 0 and json.loads(r.stdout)["unparsed_lines"] == {str(log): [2]}
    r = sentinel("ingest", str(log), "--db", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 0 and "unparsed in" in r.stdout and "lines 2" in r.stdout
    r = sentinel("ingest", str(tmp_path / "missing.log"), "--db", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "missing.log: no such file" in r.stderr
    r = sentinel("ingest", str(log), "--format", "nope", "--db", f"sqlite:///{tmp_path}/s.db")
    assert r.returncode == 2 and "--format" in r.stderr and "Traceback" not in r.stderr


def test_truncated_gzip_exit_2_but_keeps_events(tmp_path):
    import gzip

    data = gzip.compress("".join(LINE.format(i) for i in range(20000)).encode())
    p = tmp_path / "cut.log.gz"
    p.write_bytes(data[: len(data) // 2])
    db = tmp_path / "s.db"
    r = sentinel("ingest", str(p), "--json", "--db", f"sqlite:///{db}")
    assert r.returncode == 2 and "truncated gzip" in r.stderr and str(p) in r.stderr
    n = json.loads(r.stdout)["lines"]
    assert 0 < n < 20000 and len(stored_uris(db)) == n
    with sqlite3.connect(db) as c:
        assert c.execute("select status from run").fetchone() == ("incomplete",)


def _wait_for(db, n, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if len(stored_uris(db)) >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    raise AssertionError(f"store did not reach {n} events: {stored_uris(db)}")


def _start(log, db):
    proc = subprocess.Popen([sys.executable, "-m", "sentinel.cli.main", "ingest", str(log), "--follow", "--json",
                             "--db", f"sqlite:///{db}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("following 1 file(s)")  # signal handlers are installed now
    return proc


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return json.loads(out)


def _append(path, start, stop):
    with open(path, "a") as f:
        for i in range(start, stop):
            f.write(LINE.format(i))


def test_follow_survives_rotation_and_restart_without_loss_or_repeat(tmp_path):
    log, db = tmp_path / "access.log", tmp_path / "s.db"
    _append(log, 0, 5)
    proc = _start(log, db)
    _wait_for(db, 5)
    _append(log, 5, 10)
    with open(log, "a") as f:  # a partial line is not consumed until its newline arrives
        f.write(LINE.format(10)[:20])
    _wait_for(db, 10)
    with open(log, "a") as f:
        f.write(LINE.format(10)[20:])
    _wait_for(db, 11)
    os.rename(log, tmp_path / "access.log.1")  # logrotate's rename + create
    _append(tmp_path / "access.log.1", 11, 13)  # the daemon still writes the old file for a moment
    _append(log, 13, 16)
    _wait_for(db, 16)
    summary = _stop(proc)
    assert summary["unparsed"] == 0

    # while stopped: more lines, then another rotation - the restart must finish the old file first
    _append(log, 16, 18)
    os.rename(log, tmp_path / "access.log.2")
    _append(log, 18, 20)
    proc = _start(log, db)
    _wait_for(db, 20)
    # copytruncate: the file is copied and emptied in place, then written again
    time.sleep(0.5)
    with open(log, "r+") as f:
        f.truncate(0)
    time.sleep(0.5)
    _append(log, 20, 22)
    _wait_for(db, 22)
    _stop(proc)

    # a restart with nothing new stores nothing
    proc = _start(log, db)
    time.sleep(1.0)
    assert _stop(proc)["lines"] == 0
    assert stored_uris(db) == [f"/n/{i}" for i in range(22)]
    with sqlite3.connect(db) as c:
        assert c.execute("select count(*) from log_offset").fetchone() == (1,)
        assert {s for (s,) in c.execute("select status from run")} == {"complete"}
