"""`sentinel scan`: scan files and directories with YARA rules; matches become `yara_match` events in the store."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import typer

from ..content.rules import RuleSet, load_rules
from ..content.scan import scan_files
from ..content.walk import TIMEOUT, UNREADABLE, Walk
from ..errors import InputError
from ..events.application import YaraMatch
from .common import DB_OPTION, JSON_OPTION, emit_json

DEFAULT_MAX_SIZE = 64 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """`65536`, `64M`, `64MiB`, `2g`... -> bytes (binary units)."""
    m = _SIZE.match(text)
    if not m:
        raise InputError("--max-size", f"not a size in bytes: {text!r} (e.g. 67108864, 64M, 1G)")
    return int(m[1]) * _UNITS[(m[2] or "")[:1].lower()]


def match_json(ev: YaraMatch) -> dict[str, Any]:
    return {"path": ev.origin, "rule": ev.rule, "namespace": ev.namespace, "tags": ev.tags, "meta": ev.meta,
            "sha256": ev.sha256, "offset": ev.offset, "size": ev.size}


def run_scan(paths: list[Path], ruleset: RuleSet, walk: Walk, writer) -> dict[str, Any]:
    """Scan everything under `paths`, store the events through `writer`, return the summary."""
    files = nbytes = 0
    matches: list[YaraMatch] = []
    for res in scan_files(ruleset.rules, walk.files(paths)):
        if res.error is not None:
            key = TIMEOUT if res.timed_out else UNREADABLE
            walk.skipped[key] += 1
            if not res.timed_out:
                walk.unreadable.append((res.path, res.error))
            continue
        files += 1
        nbytes += res.size
        if res.matches:
            writer.add_many(res.matches)
            matches.extend(res.matches)
    return {"files": files, "bytes": nbytes, "matches": matches}


def _print_human(summary: dict[str, Any], ruleset: RuleSet, walk: Walk, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    matches: list[YaraMatch] = summary["matches"]
    if matches:
        table = Table(title="YARA matches", show_lines=False)
        for col in ("path", "rule", "namespace", "tags", "offset", "sha256"):
            table.add_column(col, overflow="fold")
        for ev in matches:
            table.add_row(ev.origin, ev.rule, ev.namespace or "", ",".join(ev.tags),
                          "" if ev.offset is None else str(ev.offset), ev.sha256[:16])
        out.print(table)
    skipped = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(walk.skipped.items()) if n) or "none"
    nfiles = len({ev.origin for ev in matches})
    out.print(
        f"Scanned {summary['files']} files ({summary['bytes'] / 1e6:.1f} MB) in {seconds:.2f} s with "
        f"{ruleset.count} rules from {len(ruleset.files)} files{' (cached)' if ruleset.from_cache else ''}: "
        f"{len(matches)} matches in {nfiles} files; skipped: {skipped}."
    )
    for path, reason in walk.unreadable:
        print(f"warning: {path}: cannot read: {reason}", file=sys.stderr)
    for w in ruleset.warnings:
        print(f"warning: {w}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan(
        paths: list[Path] = typer.Argument(..., help="Files and directories to scan (directories recursively)."),
        rules: list[Path] = typer.Option(
            None, "--rules", help="Rule file or directory of .yar/.yara files (repeatable); default: rules/yara."
        ),
        json_out: bool = JSON_OPTION,
        max_size: str = typer.Option(str(DEFAULT_MAX_SIZE), "--max-size", help="Skip files larger than this (bytes, or 64M, 1G)."),
        follow_links: bool = typer.Option(False, "--follow-links", help="Follow symbolic links that lead out of the scanned tree."),
        db: str = DB_OPTION,
    ) -> None:
        """Scan files with YARA rules; store matches as yara_match events (exit 0 whether or not anything matched)."""
        from ..store import RunWriter, open_store

        walk = Walk(max_size=parse_size(max_size), follow_links=follow_links)
        walk.check(paths)  # bad paths are bad input: fail before compiling rules or touching the store
        ruleset = load_rules(list(rules) if rules else None)
        engine = open_store(db)
        started = time.perf_counter()
        with RunWriter(engine, "scan", [str(p) for p in paths]) as writer:
            summary = run_scan(paths, ruleset, walk, writer)
            writer.counts = {"files": summary["files"], "bytes": summary["bytes"], "skipped": dict(walk.skipped),
                             "rule_files": [str(f) for f in ruleset.files], "rules_key": ruleset.key}
        seconds = time.perf_counter() - started
        if json_out:
            emit_json({
                "run_id": writer.run_id,
                "files": summary["files"],
                "bytes": summary["bytes"],
                "seconds": round(seconds, 3),
                "matches": [match_json(ev) for ev in summary["matches"]],
                "skipped": dict(walk.skipped),
                "unreadable": [{"path": p, "reason": r} for p, r in walk.unreadable],
                "rules": {"files": [str(f) for f in ruleset.files], "count": ruleset.count,
                          "cached": ruleset.from_cache, "key": ruleset.key, "warnings": ruleset.warnings},
            })
        else:
            _print_human(summary, ruleset, walk, seconds)
