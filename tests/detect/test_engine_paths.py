"""The engine's generated fast paths give what the plain ones give: Event objects against their dicts, inlined
derived fields against logsources' functions, glob searches against full matches, light correlation groups."""

from __future__ import annotations

import re

from sentinel.detect import Engine
from sentinel.detect.compiler import ClassReader, StrSpec, _glob_rx, _glob_search_rx, compile_values
from sentinel.detect.logsources import DERIVED_FIELDS
from sentinel.events.application import Auth
from sentinel.events.transport import Http

DETECT = """
title: failed login
id: 6f3c1c1e-1111-4000-8000-000000000001
name: failed_login
logsource:
    product: sentinel
    category: auth
detection:
    sel:
        outcome: failure
    condition: sel
level: low
"""


def corr(cid: str, type_: str, cond: str, group_by: str = "- src_ip", extra: str = "") -> str:
    return f"""
title: corr {cid}
id: 6f3c1c1e-2222-4000-8000-00000000000{cid}
correlation:
    type: {type_}
    rules:
        - failed_login
    group-by:
        {group_by}
    timespan: 60s
    condition:
        {cond}
    {extra}
level: high
"""


def auth(ts: float, src: str, user: str = "root", outcome: str = "failure") -> Auth:
    return Auth(ts=ts, src_ip=src, dst_ip="10.0.0.1", user=user, outcome=outcome, service="sshd")


def run(rs, events, **kw):
    eng = Engine(rs, **kw)
    opened = [a.to_dict() for ev in events for a in eng.process(ev)]
    return [a.to_dict() for a in eng.finish()], opened, eng.stats()


def test_event_objects_and_dicts_alert_alike(load):
    on = "generate: true"  # the failed logins alert on their own too
    rs = load(DETECT, corr("1", "event_count", "gte: 3", extra=on),
              corr("2", "value_count", "gte: 2\n        field: user", extra=on),
              corr("3", "event_count", "gte: 2", group_by="- src_ip\n        - dst_ip", extra=on))
    events = [auth(t * 0.5, f"10.0.0.{t % 7}", user=f"u{t % 3}", outcome="failure" if t % 5 else "success")
              for t in range(400)]
    as_objects = run(rs, events)
    assert as_objects == run(rs, [ev.to_dict() for ev in events])
    alerts = as_objects[0]
    assert {a["type"] for a in alerts} == {"detection", "event_count", "value_count"}
    assert {tuple(a["group"]) for a in alerts if a["type"] == "event_count"} == {("src_ip",), ("src_ip", "dst_ip")}


def test_light_groups_fire_and_evict_as_full_ones(load):
    # gte 3: a group's first match cannot fire, so it is kept as a tuple until its second; LRU order is unchanged
    rs = load(DETECT, corr("1", "event_count", "gte: 3"))
    events = [auth(0, "a"), auth(1, "b"), auth(2, "c"), auth(3, "a"), auth(4, "a"), auth(5, "b"), auth(6, "b")]
    alerts, _opened, stats = run(rs, events, max_groups=2)
    # "a" is evicted by "c" (least recently used), "b" by "a" at t=3, "c" by "b" at t=5: no group reaches 3
    assert [a for a in alerts if a["type"] != "detection"] == []
    assert stats["correlation_groups_evicted"] == 3
    alerts, _opened, _stats = run(rs, events, max_groups=3)
    fired = [a for a in alerts if a["type"] != "detection"]
    assert [(a["group"], a["count"], a["first_seen"]) for a in fired] == [({"src_ip": "a"}, 3, 4),
                                                                          ({"src_ip": "b"}, 3, 6)]
    assert [e["ts"] for e in fired[0]["evidence"]] == [0, 3, 4]


def test_threshold_one_fires_on_the_first_match(load):
    rs = load(DETECT, corr("1", "event_count", "gt: 0.5"))
    alerts, _opened, _stats = run(rs, [auth(0, "a")])
    assert [a["count"] for a in alerts if a["type"] == "event_count"] == [1]


def test_inlined_derived_fields_equal_logsources():
    read = compile_values(("uri_path", "uri_query"), ClassReader(Http))
    for uri in (None, "", "/", "/a", "/a?b=1", "?", "/a?b?c", "/x?", "?q"):
        ev = Http(ts=1.0, uri=uri)
        assert read(ev) == (DERIVED_FIELDS["uri_path"](ev.to_dict()), DERIVED_FIELDS["uri_query"](ev.to_dict()))


def test_glob_search_equals_full_match():
    subjects = ["", "a", "ab", "xaxbx", "b a", "{{7*7}}", "x{{7\n*7}}y", "union/**/select", "UNION/x/SELECT",
                "a.b", "a\\b", "axb", "a\nb"]
    cases = [
        [(".*a.*b.*", False)],
        [(r".*\{\{7.*7\}\}.*", False), (".*union/.*.*/select.*", False)],
        [(r".*a\..*", False)],  # an escaped dot before the final wildcard
        [(r".*a\\.*", False)],  # an escaped backslash: the final `.*` is a wildcard
        [(".*a.b.*", True)],
    ]
    for case in cases:
        specs = tuple(StrSpec("glob", text, cased) for text, cased in case)
        search, full = _glob_search_rx(specs), _glob_rx(specs)
        assert search is not None and full is not None
        for s in subjects:
            assert (search.search(s) is not None) == (full.match(s) is not None), (case, s)
    # not of the form `.*X.*`: left to the full match
    assert _glob_search_rx((StrSpec("glob", "a.*b", False),)) is None
    assert _glob_search_rx((StrSpec("glob", r".*a\.", False),)) is None
    assert re.compile(_glob_rx((StrSpec("glob", "a.*b", False),)).pattern)  # still compiles
