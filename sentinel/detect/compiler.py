"""Compiling a Sigma rule's detection (after the field-mapping pipeline) into Python predicates.

A predicate is `pred(event, memo) -> bool`: `event` is the flat event dict, `memo` a per-event dict that caches
lower-cased field values so that ten rules looking at `user_agent` lower-case it once.

Semantics (Sigma specification):
* strings compare case-insensitively; `*` and `?` are wildcards; `|cased` makes a value case-sensitive;
* `contains` / `startswith` / `endswith` become wildcards (pySigma applies the modifiers); several values are OR-ed,
  `|all` AND-s them; a list field in the event (DNS answers, MQTT topics) matches when any element matches;
* `|re` searches (unanchored) and is case-sensitive unless `|re|i`; `m` and `s` flags map to re.M / re.S;
* numbers compare numerically (a numeric string in the event counts); `|lt/lte/gt/gte` compare numbers;
* `null` matches a missing or None field; `|exists: true/false` tests presence (None counts as absent);
* `|cidr` tests IP membership; `|fieldref` compares with another field of the same event;
* `base64`, `base64offset`, `windash`, `wide`/`utf16*` are expanded by pySigma into alternatives;
* keywords (values without a field) are case-insensitive substring searches over the event's raw text: `line`
  when the event has one (log events), else `message`, else every string field.
Anything else (placeholders, query expressions, unknown fields) raises CompileError at load time.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from . import regexguard
from .logsources import DERIVED_FIELDS

Pred = Callable[[dict[str, Any], dict[str, Any]], bool]
KEYWORD = "<keywords>"  # memo key for the keyword search text


class CompileError(ValueError):
    """The detection uses something Sentinel cannot evaluate; the message says what."""


@dataclass
class Leaf:
    """One compiled test, kept for explanations (`sentinel rules test`)."""

    selection: str
    field: str | None
    description: str
    pred: Pred


@dataclass
class Compiled:
    pred: Pred
    leaves: list[Leaf]
    fields: set[str]


# ---------------------------------------------------------------- field access


def getter(field: str) -> Callable[[dict[str, Any]], Any]:
    derived = DERIVED_FIELDS.get(field)
    if derived is not None:
        return derived
    return lambda ev: ev.get(field)


def _lowered(field: str, get: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """Field value lower-cased as a str (or tuple of str for list fields), memoised per event; None when absent."""

    def f(ev: dict[str, Any], memo: dict[str, Any]) -> Any:
        try:
            return memo[field]
        except KeyError:
            pass
        v = get(ev)
        if v is None:
            out = None
        elif isinstance(v, str):
            out = v.lower()
        elif isinstance(v, (list, tuple)):
            out = tuple(_text(x).lower() for x in v if x is not None)
        else:
            out = _text(v).lower()
        memo[field] = out
        return out

    return f


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def keyword_text(ev: dict[str, Any], memo: dict[str, Any]) -> str:
    """The text keywords search, lower-cased: `line`, else `message`, else all string fields joined by newlines."""
    try:
        return memo[KEYWORD]
    except KeyError:
        pass
    raw = ev.get("line") or ev.get("message")
    if not raw:
        parts: list[str] = []
        for k, v in ev.items():
            if k in ("kind", "layer", "sensor"):
                continue
            if isinstance(v, str):
                parts.append(v)
            elif isinstance(v, list):
                parts.extend(x for x in v if isinstance(x, str))
        raw = "\n".join(parts)
    text = raw[: regexguard.MAX_SUBJECT * 4].lower()
    memo[KEYWORD] = text
    return text


# ---------------------------------------------------------------- string patterns


@dataclass(frozen=True)
class StrSpec:
    """A Sigma string reduced to the cheapest test that implements it."""

    op: str  # eq | contains | startswith | endswith | glob
    text: str  # for glob: a regex source
    cased: bool


def string_spec(value: SigmaString, keyword: bool = False) -> StrSpec:
    cased = isinstance(value, SigmaCasedString)
    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        raise CompileError(f"placeholder in value {value.original!r} is not supported (no placeholder lists are configured)")
    if keyword:  # keywords match anywhere in the text
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    fold = (lambda s: s) if cased else str.lower
    specials = [i for i, p in enumerate(parts) if isinstance(p, SpecialChars)]
    plain = [p for p in parts if isinstance(p, str)]
    star = SpecialChars.WILDCARD_MULTI
    if not specials:
        return StrSpec("eq", fold("".join(plain)), cased)
    if all(parts[i] is star for i in specials):
        if specials == [0, len(parts) - 1] and len(parts) == 3:
            return StrSpec("contains", fold(parts[1]), cased)
        if specials == [len(parts) - 1] and len(parts) == 2:
            return StrSpec("startswith", fold(parts[0]), cased)
        if specials == [0] and len(parts) == 2:
            return StrSpec("endswith", fold(parts[1]), cased)
        if len(parts) == 1 or (len(parts) == 2 and specials == [0, 1]):
            return StrSpec("any", "", cased)
    rx = []
    for p in parts:
        if p is star:
            rx.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            rx.append(".")
        else:
            rx.append(re.escape(fold(p)))  # type: ignore[arg-type]
    return StrSpec("glob", "".join(rx), cased)


def string_matcher(specs: list[StrSpec]) -> Callable[[str], bool]:
    """One function testing a (pre-folded) subject against several OR-ed specs, cheapest tests first."""
    eq = frozenset(s.text for s in specs if s.op == "eq")
    contains = tuple(s.text for s in specs if s.op == "contains")
    starts = tuple(s.text for s in specs if s.op == "startswith")
    ends = tuple(s.text for s in specs if s.op == "endswith")
    globs = [s.text for s in specs if s.op == "glob"]
    anything = any(s.op == "any" for s in specs)
    flags = re.DOTALL | (0 if specs and specs[0].cased else re.IGNORECASE)
    glob_rx = re.compile("(?:" + "|".join(globs) + r")\Z", flags) if globs else None

    def match(v: str) -> bool:
        if anything:
            return True
        if v in eq:
            return True
        if starts and v.startswith(starts):
            return True
        if ends and v.endswith(ends):
            return True
        for c in contains:
            if c in v:
                return True
        if glob_rx is not None and glob_rx.match(v) is not None:
            return True
        return False

    return match


def _describe(specs: list[StrSpec]) -> str:
    return " OR ".join(f"{s.op} {s.text!r}" + (" (cased)" if s.cased else "") for s in specs)


# ---------------------------------------------------------------- leaves


def _strings_pred(field: str | None, specs: list[StrSpec]) -> Pred:
    match = string_matcher(specs)
    cased = specs[0].cased
    if field is None:
        if cased:
            def kw_cased(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
                raw = ev.get("line") or ev.get("message") or ""
                return match(raw[: regexguard.MAX_SUBJECT * 4])

            return kw_cased

        def kw(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            return match(keyword_text(ev, memo))

        return kw
    get = getter(field)
    if cased:
        def pred_cased(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            v = get(ev)
            if v is None:
                return False
            if isinstance(v, (list, tuple)):
                return any(match(_text(x)) for x in v if x is not None)
            return match(_text(v))

        return pred_cased
    low = _lowered(field, get)

    def pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
        v = low(ev, memo)
        if v is None:
            return False
        if isinstance(v, tuple):
            return any(match(x) for x in v)
        return match(v)

    return pred


def _numbers_pred(field: str, wanted: frozenset) -> Pred:
    get = getter(field)

    def pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
        v = get(ev)
        if v is None or isinstance(v, bool):
            return False
        if isinstance(v, (int, float)):
            return v in wanted
        if isinstance(v, (list, tuple)):
            return any(_number(x) in wanted for x in v if x is not None)
        return _number(v) in wanted

    return pred


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _each(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


_CMP = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}

_TS_PART = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar()[1],
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


def value_pred(field: str | None, value: Any) -> tuple[Pred, str]:
    """Predicate and description for `field` compared with one pySigma value object."""
    if isinstance(value, SigmaString):
        spec = string_spec(value, keyword=field is None)
        return _strings_pred(field, [spec]), _describe([spec])
    if field is None:
        raise CompileError(f"keyword value {value!s} of type {type(value).__name__} is not supported (keywords are strings)")
    get = getter(field)
    if isinstance(value, SigmaTimestampPart):
        part, want = _TS_PART[value.timestamp_part], value.number

        def ts_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            n = _number(get(ev))
            return n is not None and part(datetime.fromtimestamp(n, timezone.utc)) == want

        return ts_pred, f"{value.timestamp_part.name.lower()} of time == {want}"
    if isinstance(value, SigmaNumber):
        want = value.number

        def num_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            v = get(ev)
            if v is None:
                return False
            if isinstance(v, (list, tuple)):
                return any(_number(x) == want for x in v if x is not None)
            return (v == want and not isinstance(v, bool)) if isinstance(v, (int, float)) else _number(v) == want

        return num_pred, f"== {want}"
    if isinstance(value, SigmaBool):
        b = value.boolean

        def bool_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            v = get(ev)
            if isinstance(v, str):
                return v.lower() == ("true" if b else "false")
            return v is b or (isinstance(v, int) and not isinstance(v, bool) and v == int(b))

        return bool_pred, f"is {b}"
    if isinstance(value, SigmaNull):
        return (lambda ev, memo: get(ev) is None), "is null"
    if isinstance(value, SigmaExists):
        want_b = value.exists
        return (lambda ev, memo: (get(ev) is not None) == want_b), ("exists" if want_b else "does not exist")
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for f in value.flags:
            flags |= {
                SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
                SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
                SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
            }[f]
        source = value.regexp.original
        try:
            rx = regexguard.compile_guarded(source, flags)
        except regexguard.HostileRegex as exc:
            raise CompileError(f"regular expression {source[:80]!r} rejected: {exc}") from None
        except re.error as exc:
            raise CompileError(f"invalid regular expression {source[:80]!r}: {exc}") from None
        limit = regexguard.MAX_REGEX_SUBJECT

        def re_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            for x in _each(get(ev)):
                if x is not None and rx.search(_text(x)[:limit]) is not None:
                    return True
            return False

        return re_pred, f"matches /{source}/"
    if isinstance(value, SigmaCIDRExpression):
        net = value.network

        def cidr_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            for x in _each(get(ev)):
                if not isinstance(x, str):
                    continue
                try:
                    if ipaddress.ip_address(x) in net:
                        return True
                except ValueError:
                    continue
            return False

        return cidr_pred, f"in {net}"
    if isinstance(value, SigmaCompareExpression):
        op, want_n = _CMP[value.op], value.number.number

        def cmp_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            for x in _each(get(ev)):
                n = _number(x)
                if n is not None and op(n, want_n):
                    return True
            return False

        return cmp_pred, f"{value.op.name.lower()} {want_n}"
    if isinstance(value, SigmaFieldReference):
        other = getter(value.field)
        sw, ew = value.starts_with, value.ends_with

        def ref_pred(ev: dict[str, Any], memo: dict[str, Any]) -> bool:
            a, b = get(ev), other(ev)
            if a is None or b is None:
                return False
            a_s, b_s = _text(a).lower(), _text(b).lower()
            if sw:
                return a_s.startswith(b_s)
            if ew:
                return a_s.endswith(b_s)
            return a_s == b_s

        return ref_pred, f"equals field {value.field}"
    if isinstance(value, SigmaExpansion):
        subs = [value_pred(field, v) for v in value.values]
        preds = [p for p, _ in subs]
        return (lambda ev, memo: any(p(ev, memo) for p in preds)), " OR ".join(d for _, d in subs)
    raise CompileError(f"value {value!s} of type {type(value).__name__} cannot be evaluated by Sentinel")


# ---------------------------------------------------------------- condition tree


def _selection_of(node: Any) -> str:
    """Name of the detection (selection) a leaf came from, by walking pySigma's parent chain."""
    p = getattr(node, "parent", None)
    while p is not None:
        ident = getattr(p, "identifier", None)
        if ident:
            return ident
        p = getattr(p, "parent", None)
    return "?"


def compile_condition(node: Any, allowed_fields: frozenset[str]) -> Compiled:
    leaves: list[Leaf] = []
    fields: set[str] = set()
    pred = _compile(node, allowed_fields, leaves, fields)
    return Compiled(pred, leaves, fields)


def _check_field(field: str, allowed: frozenset[str]) -> None:
    if field not in allowed and field not in DERIVED_FIELDS:
        raise CompileError(f"field {field!r} cannot be evaluated by Sentinel (not a field of this rule's event kinds)")


def _compile(node: Any, allowed: frozenset[str], leaves: list[Leaf], fields: set[str]) -> Pred:
    if isinstance(node, ConditionAND):
        preds = [_compile(a, allowed, leaves, fields) for a in node.args]
        if len(preds) == 2:
            a, b = preds
            return lambda ev, memo: a(ev, memo) and b(ev, memo)
        return lambda ev, memo: all(p(ev, memo) for p in preds)
    if isinstance(node, ConditionOR):
        preds = _compile_or(node.args, allowed, leaves, fields)
        if len(preds) == 1:
            return preds[0]
        return lambda ev, memo: any(p(ev, memo) for p in preds)
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0], allowed, leaves, fields)
        return lambda ev, memo: not inner(ev, memo)
    if isinstance(node, (ConditionFieldEqualsValueExpression, ConditionValueExpression)):
        field = getattr(node, "field", None)
        if field is not None:
            _check_field(field, allowed)
            fields.add(field)
        p, desc = value_pred(field, node.value)
        leaves.append(Leaf(_selection_of(node), field, desc, p))
        return p
    if node is None:
        raise CompileError("the condition is empty")
    raise CompileError(f"condition element {type(node).__name__} is not supported")


def _compile_or(args: list[Any], allowed: frozenset[str], leaves: list[Leaf], fields: set[str]) -> list[Pred]:
    """OR-ed plain strings on the same field collapse into one matcher (one lookup, one lower-casing)."""
    groups: dict[tuple[str | None, bool, str], list[StrSpec]] = {}
    numbers: dict[tuple[str | None, bool, str], list[Any]] = {}
    order: list[tuple[str | None, bool, str] | Pred] = []
    for a in args:
        if isinstance(a, (ConditionFieldEqualsValueExpression, ConditionValueExpression)) and isinstance(a.value, SigmaString):
            field = getattr(a, "field", None)
            if field is not None:
                _check_field(field, allowed)
                fields.add(field)
            spec = string_spec(a.value, keyword=field is None)
            key = (field, spec.cased, _selection_of(a))
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(spec)
        elif isinstance(a, ConditionFieldEqualsValueExpression) and type(a.value) is SigmaNumber:
            _check_field(a.field, allowed)
            fields.add(a.field)
            nkey = (a.field, False, "#num:" + _selection_of(a))
            if nkey not in numbers:
                numbers[nkey] = []
                order.append(nkey)
            numbers[nkey].append(a.value.number)
        else:
            order.append(_compile(a, allowed, leaves, fields))
    preds: list[Pred] = []
    for item in order:
        if callable(item):
            preds.append(item)
            continue
        field, _cased, selection = item
        if item in numbers:
            p = _numbers_pred(field, frozenset(numbers[item]))  # type: ignore[arg-type]
            leaves.append(Leaf(selection.removeprefix("#num:"), field, "in " + str(sorted(numbers[item])), p))
            preds.append(p)
            continue
        specs = groups[item]
        p = _strings_pred(field, specs)
        leaves.append(Leaf(selection, field, _describe(specs), p))
        preds.append(p)
    return preds
