"""Roll-up of results (GB/T 28449-2018 §8.2.2): objects -> item -> control point -> family.

One rule at every level, over the children's results:
* no applicable child (all 不适用) -> 不适用;
* all applicable children 符合 -> 符合; all 不符合 -> 不符合; otherwise 部分符合 (the standard's rule);
* not assessed (our extension, the standard assumes every item was judged): when some applicable child is
  `not_assessed`, the parent is `not_assessed` unless an assessed child already shows a shortfall (部分符合 or
  不符合), in which case the parent is known not to conform and is 部分符合 — the only mixed value; it is never
  rounded up to 符合. `complete` says whether every applicable child was assessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import FAMILIES, Requirement, Result

R = Result


def combine(results: Iterable[Result]) -> Result:
    """The parent result of children results (see the module docstring)."""
    rs = list(results)
    if not rs:
        return R.NOT_ASSESSED
    applicable = [r for r in rs if r is not R.NOT_APPLICABLE]
    if not applicable:
        return R.NOT_APPLICABLE
    assessed = [r for r in applicable if r is not R.NOT_ASSESSED]
    if len(assessed) < len(applicable):
        if any(r in (R.PARTIAL, R.NONCONFORM) for r in assessed):
            return R.PARTIAL
        return R.NOT_ASSESSED
    if all(r is R.CONFORM for r in assessed):
        return R.CONFORM
    if all(r is R.NONCONFORM for r in assessed):
        return R.NONCONFORM
    return R.PARTIAL


def is_complete(results: Iterable[Result]) -> bool:
    return all(r is not R.NOT_ASSESSED for r in results)


def counts(results: Iterable[Result]) -> dict[str, int]:
    c = Counter(r.value for r in results)
    return {r.value: c.get(r.value, 0) for r in Result}


@dataclass
class Node:
    """A control point or family with its rolled-up result."""

    key: str  # clause for a control point, class code for a family
    name_zh: str
    name_en: str
    result: Result
    complete: bool
    counts: dict[str, int]  # children results (items for a control point, control points for a family)
    item_counts: dict[str, int] = field(default_factory=dict)  # items under it (families)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name_zh": self.name_zh, "name_en": self.name_en, "result": self.result.value,
                "result_zh": self.result.zh, "complete": self.complete, "counts": self.counts,
                **({"item_counts": self.item_counts} if self.item_counts else {})}


def control_points(items: list[tuple[Requirement, Result]]) -> list[Node]:
    """Items -> control points, in catalogue order. Control points of different parts (e.g. IoT's own 8.4.x) stay apart
    because their clauses differ."""
    groups: dict[tuple[str, str], list[tuple[Requirement, Result]]] = {}
    for req, res in items:
        groups.setdefault((req.family, req.clause), []).append((req, res))
    out = []
    for (_fam, clause), members in groups.items():
        req = members[0][0]
        rs = [r for _q, r in members]
        out.append(Node(clause, req.control_point_zh, req.control_point_en, combine(rs), is_complete(rs), counts(rs)))
    return out


def families(items: list[tuple[Requirement, Result]]) -> list[Node]:
    """Items -> control points -> families (class codes), in catalogue order."""
    fam_of: dict[str, str] = {}
    for req, _res in items:
        fam_of.setdefault(req.clause, req.family)
    cps = control_points(items)
    by_family: dict[str, list[Node]] = {}
    for cp in cps:
        by_family.setdefault(fam_of[cp.key], []).append(cp)
    out = []
    for fam, nodes in by_family.items():
        rs = [n.result for n in nodes]
        zh, en = FAMILIES.get(fam, (fam, fam))
        item_rs = [r for q, r in items if q.family == fam]
        out.append(Node(fam, zh, en, combine(rs), all(n.complete for n in nodes), counts(rs), counts(item_rs)))
    return out
