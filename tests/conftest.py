"""Shared fixtures: where the corpus is, a real PostgreSQL server, a scratch store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a real PostgreSQL database (scripts/pg-test-server.sh starts one; scripts/test.sh exports it).

    In CI a missing server is a failure, not a skip: server mode must be tested there.
    """
    url = os.environ.get("SENTINEL_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("SENTINEL_TEST_PG_URL is not set in CI (scripts/test.sh starts PostgreSQL)")
        pytest.skip("SENTINEL_TEST_PG_URL not set: run the suite with scripts/test.sh")
    return url


@pytest.fixture
def pg_clean(pg_url: str) -> str:
    """The PostgreSQL database emptied of Sentinel's tables, so each test starts from nothing."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sentinel.db'}"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, input: bytes | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `sentinel ARGS` in a subprocess (real exit codes, real stderr)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", *args], capture_output=True, env=full_env,
                          cwd=cwd, input=input, timeout=timeout)
