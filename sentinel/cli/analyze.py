"""`sentinel analyze` (capture files) and `sentinel watch` (a live interface): the transport sensor's jobs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import IO, Iterable, Optional

import orjson
import typer

from ..dissect.wireshark import SMB_PORTS, DeepResult
from ..errors import CaptureError, InputError
from ..events.base import Event
from ..events.extra import event_data, events_data
from .common import DB_OPTION, JSON_OPTION, NO_BUILTIN_OPTION, RULES_OPTION, emit_json, interactive


class _EventsFile:
    """`--events FILE.jsonl`: every event as one JSON line, common fields first."""

    def __init__(self, path: Path) -> None:
        try:
            self.f: IO[bytes] = open(path, "wb")
        except OSError as exc:
            raise InputError(str(path), f"cannot write events file: {exc.strerror}", None) from None

    def write(self, events: Iterable[Event]) -> None:
        self.f.write(b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in events))

    def close(self) -> None:
        self.f.close()


def _progress(total_label: str):
    """A rich progress bar on a TTY, nothing otherwise. Returns (context manager, callback)."""
    if not interactive():
        return nullcontext(), None
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    prog = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), transient=True)
    task = prog.add_task(total_label, total=None)

    def cb(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    return prog, cb


DRAIN_EVERY = 5.0  # seconds between publishing final alerts in streaming mode (watch)


def _consume(run, writer, events_file: _EventsFile | None, evaluation, db=None,
             live: bool = False) -> tuple[Counter, list]:
    """Store every batch; in streaming mode also publish alerts as they become final.
    -> (events per kind, alerts published)"""
    kinds: Counter = Counter()
    published: list = []
    last = time.monotonic()
    for d in run.delivered():
        if d.prepared is not None:
            # the site's verdicts are set here, where the inventory is; the rows the capture workers serialised
            # before them are redone for the events that got one (Modbus requests, and only with an inventory)
            for i in evaluation.authorise(d.events):
                d.prepared[i] = event_data(d.events[i])
        events = d.events + evaluation.scan(d.payloads)
        if events:
            events = events + evaluation.add(events)  # heartbeat_lost revealed on the way
            _store(events, writer, events_file, kinds, d.prepared)
        if evaluation.streaming and time.monotonic() - last > DRAIN_EVERY:
            last = time.monotonic()
            published += _publish(db, writer, evaluation.drain(), live)
    return kinds, published


def _publish(db, writer, alerts: list, live: bool) -> list:
    """Store final alerts now (after their evidence) and, for an operator watching, print one line each."""
    if not alerts:
        return []
    from ..detect import store_alerts
    from ..integrity.ledger import record_run_alerts

    writer.flush()
    store_alerts(db, writer.run_id, alerts)
    record_run_alerts(db, writer.run_id)  # tamper-evident; signed checkpoint when a local key is usable
    if live:
        for a in alerts:
            typer.echo(f"alert: {a.level} {a.title} {a.src or '-'} -> {a.dst or '-'} x{a.count} "
                       f"[{', '.join(a.attack)}] [{', '.join(a.controls)}]", err=True)
    return alerts


def _store(events: list[Event], writer, events_file: _EventsFile | None, kinds: Counter,
           data: list[str] | None = None) -> None:
    writer.add_many(events, data)
    if events_file:
        events_file.write(events)
    kinds.update(e.KIND for e in events)


class _DeepPath:
    """The Wireshark path (sentinel/dissect) for captures whose flows need it, run beside the fast path.

    why a thread: the deep path is subprocesses (tcpdump reads the whole capture, then tshark), so it needs no
    GIL; started when the fast path sees the first SMB flow begin (`watch_ports`), it overlaps the capture workers
    instead of adding its time (~1 s per GB read by tcpdump) to the end of the run. Its events are evaluated with
    the others: they are added before the final, time-ordered evaluation."""

    def __init__(self, captures: list[Path], sensor: str) -> None:
        self.captures, self.sensor = captures, sensor
        self.started = False
        self._thread: threading.Thread | None = None
        self._result: DeepResult | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self._thread = threading.Thread(target=self._run, name="sentinel-deep", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from ..dissect.wireshark import dissect

        try:
            self._result = dissect(self.captures, self.sensor)
        except BaseException as exc:  # re-raised in the caller's thread by `result`
            self._error = exc

    def wait(self) -> None:
        """Wait for the subprocesses (also on error paths: the temporary directory is removed when they end)."""
        if self._thread is not None:
            self._thread.join()

    def result(self) -> DeepResult | None:
        """The DeepResult, or None if the capture had no flow that needed the deep path."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self._result


def _deep(deep: _DeepPath, evaluation, writer, events_file: _EventsFile | None, kinds: Counter) -> None:
    res = deep.result()
    if res is None:
        return
    if res.skipped:
        typer.echo(f"warning: {res.skipped}", err=True)
    events = res.events + evaluation.scan(res.payloads)
    events = events + evaluation.add(events)
    _store(events, writer, events_file, kinds)


def _evaluate(evaluation, engine, writer, events_file: _EventsFile | None, kinds: Counter, published=()):
    """Assets, heartbeats and detection at the end of the run (see sentinel/evaluate.py)."""
    outcome = evaluation.finish(engine, writer.run_id)
    _store(outcome.extra_events, writer, events_file, kinds)
    _publish(engine, writer, outcome.alerts, live=False)
    outcome.alerts = [*published, *outcome.alerts]
    return outcome


def _summary(stats, kinds: Counter, run_id: int | None, outcome) -> dict:
    from ..evaluate import alert_json

    d = stats.to_dict()
    d["events"] = dict(sorted(kinds.items()))
    d["run_id"] = run_id
    d["alerts"] = [alert_json(a) for a in outcome.alerts]
    d["assets"] = outcome.assets
    return d


def _print_summary(summary: dict, elapsed: float) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    first, last = summary["first_ts"], summary["last_ts"]
    span = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(first))} .. " \
           f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(last))} UTC ({last - first:.1f} s)" if first else "-"
    t = Table(title="Capture summary", show_header=False)
    t.add_row("packets", f"{summary['packets']:,}")
    t.add_row("bytes", f"{summary['bytes']:,}")
    t.add_row("time span", span)
    t.add_row("flows", f"{summary['flows']:,}")
    t.add_row("analysed in", f"{elapsed:.2f} s ({summary['packets'] / max(elapsed, 1e-9):,.0f} packets/s)")
    if summary.get("kernel_drops") is not None:
        t.add_row("kernel packets / drops", f"{summary['kernel_packets']:,} / {summary['kernel_drops']:,}")
    con.print(t)
    ev = Table(title="Events per kind")
    ev.add_column("kind")
    ev.add_column("count", justify="right")
    for k, n in summary["events"].items():
        ev.add_row(k, f"{n:,}")
    con.print(ev)
    tt = Table(title="Top talkers (IP bytes sent)")
    tt.add_column("address")
    tt.add_column("bytes", justify="right")
    for row in summary["top_talkers"]:
        tt.add_row(row["ip"], f"{row['bytes']:,}")
    con.print(tt)
    if summary.get("run_id") is not None:
        con.print(f"stored as run {summary['run_id']}")


def _output(stats, kinds: Counter, run_id: int | None, outcome, json_out: bool, elapsed: float) -> None:
    """The run's summary: one JSON object, or tables and the alerts."""
    from ..evaluate import print_alerts

    summary = _summary(stats, kinds, run_id, outcome)
    if json_out:
        emit_json(summary)
    else:
        _print_summary(summary, elapsed)
        print_alerts(outcome.alerts)


def _report_damage(errors: list[CaptureError]) -> None:
    for e in errors:
        typer.echo(f"error: {e}", err=True)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze(
        captures: list[Path] = typer.Argument(..., help="Capture files: pcap or pcapng, optionally gzip-compressed."),
        db: Optional[str] = DB_OPTION,
        json_out: bool = JSON_OPTION,
        events: Optional[Path] = typer.Option(None, "--events", help="Write every event as one JSON line to FILE."),
        strict: bool = typer.Option(False, "--strict", help="Fail at the first damaged packet instead of going on."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                              help="Worker processes (default: cores, max 2)."),
        sensor: str = typer.Option("pcap", "--sensor", help="Sensor name recorded on every event."),
        rules: list[Path] = RULES_OPTION,
        no_builtin: bool = NO_BUILTIN_OPTION,
        deep: bool = typer.Option(True, "--deep/--no-deep", help="Wireshark's dissectors for SMB file transfers "
                                  "(only when the capture has SMB flows; needs tshark)."),
        detect: bool = typer.Option(True, "--detect/--no-detect", help="Content scanning, asset discovery and "
                                    "alerts; with --no-detect only events are stored (run `sentinel detect` later)."),
    ) -> None:
        """Decode capture files into events, store them and print a summary.

        Damaged input (truncated, corrupt, not a capture, unsupported link type) is reported as one `error:` line
        per file naming the packet number and byte offset; the events decoded before the damage are kept and the
        exit code is 2. With --strict, the analysis stops at the first damage.
        """
        from ..capture.pipeline import analyze_files
        from ..decode.registry import default_registry
        from ..evaluate import load_yara, payload_scanner

        for p in captures:
            if not p.exists():
                raise InputError(str(p), "no such file")
            if p.is_dir():
                raise InputError(str(p), "is a directory, not a capture file")
        started = time.perf_counter()
        progress_cm, cb = _progress("analysing")
        yara_rules = load_yara(rules, builtin=not no_builtin) if detect else None
        deep_path = _DeepPath(captures, sensor) if deep and detect else None
        # why the capture workers start first: they need only the decoders and the YARA rules. The rest of the
        # start-up (the store's and the rules engine's imports, migrations, Sigma rules: ~1.7 s on one core,
        # measured) then runs while they decode, instead of before. Rows are serialised in the workers
        # (`prepare`), before the inventory is read: see `_consume` for the verdicts set afterwards.
        run = analyze_files(captures, registry=default_registry(), sensor=sensor, workers=workers, strict=strict,
                            progress=cb, scan=payload_scanner(yara_rules), prepare=events_data,
                            watch_ports=SMB_PORTS if deep_path else (), on_watch=deep_path.start if deep_path else None)
        with ExitStack() as stack:
            stack.callback(run.close)  # stops the workers if anything below gives up (a bad rule, the store)
            if deep_path is not None:
                stack.callback(deep_path.wait)
            from ..evaluate import Evaluation
            from ..store import RunWriter, open_store

            evaluation = Evaluation(rules, builtin=not no_builtin, enabled=detect, yara_rules=yara_rules)
            engine = open_store(db)
            evaluation.use_inventory(engine)
            events_file = _EventsFile(events) if events else None
            if events_file:
                stack.callback(events_file.close)
            writer = stack.enter_context(RunWriter(engine, "analyze", [str(p) for p in captures]))
            stack.enter_context(progress_cm)
            kinds, _ = _consume(run, writer, events_file, evaluation)
            stats = run.stats
            if deep_path is not None:
                _deep(deep_path, evaluation, writer, events_file, kinds)
            outcome = _evaluate(evaluation, engine, writer, events_file, kinds)
            writer.counts = {"packets": stats.packets, "bytes": stats.bytes, "alerts": len(outcome.alerts)}
            if stats.errors:
                writer.mark("incomplete", "; ".join(str(e) for e in stats.errors)[:2000])
        _output(stats, kinds, writer.run_id, outcome, json_out, time.perf_counter() - started)
        if stats.errors:
            _report_damage(stats.errors)
            raise typer.Exit(2)

    @app.command("watch")
    def watch(
        iface: str = typer.Option(..., "--iface", help="Interface to capture on (needs CAP_NET_RAW)."),
        duration: Optional[float] = typer.Option(None, "--duration", min=0.1, help="Stop after S seconds."),
        bpf: Optional[str] = typer.Option(None, "--bpf", help="Capture filter (tcpdump syntax)."),
        db: Optional[str] = DB_OPTION,
        json_out: bool = JSON_OPTION,
        events: Optional[Path] = typer.Option(None, "--events", help="Write every event as one JSON line to FILE."),
        rules: list[Path] = RULES_OPTION,
        no_builtin: bool = NO_BUILTIN_OPTION,
    ) -> None:
        """Capture live traffic and run the same pipeline as `analyze` (Ctrl-C stops and stores what was seen)."""
        from ..capture.pipeline import watch as watch_iface
        from ..decode.registry import default_registry
        from ..store import RunWriter, open_store

        from ..evaluate import Evaluation

        evaluation = Evaluation(rules, builtin=not no_builtin, streaming=True)  # bounded memory, however long
        engine = open_store(db)
        evaluation.use_inventory(engine)
        started = time.perf_counter()
        with ExitStack() as stack:
            events_file = _EventsFile(events) if events else None
            if events_file:
                stack.callback(events_file.close)
            writer = stack.enter_context(RunWriter(engine, "watch", [f"iface:{iface}"]))
            run = watch_iface(iface, duration=duration, bpf=bpf, registry=default_registry())
            kinds: Counter = Counter()
            published: list = []
            try:
                kinds, published = _consume(run, writer, events_file, evaluation, engine, live=not json_out)
            except KeyboardInterrupt:  # what was captured until then is still evaluated and stored
                writer.mark("incomplete", "interrupted by the user")
            stats = run.stats
            outcome = _evaluate(evaluation, engine, writer, events_file, kinds, published)
            writer.counts = {"packets": stats.packets, "bytes": stats.bytes, "kernel_drops": stats.kernel_drops,
                             "alerts": len(outcome.alerts)}
        _output(stats, kinds, writer.run_id, outcome, json_out, time.perf_counter() - started)
