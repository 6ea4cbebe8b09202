"""Shared loading of the built-in rule packs (rules/transport, rules/perception, rules/application)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PACKS = ("transport", "perception", "application")


def pack_files() -> list[Path]:
    return sorted(p for pack in PACKS for p in (REPO / "rules" / pack).glob("*.yml"))


def pack_documents() -> list[tuple[Path, dict]]:
    """Every YAML document (one rule each) of every pack file, with its file."""
    out = []
    for path in pack_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                out.append((path, doc))
    return out
