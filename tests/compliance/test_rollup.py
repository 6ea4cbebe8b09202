"""Roll-up (GB/T 28449 §8.2.2) of object -> item -> control point -> family results, with not-assessed handling."""

from __future__ import annotations

import pytest

from sentinel.compliance.model import Evidence, Requirement, Result
from sentinel.compliance.rollup import combine, control_points, families, is_complete

C, P, N, NA, X = Result.CONFORM, Result.PARTIAL, Result.NONCONFORM, Result.NOT_APPLICABLE, Result.NOT_ASSESSED


def req(clause: str, item: str, family: str = "ABS") -> Requirement:
    return Requirement(unit=f"L3-{family}1-{clause[-1]}{item}", level=3, part="general", clause=clause, item=item,
                       family=family, control_point_zh="点" + clause, control_point_en="cp " + clause, tag="G",
                       layer="transport", title_zh="t", title_en="t", evidence=Evidence("assessor"))


@pytest.mark.parametrize("children, parent", [
    ([C, C, C], C),
    ([C, C, NA], C),  # N/A items are left out of "all applicable items"
    ([N, N], N),
    ([N, NA, N], N),
    ([C, N], P),  # mixed
    ([C, P], P),
    ([P, P], P),  # every item only partly met: the control point is partly met, not "all nonconform"
    ([NA, NA], NA),  # all N/A
    ([X, X], X),  # all not assessed
    ([C, X], X),  # one conforming item proves nothing about the unassessed one
    ([C, NA, X], X),
    ([N, X], P),  # a shortfall is known: never conform, reported as partial
    ([P, X, C], P),
    ([], X),
])
def test_combine_follows_the_control_point_rule(children, parent):
    assert combine(children) is parent


def test_completeness_flags_unassessed_children():
    assert is_complete([C, N, NA])
    assert not is_complete([C, X])


def test_items_roll_up_to_control_points_and_families():
    items = [
        (req("8.1.3.1", "a"), C), (req("8.1.3.1", "b"), C),  # 8.1.3.1: conform
        (req("8.1.3.2", "a"), N), (req("8.1.3.2", "b"), C),  # 8.1.3.2: partial
        (req("8.1.3.3", "a"), NA),  # 8.1.3.3: N/A
        (req("8.1.4.1", "a", "CES"), N), (req("8.1.4.1", "b", "CES"), N),  # CES: nonconform
        (req("8.1.4.2", "a", "CES"), NA),
    ]
    cps = {n.key: n for n in control_points(items)}
    assert cps["8.1.3.1"].result is C
    assert cps["8.1.3.2"].result is P
    assert cps["8.1.3.3"].result is NA
    assert cps["8.1.4.1"].result is N and cps["8.1.4.2"].result is NA
    assert cps["8.1.3.2"].counts["nonconform"] == 1 and cps["8.1.3.2"].counts["conform"] == 1
    fams = {n.key: n for n in families(items)}
    assert fams["ABS"].result is P  # conform + partial + N/A control points
    assert fams["CES"].result is N  # nonconform + N/A control point
    assert fams["ABS"].name_zh == "安全区域边界"
    assert fams["ABS"].counts == {"conform": 1, "partial": 1, "nonconform": 0, "not_applicable": 1,
                                  "not_assessed": 0}
    assert fams["ABS"].item_counts["conform"] == 3 and fams["ABS"].item_counts["nonconform"] == 1


def test_a_family_with_an_unassessed_control_point_is_not_complete():
    items = [(req("8.1.3.1", "a"), C), (req("8.1.3.2", "a"), X)]
    fam = families(items)[0]
    assert fam.result is X and not fam.complete
