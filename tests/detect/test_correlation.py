"""Correlations: thresholds at the edge, group-by, windows, ordering, bounded state, and alert aggregation."""

from __future__ import annotations

from sentinel.detect import Engine
from sentinel.events.application import Auth

BASE = """
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
tags:
    - attack.t1110.001
    - mlps.8.1.4.1.d
"""
SUCCESS = """
title: login ok
id: 6f3c1c1e-1111-4000-8000-000000000002
name: login_ok
logsource:
    product: sentinel
    category: auth
detection:
    sel:
        outcome: success
    condition: sel
level: low
"""


def corr(type_: str, cond: str = "gte: 5", rules: str = "- failed_login", extra: str = "", timespan: str = "60s") -> str:
    return f"""
title: brute force
id: 6f3c1c1e-2222-4000-8000-000000000001
correlation:
    type: {type_}
    rules:
        {rules}
    group-by:
        - src_ip
    timespan: {timespan}
    condition:
        {cond}
    {extra}
level: high
"""


def fail(ts: float, src: str = "10.0.0.9", user: str = "root", outcome: str = "failure") -> dict:
    return Auth(ts=ts, src_ip=src, dst_ip="10.0.0.1", user=user, outcome=outcome, service="sshd").to_dict()


def run(rs, events):
    eng = Engine(rs)
    for ev in events:
        eng.process(ev)
    return eng.finish()


def corr_alerts(alerts):
    return [a for a in alerts if a.type != "detection"]


def test_event_count_just_below_threshold_is_silent(load):
    rs = load(BASE, corr("event_count"))
    assert corr_alerts(run(rs, [fail(t) for t in range(4)])) == []


def test_event_count_at_threshold_fires_once_with_a_count(load):
    rs = load(BASE, corr("event_count"))
    alerts = corr_alerts(run(rs, [fail(t) for t in range(20)]))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.count == 20 and a.group == {"src_ip": "10.0.0.9"} and a.src == "10.0.0.9"
    assert a.level == "high" and a.attack == ["T1110.001"] and a.controls == ["8.1.4.1.d"]  # inherited from base
    assert a.first_seen == 4.0 and a.last_seen == 19.0
    assert len(a.evidence) == 10


def test_event_count_window_slides(load):
    rs = load(BASE, corr("event_count"))
    # five failures, but spread over 100 s: never five within 60 s
    assert corr_alerts(run(rs, [fail(t * 25.0) for t in range(5)])) == []


def test_group_by_keeps_sources_apart(load):
    rs = load(BASE, corr("event_count"))
    evs = [fail(t, src=f"10.0.0.{t % 2}") for t in range(8)]  # 4 each
    assert corr_alerts(run(rs, evs)) == []
    evs = [fail(t, src=f"10.0.0.{t % 2}") for t in range(10)]  # 5 each
    assert sorted(a.group["src_ip"] for a in corr_alerts(run(rs, evs))) == ["10.0.0.0", "10.0.0.1"]


def test_gt_needs_strictly_more(load):
    rs = load(BASE, corr("event_count", "gt: 5"))
    assert corr_alerts(run(rs, [fail(t) for t in range(5)])) == []
    assert len(corr_alerts(run(rs, [fail(t) for t in range(6)]))) == 1


def test_lt_and_range_use_closed_windows(load):
    rs = load(BASE, corr("event_count", "lt: 3"))
    assert len(corr_alerts(run(rs, [fail(0), fail(1)]))) == 1
    assert corr_alerts(run(rs, [fail(0), fail(1), fail(2)])) == []
    rs = load(BASE, corr("event_count", "gte: 3\n        lte: 4"))
    assert len(corr_alerts(run(rs, [fail(t) for t in range(4)]))) == 1
    assert corr_alerts(run(rs, [fail(t) for t in range(5)])) == []
    assert corr_alerts(run(rs, [fail(t) for t in range(2)])) == []


def test_eq_condition(load):
    rs = load(BASE, corr("event_count", "eq: 2"))
    assert len(corr_alerts(run(rs, [fail(0), fail(1)]))) == 1
    assert corr_alerts(run(rs, [fail(0), fail(1), fail(2)])) == []


def test_value_count_counts_distinct_values(load):
    rs = load(BASE, corr("value_count", "gte: 3\n        field: user"))
    assert corr_alerts(run(rs, [fail(t, user="root") for t in range(10)])) == []
    alerts = corr_alerts(run(rs, [fail(t, user=u) for t, u in enumerate(["a", "b", "a", "c"])]))
    assert len(alerts) == 1 and alerts[0].type == "value_count"


def test_temporal_needs_all_rules_in_window(load):
    rules = "- failed_login\n        - login_ok"
    rs = load(BASE, SUCCESS, corr("temporal", "gte: 2", rules=rules))
    assert len(corr_alerts(run(rs, [fail(0), fail(10, outcome="success")]))) == 1
    assert corr_alerts(run(rs, [fail(0), fail(100, outcome="success")])) == []  # too far apart
    assert corr_alerts(run(rs, [fail(0), fail(5)])) == []  # only one of the two rules


def test_temporal_ordered_requires_order(load):
    rules = "- failed_login\n        - login_ok"
    rs = load(BASE, SUCCESS, corr("temporal_ordered", "gte: 2", rules=rules))
    assert len(corr_alerts(run(rs, [fail(0), fail(10, outcome="success")]))) == 1
    assert corr_alerts(run(rs, [fail(0, outcome="success"), fail(10)])) == []


def test_generate_false_silences_base_rule_alerts(load):
    rs = load(BASE, corr("event_count"))
    alerts = run(rs, [fail(t) for t in range(5)])
    assert [a.type for a in alerts] == ["event_count"]
    rs = load(BASE, corr("event_count", extra="generate: true"))
    assert sorted(a.type for a in run(rs, [fail(t) for t in range(5)])) == ["detection", "event_count"]


def test_flood_of_repeats_gives_one_alert_with_count(load):
    rs = load(BASE)
    alerts = run(rs, [fail(t * 0.01) for t in range(5000)])
    assert len(alerts) == 1 and alerts[0].count == 5000 and alerts[0].type == "detection"


def test_repeat_after_quiet_window_opens_new_alert(load):
    rs = load(BASE)
    alerts = run(rs, [fail(0), fail(1), fail(1000)])
    assert [a.count for a in alerts] == [2, 1]


def test_state_is_bounded_under_distinct_group_flood(load):
    rs = load(BASE, corr("event_count"))
    eng = Engine(rs, max_groups=1000, max_open_alerts=1000)
    for i in range(20000):
        eng.process(fail(i * 0.001, src=f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"))
    st = eng.stats()
    assert st["correlation_groups"] <= 1000
    assert st["correlation_groups_evicted"] == 19000
    assert len(eng.agg.open) <= 1000


def test_rule_references_by_id(load):
    rs = load(BASE, corr("event_count", rules="- 6f3c1c1e-1111-4000-8000-000000000001"))
    assert len(corr_alerts(run(rs, [fail(t) for t in range(5)]))) == 1
