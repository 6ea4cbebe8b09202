"""Helpers shared by the CLI modules: store option, JSON output, progress, error exits."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from ..errors import SentinelError

DB_OPTION = typer.Option(None, "--db", envvar="SENTINEL_DB", help="Store URL (SQLAlchemy); default sqlite:///sentinel.db.")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout instead of tables.")
RULES_OPTION = typer.Option([], "--rules", help="Extra rule directory or file (Sigma .yml, YARA .yar); repeatable.")
NO_BUILTIN_OPTION = typer.Option(False, "--no-builtin", help="Use only the --rules given, not the built-in packs.")


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str, sort_keys=False) + "\n")


def fail(exc: SentinelError) -> None:
    """Print a one-line error and exit with the error's code (2 for bad input)."""
    print(f"error: {exc}", file=sys.stderr)
    raise typer.Exit(exc.exit_code)


def interactive() -> bool:
    """Progress bars only on a TTY (stderr), quiet otherwise."""
    return sys.stderr.isatty()


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table of plain values (None shows as empty), long cells folded rather than cut."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    Console(highlight=False).print(t)
