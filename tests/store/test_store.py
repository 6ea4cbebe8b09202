"""The store: private SQLite files in WAL mode, PostgreSQL, migrations that keep data, consistent interrupted runs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from sentinel.errors import InputError
from sentinel.events.transport import Conn, Dns
from sentinel.store import RunWriter, open_store
from sentinel.store.db import MIGRATIONS


def _count(engine, sql: str):
    with engine.connect() as c:
        return c.execute(sa.text(sql)).scalar()


def test_sqlite_file_is_created_private_and_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "s.db"
    old = os.umask(0o022)  # a permissive umask must not leak into the store's mode
    try:
        engine = open_store(f"sqlite:///{db}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert _count(engine, "PRAGMA journal_mode") == "wal"
    with RunWriter(engine, "analyze", ["x"]) as w:
        w.add(Conn(ts=1.0, src_ip="10.0.0.1"))
    for side in db.parent.glob("s.db-*"):  # -wal / -shm take the main file's mode
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side


def test_env_var_selects_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_DB", f"sqlite:///{tmp_path / 'env.db'}")
    open_store()
    assert (tmp_path / "env.db").exists()


def test_bad_url_is_an_input_error_naming_the_option() -> None:
    with pytest.raises(InputError) as err:
        open_store("not a url")
    assert err.value.source == "--db"


def test_events_round_trip_with_their_own_fields(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    with RunWriter(engine, "analyze", ["a.pcap"]) as w:
        w.add(Dns(ts=2.5, src_ip="10.0.0.2", dst_ip="10.0.0.53", query="example.org", qtype="A", answers=["1.2.3.4"]))
    with engine.connect() as c:
        row = c.execute(sa.text("select kind, layer, src_ip, data from event")).one()
        run = c.execute(sa.text("select status, counts from run")).one()
    assert row[0] == "dns" and row[1] == "transport" and row[2] == "10.0.0.2"
    assert '"query": "example.org"' in row[3] or '"query":"example.org"' in row[3]
    assert run[0] == "complete"


def test_reopening_keeps_data_and_does_not_remigrate(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    with RunWriter(engine, "analyze", ["a"]) as w:
        w.add_many(Conn(ts=float(i)) for i in range(10))
    engine.dispose()
    engine = open_store(sqlite_url)
    assert _count(engine, "select count(*) from event") == 10
    heads = _count(engine, "select version_num from alembic_version")
    assert heads  # at the newest revision


def test_interrupted_run_is_marked_incomplete_and_keeps_whole_batches(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    with pytest.raises(RuntimeError):
        with RunWriter(engine, "analyze", ["a"], batch_size=100) as w:
            for i in range(250):
                w.add(Conn(ts=float(i)))
            raise RuntimeError("disk on fire")
    status, reason = engine.connect().execute(sa.text("select status, reason from run")).one()
    assert status == "incomplete" and "disk on fire" in reason
    assert _count(engine, "select count(*) from event") == 250


def test_killed_run_is_found_and_marked_incomplete(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    script = textwrap.dedent(f"""
        import os
        from sentinel.store import open_store, RunWriter
        from sentinel.events.transport import Conn
        e = open_store("sqlite:///{db}")
        w = RunWriter(e, "analyze", ["x"], batch_size=10).__enter__()
        for i in range(25):
            w.add(Conn(ts=float(i)))
        os._exit(9)   # no cleanup: like a SIGKILL mid-run
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    engine = open_store(f"sqlite:///{db}")
    status, reason = engine.connect().execute(sa.text("select status, reason from run")).one()
    assert status == "incomplete" and "ended" in reason
    # whole batches of 10, in order: the second may still have been in flight on the writer thread
    n = _count(engine, "select count(*) from event")
    assert n in (10, 20)
    stored = [r[0] for r in engine.connect().execute(sa.text("select ts from event order by id"))]
    assert stored == [float(i) for i in range(n)]


def test_a_full_batch_is_written_behind_and_flush_waits_for_it(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    with RunWriter(engine, "analyze", ["a"], batch_size=10) as w:
        w.add_many(Conn(ts=float(i)) for i in range(25))
        assert w._behind is not None  # the second full batch went to the writer thread
        w.flush()
        assert _count(engine, "select count(*) from event") == 25  # after flush, everything is stored
    assert _count(engine, "select count(*) from event") == 25


def test_a_failed_write_behind_is_raised_to_the_caller_and_marks_the_run(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    with pytest.raises(sa.exc.StatementError):
        with RunWriter(engine, "analyze", ["a"], batch_size=5) as w:
            w.add_many(Conn(ts=float(i)) for i in range(5))
            w.add_many(Conn(ts=object()) for _ in range(5))  # the driver refuses the value, on the writer thread
            w.add_many(Conn(ts=float(i)) for i in range(5))  # the failure surfaces here, in the caller
    status = engine.connect().execute(sa.text("select status from run")).scalar()
    assert status == "incomplete"
    # the batches before and after the refused one are whole and stored; the refused one is not
    assert [r[0] for r in engine.connect().execute(sa.text("select ts from event order by id"))] == \
        [float(i) for i in range(5)] * 2


def test_every_migration_has_a_single_parent_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1, "migrations must form one chain"


@pytest.mark.postgres
def test_postgresql_store_round_trip_and_interrupted_run(pg_clean: str) -> None:
    engine = open_store(pg_clean)
    with RunWriter(engine, "analyze", ["a"], batch_size=50) as w:
        w.add_many(Dns(ts=float(i), query=f"q{i}.example", answers=["1.1.1.1"]) for i in range(120))
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(engine, "analyze", ["b"], batch_size=50) as w:
            for i in range(75):
                w.add(Conn(ts=float(i)))
            raise KeyboardInterrupt
    with engine.connect() as c:
        runs = c.execute(sa.text("select inputs, status from run order by id")).all()
        n = c.execute(sa.text("select count(*) from event")).scalar()
        q = c.execute(sa.text("select data->>'query' from event where kind='dns' order by ts limit 1")).scalar()
    assert [r[1] for r in runs] == ["complete", "incomplete"]
    assert n == 120 + 75
    assert q == "q0.example"  # data is real JSONB, queryable server-side
    engine.dispose()
    engine = open_store(pg_clean)  # reopening migrates nothing and loses nothing
    assert _count(engine, "select count(*) from event") == 195
