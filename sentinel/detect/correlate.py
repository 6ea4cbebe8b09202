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

import math
import operator
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaRuleReference,
)

from .alerts import EVIDENCE_FIELDS, ref_dict
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


Key = Any  # a group's key: the tuple of its group-by values, or the value itself with one group-by field (`flat`)


@dataclass
class Firing:
    """A correlation condition became true for a group. `refs` are the evidence as EVIDENCE_FIELDS values: a group
    over its threshold fires on every further event, and the alert it merges into usually has all the evidence it
    keeps already, so the dicts are only built when asked for (`evidence`)."""

    group: dict[str, Any]
    ts: float
    n: int
    refs: list[tuple[Any, ...]]

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return [ref_dict(r) for r in self.refs]


class _Group:
    """One group's state. Only the containers its correlation type uses are created: a scan or a client population
    makes thousands of groups, and five empty containers cost more than most updates."""

    __slots__ = ("start", "times", "count", "values", "order", "stale", "seen", "chain", "active", "evidence", "last")

    def __init__(self, start: float) -> None:
        self.start = start  # tumbling windows: window start
        self.times: deque | None = None  # event_count sliding: recent timestamps
        self.count = 0  # tumbling event count
        self.values: dict | None = None  # value_count: value -> ts of its latest update
        self.order: deque | None = None  # value_count: values, oldest update first (stale occurrences included)
        self.stale: dict | None = None  # value_count: value -> stale occurrences of it in `order`
        self.seen: dict | None = None  # temporal: rule id -> last ts
        self.chain: list | None = None  # temporal_ordered: start ts of the chain reaching each step
        self.active = False
        # the newest max_evidence references (tuples of EVIDENCE_FIELDS values): a list trimmed by hand, because a
        # deque(maxlen=...) measured 0.44 µs to create against 0.05 µs, and DNS clients make thousands of groups
        self.evidence: list[tuple[Any, ...]] = []
        self.last = 0.0


# value_count keeps, per group, the distinct values ordered by their latest update (the oldest leaves the window
# first). That was an OrderedDict with move_to_end; plain containers do the same for less (measured: a fresh
# OrderedDict's first lookup or peek costs ~1 µs, and DNS clients make thousands of fresh groups):
#   values: value -> ts of its latest update;  order: the values in update order, a value updated again leaving its
#   earlier occurrences behind;  stale: value -> how many such earlier occurrences are still in `order`.
# Those always come before the value's current occurrence, so the front occurrence of a value is stale while its
# count is positive. `order` is compacted when stale occurrences outnumber current ones (it stays within twice the
# distinct values), and every container holds only the event's values and floats: nothing the garbage collector
# has to track per update (tuples per update measured ~10 % of the engine's time in collections).


def _add_value(g: _Group, value: Any, ts: float) -> None:
    values = g.values
    if value in values:  # type: ignore[operator]
        stale = g.stale
        stale[value] = stale.get(value, 0) + 1  # type: ignore[union-attr]
    values[value] = ts  # type: ignore[index]
    order = g.order
    order.append(value)  # type: ignore[union-attr]
    if len(order) > 2 * len(values) + 16:  # type: ignore[arg-type]
        _compact(g)


def _compact(g: _Group) -> None:
    """Drop the stale occurrences from `order` (all of them: each lies before its value's current one)."""
    stale, keep = g.stale, deque()
    for v in g.order:  # type: ignore[union-attr]
        n = stale.get(v)  # type: ignore[union-attr]
        if n:
            stale[v] = n - 1  # type: ignore[index]
        else:
            keep.append(v)
    g.order, g.stale = keep, {}


def _drop_before(g: _Group, limit: float) -> None:
    """Drop values whose latest update is before `limit`, oldest update first, stopping at the first recent one."""
    values, order, stale = g.values, g.order, g.stale
    while order:
        v = order[0]
        n = stale.get(v)  # type: ignore[union-attr]
        if n:  # a stale occurrence
            order.popleft()
            if n == 1:
                del stale[v]  # type: ignore[union-attr]
            else:
                stale[v] = n - 1  # type: ignore[index]
        elif values[v] < limit:  # type: ignore[index]
            order.popleft()
            del values[v]  # type: ignore[union-attr]
        else:
            return


def _drop_oldest(g: _Group) -> None:
    values, order, stale = g.values, g.order, g.stale
    while order:
        v = order.popleft()  # type: ignore[union-attr]
        n = stale.get(v)  # type: ignore[union-attr]
        if n:
            if n == 1:
                del stale[v]  # type: ignore[union-attr]
            else:
                stale[v] = n - 1  # type: ignore[index]
        else:
            del values[v]  # type: ignore[union-attr]
            return


class CorrelationState:
    def __init__(self, corr: Correlation, max_groups: int = 100_000, max_values: int = 10_000, max_evidence: int = 10) -> None:
        self.corr = corr
        self.max_groups = max_groups
        self.max_values = max_values
        self.max_evidence = max_evidence
        # a group's key is the tuple of its group-by values, or with one group-by field (src_ip: most rules) that
        # value itself: no tuple to build per match, and a lookup among thousands of groups follows one object less
        # (measured on this machine: 500 ns against 170 ns a lookup in 20,000 groups, most of it cache misses)
        self.flat = len(corr.group_by) == 1
        self.groups: OrderedDict[Key, _Group | tuple[Any, ...]] = OrderedDict()  # tuple: see `_first`
        self.evicted = 0
        self.sliding = corr.type in ("event_count", "value_count") and corr.op in ("gt", "gte") and corr.upper is None
        self.tumbling = corr.type in ("event_count", "value_count") and not self.sliding
        self.check = _OPS.get(corr.op or "gte", operator.ge)
        self.threshold = corr.count if corr.count is not None else 1
        self.upper = (_OPS[corr.upper[0]], corr.upper[1]) if corr.upper else None
        # event_count only needs the newest `threshold + 1` timestamps to decide gt/gte
        self.keep = int(self.threshold) + 1 if self.sliding else 0
        # sliding counts are ints: `n >= least` is `check(n, threshold)` for gte (ceil) and gt (floor + 1)
        self.least = _least(corr.op, self.threshold) if self.sliding else math.inf
        # a first match cannot reach the count (1 < least): its group starts as a tuple (see `_first`)
        self.light = self.sliding and self.least > 1
        self.span = corr.timespan
        self.order = [r.meta.id for r in corr.rules]
        self.group_fields: dict[str, list[str]] = {}
        self.value_fields: dict[str, str] = {}
        for r in corr.rules:
            self.group_fields[r.meta.id] = [self._field(r, g) for g in corr.group_by]
            if corr.value_field:
                self.value_fields[r.meta.id] = self._field(r, corr.value_field)
        self.group_getters = {rid: [getter(f) for f in fs] for rid, fs in self.group_fields.items()}
        self.value_getters = {rid: getter(f) for rid, f in self.value_fields.items()}
        # the per-type state update, chosen once instead of tested per event; the two sliding counts (every scan,
        # flood and rate rule, ~200k updates per 1M packets) have a flat version of `update`
        if self.sliding and corr.type == "value_count":
            self.update = self._update_value_sliding  # type: ignore[method-assign]
        elif self.sliding and corr.type == "event_count":
            self.update = self._update_event_sliding  # type: ignore[method-assign]
        self._step = {
            "event_count": self._event_count,
            "value_count": self._value_count,
            "temporal": self._temporal,
            "temporal_ordered": self._temporal_ordered,
        }.get(corr.type, _no_step)

    def _field(self, rule: Rule, name: str) -> str:
        alias = self.corr.aliases.get(name)
        if alias is not None and rule.meta.id in alias:
            return alias[rule.meta.id]
        return _mapped_field(rule, name)

    # ------------------------------------------------------------ state

    def _touch(self, key: Key, ts: float, ref: tuple[Any, ...]) -> _Group:
        """The group of `key` (created if new, marked most recently used), with this match's time and evidence."""
        g = self.groups.get(key)
        if g is None:
            g = self._new_group(key, ts)
        else:
            self.groups.move_to_end(key)
        g.last = ts
        evidence = g.evidence
        evidence.append(ref)
        if len(evidence) > self.max_evidence:
            del evidence[0]
        return g

    def _new_group(self, key: Key, ts: float) -> _Group:
        g = self._make(ts)
        self.groups[key] = g
        if len(self.groups) > self.max_groups:
            self.groups.popitem(last=False)
            self.evicted += 1
        return g

    def _first(self, key: Key, ts: float, value: Any, ref: tuple[Any, ...]) -> Sequence[Firing]:
        """A sliding count's new group, kept as its first match (ts, value, evidence) until a second one comes:
        most groups never get one (one DNS client, one scanned port: 21,632 of the 40,244 groups left at the end of
        cap_1M), and creating a _Group with its containers (a deque, two dicts, a list) measured 2.2 µs, 4.9 µs with
        the garbage collections it triggers, against one small tuple here; freeing them at `finish` costs less too.
        `light` guarantees a first match cannot fire, so nothing is lost by deciding it at the second."""
        groups = self.groups
        groups[key] = (ts, value, ref)
        if len(groups) > self.max_groups:
            groups.popitem(last=False)
            self.evicted += 1
        return _NOTHING

    def _materialise(self, key: Key, first: tuple[Any, ...]) -> None:
        """Replace a group's first match by its _Group, replaying that match (the state the update would have
        left: the group's state depends only on its own matches, in order). Keeps the group's LRU position."""
        ts, value, ref = first
        self.groups[key] = self._make(ts)
        self.update("", key, value, ts, ref)  # a full group now: the normal path, which cannot fire here

    def _make(self, ts: float) -> _Group:
        g = _Group(ts)
        t = self.corr.type
        if t == "event_count":
            g.times = deque()
        elif t == "value_count":
            g.values, g.order, g.stale = {}, deque(), {}
        elif t == "temporal":
            g.seen = {}
        elif t == "temporal_ordered":
            g.chain = [None] * len(self.order)
        return g

    def _in_range(self, n: float) -> bool:
        if not self.check(n, self.threshold):
            return False
        return self.upper is None or self.upper[0](n, self.upper[1])

    def _gdict(self, key: Any) -> dict[str, Any]:
        if self.flat:
            return {self.corr.group_by[0]: key}
        return dict(zip(self.corr.group_by, key))

    # ------------------------------------------------------------ events

    def on_match(self, rule: Rule, ev: Any) -> list[Firing]:
        """`rule` matched event `ev` (a dict, or an Event): update its group; returns what fired."""
        rid = rule.meta.id
        getv = self.value_getters.get(rid)
        key = tuple(get(ev) for get in self.group_getters[rid])
        return list(self.update(
            rid,
            key[0] if self.flat else key,
            getv(ev) if getv is not None else None,
            float(ev.get("ts") or 0.0),
            tuple(ev.get(k) for k in EVIDENCE_FIELDS),
        ))

    def update(self, rid: str, key: Key, value: Any, ts: float, ref: tuple[Any, ...]) -> Sequence[Firing]:
        """on_match with the event already read: group key (the group-by value itself when there is one group-by
        field, see `flat`), counted value (value_count), time, evidence values (EVIDENCE_FIELDS order). The engine
        reads these in the function it generates per event class."""
        out: list[Firing] = []
        if self.tumbling:
            g = self.groups.get(key)
            if g is not None and ts - g.start > self.span:
                f = self._close(key, g)
                if f:
                    out.append(f)
                del self.groups[key]
        g = self._touch(key, ts, ref)
        self._step(g, key, rid, value, ts, out)
        return out

    # The two sliding updates below run for every DNS query, Modbus request, scan probe... (~200k calls on cap_1M):
    # `_touch` and `_count_in_window` are written out in them (two Python calls less per update), and the threshold
    # test is one int comparison with `least` instead of an operator-function call.

    def _update_value_sliding(self, rid: str, key: Key, value: Any, ts: float,
                              ref: tuple[Any, ...]) -> Sequence[Firing]:
        """`update` for value_count with a gt/gte threshold: the same steps, inlined."""
        groups = self.groups
        g = groups.get(key)
        if g is None:
            if self.light:
                return self._first(key, ts, value, ref)
            g = self._new_group(key, ts)
        else:
            if g.__class__ is tuple:
                self._materialise(key, g)
                g = groups[key]
            groups.move_to_end(key)
        g.last = ts
        evidence = g.evidence
        evidence.append(ref)
        if len(evidence) > self.max_evidence:
            del evidence[0]
        if value is None:
            return _NOTHING
        if isinstance(value, list):
            value = tuple(value)
        values = g.values
        stale = g.stale
        order = g.order
        if order and order[-1] == value:
            # the same value as the group's last update (a Modbus pair polling one function, an ARP sender): its
            # occurrence is already the newest, so a stale one plus a new one would leave `values` as this does
            values[value] = ts
        else:
            if value in values:
                stale[value] = stale.get(value, 0) + 1
            values[value] = ts
            order.append(value)
            if len(order) > 2 * len(values) + 16:
                _compact(g)
                order, stale = g.order, g.stale
        first = order[0]
        limit = ts - self.span
        # stale counts are never 0 (an entry goes when its count would), so `in` is the `.get()` test, cheaper
        if values[first] < limit or first in stale:  # else the oldest value is recent: nothing leaves
            _drop_before(g, limit)
        while len(values) > self.max_values:
            _drop_oldest(g)
        n = len(values)
        if n >= self.least:
            return self._active(key, g, n)
        g.active = False
        return _NOTHING

    def _update_event_sliding(self, rid: str, key: Key, value: Any, ts: float,
                              ref: tuple[Any, ...]) -> Sequence[Firing]:
        """`update` for event_count with a gt/gte threshold: the same steps, inlined."""
        groups = self.groups
        g = groups.get(key)
        if g is None:
            if self.light:
                return self._first(key, ts, value, ref)
            g = self._new_group(key, ts)
        else:
            if g.__class__ is tuple:
                self._materialise(key, g)
                g = groups[key]
            groups.move_to_end(key)
        g.last = ts
        evidence = g.evidence
        evidence.append(ref)
        if len(evidence) > self.max_evidence:
            del evidence[0]
        times = g.times
        times.append(ts)
        limit = ts - self.span
        while times and times[0] < limit:
            times.popleft()
        while len(times) > self.keep:
            times.popleft()
        n = len(times)
        if n >= self.least:
            return self._active(key, g, n)
        g.active = False
        return _NOTHING

    def _count_in_window(self, times: Any, ts: float) -> int:
        """Add a match at `ts` to a group's times (a deque) and drop what left the window; the count inside it."""
        times.append(ts)
        limit = ts - self.span
        while times and times[0] < limit:
            times.popleft()
        while len(times) > self.keep:
            times.popleft()
        return len(times)

    def _active(self, key: Key, g: _Group, n: int) -> Sequence[Firing]:
        """A sliding count is at or over its threshold: the first time, fire with the whole evidence; then add 1."""
        if not g.active:
            g.active = True
            return [Firing(self._gdict(key), g.last, n, list(g.evidence))]
        return [Firing(self._gdict(key), g.last, 1, [g.evidence[-1]])]

    def _event_count(self, g: _Group, key: Key, rid: str, value: Any, ts: float, out: list[Firing]) -> None:
        if self.tumbling:
            g.count += 1
            return
        self._slide(key, g, self._count_in_window(g.times, ts), out)

    def _value_count(self, g: _Group, key: Key, rid: str, value: Any, ts: float, out: list[Firing]) -> None:
        if value is None:
            return
        if isinstance(value, list):
            value = tuple(value)
        _add_value(g, value, ts)
        if not self.tumbling:
            _drop_before(g, ts - self.span)
        while len(g.values) > self.max_values:
            _drop_oldest(g)
        if not self.tumbling:
            self._slide(key, g, len(g.values), out)

    def _temporal(self, g: _Group, key: Key, rid: str, value: Any, ts: float, out: list[Firing]) -> None:
        g.seen[rid] = ts
        for old in [r for r, t0 in g.seen.items() if t0 < ts - self.span]:
            del g.seen[old]
        if self._temporal_true(g.seen):
            out.append(Firing(self._gdict(key), ts, len(g.seen), list(g.evidence)))
            g.seen.clear()
            g.evidence.clear()

    def _temporal_ordered(self, g: _Group, key: Key, rid: str, value: Any, ts: float, out: list[Firing]) -> None:
        span = self.span
        # a rule may appear at several positions; advance the later ones first so one event is one step
        for i in reversed([i for i, r in enumerate(self.order) if r == rid]):
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

    def _slide(self, key: Key, g: _Group, n: int, out: list[Firing]) -> None:
        if self._in_range(n):
            out.extend(self._active(key, g, n))
        else:
            g.active = False

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

    def _close(self, key: Key, g: _Group) -> Firing | None:
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


_NOTHING: tuple[Firing, ...] = ()  # the sliding updates' usual result, without allocating a list


def _least(op: str | None, threshold: float) -> float:
    """The least int count n with `n > threshold` (op gt) or `n >= threshold` (gte)."""
    if threshold != threshold:  # NaN: no count compares true
        return math.inf
    if math.isinf(threshold):
        return threshold
    return math.floor(threshold) + 1 if op == "gt" else math.ceil(threshold)


def _no_step(g: _Group, key: Key, rid: str, value: Any, ts: float, out: list[Firing]) -> None:
    return None


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
