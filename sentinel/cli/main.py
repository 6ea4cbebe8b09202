"""The `sentinel` command: the app, error handling and exit codes.

Exit codes: 0 ok, 1 failure (including findings the user asked to fail on), 2 bad usage or bad input.
Errors are one line on stderr (`error: ...`); set SENTINEL_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from .. import __version__
from ..errors import SentinelError

app = typer.Typer(
    name="sentinel",
    help="Security risk assessment and incident response for smart-city infrastructure (MLPS 2.0).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sentinel {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Sentinel: sensors on the perception, transport and application layers -> rules -> risk -> reports."""


#: help panels: commands grouped by the user's job
PANELS = {
    "analyze": "Sensors", "watch": "Sensors", "ingest": "Sensors", "scan": "Sensors",
    "detect": "Detection", "rules": "Detection",
    "assets": "Inventory",
    "levels": "Graded protection (MLPS 2.0)", "assess": "Graded protection (MLPS 2.0)",
    "report": "Reports and evidence", "keys": "Reports and evidence", "ledger": "Reports and evidence",
}


def _panels() -> None:
    for info in [*app.registered_commands, *app.registered_groups]:
        name = info.name or (info.callback.__name__ if getattr(info, "callback", None) else None)
        if name in PANELS:
            info.rich_help_panel = PANELS[name]


def _register_all() -> None:
    from .. import cli as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name in ("main", "common") or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()
_panels()


def run() -> None:
    """Console-script entry point."""
    try:
        app(standalone_mode=True)
    except SentinelError as exc:
        if os.environ.get("SENTINEL_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    run()
