"""Risk per asset and per system with the GB/T 20984 model R = R(L(T, V), F(Ia, Va)) (reference §3).

All inputs are on 1..5 (5 = very high):
* Ia, asset value: ceil((criticality + protection level) / 2); a missing criticality is RiskConfig.default_criticality
  and a missing protection level is the system's level — criticality says what the business loses, the level what
  society loses, and both matter to 20984's 业务重要性;
* T, threat likelihood: round(w_f*F + w_l*L + w_r*R) of three 1..5 factors: F from how many alerts involve the asset
  (summed counts, log bands), L from the highest alert level, R from the age of the newest alert at the period end;
  no alert at all -> T = 1 (no threat observed is the least likely, not "none");
* V = Va, vulnerability severity: from the worst finding on the asset: 部分符合 2, 不符合 3, +1 on an important/key
  item, 5 for an unmitigated high-risk finding; no deficiency -> 1.
Matrix method: L = M[T][V], F = M[Ia][Va], risk level = M[L][F] with one symmetric matrix M (config). Multiplication
method: L = sqrt(T*V), F = sqrt(Ia*Va), value = L*F on 1..25, banded (config). Every result keeps its factors.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ..errors import InputError
from .config import ALERT_LEVELS, RISK_LEVELS, RiskConfig
from .model import Requirement, Result


def _clamp(x: int) -> int:
    return max(1, min(5, x))


def asset_value(criticality: int | None, protection_level: int | None, system_level: int,
                cfg: RiskConfig = RiskConfig()) -> dict[str, Any]:
    c = criticality if criticality is not None else cfg.default_criticality
    p = protection_level if protection_level is not None else system_level
    return {"value": _clamp(math.ceil((c + p) / 2)), "criticality": c, "protection_level": p,
            "criticality_assumed": criticality is None, "protection_level_from_system": protection_level is None}


def threat_likelihood(alerts: list[dict[str, Any]], period_end: float, cfg: RiskConfig = RiskConfig()
                      ) -> dict[str, Any]:
    """alerts: dicts with `count`, `level`, `last_seen` (epoch seconds)."""
    total = sum(int(a.get("count") or 1) for a in alerts)
    if not alerts:
        return {"value": 1, "alerts": 0, "alert_count": 0, "frequency": None, "level": None, "recency": None,
                "weights": list(cfg.threat_weights)}
    freq = next((f for bound, f in cfg.frequency_bands if total >= bound), 1)
    top = max((a.get("level") or "informational" for a in alerts),
              key=lambda lv: ALERT_LEVELS.index(lv) if lv in ALERT_LEVELS else 0)
    level = cfg.level_factor.get(top, 1)
    age = max(0.0, period_end - max(float(a["last_seen"]) for a in alerts))
    recency = next((f for bound, f in cfg.recency_bands if age <= bound), 1)
    wf, wl, wr = cfg.threat_weights
    value = _clamp(int(math.floor(wf * freq + wl * level + wr * recency + 0.5)))  # round half up, not to even
    return {"value": value, "alerts": len(alerts), "alert_count": total, "frequency": freq, "highest_level": top,
            "level": level, "newest_age_seconds": round(age, 1), "recency": recency, "weights": list(cfg.threat_weights)}


def vulnerability_severity(findings: list[tuple[Requirement, Result, bool]], cfg: RiskConfig = RiskConfig()
                           ) -> dict[str, Any]:
    """findings: (requirement, result on this asset, unmitigated high risk)."""
    worst = 1
    basis: list[str] = []
    for req, res, high in findings:
        if res not in (Result.PARTIAL, Result.NONCONFORM):
            continue
        if high:
            v = cfg.severity_high_risk
        else:
            v = cfg.severity_partial if res is Result.PARTIAL else cfg.severity_nonconform
            if req.importance in ("important", "key"):
                v += 1
        v = _clamp(v)
        basis.append(f"{req.unit} ({req.key}) {res.value}{' high-risk' if high else ''} -> {v}")
        worst = max(worst, v)
    return {"value": worst, "deficiencies": len(basis), "basis": basis}


def _matrix(cfg: RiskConfig, x: int, y: int) -> int:
    return cfg.matrix[x - 1][y - 1]


def _level(n: int) -> dict[str, Any]:
    zh, en = RISK_LEVELS[n - 1]
    return {"level": n, "band_zh": zh, "band_en": en}


def combine(t: int, v: int, ia: int, cfg: RiskConfig = RiskConfig()) -> dict[str, Any]:
    """L(T,V), F(Ia,Va=V) and the risk, by the configured method."""
    if cfg.method == "matrix":
        lik = _matrix(cfg, t, v)
        loss = _matrix(cfg, ia, v)
        level = _matrix(cfg, lik, loss)
        return {"method": "matrix", "likelihood": lik, "loss": loss, "value": level, **_level(level)}
    if cfg.method == "multiply":
        lik = math.sqrt(t * v)
        loss = math.sqrt(ia * v)
        value = lik * loss
        level = next((i + 1 for i, b in enumerate(cfg.multiply_bands) if value <= b + 1e-9), 5)
        return {"method": "multiply", "likelihood": round(lik, 3), "loss": round(loss, 3), "value": round(value, 3),
                **_level(level)}
    raise InputError("--risk-method", f"unknown risk method {cfg.method!r} (use matrix or multiply)")


def asset_risk(asset: dict[str, Any], alerts: list[dict[str, Any]], findings: list[tuple[Requirement, Result, bool]],
               system_level: int, period_end: float, cfg: RiskConfig = RiskConfig()) -> dict[str, Any]:
    ia = asset_value(asset.get("criticality"), asset.get("protection_level"), system_level, cfg)
    t = threat_likelihood(alerts, period_end, cfg)
    v = vulnerability_severity(findings, cfg)
    r = combine(t["value"], v["value"], ia["value"], cfg)
    return {"asset": asset["name"], **r,
            "factors": {"asset_value": ia, "threat": t, "vulnerability": v}}


def system_risk(assets: list[dict[str, Any]], cfg: RiskConfig = RiskConfig()) -> dict[str, Any]:
    """Max and distribution of the asset risks; the constants used are part of the output."""
    dist = Counter(a["band_en"] for a in assets)
    top = max(assets, key=lambda a: (a["level"], a["value"]), default=None)
    return {"method": cfg.method, "max": None if top is None else {k: top[k] for k in ("asset", "level", "band_zh",
                                                                                          "band_en", "value")},
            "distribution": {en: dist.get(en, 0) for _zh, en in RISK_LEVELS}, "constants": cfg.to_dict()}
