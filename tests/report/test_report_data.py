"""Report data: alert statistics, 重大风险隐患, inventory discrepancies and family rows, from real assessment output
(sentinel.compliance.assess.evaluate over the built-in catalogue) and hand-made alerts/devices."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from sentinel.compliance.assess import Finding, Observations, System, evaluate
from sentinel.compliance.catalogue import load_catalogue
from sentinel.compliance.model import Result
from sentinel.report.data import alert_stats, assemble, discrepancies, family_rows, major_hazards

DAY = 86400.0
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
ASSETS = [{"name": "plc-1", "ip": "10.20.1.2", "layer": "perception", "criticality": 5},
          {"name": "broker", "ip": "10.30.0.1", "layer": "transport", "criticality": 4}]


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _assess(catalogue, findings=(), obs=None, method="2025"):
    return evaluate(catalogue, System("ops", 3, ("general", "iot"), "S3A2"), ASSETS, list(findings), [],
                    obs or Observations(), method=method, when=date(2026, 11, 25))


def test_alert_stats_counts_per_layer_and_level_and_buckets_by_day():
    alerts = [{"layer": "perception", "level": "high", "count": 3, "first_seen": T0 + 10},
              {"layer": "perception", "level": "low", "count": 1, "first_seen": T0 + 2 * DAY + 5},
              {"layer": "transport", "level": "high", "count": 2, "first_seen": T0 + DAY}]
    s = alert_stats(alerts)
    assert s["total"] == 3 and s["occurrences"] == 6
    assert s["by_layer"]["perception"] == {"high": 1, "low": 1, "total": 2}
    assert list(s["by_layer"]) == ["perception", "transport"]
    assert s["series"]["buckets"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert s["series"]["layers"]["perception"] == [1, 0, 1]
    assert s["series"]["layers"]["transport"] == [0, 1, 0]


def test_alert_stats_widens_buckets_for_a_long_period():
    alerts = [{"layer": "transport", "level": "low", "count": 1, "first_seen": T0 + i * 10 * DAY} for i in range(37)]
    s = alert_stats(alerts)
    assert len(s["series"]["buckets"]) <= 30
    assert s["series"]["bucket_seconds"] > DAY
    assert sum(s["series"]["layers"]["transport"]) == 37


def test_alert_stats_of_nothing():
    s = alert_stats([])
    assert s["total"] == 0 and s["series"]["buckets"] == [] and s["by_layer"] == {}


def test_major_hazards_2021_counted_like_2025(catalogue):
    obs = Observations(unknown_devices=[{"key": "10.20.1.99", "ips": ["10.20.1.99"]}])
    findings = [Finding("L3-CNS1-07", Result.NONCONFORM, "broker", "MQTT in clear", "li", remediated=True)]
    a25 = _assess(catalogue, findings, obs, "2025")
    a21 = _assess(catalogue, findings, obs, "2021")
    m25, m21 = major_hazards(a25), major_hazards(a21)
    assert m25["before_remediation"] >= 1
    assert m21 == m25  # same findings -> same hazards whichever scoring method
    assert "6.2.2.1" in m21["remediated_cases"]  # the CNS1-07 case, its only finding marked remediated


def test_family_rows_list_only_assessed_items(catalogue):
    a = _assess(catalogue, [Finding("L3-CNS1-07", Result.NONCONFORM, "broker", "MQTT in clear")])
    rows = {f["key"]: f for f in family_rows(a)}
    assert [it["unit"] for it in rows["CNS"]["items"]] == ["L3-CNS1-07"]
    assert rows["PES"]["items"] == []
    c = rows["CNS"]["item_counts"]
    assert rows["CNS"]["rate"] == pytest.approx(c["conform"] / (sum(c.values()) - c["not_applicable"]))


def test_discrepancies_keep_unknown_devices_of_the_system_networks_only():
    rec = {"unknown": [{"key": "a", "ips": ["10.20.1.77"], "last_seen": T0},
                       {"key": "b", "ips": ["192.168.9.9"], "last_seen": T0}],
           "assets": [{**ASSETS[0], "silent": True, "last_seen": None},
                      {**ASSETS[1], "silent": False, "last_seen": T0},
                      {"name": "other-system-asset", "ip": "10.20.1.5", "silent": True, "last_seen": None}],
           "silence_period": DAY, "newest_observation": T0}
    d = discrepancies(rec, ASSETS)
    assert [u["key"] for u in d["unknown"]] == ["a"]
    assert [s["name"] for s in d["silent"]] == ["plc-1"]


def test_a_system_without_evidence_is_flagged(catalogue):
    data = assemble(_assess(catalogue), catalogue, [], {"unknown": [], "silent": []}, None,
                    datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert data["summary"]["no_evidence"] is True
    assert all(f["items"] == [] for f in data["families"])
    with_finding = assemble(_assess(catalogue, [Finding("L3-CNS1-07", Result.CONFORM, "broker", "TLS seen")]),
                            catalogue, [], {"unknown": [], "silent": []}, None, datetime.now(timezone.utc))
    assert with_finding["summary"]["no_evidence"] is False
