"""Guarding against hostile regular expressions in rules (ReDoS).

Python's `re` backtracks, so a pattern like `(a+)+$` takes exponential time on `aaaa...b`. Rules come from files
users download, so Sentinel refuses, at load time:

* patterns longer than MAX_PATTERN characters;
* patterns with an unbounded repeat (`*`, `+`, `{n,}`) whose body itself contains an unbounded repeat
  (nested quantifiers: `(a+)+`, `(a*b?)*`, `(.*a){3,}`) — the classic exponential shape;
* patterns with more than one unbounded repeat of a broad class (`.`, `\\S`, `\\w`, `[^x]`...) once a leading and
  a trailing `.*` are dropped (they change nothing for an unanchored search): `a.*b.*c` costs O(n^3) on a hostile
  line; write it as `|contains|all` or two selections instead;

The heuristic works on the parsed pattern (sre_parse), not on the text, so spacing and escapes do not fool it.
It can reject a few harmless patterns; those can be rewritten. At match time the subject is additionally cut to
MAX_SUBJECT characters, which bounds the cost of whatever slips through (polynomial blow-ups like `.*a.*a.*a`).
"""

from __future__ import annotations

import re

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore[import-not-found]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]
    from sre_constants import MAXREPEAT  # type: ignore[no-redef]

MAX_PATTERN = 2000
#: keyword/string matching looks at this many characters of a value
MAX_SUBJECT = 65536
#: a regex sees at most this many characters: with one broad repeat left the worst case is O(n^2) = 16M steps
MAX_REGEX_SUBJECT = 4096

_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)} - {None}


class HostileRegex(ValueError):
    pass


def check(pattern: str) -> None:
    """Raise HostileRegex (with the reason) or re.error for a pattern Sentinel will not run."""
    if len(pattern) > MAX_PATTERN:
        raise HostileRegex(f"regular expression is {len(pattern)} characters long (limit {MAX_PATTERN})")
    parsed = sre_parse.parse(pattern)
    _walk(parsed, inside_unbounded=False)
    items = list(parsed)
    if items and _is_dot_star(items[0]):
        items = items[1:]
    if items and _is_dot_star(items[-1]):
        items = items[:-1]
    if _broad_repeats(items) > 1:
        raise HostileRegex("more than one unbounded repeat of a broad class such as .* or \\S+ "
                           "(polynomial backtracking); use |contains|all or separate selections")


def _is_dot_star(item) -> bool:
    op, av = item
    return op in _REPEATS and av[0] == 0 and av[1] == MAXREPEAT and len(av[2]) == 1 and av[2][0][0] == sre_parse.ANY


def _is_broad(body) -> bool:
    items = list(body)
    if len(items) != 1:
        return False
    op, av = items[0]
    if op in (sre_parse.ANY, sre_parse.NOT_LITERAL):
        return True
    if op == sre_parse.IN:
        return any(o == sre_parse.NEGATE or o == sre_parse.CATEGORY for o, _ in av)
    return False


def _broad_repeats(items) -> int:
    n = 0
    for op, av in items:
        if op in _REPEATS:
            if av[1] == MAXREPEAT and _is_broad(av[2]):
                n += 1
            n += _broad_repeats(av[2])
        elif op == sre_parse.SUBPATTERN:
            n += _broad_repeats(av[-1])
        elif op == sre_parse.BRANCH:
            n += max((_broad_repeats(b) for b in av[1]), default=0)
    return n


def _walk(items, inside_unbounded: bool) -> bool:
    """Walk a parsed pattern; return whether it contains an unbounded repeat. Raise on a nested one."""
    has_unbounded = False
    for op, av in items:
        if op in _REPEATS:
            lo, hi, body = av
            unbounded = hi == MAXREPEAT
            if unbounded and inside_unbounded:
                raise HostileRegex("nested unbounded quantifiers (catastrophic backtracking), e.g. (a+)+")
            body_unbounded = _walk(body, inside_unbounded or unbounded)
            if unbounded and body_unbounded:  # pragma: no cover  (caught by the inside_unbounded check)
                raise HostileRegex("nested unbounded quantifiers (catastrophic backtracking)")
            has_unbounded = has_unbounded or unbounded or body_unbounded
        elif op == sre_parse.SUBPATTERN:
            body = av[-1]
            has_unbounded = _walk(body, inside_unbounded) or has_unbounded
        elif op == sre_parse.BRANCH:
            for branch in av[1]:
                has_unbounded = _walk(branch, inside_unbounded) or has_unbounded
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            has_unbounded = _walk(av[1], inside_unbounded) or has_unbounded
        elif op == getattr(sre_parse, "ATOMIC_GROUP", object()):
            has_unbounded = _walk(av, inside_unbounded) or has_unbounded
    return has_unbounded


def compile_guarded(pattern: str, flags: int) -> re.Pattern[str]:
    """Check, then compile the pattern without a redundant leading/trailing `.*` (same matches for search)."""
    check(pattern)
    return re.compile(strip_dot_stars(pattern), flags)


def strip_dot_stars(pattern: str) -> str:
    """Drop a leading `.*`/`.*?` and a trailing `.*`: an unanchored search finds the same lines without them, and a
    leading `.*` alone turns a linear search quadratic (it is retried from every start position)."""
    items = list(sre_parse.parse(pattern))
    if items and _is_dot_star(items[0]):
        for lead in (".*?", ".*"):
            if pattern.startswith(lead):
                pattern = pattern[len(lead):]
                break
    items = list(sre_parse.parse(pattern)) if pattern else []
    if items and _is_dot_star(items[-1]) and pattern.endswith(".*") and not pattern.endswith("\\.*"):
        pattern = pattern[:-2]
    return pattern
