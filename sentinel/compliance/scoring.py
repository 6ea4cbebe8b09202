"""Overall scores and conclusions of the 2021 and 2025 report templates (reference §2.2), versioned.

Inputs are plain data: (Requirement, item Result) pairs and the high-risk hits found by assess.py, each a dict
`{"case": id, "unit": ..., "object": ..., "mitigated": bool, "remediated": bool}`.

method_2021 (《网络安全等级测评报告模版（2021版）》, deficit deduction 缺陷扣分法). The official 基准分 derivation is not
public; we choose the one that turns into the published 2019 formula when every item weighs 1:
    for family f in group G (technical or management), W_f = sum of the weights of its applicable items,
    base score b_f = 100 * share_G / (|G| * W_f), share_tech = y (关注系数), share_mgmt = 1 - y;
    an item of weight w (一般 1, 重要 2, 关键 3) deducts w * b_f when 不符合 and half that when 部分符合.
  So each group deducts at most its share, every family of a group weighs the same, and the score stays in 0..100.
  Bands: 优 >= 90 and no medium/high-risk problem; 良 >= 80; 中 >= 70; 差 below 70 or any high-risk problem that
  is neither mitigated nor remediated. A problem is medium risk when it is a 不符合 on an important/key item or a
  mitigated high-risk finding.

method_2025 (2025 template): 符合率 = (符合 + p * 部分符合) / (total - 不适用), p = 0.5 by default; not-assessed items
  stay in the denominator (never conforming). 符合: rate > 90% and no outstanding 重大风险隐患; 基本符合: 60% <= rate
  <= 90% (exactly 90% is 基本符合 because 符合 needs "> 90%"; exactly 60% is 基本符合 because 不符合 is "< 60%"),
  or rate > 90% with 重大风险隐患; 不符合: rate < 60%. 重大风险隐患: one per high-risk case hit without a mitigation
  that may lower it; counted before remediation and how many were remediated ("10（5个已整改）"). Comparisons are
  exact (fractions), so 9 of 10 is exactly 90%.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from ..errors import InputError
from .config import (IMPORTANCE_WEIGHT, TECHNICAL_FAMILIES, TEMPLATE_2025_FROM, Scoring2021Config,
                     Scoring2025Config)
from .model import Requirement, Result
from .rollup import counts

R = Result
_DEDUCT = {R.NONCONFORM: Fraction(1), R.CONFORM: Fraction(0)}


def choose_method(method: str, when: date) -> str:
    """`auto` -> 2025 for reports dated after 2025-03-20, else 2021."""
    m = method.lower().removeprefix("method_")
    if m == "auto":
        return "2025" if when >= TEMPLATE_2025_FROM else "2021"
    if m not in ("2021", "2025"):
        raise InputError("--method", f"unknown scoring method {method!r} (use auto, 2021 or 2025)")
    return m


def _frac(x: float) -> Fraction:
    return Fraction(str(x))  # why: Fraction(0.9) is not 9/10; the decimal text is what the constant means


def outstanding_high(high_risks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in high_risks if not h.get("mitigated") and not h.get("remediated")]


def major_hazards(high_risks: list[dict[str, Any]]) -> dict[str, Any]:
    """重大风险隐患: one per high-risk case with an unmitigated hit; remediated when all its hits are."""
    cases: dict[str, list[dict[str, Any]]] = {}
    for h in high_risks:
        if not h.get("mitigated"):
            cases.setdefault(h["case"], []).append(h)
    remediated = sorted(c for c, hs in cases.items() if all(h.get("remediated") for h in hs))
    before = len(cases)
    return {"before_remediation": before, "remediated": len(remediated), "outstanding": before - len(remediated),
            "cases": sorted(cases), "remediated_cases": remediated,
            "text": f"{before}（{len(remediated)}个已整改）"}


def method_2021(items: list[tuple[Requirement, Result]], high_risks: list[dict[str, Any]],
                cfg: Scoring2021Config = Scoring2021Config()) -> dict[str, Any]:
    na_policy = cfg.not_assessed_as
    if na_policy not in ("nonconform", "exclude"):
        raise InputError("scoring", f"not_assessed_as must be nonconform or exclude, not {na_policy!r}")
    deduct = dict(_DEDUCT)
    deduct[R.PARTIAL] = _frac(cfg.partial_deduction)
    scored: dict[str, list[tuple[Requirement, Result]]] = {}
    for req, res in items:
        if res is R.NOT_APPLICABLE or (res is R.NOT_ASSESSED and na_policy == "exclude"):
            continue
        scored.setdefault(req.family, []).append((req, R.NONCONFORM if res is R.NOT_ASSESSED else res))
    groups = {"technical": [f for f in scored if f in TECHNICAL_FAMILIES],
              "management": [f for f in scored if f not in TECHNICAL_FAMILIES]}
    y = _frac(cfg.focus_y)
    shares = {"technical": y, "management": 1 - y}
    if not groups["management"]:
        shares = {"technical": Fraction(1), "management": Fraction(0)}
    elif not groups["technical"]:
        shares = {"technical": Fraction(0), "management": Fraction(1)}
    total_deduction = Fraction(0)
    fam_rows = []
    deductions = []
    for gname, fams in groups.items():
        for fam in fams:
            members = scored[fam]
            w_total = sum(IMPORTANCE_WEIGHT.get(q.importance, 1) for q, _r in members)
            base = Fraction(100) * shares[gname] / (len(fams) * w_total)
            fam_deduct = Fraction(0)
            for q, r in members:
                w = IMPORTANCE_WEIGHT.get(q.importance, 1)
                d = w * deduct[r] * base
                if d:
                    deductions.append({"unit": q.unit, "key": q.key, "result": r.value, "weight": w,
                                       "deduction": round(float(d), 4)})
                fam_deduct += d
            total_deduction += fam_deduct
            fam_rows.append({"family": fam, "group": gname, "weight_total": w_total,
                             "base_score": round(float(base), 4), "deduction": round(float(fam_deduct), 4)})
    score = None if not scored else round(float(Fraction(100) - total_deduction), 2)
    high = outstanding_high(high_risks)
    medium = [q.unit for q, r in items if r is R.NONCONFORM and q.importance in ("important", "key")]
    medium += [f"{h['case']}@{h['unit']}" for h in high_risks if h.get("mitigated") and not h.get("remediated")]
    if score is None:
        conclusion = None
    elif high:
        conclusion = "差"
    elif score >= cfg.excellent and not medium:
        conclusion = "优"
    elif score >= cfg.good:
        conclusion = "良"
    elif score >= cfg.fair:
        conclusion = "中"
    else:
        conclusion = "差"
    en = {"优": "excellent", "良": "good", "中": "fair", "差": "poor", None: None}
    rs = [r for _q, r in items]
    return {"method": "2021", "version": cfg.version, "constants": cfg.to_dict(),
            "formula": "score = 100 - sum(weight * deduction(result) * base_score(family)); "
                       "base_score = 100 * share(group) / (families in group * sum of weights in family)",
            "score": score, "conclusion": conclusion, "conclusion_en": en[conclusion],
            "complete": R.NOT_ASSESSED not in rs, "counts": counts(rs),
            "high_risk_outstanding": len(high), "medium_risk_problems": medium,
            "families": fam_rows, "deductions": deductions}


def method_2025(items: list[tuple[Requirement, Result]], high_risks: list[dict[str, Any]],
                cfg: Scoring2025Config = Scoring2025Config()) -> dict[str, Any]:
    rs = [r for _q, r in items]
    c = counts(rs)
    denom = len(rs) - c[R.NOT_APPLICABLE.value]
    hazards = major_hazards(high_risks)
    if denom == 0:
        rate = None
        conclusion = None
    else:
        rate = (c[R.CONFORM.value] + _frac(cfg.partial_weight) * c[R.PARTIAL.value]) / denom
        if rate > _frac(cfg.conform_above) and hazards["outstanding"] == 0:
            conclusion = "符合"
        elif rate >= _frac(cfg.basic_from):
            conclusion = "基本符合"
        else:
            conclusion = "不符合"
    en = {"符合": "conform", "基本符合": "basically conform", "不符合": "nonconform", None: None}
    return {"method": "2025", "version": cfg.version, "constants": cfg.to_dict(),
            "formula": "rate = (conform + partial_weight * partial) / (total - not_applicable)",
            "score": None if rate is None else round(float(rate) * 100, 2),
            "rate": None if rate is None else float(rate),
            "conclusion": conclusion, "conclusion_en": en[conclusion],
            "complete": R.NOT_ASSESSED not in rs, "counts": c, "denominator": denom,
            "major_hazards": hazards}


def score(items: list[tuple[Requirement, Result]], high_risks: list[dict[str, Any]], method: str = "auto",
          when: date | None = None, cfg2021: Scoring2021Config = Scoring2021Config(),
          cfg2025: Scoring2025Config = Scoring2025Config()) -> dict[str, Any]:
    when = when or date.today()
    m = choose_method(method, when)
    out = method_2021(items, high_risks, cfg2021) if m == "2021" else method_2025(items, high_risks, cfg2025)
    out["requested"] = method
    out["date"] = when.isoformat()
    return out
