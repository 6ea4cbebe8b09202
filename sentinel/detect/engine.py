"""The rules engine: events in, alerts out. The same object serves offline analysis and streaming ingest.

    engine = Engine(RuleSet.load(["my-rules/"]))
    for ev in events:                 # Event objects, or dicts as Event.to_dict() gives them, in timestamp order
        engine.process(ev)            # -> alerts opened by this event (objects keep updating afterwards)
        engine.drain_closed()         # (streaming) alerts that are final: quiet for longer than the window
    alerts = engine.finish()          # everything not yet drained, with final counts

Each event is tested only against the rules of its kind, by one function generated per kind and event
representation (compiler.compile_kind): an Event class gets one that reads attributes, dicts one that reads keys;
both are built on first use. A rule referenced by a correlation feeds that correlation's state; it alerts on its
own unless a correlation said `generate: false`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..events.base import Event
from .alerts import EVIDENCE_FIELDS, Aggregator, Alert, ref_dict
from .compiler import ClassReader, DictReader, Reader, compile_kind, compile_values
from .correlate import CorrelationState, Firing
from .ruleset import Correlation, Rule, RuleSet


#: A matching rule's input to one correlation: (state.update, read, correlation, rule id), where `read(ev)` gives
#: (group key, counted value or None, evidence values) in one generated function. A tuple, not an object: the hot
#: loop unpacks it instead of following attribute chains.
_Feed = tuple[Callable[..., Sequence[Firing]], Callable[[Any], tuple[Any, ...]], Correlation, str]


@dataclass
class _Plan:
    """What the engine runs for one event kind in one representation (an Event class, or dicts)."""

    match: Callable[[Any], list[tuple[Rule, list[_Feed]]]]  # -> (rule, its feeds) for every rule that matches
    ref: Callable[[Any], tuple[Any, ...]]  # -> the values of EVIDENCE_FIELDS
    attrs: bool  # read ts/src_ip/dst_ip as attributes (Event) rather than with .get (dicts)


_SRC = EVIDENCE_FIELDS.index("src_ip")


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
        # kind -> [(predicate, guard, rule, correlation states fed)], in rule order
        self.index: dict[str, list[tuple[Any, Any, Rule, list[CorrelationState]]]] = {}
        for r in ruleset.rules:
            for k in r.meta.kinds:
                self.index.setdefault(k, []).append((r.compiled.pred, r.guards.get(k), r, feeds.get(r.meta.id, [])))
        self._plans: dict[type, _Plan] = {}  # Event class -> plan
        self._dict_plans: dict[str, _Plan] = {}  # kind -> plan for dict events
        self.events = 0
        self.matches = 0
        self._last_sweep = 0.0

    # ------------------------------------------------------------ plans

    def _plan_for(self, ev: Any) -> _Plan | None:
        """Build (and keep) the plan for this event's class, or for its kind when it is a dict; None: no rules."""
        if isinstance(ev, Event):
            plan = self._plans[type(ev)] = self._build(ev.KIND, ClassReader(type(ev)), attrs=True)
            return plan
        kind = ev.get("kind")
        if kind not in self.index:  # not kept: dict kinds are whatever the input says
            return None
        plan = self._dict_plans.get(kind)
        if plan is None:
            plan = self._dict_plans[kind] = self._build(kind, DictReader(), attrs=False)
        return plan

    def _build(self, kind: str, reader: Reader, attrs: bool) -> _Plan:
        items = []
        for _pred, guard, rule, states in self.index.get(kind, []):
            feeds = [self._feed(st, rule, reader) for st in states]
            items.append((rule.compiled.tree, guard, (rule, feeds)))
        return _Plan(compile_kind(items, reader), compile_values(EVIDENCE_FIELDS, reader), attrs)

    @staticmethod
    def _feed(st: CorrelationState, rule: Rule, reader: Reader) -> _Feed:
        rid = rule.meta.id
        shape = (tuple(st.group_fields[rid]), st.value_fields.get(rid), EVIDENCE_FIELDS)
        return (st.update, compile_values(shape, reader), st.corr, rid)

    # ------------------------------------------------------------ events

    def process(self, ev: Any) -> list[Alert]:
        """Evaluate one event (an Event, or a dict as Event.to_dict() gives it); returns the alerts it opened."""
        self.events += 1
        if ev.__class__ is dict:
            plan = self._dict_plans.get(ev.get("kind"))  # type: ignore[arg-type]
        else:
            plan = self._plans.get(ev.__class__)
        if plan is None:
            plan = self._plan_for(ev)
            if plan is None:
                return []
        hits = plan.match(ev)
        if not hits:
            return hits  # a fresh empty list: most events match nothing, so no second allocation
        return self._matched(ev, plan, hits)

    def _matched(self, ev: Any, plan: _Plan, hits: list[tuple[Rule, list[_Feed]]]) -> list[Alert]:
        new: list[Alert] = []
        ts = float((ev.ts if plan.attrs else ev.get("ts")) or 0.0)
        self.matches += len(hits)
        for rule, feeds in hits:
            if rule.generate:
                src, dst = (ev.src_ip, ev.dst_ip) if plan.attrs else (ev.get("src_ip"), ev.get("dst_ip"))
                a = self.agg.add(rule.meta, {"src_ip": src, "dst_ip": dst}, ts, lambda: [ref_dict(plan.ref(ev))], 1, src, dst)
                if a is not None:
                    new.append(a)
            for update, read, corr, rid in feeds:
                key, value, ref = read(ev)
                firings = update(rid, key, value, ts, ref)
                if firings:
                    for f in firings:
                        a = self._fire(corr, f)
                        if a is not None:
                            new.append(a)
        return new

    def process_many(self, events: Iterable[Any]) -> list[Alert]:
        for ev in events:
            self.process(ev)
        return self.finish()

    def _fire(self, corr: Correlation, f: Firing) -> Alert | None:
        group = f.group
        src = group.get("src_ip") or group.get("c-ip") or group.get("SourceIp")
        dst = group.get("dst_ip") or group.get("DestinationIp")
        if src is None and f.refs:
            last = f.refs[-1][_SRC]  # the last evidence reference's src_ip (ref_dict drops None and "")
            src = None if last in (None, "") else last
        # evidence passed lazily: merging into an alert that already holds max_evidence references needs none
        return self.agg.add(corr.meta, group, f.ts, lambda: f.evidence, f.n, src, dst, corr.type)

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

    def explain(self, ev: Any) -> list[tuple[Rule, list[dict[str, Any]]]]:
        """Rules that match `ev`, each with the tests that were true (selection, field, test, event value).

        Which rules match comes from the same generated function `process` runs; the per-leaf tests only say why."""
        plan = self._plans.get(ev.__class__) if isinstance(ev, Event) else self._dict_plans.get(ev.get("kind"))
        if plan is None:
            plan = self._plan_for(ev)
            if plan is None:
                return []
        out = []
        for rule, _feeds in plan.match(ev):
            why = []
            for leaf in rule.compiled.leaves:
                if leaf.pred(ev):
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
