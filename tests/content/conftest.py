"""Fixtures for content scanning: a private compiled-rules cache per test, the corpus YARA material."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own XDG cache, so cache hits and misses are the test's own doing."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SENTINEL_YARA_RULES", raising=False)
    return cache / "sentinel" / "yara"


@pytest.fixture(scope="session")
def yara_corpus() -> Path:
    d = CORPUS / "yara"
    if not d.is_dir():
        pytest.skip(f"YARA corpus not found at {d}")
    return d
