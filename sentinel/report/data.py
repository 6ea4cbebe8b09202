"""What a report says, gathered once: the assessment (sentinel.compliance.assess.run), alert statistics for the
system's assets, inventory discrepancies, remediation advice from the catalogue, and the cover facts.

The result is one JSON-able dict; every renderer (HTML, Markdown, PDF, JSON, CSV) reads only this dict, so the
formats cannot disagree.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import __version__
from ..compliance.assess import alerts_touching, network_of
from ..compliance.config import AssessConfig

LAYERS = ("perception", "transport", "application")
ALERT_LEVELS = ("critical", "high", "medium", "low", "informational")
MAX_BUCKETS = 30


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---- pure pieces -----------------------------------------------------------------------------------------------

def alert_stats(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per layer x level and a time series per layer; buckets of whole days, widened so there are at most
    MAX_BUCKETS of them (a year of alerts must still be a readable chart)."""
    by_layer: dict[str, Counter] = {}
    for a in alerts:
        by_layer.setdefault(a.get("layer") or "other", Counter())[a.get("level") or "informational"] += 1
    series: dict[str, Any] = {"bucket_seconds": 86400, "start": None, "buckets": [], "layers": {}}
    times = [float(a["first_seen"]) for a in alerts if a.get("first_seen") is not None]
    if times:
        day0 = math.floor(min(times) / 86400) * 86400
        days = math.floor((max(times) - day0) / 86400) + 1
        width = 86400 * max(1, math.ceil(days / MAX_BUCKETS))
        n = math.floor((max(times) - day0) / width) + 1
        per: dict[str, list[int]] = defaultdict(lambda: [0] * n)
        for a in alerts:
            if a.get("first_seen") is not None:
                per[a.get("layer") or "other"][int((float(a["first_seen"]) - day0) // width)] += 1
        series = {"bucket_seconds": width, "start": iso(day0),
                  "buckets": [iso(day0 + i * width)[:10] for i in range(n)], "layers": dict(per)}
    return {"total": len(alerts), "occurrences": sum(int(a.get("count") or 1) for a in alerts),
            "by_layer": {k: {lv: c[lv] for lv in ALERT_LEVELS if c[lv]} | {"total": sum(c.values())}
                         for k, c in sorted(by_layer.items(), key=lambda kv: _layer_order(kv[0]))},
            "series": series}


def _layer_order(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def major_hazards(assessment: dict[str, Any]) -> dict[str, Any]:
    """重大风险隐患 before/after remediation: the 2025 scoring states them; for the 2021 method count the same way
    (distinct unmitigated high-risk cases; remediated when every hit of the case is remediated)."""
    mh = assessment.get("scoring", {}).get("major_hazards")
    if mh:
        return {k: mh[k] for k in ("before_remediation", "remediated", "outstanding", "cases", "remediated_cases")}
    cases: dict[str, bool] = {}
    for h in assessment.get("high_risks", []):
        if not h["mitigated"]:
            cases[h["case"]] = cases.get(h["case"], True) and h["remediated"]
    done = sorted(c for c, r in cases.items() if r)
    return {"before_remediation": len(cases), "remediated": len(done), "outstanding": len(cases) - len(done),
            "cases": sorted(cases), "remediated_cases": done}


def high_risk_rows(assessment: dict[str, Any], catalogue) -> list[dict[str, Any]]:
    cases = {c.id: c for c in catalogue.high_risk}
    out = []
    for h in assessment.get("high_risks", []):
        c = cases.get(h["case"])
        status = "remediated" if h["remediated"] else "mitigated" if h["mitigated"] else "open"
        out.append({**h, "status": status, "remediation_zh": c.remediation_zh if c else "",
                    "remediation_en": c.remediation_en if c else ""})
    return out


def family_rows(assessment: dict[str, Any]) -> list[dict[str, Any]]:
    """Families with their assessed items (not-assessed items are counted, not listed: 200 rows of 未测评 say
    nothing) and a conformity rate (conform + half partial over the assessed, applicable items)."""
    items = defaultdict(list)
    for it in assessment["items"]:
        items[it["family"]].append(it)
    out = []
    for f in assessment["families"]:
        c = f["item_counts"]
        judged = c["conform"] + c["partial"] + c["nonconform"]
        total = sum(c.values()) - c["not_applicable"]
        rate = (c["conform"] + 0.5 * c["partial"]) / total if total else None
        out.append({**f, "rate": rate, "judged": judged,
                    "items": [it for it in items[f["key"]] if it["result"] != "not_assessed"]})
    return out


def discrepancies(rec: dict[str, Any], assets: list[dict[str, Any]], cfg: AssessConfig = AssessConfig()
                  ) -> dict[str, Any]:
    """Unknown devices in the networks of the system's assets (the same scope the assessment uses) and the
    system's silent assets."""
    names = {a["name"] for a in assets}
    nets = {n for n in (network_of(a["ip"], cfg) for a in assets if a.get("ip")) if n is not None}

    def inside(ip: str) -> bool:
        try:
            return any(ipaddress.ip_address(ip) in n for n in nets)
        except ValueError:
            return False

    unknown = [{"key": d["key"], "ips": d.get("ips") or [], "macs": d.get("macs") or [], "vendor": d.get("vendor"),
                "role": d.get("role"), "last_seen": iso(d.get("last_seen"))}
               for d in rec["unknown"] if any(inside(ip) for ip in d.get("ips") or [])]
    silent = [{"name": a["name"], "ip": a.get("ip"), "mac": a.get("mac"), "last_seen": iso(a.get("last_seen"))}
              for a in rec["assets"] if a["name"] in names and a["silent"]]
    return {"unknown": unknown, "silent": silent, "silence_seconds": rec.get("silence_period"),
            "newest_observation": iso(rec.get("newest_observation"))}


def assemble(assessment: dict[str, Any], catalogue, alerts: list[dict[str, Any]], inventory: dict[str, Any],
             assessor: str | None, generated: datetime) -> dict[str, Any]:
    """The report data from its parts (pure: the tests build reports from hand-made parts too)."""
    scoring = assessment["scoring"]
    period = assessment.get("period") or {}
    no_evidence = not any(it["evidence"] for it in assessment["items"])
    return {
        "format": "sentinel-report/1",
        "cover": {"system": assessment["system"], "level": assessment["level"], "sa_code": assessment["sa_code"],
                  "parts": assessment["parts"], "assessor": assessor, "date": assessment["date"],
                  "period_from": iso(period.get("from")), "period_to": iso(period.get("to")),
                  "method": scoring["method"], "method_version": scoring["version"],
                  "scoring_constants": scoring.get("constants", {}), "formula": scoring.get("formula"),
                  "risk_method": assessment["risk"]["system"]["method"],
                  "generated": generated.isoformat(timespec="seconds").replace("+00:00", "Z"),
                  "software": f"sentinel {__version__}"},
        "summary": {"score": assessment["score"], "conclusion_zh": assessment["conclusion"],
                    "conclusion_en": assessment["conclusion_en"], "complete": assessment["complete"],
                    "no_evidence": no_evidence, "counts": assessment["counts"],
                    "high_risks": len(assessment["high_risks"]),
                    "high_risks_open": sum(1 for h in assessment["high_risks"]
                                           if not h["mitigated"] and not h["remediated"]),
                    "major_hazards": major_hazards(assessment)},
        "families": family_rows(assessment),
        "items": assessment["items"],
        "high_risks": high_risk_rows(assessment, catalogue),
        "risk": assessment["risk"],
        "alerts": alert_stats(alerts),
        "inventory": inventory,
        "assets": assessment["assets"],
    }


# ---- store access ----------------------------------------------------------------------------------------------

def load_alerts(engine: Engine, ips: list[str], start: float | None, end: float | None) -> list[dict[str, Any]]:
    """Alerts with one of `ips` as source or destination, overlapping the period."""
    try:
        return alerts_touching(engine, ips, start, end)
    except sa.exc.OperationalError:
        return []  # why: a store that never ran detection has no alert table; that is "no alerts", not a failure


def gather(engine: Engine, catalogue, system: str, *, method: str = "auto", when: date | None = None,
           start: float | None = None, end: float | None = None, assessor: str | None = None,
           generated: datetime | None = None) -> dict[str, Any]:
    from ..assets.registry import reconcile
    from ..compliance.assess import run, system_assets

    cfg = AssessConfig()
    assessment = run(engine, catalogue, system, method=method, when=when, start=start, end=end, cfg=cfg)
    assets = system_assets(engine, system)
    alerts = load_alerts(engine, sorted({a["ip"] for a in assets if a.get("ip")}), start, end)
    inventory = discrepancies(reconcile(engine, cfg.silence_seconds), assets, cfg)
    return assemble(assessment, catalogue, alerts, inventory, assessor,
                    generated or datetime.now(timezone.utc).replace(microsecond=0))
