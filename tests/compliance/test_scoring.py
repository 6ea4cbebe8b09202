"""Scoring of the 2021 (deduction) and 2025 (compliance rate) report methods, worked by hand from the rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from sentinel.compliance.config import Scoring2021Config, Scoring2025Config
from sentinel.compliance.model import Evidence, Requirement, Result
from sentinel.compliance.scoring import choose_method, method_2021, method_2025, score
from sentinel.errors import InputError

C, P, N, NA, X = Result.CONFORM, Result.PARTIAL, Result.NONCONFORM, Result.NOT_APPLICABLE, Result.NOT_ASSESSED


def req(n: int, family: str = "ABS", importance: str = "general") -> Requirement:
    return Requirement(unit=f"L3-{family}1-{n:02d}", level=3, part="general", clause=f"8.1.{n}", item="a",
                       family=family, control_point_zh="点", control_point_en="cp", tag="G", layer="transport",
                       title_zh="t", title_en="t", evidence=Evidence("assessor"), importance=importance)


def hit(case="6.4.1.1", unit="L3-ABS1-01", mitigated=False, remediated=False):
    return {"case": case, "unit": unit, "mitigated": mitigated, "remediated": remediated}


# ---- 2021 -------------------------------------------------------------------------------------------------------

def test_2021_deductions_by_hand_technical_only():
    # ABS: weights 1 + 2 + 3 = 6; two technical families share 100 -> base = 100 / (2 * 6) = 8.333...
    # a (1x) 不符合 deducts 8.333; c (3x) 部分符合 deducts 3 * 0.5 * 8.333 = 12.5; CES deducts nothing.
    items = [(req(1, "ABS"), N), (req(2, "ABS", "important"), C), (req(3, "ABS", "key"), P),
             (req(4, "CES"), C), (req(5, "CES"), C)]
    out = method_2021(items, [])
    assert out["score"] == pytest.approx(100 - 8.3333 - 12.5, abs=0.01)  # 79.17
    assert out["conclusion"] == "中"
    fams = {f["family"]: f for f in out["families"]}
    assert fams["ABS"]["base_score"] == pytest.approx(100 / 12, abs=1e-3)
    assert fams["CES"]["deduction"] == 0
    assert {d["unit"]: d["deduction"] for d in out["deductions"]} == pytest.approx(
        {"L3-ABS1-01": 100 / 12, "L3-ABS1-03": 12.5}, abs=1e-3)


def test_2021_focus_coefficient_splits_technical_and_management():
    # y = 0.5: ABS base = 100 * 0.5 / (2 * 6) = 4.1667 -> 4.1667 + 6.25; PSS base = 50 / 1 -> 50. Score 39.58.
    items = [(req(1, "ABS"), N), (req(2, "ABS", "important"), C), (req(3, "ABS", "key"), P),
             (req(4, "CES"), C), (req(6, "PSS"), N)]
    out = method_2021(items, [])
    assert out["score"] == pytest.approx(100 - 4.1667 - 6.25 - 50, abs=0.01)
    assert out["conclusion"] == "差"
    heavier_mgmt = method_2021(items, [], replace(Scoring2021Config(), focus_y=0.8))
    # tech 0.8: ABS base 100*0.8/12 = 6.667 -> 6.667 + 10 ; PSS 20 -> 63.33
    assert heavier_mgmt["score"] == pytest.approx(100 - 6.6667 - 10 - 20, abs=0.01)


def _twenty_with_one_nonconform():
    return [(req(i), C) for i in range(1, 20)] + [(req(20), N)]  # 1 of 20 weight-1 items: score 95


def test_2021_single_high_risk_forces_poor_unless_mitigated():
    items = _twenty_with_one_nonconform()
    plain = method_2021(items, [])
    assert plain["score"] == 95.0 and plain["conclusion"] == "优"
    high = method_2021(items, [hit(unit="L3-ABS1-20")])
    assert high["score"] == 95.0 and high["conclusion"] == "差"
    mitigated = method_2021(items, [hit(unit="L3-ABS1-20", mitigated=True)])
    # a mitigated high-risk finding is a medium-risk problem: 优 needs none, so 良
    assert mitigated["conclusion"] == "良"


def test_2021_perfect_score_with_high_risk_is_poor():
    items = [(req(i), C) for i in range(1, 6)]
    assert method_2021(items, [])["conclusion"] == "优"
    assert method_2021(items, [hit()])["conclusion"] == "差"


def test_2021_band_thresholds():
    # 10 weight-1 items in one family: each 不符合 deducts 10, each 部分符合 5
    def conclusion(n_bad, n_partial=0):
        items = [(req(i), N) for i in range(n_bad)] + [(req(50 + i), P) for i in range(n_partial)]
        items += [(req(100 + i), C) for i in range(10 - n_bad - n_partial)]
        return method_2021(items, [])

    assert conclusion(1)["score"] == 90.0 and conclusion(1)["conclusion"] == "优"  # >= 90
    assert conclusion(1, 1)["score"] == 85.0 and conclusion(1, 1)["conclusion"] == "良"
    assert conclusion(2)["conclusion"] == "良"  # 80
    assert conclusion(3)["conclusion"] == "中"  # 70
    assert conclusion(3, 1)["conclusion"] == "差"  # 65


def test_2021_important_nonconform_blocks_excellent():
    items = [(req(i), C) for i in range(1, 30)] + [(req(30, importance="key"), N)]
    out = method_2021(items, [])  # W = 29 + 3 = 32; deduct 3 * 100/32 = 9.375 -> 90.63
    assert out["score"] == pytest.approx(90.63, abs=0.01)
    assert out["conclusion"] == "良"


def test_2021_not_assessed_is_never_conforming():
    items = [(req(1), C), (req(2), X)]
    out = method_2021(items, [])
    assert out["score"] == 50.0 and not out["complete"]
    excluded = method_2021(items, [], replace(Scoring2021Config(), not_assessed_as="exclude"))
    assert excluded["score"] == 100.0 and not excluded["complete"]


def test_2021_all_not_applicable_has_no_score():
    out = method_2021([(req(1), NA), (req(2), NA)], [])
    assert out["score"] is None and out["conclusion"] is None


# ---- 2025 -------------------------------------------------------------------------------------------------------

def _items(conform=0, partial=0, nonconform=0, na=0, unassessed=0):
    rs = [C] * conform + [P] * partial + [N] * nonconform + [NA] * na + [X] * unassessed
    return [(req(i + 1), r) for i, r in enumerate(rs)]


def test_2025_exactly_90_percent_is_basic():
    out = method_2025(_items(conform=9, nonconform=1), [])
    assert out["rate"] == 0.9 and out["conclusion"] == "基本符合"


def test_2025_above_90_without_hazard_conforms():
    assert method_2025(_items(conform=10), [])["conclusion"] == "符合"
    assert method_2025(_items(conform=19, nonconform=1), [])["conclusion"] == "符合"  # 95%


def test_2025_major_hazard_prevents_conform_even_at_100_percent():
    out = method_2025(_items(conform=10), [hit()])
    assert out["conclusion"] == "基本符合"
    assert out["major_hazards"]["before_remediation"] == 1 and out["major_hazards"]["outstanding"] == 1


def test_2025_hazards_counted_before_and_after_remediation():
    hits = [hit("6.4.1.1"), hit("6.4.1.2", remediated=True), hit("6.3.3.1", mitigated=True)]
    out = method_2025(_items(conform=10), hits)
    hz = out["major_hazards"]
    assert hz["before_remediation"] == 2  # the mitigated one is lowered, not a 重大风险隐患
    assert hz["remediated"] == 1 and hz["text"] == "2（1个已整改）"
    assert out["conclusion"] == "基本符合"  # one hazard still outstanding
    fixed = method_2025(_items(conform=10), [hit("6.4.1.2", remediated=True)])
    assert fixed["conclusion"] == "符合"


def test_2025_exactly_60_percent_is_basic_and_below_is_nonconform():
    assert method_2025(_items(conform=6, nonconform=4), [])["conclusion"] == "基本符合"
    out = method_2025(_items(conform=5, partial=1, nonconform=4), [])  # (5 + 0.5) / 10
    assert out["rate"] == pytest.approx(0.55) and out["conclusion"] == "不符合"


def test_2025_partial_counts_half_by_default_and_is_configurable():
    items = _items(conform=8, partial=2)
    assert method_2025(items, [])["rate"] == 0.9
    full = method_2025(items, [], replace(Scoring2025Config(), partial_weight=1.0))
    assert full["rate"] == 1.0 and full["conclusion"] == "符合"


def test_2025_not_applicable_leaves_the_denominator_but_not_assessed_stays():
    assert method_2025(_items(conform=9, na=1), [])["rate"] == 1.0
    out = method_2025(_items(conform=9, unassessed=1), [])
    assert out["rate"] == 0.9 and out["denominator"] == 10 and not out["complete"]


def test_method_is_chosen_by_report_date():
    assert choose_method("auto", date(2025, 3, 20)) == "2021"
    assert choose_method("auto", date(2025, 3, 21)) == "2025"
    assert choose_method("2021", date(2026, 1, 1)) == "2021"
    with pytest.raises(InputError):
        choose_method("2019", date(2026, 1, 1))
    out = score(_items(conform=10), [], "auto", date(2024, 6, 1))
    assert out["method"] == "2021" and out["version"] == "2021.1" and "focus_y" in out["constants"]
    out = score(_items(conform=10), [], "auto", date(2026, 6, 1))
    assert out["method"] == "2025" and out["constants"]["partial_weight"] == 0.5


def test_nothing_assessed_scores_as_nothing_proven():
    items = _items(unassessed=4)
    old = method_2021(items, [])
    assert old["score"] == 0.0 and old["conclusion"] == "差" and not old["complete"]
    new = method_2025(items, [])
    assert new["rate"] == 0.0 and new["conclusion"] == "不符合" and not new["complete"]
