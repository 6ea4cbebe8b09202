"""Opening the store: URL resolution, file permissions, SQLite pragmas, migrations.

The default store is a SQLite file (mode 0600, WAL). Any SQLAlchemy URL works through `--db` or `SENTINEL_DB`;
PostgreSQL is tested. Opening a store brings its schema to the newest migration, so later versions add tables
without losing data.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import InputError, StoreError

DEFAULT_DB_FILE = "sentinel.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """SENTINEL_DB, else a SQLite file in the current directory."""
    return os.environ.get("SENTINEL_DB") or f"sqlite:///{DEFAULT_DB_FILE}"


def _create_private_file(path: Path) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (SQLite would honour the umask, often 0644).

    The -wal and -shm files SQLite creates later copy the main file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass


def _json(obj: Any) -> str:
    # why: JSON columns (devices, alerts, runs) are serialised once per value per row; orjson is ~7x faster than
    # json.dumps here (19.5k devices of a 1M-packet capture: 136k values). Integer keys become strings, as
    # json.dumps makes them; the text has no spaces, which no reader depends on (JSON is parsed, never compared).
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise InputError("--db", f"not a database URL: {url!r} ({exc})") from None
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            _create_private_file(Path(db))
        engine = sa.create_engine(u, connect_args={"timeout": 30}, json_serializer=_json)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # why: WAL lets readers (reports, the daemon) run beside a writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    try:
        return sa.create_engine(u, pool_pre_ping=True, json_serializer=_json)
    except (ImportError, SQLAlchemyError) as exc:
        raise InputError("--db", f"cannot use database URL {u.render_as_string(hide_password=True)}: {exc}") from None


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (alembic), only when it is behind."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def open_store(url: str | None = None) -> Engine:
    """Engine for the store at `url` (default: SENTINEL_DB or ./sentinel.db), schema up to date."""
    url = url or default_url()
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"{shown}: cannot open the store: {exc.orig}") from None
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"{shown}: cannot open the store: {exc}") from None
    mark_stale_runs(engine)
    return engine


def mark_stale_runs(engine: Engine) -> None:
    """A run still `running` whose process on this host is gone was killed: mark it incomplete."""
    from .tables import Run

    host = socket.gethostname()
    t = Run.__table__
    with engine.begin() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.pid).where(t.c.status == "running", t.c.host == host)).all()
        for run_id, pid in rows:
            if pid and not _alive(pid):
                conn.execute(
                    t.update()
                    .where(t.c.id == run_id)
                    .values(status="incomplete", reason="process ended without finishing", finished=now())
                )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def now() -> datetime:
    return datetime.now(timezone.utc)
