"""The rules engine: events in, alerts out. The same object serves offline analysis and streaming ingest.

    engine = Engine(RuleSet.load(["my-rules/"]))
    for ev in events:                 # Event objects, or dicts as Event.to_dict() gives them, in timestamp order
        engine.process(ev)            # -> alerts opened by this event (objects keep updating afterwards)
        engine.drain_closed()         # (streaming) alerts that are final: quiet for longer than the window
    alerts = engine.finish()          # everything not yet drained, with final counts

Each event is tested only against the rules of its kind, by one function generated per kind and event
representation (compiler.compile_dispatch): an Event class gets one that reads attributes, dicts one that reads
keys; both are built on first use. A matching rule's work is generated into that function too: it feeds the
correlation states the rule is part of (group key, counted value and evidence read inline) and, unless a
correlation said `generate: false`, the aggregator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..events.base import Event
from .alerts import EVIDENCE_FIELDS, Aggregator, Alert
from .compiler import Action, ClassReader, CodeGen, DictReader, Reader, compile_dispatch, compile_kind
from .correlate import CorrelationState, Firing
from .ruleset import Correlation, Rule, RuleSet


@dataclass
class _Plan:
    """What `explain` runs for one event kind in one representation (an Event class, or dicts)."""

    match: Callable[[Any], list[tuple[Rule, list[CorrelationState]]]]  # -> (rule, states it feeds) per matching rule


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
        self._run: dict[type, Callable[[Any], list[Alert]]] = {}  # Event class -> generated process function
        self._dict_run: dict[str, Callable[[Any], list[Alert]]] = {}  # kind -> the same for dict events
        self._plans: dict[type, _Plan] = {}  # explain: Event class -> plan
        self._dict_plans: dict[str, _Plan] = {}  # explain: kind -> plan for dict events
        self._matches = [0]  # rule matches, counted by the generated functions (a list: they share it)
        self.events = 0
        self._last_sweep = 0.0

    @property
    def matches(self) -> int:
        return self._matches[0]

    # ------------------------------------------------------------ events

    def process(self, ev: Any) -> list[Alert]:
        """Evaluate one event (an Event, or a dict as Event.to_dict() gives it); returns the alerts it opened."""
        self.events += 1
        run = self._run.get(ev.__class__)
        if run is None:
            if ev.__class__ is dict:
                run = self._dict_run.get(ev.get("kind"))  # type: ignore[arg-type]
            if run is None:
                run = self._runner_for(ev)
                if run is None:
                    return []
        return run(ev)

    def _runner_for(self, ev: Any) -> Callable[[Any], list[Alert]] | None:
        """Build (and keep) the function for this event's class, or for its kind when it is a dict; None: no rules."""
        if isinstance(ev, Event):
            run = self._run[type(ev)] = self._build(ev.KIND, ClassReader(type(ev)))
            return run
        kind = ev.get("kind")
        if kind not in self.index:  # not kept: dict kinds are whatever the input says
            return None
        run = self._dict_run[kind] = self._build(kind, DictReader())
        return run

    def _build(self, kind: str, reader: Reader) -> Callable[[Any], list[Alert]]:
        """`f(ev) -> alerts opened`: every rule of the kind tested in order, each match handled where it is found.
        This replaced a hit list walked by `_matched`, which called one generated reader per correlation feed
        (three tuples per feed) and built a group dict and an evidence closure per detection match."""
        items = [(rule.compiled.tree, guard, self._action(rule, states))
                 for _pred, guard, rule, states in self.index.get(kind, [])]
        return compile_dispatch(items, reader, head=["new = []", "ref = None"], tail=["return new"])

    def _action(self, rule: Rule, states: list[CorrelationState]) -> Action:
        """The statements run when `rule` matches: count it; read the time and the evidence reference once per
        event (the first matching rule does); feed the aggregator (unless the rule only feeds correlations) and
        every correlation state the rule is part of, in that order (as `_matched` did: alert order depends on it)."""

        def write(gen: CodeGen) -> list[str]:
            ref = ", ".join(gen.read(f) for f in EVIDENCE_FIELDS)
            lines = [f"{gen.const(self._matches)}[0] += 1",
                     "if ref is None:",
                     f"    ts = float({gen.read('ts')} or 0.0)",
                     f"    ref = ({ref},)"]
            if rule.generate:
                add = gen.const(self.agg.add_detection)
                lines += [f"a = {add}({gen.const(rule.meta)}, ts, ref, {gen.read('src_ip')}, {gen.read('dst_ip')})",
                          "if a is not None:",
                          "    new.append(a)"]
            for st in states:
                rid = rule.meta.id
                fields = st.group_fields[rid]
                key = gen.read(fields[0]) if st.flat else "(" + "".join(f"{gen.read(f)}, " for f in fields) + ")"
                vf = st.value_fields.get(rid)
                value = gen.read(vf) if vf is not None else "None"
                fire = gen.const(functools.partial(self._fire_all, st.corr))
                lines += [f"fs = {gen.const(st.update)}({gen.const(rid)}, {key}, {value}, ts, ref)",
                          "if fs:",
                          f"    {fire}(fs, new)"]
            return lines

        return write

    def _fire_all(self, corr: Correlation, firings: Sequence[Firing], new: list[Alert]) -> None:
        for f in firings:
            a = self._fire(corr, f)
            if a is not None:
                new.append(a)

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

        Which rules match comes from the same generated conditions `process` runs; the per-leaf tests only say why."""
        plan = self._plan_for(ev)
        if plan is None:
            return []
        out = []
        for rule, _states in plan.match(ev):
            why = []
            for leaf in rule.compiled.leaves:
                if leaf.pred(ev):
                    value = ev.get(leaf.field) if leaf.field else (ev.get("line") or ev.get("message"))
                    why.append({"selection": leaf.selection, "field": leaf.field or "<keywords>",
                                "test": leaf.description, "value": value})
            out.append((rule, why))
        return out

    def _plan_for(self, ev: Any) -> _Plan | None:
        if isinstance(ev, Event):
            plan = self._plans.get(type(ev))
            if plan is None:
                plan = self._plans[type(ev)] = self._explainer(ev.KIND, ClassReader(type(ev)))
            return plan
        kind = ev.get("kind")
        if kind not in self.index:
            return None
        plan = self._dict_plans.get(kind)
        if plan is None:
            plan = self._dict_plans[kind] = self._explainer(kind, DictReader())
        return plan

    def _explainer(self, kind: str, reader: Reader) -> _Plan:
        items = [(rule.compiled.tree, guard, (rule, states)) for _pred, guard, rule, states in self.index.get(kind, [])]
        return _Plan(compile_kind(items, reader))

    def stats(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "matches": self.matches,
            "correlation_groups": sum(len(s.groups) for s in self.states),
            "correlation_groups_evicted": sum(s.evicted for s in self.states),
        }
