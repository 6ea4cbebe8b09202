from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sentinel.detect import RuleSet

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def load(tmp_path):
    """Write YAML rule text(s) to files and load them (no built-in rules)."""

    def _load(*texts: str, strict: bool = True) -> RuleSet:
        d = tmp_path / f"rules{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        for i, t in enumerate(texts):
            (d / f"r{i}.yml").write_text(textwrap.dedent(t))
        return RuleSet.load([d], builtin=False, strict=strict)

    return _load
