"""GB/T 20984 risk: asset value, threat likelihood, vulnerability severity, matrix and multiplication methods."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sentinel.compliance.config import RiskConfig
from sentinel.compliance.model import Evidence, Requirement, Result
from sentinel.compliance.risk import (asset_risk, asset_value, combine, system_risk, threat_likelihood,
                                      vulnerability_severity)

DAY = 86400.0
END = 1_700_000_000.0
MULT = replace(RiskConfig(), method="multiply")


def req(importance="general") -> Requirement:
    return Requirement(unit="L3-CES1-01", level=3, part="general", clause="8.1.4.1", item="a", family="CES",
                       control_point_zh="身份鉴别", control_point_en="Identification", tag="S", layer="application",
                       title_zh="t", title_en="t", evidence=Evidence("observation"), importance=importance)


@pytest.mark.parametrize("t, v, ia, lik, loss, level, band", [
    (1, 1, 1, 1, 1, 1, "很低"),
    (5, 5, 5, 5, 5, 5, "很高"),
    (3, 3, 3, 3, 3, 3, "中"),
    (4, 2, 5, 3, 3, 3, "中"),  # L = M[4][2] = 3, F = M[5][2] = 3, R = M[3][3]
    (5, 1, 1, 3, 1, 2, "低"),  # a frequent threat on a sound, low-value asset: L = 3, F = 1, R = M[3][1] = 2
    (4, 4, 4, 4, 4, 4, "高"),
])
def test_matrix_cells(t, v, ia, lik, loss, level, band):
    r = combine(t, v, ia)
    assert (r["likelihood"], r["loss"], r["level"], r["band_zh"]) == (lik, loss, level, band)


@pytest.mark.parametrize("t, v, ia, value, level", [
    (5, 5, 5, 25.0, 5),
    (4, 4, 4, 16.0, 4),
    (2, 2, 2, 4.0, 1),
    (5, 1, 5, 5.0, 1),  # sqrt(5) * sqrt(5) = 5: the upper edge of 很低
    (3, 3, 4, 10.392, 3),  # sqrt(9) * sqrt(12)
])
def test_multiplication_method(t, v, ia, value, level):
    r = combine(t, v, ia, MULT)
    assert r["value"] == pytest.approx(value, abs=1e-3) and r["level"] == level and r["method"] == "multiply"


def test_asset_value_from_criticality_and_level():
    assert asset_value(5, 3, 2)["value"] == 4  # ceil(8 / 2)
    assert asset_value(5, 4, 2)["value"] == 5  # ceil(4.5)
    v = asset_value(None, None, 3)
    assert v["value"] == 3 and v["criticality_assumed"] and v["protection_level_from_system"]


def test_threat_likelihood_weights_frequency_level_recency():
    assert threat_likelihood([], END)["value"] == 1
    many = [{"count": 150, "level": "high", "last_seen": END - 2 * DAY}]  # F 4, L 4, R 4
    t = threat_likelihood(many, END)
    assert (t["frequency"], t["level"], t["recency"], t["value"]) == (4, 4, 4, 4)
    old = [{"count": 1, "level": "low", "last_seen": END - 100 * DAY}]  # 0.5*2 + 0.3*2 + 0.2*1 = 1.8 -> 2
    t = threat_likelihood(old, END)
    assert (t["frequency"], t["level"], t["recency"], t["value"]) == (2, 2, 1, 2)
    burst = [{"count": 2000, "level": "critical", "last_seen": END}, {"count": 5, "level": "low", "last_seen": END}]
    assert threat_likelihood(burst, END)["value"] == 5


def test_vulnerability_severity_from_worst_finding():
    assert vulnerability_severity([])["value"] == 1
    assert vulnerability_severity([(req(), Result.CONFORM, False)])["value"] == 1
    assert vulnerability_severity([(req(), Result.PARTIAL, False)])["value"] == 2
    assert vulnerability_severity([(req("key"), Result.NONCONFORM, False)])["value"] == 4
    v = vulnerability_severity([(req(), Result.PARTIAL, False), (req(), Result.NONCONFORM, True)])
    assert v["value"] == 5 and v["deficiencies"] == 2


def test_asset_risk_keeps_its_factors():
    asset = {"name": "gw-1", "criticality": 4, "protection_level": 3}
    alerts = [{"count": 20, "level": "high", "last_seen": END - 3600}]
    r = asset_risk(asset, alerts, [(req(), Result.NONCONFORM, True)], 3, END)
    f = r["factors"]
    assert f["asset_value"]["value"] == 4
    assert f["threat"]["value"] == 4  # 0.5*3 + 0.3*4 + 0.2*5 = 3.7
    assert f["vulnerability"]["value"] == 5
    assert (r["likelihood"], r["loss"], r["level"]) == (5, 5, 5)
    sysr = system_risk([r, asset_risk({"name": "s"}, [], [], 3, END)])
    assert sysr["max"]["asset"] == "gw-1" and sysr["distribution"]["very high"] == 1
    assert sysr["distribution"]["very low"] == 1  # T 1, V 1, Ia 3: L 1, F 2, R = M[1][2] = 1
    assert sysr["constants"]["method"] == "matrix"
    assert tuple(sysr["constants"]["threat_weights"]) == (0.5, 0.3, 0.2)
