"""Evaluating one run's events: content scanning, asset discovery, detection — shared by every front end.

A sensor run (capture analysis, log ingest, later the daemon) produces events in batches. `Evaluation` takes them
as they come and, at the end of the run, turns them into what users act on:

* payloads from traffic (HTTP bodies, MQTT messages, files) are scanned with YARA as they arrive -> `yara_match`;
* every event feeds passive asset discovery; devices are upserted and silent devices yield `heartbeat_lost`;
* all events, in timestamp order, go through the Sigma rules engine -> aggregated alerts, stored with links to
  their evidence events.

Why order at the end: capture workers deliver flows when they close, so batches are not in time order, and
correlations (scan, flood, brute force windows) need it. Events of one run are kept in memory for that sort;
a run is bounded by its input (the daemon evaluates in periods).
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .decode.base import Payload
from .events.base import Event


def yara_sources(rule_dirs: list[Path], builtin: bool) -> list[Path]:
    """YARA rule files: the built-in `rules/yara/` (unless --no-builtin) plus any user directory holding .yar files."""
    from .content.rules import default_rules_dir

    out = [default_rules_dir()] if builtin else []
    for d in rule_dirs:
        if d.is_file() and d.suffix.lower() in (".yar", ".yara"):
            out.append(d)
        elif d.is_dir() and any(p.suffix.lower() in (".yar", ".yara") for p in d.rglob("*")):
            out.append(d)
    return out


def load_yara(rule_dirs: Iterable[Path], builtin: bool) -> Any:
    """The compiled YARA rules of a run (built-in `rules/yara/` unless not `builtin`, plus user .yar files), or
    None when there are none. Loaded apart from `Evaluation` so capture workers can be forked with them before the
    rest (see `sentinel analyze`)."""
    from .content.rules import load_rules

    sources = yara_sources([Path(d) for d in rule_dirs], builtin)
    return load_rules(sources).rules if sources else None


def payload_scanner(yara_rules: Any) -> Callable[[list[Payload]], list[Event]] | None:
    """YARA over traffic payloads as a function capture workers run where the payloads are decoded (None: no
    rules). Its matches are events of the run."""
    if yara_rules is None:
        return None

    def scan(payloads: list[Payload]) -> list[Event]:
        if not payloads:
            return []
        from .content.scan import scan_payloads

        return scan_payloads(yara_rules, payloads)

    return scan


@dataclass
class Outcome:
    alerts: list[Any] = field(default_factory=list)  # sentinel.detect.Alert
    extra_events: list[Event] = field(default_factory=list)  # heartbeat_lost, device_unknown
    assets: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)


class Evaluation:
    """Evaluates a run's events in time order with bounded memory; see the module docstring.

    Events pass through a reorder buffer before asset discovery and the rules engine see them: capture workers
    deliver a flow's events when the flow closes and several log files interleave, so arrival order is not time
    order, but it is close to it. The buffer keeps at least the `reorder` most recently added events (batch runs:
    200,000; streaming runs such as `watch` and `ingest --follow`, whose input never ends: 20,000) and releases the
    oldest beyond that in time order, so memory stays bounded however large the input. `drain` returns alerts that
    are final.

    why a sorted list and not a heap: one push and one pop per event cost ~20 µs of heap work at 400k events; the
    buffer is instead sorted when it has grown by a quarter of `reorder` (timsort merges the arriving batches,
    which are runs of nearly sorted events, in close to linear time) and the oldest part is released in one slice.
    """

    BATCH_REORDER = 200_000
    STREAM_REORDER = 20_000

    def __init__(self, rule_dirs: Iterable[Path] = (), builtin: bool = True, assets: bool = True,
                 streaming: bool = False, enabled: bool = True, yara_rules: Any = None) -> None:
        """`yara_rules`: the run's compiled YARA rules when the caller has loaded them (`load_yara`)."""
        from .assets.observe import Observer
        from .detect import Engine, RuleSet

        self.enabled = enabled  # False: events are only stored (`analyze --no-detect`; `sentinel detect` later)
        self.streaming = streaming
        self.reorder = self.STREAM_REORDER if streaming else self.BATCH_REORDER
        self._buf: list[Event] = []
        self.lost_count = 0
        self.systems: dict[str, str] | None = None  # inventory: IP -> system (use_inventory)
        self._scan: Callable[[list[Payload]], list[Event]] | None = None
        if not enabled:
            return
        dirs = [Path(d) for d in rule_dirs]
        self.ruleset = RuleSet.load([d for d in dirs if not _only_yara(d)], builtin=builtin)
        self._scan = payload_scanner(yara_rules if yara_rules is not None else load_yara(dirs, builtin))
        self.observer = Observer() if assets else None
        self.engine = Engine(self.ruleset)

    def use_inventory(self, db) -> None:
        """Read the inventory (IP -> system) that authorises Modbus masters for slaves; no inventory, no verdict."""
        from .assets.registry import list_assets

        assets = list_assets(db) if self.enabled else []
        self.systems = {a["ip"]: a["system"] for a in assets if a.get("ip") and a.get("system")} if assets else None

    def add(self, events: list[Event]) -> list[Event]:
        """Take events of the run; returns heartbeat_lost events found on the way (store them with the run)."""
        if not self.enabled:
            return []
        self.authorise(events)
        buf = self._buf
        buf += events
        lost: list[Event] = []
        if not self.streaming:
            # why: a batch run keeps hundreds of thousands of events (the reorder buffer) and the observer's and
            # engine's state alive; the collector's full passes rescanned all of it again and again. Freezing moves
            # what is alive now out of its sight (an O(1) splice); reference counting still frees it. Not for
            # streaming runs: they live long, and a cycle frozen by chance would never be collected.
            gc.freeze()
        if len(buf) > self.reorder + self.reorder // 4:
            buf.sort(key=_ts)  # stable: events of one batch keep their order among equal times
            keep = len(buf) - self.reorder
            ready, self._buf = buf[:keep], buf[keep:]
            for ev in ready:
                lost += self._feed(ev)
        return lost

    def _feed(self, ev: Event) -> list[Event]:
        lost = self.observer.observe(ev) if self.observer is not None else []
        self.engine.process(ev)
        for h in lost:
            self.engine.process(h)
        self.lost_count += len(lost)
        return lost

    def authorise(self, events: list[Event]) -> list[int]:
        """Set each Modbus request's `master_authorised` from the inventory (nothing without one); returns the
        positions of the events it set.

        why here: authorisation is site data, not something the decoder can know. It is set before the events are
        stored (`add` does it; `sentinel analyze` does it before storing the rows capture workers serialised, and
        serialises the events it set again), so the verdict the alerts were raised on is also what an assessor
        reads back from the store."""
        systems = self.systems
        if systems is None:
            return []
        set_at = []
        for i, ev in enumerate(events):
            if ev.KIND == "modbus" and ev.request:
                master, slave = systems.get(ev.src_ip or ""), systems.get(ev.dst_ip or "")
                ev.master_authorised = master is not None and master == slave
                set_at.append(i)
        return set_at

    def scan(self, payloads: list[Payload]) -> list[Event]:
        """YARA over traffic payloads; the matches are events of the run (the caller adds and stores them)."""
        if not self.enabled or not payloads or self._scan is None:
            return []
        return self._scan(payloads)

    def drain(self) -> list[Any]:
        """Alerts that are final (quiet for longer than the aggregation window), for publishing while running."""
        return self.engine.drain_closed() if self.enabled else []

    def finish(self, db, run_id: int | None) -> Outcome:
        """Evaluate what is still buffered, upsert the devices seen, and close the engine. The caller stores
        `extra_events` (heartbeat_lost, device_unknown) with the run, then the alerts (so they link to stored
        evidence)."""
        if not self.enabled:
            return Outcome()
        out = Outcome(rules={"rules": len(self.ruleset.rules), "correlations": len(self.ruleset.correlations)})
        buf, self._buf = self._buf, []
        buf.sort(key=_ts)
        for ev in buf:
            out.extra_events += self._feed(ev)
        if self.observer is not None:
            from .assets.registry import unknown_device_events, upsert_devices

            devices = self.observer.devices()
            new_keys: list[str] = []
            out.assets = upsert_devices(db, devices, run_id, new_keys)
            unknown = unknown_device_events(db, devices, new_keys)
            for ev in unknown:
                self.engine.process(ev)
            out.extra_events += unknown
            out.assets.update(devices=len(devices), heartbeat_lost=self.lost_count, unknown_devices=len(unknown),
                              dropped=self.observer.dropped)
        out.alerts = sorted(self.engine.finish(), key=lambda a: (a.first_seen, a.rule))
        return out


def _ts(ev: Event) -> float:
    return ev.ts


def _only_yara(d: Path) -> bool:
    if d.is_file():
        return d.suffix.lower() in (".yar", ".yara")
    return d.is_dir() and not any(p.suffix.lower() in (".yml", ".yaml") for p in d.rglob("*"))


ALERT_FIELDS = ("rule", "title", "level", "layer", "attack", "controls", "src", "dst", "count", "first_seen",
                "last_seen", "type", "group", "evidence")


def alert_json(alert: Any) -> dict[str, Any]:
    """The JSON form of an alert in `--json` outputs."""
    d = alert.to_dict()
    return {k: d[k] for k in ALERT_FIELDS}


def print_alerts(alerts: list[Any], limit: int = 50) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 160)  # piped output: wide rows, not 80-column wraps
    if not alerts:
        con.print("no alerts")
        return
    t = Table(title=f"Alerts ({len(alerts)})")
    for col in ("level", "layer", "rule", "src -> dst", "count", "ATT&CK", "MLPS"):
        t.add_column(col)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
    for a in sorted(alerts, key=lambda a: (order.get(a.level, 5), a.first_seen))[:limit]:
        t.add_row(a.level, a.layer, a.title, f"{a.src or '-'} -> {a.dst or '-'}", str(a.count),
                  ", ".join(a.attack), ", ".join(a.controls))
    con.print(t)
    if len(alerts) > limit:
        con.print(f"... and {len(alerts) - limit} more (use --json for all)")
