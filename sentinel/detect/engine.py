"""The rules engine: events in, alerts out. The same object serves offline analysis and streaming ingest.

    engine = Engine(RuleSet.load(["my-rules/"]))
    for ev in events:                 # dicts as Event.to_dict() gives them, in timestamp order
        engine.process(ev)            # -> alerts opened by this event (objects keep updating afterwards)
        engine.drain_closed()         # (streaming) alerts that are final: quiet for longer than the window
    alerts = engine.finish()          # everything not yet drained, with final counts

Each event is tested only against the rules of its kind (an index built once). A rule referenced by a correlation
feeds that correlation's state; it alerts on its own unless a correlation said `generate: false`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .alerts import Aggregator, Alert, evidence_ref
from .correlate import CorrelationState, Firing
from .ruleset import Correlation, Rule, RuleSet


class Engine:
    def __init__(
        self,
        ruleset: RuleSet,
        window: float = 300.0,
        max_evidence: int = 10,
        max_groups: int = 100_000,
        max_values: int = 10_000,
        max_open_alerts: int = 50_000,
    ) -> None:
        self.ruleset = ruleset
        self.agg = Aggregator(window=window, max_open=max_open_alerts, max_evidence=max_evidence)
        self.states = [CorrelationState(c, max_groups, max_values, max_evidence) for c in ruleset.correlations]
        feeds: dict[str, list[CorrelationState]] = {}
        for st in self.states:
            for r in {r.meta.id: r for r in st.corr.rules}.values():
                feeds.setdefault(r.meta.id, []).append(st)
        # kind -> [(predicate, guard, rule, correlation states fed)] : the hot loop reads tuples, not attributes
        self.index: dict[str, list[tuple[Any, Any, Rule, list[CorrelationState]]]] = {}
        for r in ruleset.rules:
            for k in r.meta.kinds:
                self.index.setdefault(k, []).append((r.compiled.pred, r.guards.get(k), r, feeds.get(r.meta.id, [])))
        self.events = 0
        self.matches = 0
        self._last_sweep = 0.0

    def process(self, ev: dict[str, Any]) -> list[Alert]:
        self.events += 1
        entries = self.index.get(ev.get("kind"))  # type: ignore[arg-type]
        if not entries:
            return []
        memo: dict[str, Any] = {}
        new: list[Alert] = []
        for pred, guard, rule, states in entries:
            if guard is not None and not guard(ev):
                continue
            if not pred(ev, memo):
                continue
            self.matches += 1
            ts = float(ev.get("ts") or 0.0)
            if rule.generate:
                src, dst = ev.get("src_ip"), ev.get("dst_ip")
                a = self.agg.add(rule.meta, {"src_ip": src, "dst_ip": dst}, ts, lambda: [evidence_ref(ev)], 1, src, dst)
                if a is not None:
                    new.append(a)
            for st in states:
                for f in st.on_match(rule, ev):
                    a = self._fire(st.corr, f)
                    if a is not None:
                        new.append(a)
        return new

    def process_many(self, events: Iterable[dict[str, Any]]) -> list[Alert]:
        for ev in events:
            self.process(ev)
        return self.finish()

    def _fire(self, corr: Correlation, f: Firing) -> Alert | None:
        src = f.group.get("src_ip") or f.group.get("c-ip") or f.group.get("SourceIp")
        dst = f.group.get("dst_ip") or f.group.get("DestinationIp")
        if src is None and f.evidence:
            src = f.evidence[-1].get("src_ip")
        return self.agg.add(corr.meta, f.group, f.ts, f.evidence, f.n, src, dst, corr.type)

    def sweep(self, now: float) -> list[Alert]:
        """Streaming: close tumbling correlation windows that ended before `now`."""
        new = []
        for st in self.states:
            for f in st.sweep(now):
                a = self._fire(st.corr, f)
                if a is not None:
                    new.append(a)
        return new

    def drain_closed(self) -> list[Alert]:
        return self.agg.drain_closed()

    def finish(self) -> list[Alert]:
        for st in self.states:
            for f in st.finish():
                self._fire(st.corr, f)
        return self.agg.finish()

    def explain(self, ev: dict[str, Any]) -> list[tuple[Rule, list[dict[str, Any]]]]:
        """Rules that match `ev`, each with the tests that were true (selection, field, test, event value)."""
        out = []
        for pred, guard, rule, _ in self.index.get(ev.get("kind"), []):  # type: ignore[arg-type]
            if guard is not None and not guard(ev):
                continue
            if not pred(ev, {}):
                continue
            why = []
            for leaf in rule.compiled.leaves:
                if leaf.pred(ev, {}):
                    value = ev.get(leaf.field) if leaf.field else (ev.get("line") or ev.get("message"))
                    why.append({"selection": leaf.selection, "field": leaf.field or "<keywords>",
                                "test": leaf.description, "value": value})
            out.append((rule, why))
        return out

    def stats(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "matches": self.matches,
            "correlation_groups": sum(len(s.groups) for s in self.states),
            "correlation_groups_evicted": sum(s.evicted for s in self.states),
        }
