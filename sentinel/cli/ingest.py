"""`sentinel ingest LOG...`: application-layer log sensors -> events in the store."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO

import typer

from ..errors import InputError
from ..events.base import Event
from ..logs.parse import FORMATS
from ..logs.reader import Stats, read_file
from .common import DB_OPTION, JSON_OPTION, NO_BUILTIN_OPTION, RULES_OPTION, emit_json

#: unparsed line numbers shown per file in human output (--json lists them all)
SHOW_UNPARSED = 10


def _check_inputs(paths: list[Path]) -> list[str]:
    out = []
    for p in paths:
        s = str(p)
        if not p.exists():
            raise InputError(s, "no such file")
        if p.is_dir():
            raise InputError(s, "is a directory, not a log file")
        if not os.access(p, os.R_OK):
            raise InputError(s, "cannot read: permission denied")
        out.append(s)
    return out


def _print_summary(stats: Stats) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(emoji=False, markup=False, highlight=False)  # why: log data must print as is
    t = Table(title="sentinel ingest")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("lines", "parsed", "skipped", "unparsed", "invalid_utf8"):
        t.add_row(k, str(getattr(stats, k)))
    for kind, n in sorted(stats.events.items()):
        t.add_row(f"events: {kind}", str(n))
    con.print(t)
    if stats.sources:
        s = Table(title="top sources")
        s.add_column("source address")
        s.add_column("events", justify="right")
        for ip, n in stats.sources.most_common(10):
            s.add_row(ip, str(n))
        con.print(s)
    for path, lines in stats.unparsed_lines.items():
        more = f" (+{len(lines) - SHOW_UNPARSED} more, see --json)" if len(lines) > SHOW_UNPARSED else ""
        con.print(f"unparsed in {path}: lines {', '.join(map(str, lines[:SHOW_UNPARSED]))}{more}")
    for path, lines in stats.overlong_lines.items():
        con.print(f"over-long (> 64 KiB, not parsed) in {path}: lines {', '.join(map(str, lines[:SHOW_UNPARSED]))}")


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        logs: list[Path] = typer.Argument(..., help="Log files (plain or gzip): access, error, syslog/auth, JSON lines."),
        fmt: str = typer.Option("auto", "--format", help=f"One of {', '.join(FORMATS)}; auto sniffs every line."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
        events_file: Path = typer.Option(None, "--events", help="Also write every event as JSON lines to FILE."),
        follow_: bool = typer.Option(False, "--follow", help="Keep reading as the files grow (survives rotation and restarts)."),
        follow_for: float = typer.Option(None, "--follow-for", help="With --follow: stop after SECONDS (tests, cron)."),
        rules: list[Path] = RULES_OPTION,
        no_builtin: bool = NO_BUILTIN_OPTION,
    ) -> None:
        """Parse logs into events, store them (command `ingest`) and print a summary."""
        if fmt not in FORMATS:
            raise InputError("--format", f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
        if follow_for is not None and follow_for < 0:
            raise InputError("--follow-for", "must be >= 0 seconds")
        paths = _check_inputs(logs)
        from ..evaluate import Evaluation, alert_json, print_alerts
        from ..store import RunWriter, open_store  # why lazy: sqlmodel costs ~0.6 s of start-up for every command

        follow = follow_ or follow_for is not None
        evaluation = Evaluation(rules, builtin=not no_builtin, streaming=follow)
        engine = open_store(db)
        evaluation.use_inventory(engine)
        stats = Stats()
        out: IO[str] | None = None
        if events_file is not None:
            try:
                out = open(events_file, "w", encoding="utf-8")
            except OSError as exc:
                raise InputError(str(events_file), f"cannot write: {exc.strerror}") from None
        try:
            if follow:
                from ..logs.follow import OffsetRunWriter, follow as run_follow

                with OffsetRunWriter(engine, "ingest", paths) as w:
                    sink = _Sink(w, out, evaluation, engine)
                    run_follow(paths, fmt, stats, w, sink, seconds=follow_for,
                               on_ready=lambda: print(f"following {len(paths)} file(s); SIGINT or SIGTERM stops",
                                                      file=sys.stderr, flush=True))
                    outcome = _evaluate(evaluation, engine, w, sink)
                    w.counts = {**_counts(stats), "alerts": len(outcome.alerts)}
            else:
                with RunWriter(engine, "ingest", paths) as w:
                    sink = _Sink(w, out, evaluation, engine)
                    for p in paths:
                        try:
                            read_file(p, fmt, stats, sink)
                        except InputError as exc:  # damaged file: keep what was read, go on with the others
                            stats.errors.append(exc.oneline())
                            w.mark("incomplete", exc.oneline()[:500])
                    outcome = _evaluate(evaluation, engine, w, sink)
                    w.counts = {**_counts(stats), "alerts": len(outcome.alerts)}
        finally:
            if out is not None:
                out.close()
        if json_out:
            emit_json({**stats.to_dict(), "alerts": [alert_json(a) for a in outcome.alerts], "assets": outcome.assets})
        else:
            _print_summary(stats)
            print_alerts(outcome.alerts)
        for e in stats.errors:
            print(f"error: {e}", file=sys.stderr)
        if stats.errors:
            raise typer.Exit(2)


def _counts(stats: Stats) -> dict:
    return {"lines": stats.lines, "parsed": stats.parsed, "skipped": stats.skipped, "unparsed": stats.unparsed,
            "by_kind": dict(stats.events)}


class _Sink:
    """Where parsed events go: the store, the evaluation, the --events file. When following (streaming), final
    alerts are stored every few seconds, after their evidence."""

    DRAIN_EVERY = 5.0

    def __init__(self, w, out: IO[str] | None, evaluation, db) -> None:
        self.w, self.out, self.evaluation, self.db = w, out, evaluation, db
        self.published: list = []
        self._last = time.monotonic()

    def __call__(self, ev: Event) -> None:
        for e in [ev, *self.evaluation.add([ev])]:  # streaming: heartbeat_lost revealed on the way
            self.w.add(e)
            if self.out is not None:
                self.out.write(json.dumps(e.to_dict(), ensure_ascii=False, default=str) + "\n")
        if self.evaluation.streaming and time.monotonic() - self._last > self.DRAIN_EVERY:
            self._last = time.monotonic()
            self.publish(self.evaluation.drain())

    def publish(self, alerts: list) -> None:
        if not alerts:
            return
        from ..detect import store_alerts
        from ..integrity.ledger import record_run_alerts

        self.w.flush()
        store_alerts(self.db, self.w.run_id, alerts)
        record_run_alerts(self.db, self.w.run_id)  # tamper-evident; signed checkpoint when a key is usable
        self.published += alerts


def _evaluate(evaluation, engine, w, sink: _Sink):
    """Assets, heartbeats and detection over the run's events (sentinel/evaluate.py); alerts after their evidence."""
    outcome = evaluation.finish(engine, w.run_id)
    for ev in outcome.extra_events:
        w.add(ev)
        if sink.out is not None:
            sink.out.write(json.dumps(ev.to_dict(), ensure_ascii=False, default=str) + "\n")
    sink.publish(outcome.alerts)
    outcome.alerts = sink.published
    return outcome
