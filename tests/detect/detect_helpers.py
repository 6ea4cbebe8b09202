"""Helpers shared by the detection tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import textwrap

from sentinel.detect import Engine, RuleSet


def rule(detection: str, category: str = "http_access", product: str = "sentinel", extra: str = "") -> str:
    """A minimal Sentinel-native rule around a detection block."""
    det = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    return f"title: t\nid: 5f1f0a4e-0000-4000-8000-000000000001\nlogsource:\n    product: {product}\n    category: {category}\ndetection:\n{det}\nlevel: high\n{extra}"


def matches(rs: RuleSet, ev: dict) -> bool:
    return bool(Engine(rs).explain(ev))
