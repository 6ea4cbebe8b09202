"""Streaming evaluation of Sigma correlation rules with bounded state.

Each correlation keeps one small state per group (the values of its `group-by` fields) in an LRU-ordered dict
capped at `max_groups`: a flood of distinct sources evicts the least recently seen groups instead of growing
without bound. Per-group state is capped too (`max_values` distinct values for value_count; event_count keeps only
as many timestamps as its threshold needs).

Window semantics (documented in docs/detection.md):
* `gt` / `gte` thresholds use a sliding window and fire as soon as the count in the last `timespan` seconds
  reaches them; while the group stays above the threshold each further event adds 1 to the alert's count.
* `lt` / `lte` / `eq` / `neq` and ranges (`gte` + `lte`) can only be decided once a window is over, so they use
  tumbling windows that start at a group's first event and are evaluated when a later event falls past the end,
  on `sweep(now)`, or at `finish()`. A group with no events at all cannot fire (absence needs a known group).
* `temporal` fires when every referenced rule matched within `timespan` (or when the extended boolean condition is
  true), `temporal_ordered` when they matched in the listed order within `timespan`; both then start over.
Events are expected in timestamp order (offline analysis sorts them); slightly late events still count.
"""

from __future__ import annotations

import operator
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaRuleReference,
)

from .alerts import evidence_ref
from .compiler import getter
from .ruleset import Correlation, Rule, _mapped_field

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


@dataclass
class Firing:
    """A correlation condition became true for a group."""

    group: dict[str, Any]
    ts: float
    n: int
    evidence: list[dict[str, Any]]


@dataclass
class _Group:
    start: float = 0.0  # tumbling windows: window start
    times: deque = field(default_factory=deque)  # event_count sliding
    count: int = 0  # tumbling event count
    values: OrderedDict = field(default_factory=OrderedDict)  # value_count: value -> last ts
    seen: dict = field(default_factory=dict)  # temporal: rule id -> last ts
    chain: list = field(default_factory=list)  # temporal_ordered: start ts of the chain reaching each step
    active: bool = False
    evidence: deque = field(default_factory=lambda: deque(maxlen=10))
    last: float = 0.0


class CorrelationState:
    def __init__(self, corr: Correlation, max_groups: int = 100_000, max_values: int = 10_000, max_evidence: int = 10) -> None:
        self.corr = corr
        self.max_groups = max_groups
        self.max_values = max_values
        self.max_evidence = max_evidence
        self.groups: OrderedDict[tuple[Any, ...], _Group] = OrderedDict()
        self.evicted = 0
        self.sliding = corr.type in ("event_count", "value_count") and corr.op in ("gt", "gte") and corr.upper is None
        self.tumbling = corr.type in ("event_count", "value_count") and not self.sliding
        self.check = _OPS.get(corr.op or "gte", operator.ge)
        self.threshold = corr.count if corr.count is not None else 1
        self.upper = (_OPS[corr.upper[0]], corr.upper[1]) if corr.upper else None
        # event_count only needs the newest `threshold + 1` timestamps to decide gt/gte
        self.keep = int(self.threshold) + 1 if self.sliding else 0
        self.order = [r.meta.id for r in corr.rules]
        self.group_getters: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self.value_getters: dict[str, Callable[[dict[str, Any]], Any]] = {}
        for r in corr.rules:
            self.group_getters[r.meta.id] = [getter(self._field(r, g)) for g in corr.group_by]
            if corr.value_field:
                self.value_getters[r.meta.id] = getter(self._field(r, corr.value_field))

    def _field(self, rule: Rule, name: str) -> str:
        alias = self.corr.aliases.get(name)
        if alias is not None and rule.meta.id in alias:
            return alias[rule.meta.id]
        return _mapped_field(rule, name)

    # ------------------------------------------------------------ state

    def _group(self, key: tuple[Any, ...], ts: float) -> _Group:
        g = self.groups.get(key)
        if g is None:
            g = _Group(start=ts, evidence=deque(maxlen=self.max_evidence))
            if self.corr.type == "temporal_ordered":
                g.chain = [None] * len(self.order)
            self.groups[key] = g
            if len(self.groups) > self.max_groups:
                self.groups.popitem(last=False)
                self.evicted += 1
        else:
            self.groups.move_to_end(key)
        return g

    def _in_range(self, n: float) -> bool:
        if not self.check(n, self.threshold):
            return False
        return self.upper is None or self.upper[0](n, self.upper[1])

    def _gdict(self, key: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.corr.group_by, key))

    # ------------------------------------------------------------ events

    def on_match(self, rule: Rule, ev: dict[str, Any]) -> list[Firing]:
        ts = float(ev.get("ts") or 0.0)
        key = tuple(get(ev) for get in self.group_getters[rule.meta.id])
        out: list[Firing] = []
        if self.tumbling:
            g = self.groups.get(key)
            if g is not None and ts - g.start > self.corr.timespan:
                f = self._close(key, g)
                if f:
                    out.append(f)
                del self.groups[key]
        g = self._group(key, ts)
        g.last = ts
        g.evidence.append(evidence_ref(ev))
        span = self.corr.timespan
        t = self.corr.type
        if t == "event_count":
            if self.tumbling:
                g.count += 1
                return out
            g.times.append(ts)
            while g.times and g.times[0] < ts - span:
                g.times.popleft()
            while len(g.times) > self.keep:
                g.times.popleft()
            out.extend(self._slide(key, g, len(g.times)))
        elif t == "value_count":
            v = self.value_getters[rule.meta.id](ev)
            if v is None:
                return out
            v = v if not isinstance(v, list) else tuple(v)
            g.values[v] = ts
            g.values.move_to_end(v)
            if not self.tumbling:
                while g.values and next(iter(g.values.values())) < ts - span:
                    g.values.popitem(last=False)
            while len(g.values) > self.max_values:
                g.values.popitem(last=False)
            if not self.tumbling:
                out.extend(self._slide(key, g, len(g.values)))
        elif t == "temporal":
            g.seen[rule.meta.id] = ts
            for rid in [r for r, t0 in g.seen.items() if t0 < ts - span]:
                del g.seen[rid]
            if self._temporal_true(g.seen):
                out.append(Firing(self._gdict(key), ts, len(g.seen), list(g.evidence)))
                g.seen.clear()
                g.evidence.clear()
        elif t == "temporal_ordered":
            # a rule may appear at several positions; advance the later ones first so one event is one step
            for i in reversed([i for i, rid in enumerate(self.order) if rid == rule.meta.id]):
                if i == 0:
                    g.chain[0] = ts
                else:
                    prev = g.chain[i - 1]
                    if prev is not None and ts - prev <= span:
                        g.chain[i] = prev if g.chain[i] is None else max(g.chain[i], prev)
            last = g.chain[-1]
            if last is not None and ts - last <= span:
                out.append(Firing(self._gdict(key), ts, len(self.order), list(g.evidence)))
                g.chain = [None] * len(self.order)
                g.evidence.clear()
        return out

    def _slide(self, key: tuple[Any, ...], g: _Group, n: int) -> list[Firing]:
        if self._in_range(n):
            if not g.active:
                g.active = True
                return [Firing(self._gdict(key), g.last, n, list(g.evidence))]
            return [Firing(self._gdict(key), g.last, 1, [g.evidence[-1]])]
        g.active = False
        return []

    def _temporal_true(self, seen: dict[str, float]) -> bool:
        expr = self.corr.expression
        if expr is None:
            return all(rid in seen for rid in self.order)
        names = {}
        for r in self.corr.rules:
            names[r.meta.id] = r.meta.id in seen
            if r.meta.name:
                names[r.meta.name] = r.meta.id in seen
        return _eval(expr, names)

    def _close(self, key: tuple[Any, ...], g: _Group) -> Firing | None:
        n = g.count if self.corr.type == "event_count" else len(g.values)
        if self._in_range(n):
            return Firing(self._gdict(key), g.last, n, list(g.evidence))
        return None

    def sweep(self, now: float) -> list[Firing]:
        """Evaluate tumbling windows that ended before `now` (streaming: call now and then)."""
        if not self.tumbling:
            return []
        out = []
        for key in [k for k, g in self.groups.items() if now - g.start > self.corr.timespan]:
            f = self._close(key, self.groups.pop(key))
            if f:
                out.append(f)
        return out

    def finish(self) -> list[Firing]:
        out = []
        if self.tumbling:
            for key, g in self.groups.items():
                f = self._close(key, g)
                if f:
                    out.append(f)
        self.groups.clear()
        return out


def _eval(node: Any, names: dict[str, bool]) -> bool:
    if isinstance(node, SigmaRuleReference):
        return names.get(node.reference, False)
    if isinstance(node, CorrelationConditionAND):
        return all(_eval(a, names) for a in node.args)
    if isinstance(node, CorrelationConditionOR):
        return any(_eval(a, names) for a in node.args)
    if isinstance(node, CorrelationConditionNOT):
        return not _eval(node.args[0], names)
    return False
