"""Assessment of one system: every applicable item judged per evaluation object, from assessor findings first, else
from observation evidence (alerts, events, asset facts); then roll-up, high risk, risk and score.

Evaluation objects of an item: the system's assets on the item's layer (assets without a layer count for every
technical layer); management/physical items, or items with no such asset, have the whole system as object (`""`).
Objects that carry their own finding or observation are added.

Precedence per object (first that applies wins): an assessor finding on the object; an assessor finding on the whole
system; observations (on the object and on the whole system together: 不符合 if any is, else 部分符合); else
`not_assessed`. Absence of alerts is
never conformity: an object nothing speaks about stays `not_assessed`.

Observations (all recorded as evidence with ids, titles, counts, keys):
* an alert in the period whose `controls` match one of the item's rule_tags and whose src or dst is an asset's IP ->
  不符合 for that asset; 部分符合 when every such alert is at a level in AssessConfig.partial_alert_levels
  (informational/low: a weak sign, not proof). Tags match when equal or when one is a whole clause of the other
  (`8.1.3.3` matches `8.1.3.3.a` either way); the `mlps.` prefix is ignored;
* events of the item's event_kinds in the period with an asset's IP as src or dst -> 不符合 for that asset, but only
  for kinds whose mere presence is a deficiency (AssessConfig.deficiency_event_kinds: `credential` = a cleartext
  login to or from it, `heartbeat_lost` = a device that fell silent); other kinds the catalogue lists (conn, tls,
  mqtt...) are context for an assessor, and traffic alone is not a finding;
* asset facts: `unknown_device` (an observed device outside the inventory in the network of the system's assets)
  -> 不符合 for the whole system; `silent_device` (an inventory asset not heard for the silence period) -> 部分符合
  for that asset (AssessConfig.partial_facts: silence may be an outage or maintenance, a weak sign).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError, SentinelError, StoreError
from . import risk as riskmod
from .config import AssessConfig, RiskConfig, Scoring2021Config, Scoring2025Config
from .model import Catalogue, HighRiskCase, Requirement, Result
from .rollup import combine, counts, families, is_complete
from .scoring import score
from .tables import FindingRow, MitigationRow, SystemRow, as_dict

R = Result
SYSTEM = ""  # the object name of the whole system

_ZH = {"符合": R.CONFORM, "部分符合": R.PARTIAL, "不符合": R.NONCONFORM, "不适用": R.NOT_APPLICABLE,
       "未测评": R.NOT_ASSESSED}
_ALIASES = {"n/a": R.NOT_APPLICABLE, "na": R.NOT_APPLICABLE, "not-applicable": R.NOT_APPLICABLE,
            "not-assessed": R.NOT_ASSESSED, "": R.NOT_ASSESSED}


def parse_result(text: str, source: str = "--result", position: str | None = None) -> Result:
    t = (text or "").strip()
    if t in _ZH:
        return _ZH[t]
    low = t.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    try:
        return Result(low)
    except ValueError:
        raise InputError(source, f"unknown result {text!r} (use conform, partial, nonconform, not_applicable or "
                                 "符合, 部分符合, 不符合, 不适用)", position) from None


@dataclass(frozen=True)
class System:
    name: str
    level: int
    parts: tuple[str, ...] = ("general",)
    sa_code: str | None = None
    grading: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Finding:
    unit: str
    result: Result
    object: str = SYSTEM
    evidence: str = ""
    assessor: str | None = None
    remediated: bool = False
    id: int | None = None


@dataclass(frozen=True)
class Mitigation:
    unit: str
    text: str
    lowers: bool
    object: str = SYSTEM


@dataclass
class Observations:
    """What the store says about the system in the period, already narrowed to the system's assets."""

    alerts: list[dict[str, Any]] = field(default_factory=list)  # id, rule, title, level, controls, src, dst, count...
    events: list[dict[str, Any]] = field(default_factory=list)  # kind, ip, role (src/dst), count, first, last
    unknown_devices: list[dict[str, Any]] = field(default_factory=list)  # key, ips
    silent_assets: list[str] = field(default_factory=list)


@dataclass
class ItemResult:
    req: Requirement
    result: Result
    objects: dict[str, Result]
    evidence: list[dict[str, Any]]
    high_risk: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return is_complete(self.objects.values())

    def to_dict(self) -> dict[str, Any]:
        q = self.req
        return {"unit": q.unit, "key": q.key, "title": q.title_en, "title_zh": q.title_zh, "family": q.family,
                "control_point": q.clause, "control_point_zh": q.control_point_zh, "layer": q.layer,
                "importance": q.importance, "result": self.result.value, "result_zh": self.result.zh,
                "complete": self.complete, "objects": {k or "(system)": v.value for k, v in self.objects.items()},
                "evidence": self.evidence, "high_risk": self.high_risk}


# ---- pure logic ------------------------------------------------------------------------------------------------

def applicable(catalogue: Catalogue, system: System) -> list[Requirement]:
    return catalogue.for_level(system.level, tuple(system.parts))


def resolve_item(reqs: list[Requirement], text: str, source: str = "ITEM") -> Requirement:
    """An item by unit id (`L3-ABS1-07`) or key (`8.1.3.3 a`, `8.1.3.3.a`, `8.1.3.3a`)."""
    t = " ".join(text.strip().split())
    for q in reqs:
        if q.unit.lower() == t.lower():
            return q
    norm = t.replace(" ", ".").lower()
    for q in reqs:
        if norm in (f"{q.clause}.{q.item}".lower(), f"{q.clause}{q.item}".lower()):
            return q
    raise InputError(source, f"no applicable item {text!r} for this system (give a unit like L3-ABS1-07 or a key "
                             "like '8.1.3.3 a')")


def _norm_tag(t: str) -> str:
    t = t.strip().lower()
    return t[5:] if t.startswith("mlps.") else t


def tag_matches(alert_tag: str, item_tag: str) -> bool:
    a, b = _norm_tag(alert_tag), _norm_tag(item_tag)
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def objects_for(req: Requirement, assets: list[dict[str, Any]]) -> list[str]:
    if req.layer in ("perception", "transport", "application"):
        names = [a["name"] for a in assets if a.get("layer") in (None, req.layer)]
        if names:
            return names
    return [SYSTEM]


def _ips(assets: list[dict[str, Any]]) -> dict[str, str]:
    return {a["ip"]: a["name"] for a in assets if a.get("ip")}


def observe_item(req: Requirement, assets: list[dict[str, Any]], obs: Observations,
                 cfg: AssessConfig = AssessConfig()) -> dict[str, tuple[Result, list[dict[str, Any]]]]:
    """Object -> (result, evidence) from observations alone (objects nothing speaks about are absent)."""
    ev = req.evidence
    ips = _ips(assets)
    per: dict[str, list[dict[str, Any]]] = {}
    weak: dict[str, bool] = {}
    if ev.rule_tags:
        for a in obs.alerts:
            tags = [c for c in a.get("controls") or [] if any(tag_matches(c, t) for t in ev.rule_tags)]
            if not tags:
                continue
            for ip in dict.fromkeys(x for x in (a.get("src"), a.get("dst")) if x in ips):
                obj = ips[ip]
                per.setdefault(obj, []).append({"source": "alert", "alert_id": a.get("id"), "rule": a.get("rule"),
                                                "title": a.get("title"), "level": a.get("level"),
                                                "count": a.get("count"), "controls": tags, "ip": ip})
                weak[obj] = weak.get(obj, True) and a.get("level") in cfg.partial_alert_levels
    for e in obs.events:
        if e["kind"] in ev.event_kinds and e["kind"] in cfg.deficiency_event_kinds and e["ip"] in ips:
            obj = ips[e["ip"]]
            per.setdefault(obj, []).append({"source": "event", "kind": e["kind"], "role": e["role"], "ip": e["ip"],
                                            "count": e["count"], "first": e.get("first"), "last": e.get("last")})
            weak[obj] = False
    if "unknown_device" in ev.asset_facts and obs.unknown_devices:
        per.setdefault(SYSTEM, []).append({"source": "asset", "fact": "unknown_device",
                                           "devices": [d["key"] for d in obs.unknown_devices]})
        weak[SYSTEM] = False
    if "silent_device" in ev.asset_facts:
        names = {a["name"] for a in assets}
        for name in obs.silent_assets:
            if name in names:
                per.setdefault(name, []).append({"source": "asset", "fact": "silent_device", "asset": name})
                weak[name] = weak.get(name, True) and "silent_device" in cfg.partial_facts
    return {obj: (R.PARTIAL if weak.get(obj) else R.NONCONFORM, evs) for obj, evs in per.items()}


def judge_item(req: Requirement, assets: list[dict[str, Any]], findings: list[Finding], obs: Observations,
               cfg: AssessConfig = AssessConfig()) -> ItemResult:
    """Per-object results by precedence (module docstring), then the item result by the roll-up rule."""
    mine = {f.object: f for f in findings if f.unit == req.unit}  # newest per object: callers pass newest only
    observed = observe_item(req, assets, obs, cfg)
    default = objects_for(req, assets)
    objs = list(default)
    for o in list(mine) + list(observed):
        if o not in objs and o != SYSTEM:
            objs.append(o)
    if default == [SYSTEM] and len(objs) > 1 and SYSTEM not in mine and SYSTEM not in observed:
        objs.remove(SYSTEM)
    results: dict[str, Result] = {}
    evidence: list[dict[str, Any]] = []
    for o in objs:
        f = mine.get(o) or mine.get(SYSTEM)
        if f is not None:
            results[o] = f.result
            evidence.append({"object": o or "(system)", "source": "assessor", "finding_id": f.id,
                             "result": f.result.value, "text": f.evidence, "assessor": f.assessor,
                             "remediated": f.remediated, **({"overrides": observed[o][1]} if o in observed else {})})
        elif o in observed or SYSTEM in observed:
            # the object's own observations and the system-wide ones both speak about it: the stronger wins
            found = [observed[k] for k in dict.fromkeys((o, SYSTEM)) if k in observed]
            results[o] = R.NONCONFORM if any(r is R.NONCONFORM for r, _e in found) else R.PARTIAL
            evidence.extend({"object": o or "(system)", **e} for _r, evs in found for e in evs)
        else:
            results[o] = R.NOT_ASSESSED
    return ItemResult(req, combine(results.values()), results, evidence)


def case_applies(case: HighRiskCase, req: Requirement, level: int) -> bool:
    """The case lists the item (by unit, key, or for other levels its level-3 equivalent) and the level is enough."""
    if level < case.min_level:
        return False
    try:
        from .catalogue import refers_to
    except ImportError:  # the catalogue module is optional for this logic; match unit or key then
        return req.key in case.items or req.unit in case.items
    return refers_to(case, req)


def high_risk_hits(item: ItemResult, cases: list[HighRiskCase], level: int, findings: list[Finding],
                   mitigations: list[Mitigation]) -> list[dict[str, Any]]:
    """High-risk findings of one item: a 不符合/部分符合 on an item a case lists, at a level >= its min_level;
    mitigated when the case is mitigable and a mitigation that `lowers` is recorded for the item (on the system or
    on a deficient object); remediated when every assessor finding behind the deficiency is marked remediated."""
    if item.result not in (R.PARTIAL, R.NONCONFORM):
        return []
    bad = [o for o, r in item.objects.items() if r in (R.PARTIAL, R.NONCONFORM)]
    lowering = [m for m in mitigations if m.unit == item.req.unit and m.lowers and m.object in (SYSTEM, *bad)]
    mine = {f.object: f for f in findings if f.unit == item.req.unit}
    behind = [mine.get(o) or mine.get(SYSTEM) for o in bad]
    remediated = bool(behind) and all(f is not None and f.remediated for f in behind)
    out = []
    for case in cases:
        if case_applies(case, item.req, level):
            mitigated = case.mitigable and bool(lowering)
            out.append({"case": case.id, "title_zh": case.title_zh, "title_en": case.title_en,
                        "unit": item.req.unit, "key": item.req.key, "objects": [o or "(system)" for o in bad],
                        "mitigable": case.mitigable, "mitigated": mitigated,
                        "mitigation": [m.text for m in lowering] if mitigated else [], "remediated": remediated})
    return out


def evaluate(catalogue: Catalogue, system: System, assets: list[dict[str, Any]], findings: list[Finding],
             mitigations: list[Mitigation], obs: Observations, *, method: str = "auto", when: date | None = None,
             period_end: float | None = None, cfg: AssessConfig = AssessConfig(),
             risk_cfg: RiskConfig = RiskConfig(), cfg2021: Scoring2021Config = Scoring2021Config(),
             cfg2025: Scoring2025Config = Scoring2025Config()) -> dict[str, Any]:
    """The whole assessment as one JSON-able dict (the CLI prints it or tables of it)."""
    when = when or date.today()
    reqs = applicable(catalogue, system)
    if not reqs:
        raise SentinelError(f"the catalogue has no items for level {system.level} and parts {', '.join(system.parts)}")
    items = [judge_item(q, assets, findings, obs, cfg) for q in reqs]
    for it in items:
        it.high_risk = high_risk_hits(it, catalogue.high_risk, system.level, findings, mitigations)
    pairs = [(it.req, it.result) for it in items]
    hits = [h for it in items for h in it.high_risk]
    scored = score(pairs, hits, method, when, cfg2021, cfg2025)
    if period_end is None:
        period_end = datetime.combine(when, datetime.max.time(), tzinfo=timezone.utc).timestamp()
    risks = asset_risks(items, assets, obs, system.level, period_end, risk_cfg)
    return {
        "system": system.name, "level": system.level, "parts": list(system.parts), "sa_code": system.sa_code,
        "date": when.isoformat(), "method": scored["method"], "version": scored["version"],
        "score": scored["score"], "conclusion": scored["conclusion"], "conclusion_en": scored["conclusion_en"],
        "complete": scored["complete"], "counts": counts(r for _q, r in pairs),
        "high_risks": hits, "scoring": scored,
        "families": [n.to_dict() for n in families(pairs)],
        "items": [it.to_dict() for it in items],
        "risk": risks, "assets": [a["name"] for a in assets],
        "observations": {"alerts": len(obs.alerts), "events": sum(e["count"] for e in obs.events),
                         "unknown_devices": len(obs.unknown_devices), "silent_assets": obs.silent_assets},
        "constants": {"assess": cfg.__dict__, "risk_method": risk_cfg.method},
    }


def asset_risks(items: list[ItemResult], assets: list[dict[str, Any]], obs: Observations, level: int,
                period_end: float, cfg: RiskConfig = RiskConfig()) -> dict[str, Any]:
    """Per asset risk: its alerts, and the findings on it (its own results, and whole-system results)."""
    out = []
    for a in assets:
        ip = a.get("ip")
        alerts = [x for x in obs.alerts if ip and ip in (x.get("src"), x.get("dst"))]
        fnd = []
        for it in items:
            res = it.objects.get(a["name"], it.objects.get(SYSTEM))
            if res is None:
                continue
            high = any(not h["mitigated"] and not h["remediated"] for h in it.high_risk)
            fnd.append((it.req, res, high and res in (R.PARTIAL, R.NONCONFORM)))
        r = riskmod.asset_risk(a, alerts, fnd, level, period_end, cfg)
        r["factors"]["threat"]["alert_ids"] = [x.get("id") for x in alerts][:50]
        out.append(r)
    return {"assets": out, "system": riskmod.system_risk(out, cfg)}


# ---- store access (thin) ---------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


def get_system(engine: Engine, name: str) -> System:
    t = SystemRow.__table__
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
    if row is None:
        raise InputError("--system", f"no system named {name!r} (add it with `sentinel assess system add`)")
    return System(row["name"], row["level"], tuple(row["parts"] or ["general"]), row["sa_code"], row["grading"],
                  row["description"])


def list_systems(engine: Engine) -> list[dict[str, Any]]:
    t = SystemRow.__table__
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.name)).mappings()]


def save_system(engine: Engine, system: System) -> str:
    """Insert or update; returns `added` or `updated`."""
    t = SystemRow.__table__
    values = {"level": system.level, "parts": list(system.parts), "sa_code": system.sa_code,
              "grading": system.grading, "description": system.description, "updated": _now()}
    with engine.begin() as conn:
        exists = conn.execute(sa.select(t.c.id).where(t.c.name == system.name)).first()
        if exists:
            conn.execute(t.update().where(t.c.name == system.name).values(**values))
            return "updated"
        conn.execute(t.insert().values(name=system.name, **values))
        return "added"


def system_assets(engine: Engine, name: str) -> list[dict[str, Any]]:
    from ..assets.registry import list_assets

    return [a for a in list_assets(engine) if a.get("system") == name]


def current_findings(engine: Engine, system: str) -> list[Finding]:
    """The newest finding per (unit, object)."""
    t = FindingRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.system == system).order_by(t.c.id)).mappings().all()
    newest: dict[tuple[str, str], Finding] = {}
    for r in rows:
        newest[(r["unit"], r["object"])] = Finding(r["unit"], Result(r["result"]), r["object"], r["evidence"],
                                                   r["assessor"], bool(r["remediated"]), r["id"])
    return list(newest.values())


def load_mitigations(engine: Engine, system: str) -> list[Mitigation]:
    t = MitigationRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.system == system).order_by(t.c.id)).mappings().all()
    return [Mitigation(r["unit"], r["text"], bool(r["lowers"]), r["object"]) for r in rows]


def _ledger_append(engine: Engine, kind: str, payload: dict[str, Any], ref: str | None = None) -> bool:
    """Append to the tamper-evident ledger (sentinel.integrity.ledger); False when the ledger is not available
    (module or its tables missing) — the finding itself is stored in mlps_finding either way."""
    try:
        from ..integrity.ledger import append
    except ImportError:
        return False
    try:
        append(engine, kind, payload, ref)
    except StoreError:
        return False  # why: a store without the ledger's tables (older schema) must still take findings
    return True


def record_finding(engine: Engine, system: System, req: Requirement, result: Result, evidence: str,
                   obj: str = SYSTEM, assessor: str | None = None, source: str = "cli",
                   mitigation: str | None = None, lowers: bool = False) -> dict[str, Any]:
    t = FindingRow.__table__
    row = {"system": system.name, "unit": req.unit, "item_key": req.key, "object": obj, "result": result.value,
           "evidence": evidence, "assessor": assessor, "source": source, "recorded": _now(), "remediated": False}
    with engine.begin() as conn:
        row["id"] = conn.execute(t.insert().values(**row)).inserted_primary_key[0]
        if mitigation:
            conn.execute(MitigationRow.__table__.insert().values(
                system=system.name, unit=req.unit, object=obj, text=mitigation, lowers=lowers, assessor=assessor,
                recorded=row["recorded"]))
    payload = {**row, "recorded": row["recorded"].isoformat(), "mitigation": mitigation, "mitigation_lowers": lowers}
    payload["ledger"] = _ledger_append(engine, "finding", payload, f"mlps_finding:{row['id']}")
    return payload


def mark_remediated(engine: Engine, system: str, req: Requirement, obj: str | None = None) -> int:
    """Mark the current deficient findings of an item (one object or all) remediated; returns how many."""
    ids = [f.id for f in current_findings(engine, system) if f.unit == req.unit
           and f.result in (R.PARTIAL, R.NONCONFORM) and (obj is None or f.object == obj)]
    if not ids:
        return 0
    t = FindingRow.__table__
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id.in_(ids)).values(remediated=True, remediated_at=_now()))
    _ledger_append(engine, "action", {"action": "remediated", "system": system, "unit": req.unit, "finding_ids": ids},
                   f"mlps_finding:{','.join(map(str, ids))}")
    return len(ids)


def network_of(ip: str, cfg: AssessConfig) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = cfg.network_prefix_v4 if addr.version == 4 else cfg.network_prefix_v6
    return ipaddress.ip_network(f"{addr}/{prefix}", strict=False)


#: the alert table (migration 0004) as a lightweight construct: importing sentinel.detect would load the whole
#: detection engine (~0.6 s) for a read of one table
_ALERT = sa.table("alert", *(sa.column(c) for c in ("id", "rule", "title", "level", "layer", "type", "src", "dst",
                                                     "count", "first_seen", "last_seen")),
                  *(sa.column(c, sa.JSON) for c in ("attack", "controls")))


def alerts_touching(engine: Engine, ips: list[str], start: float | None, end: float | None) -> list[dict[str, Any]]:
    """Stored alerts with one of `ips` as source or destination, overlapping the period, oldest first."""
    if not ips:
        return []
    t = _ALERT
    q = sa.select(t).where(sa.or_(t.c.src.in_(ips), t.c.dst.in_(ips)))
    if start is not None:
        q = q.where(t.c.last_seen >= start)
    if end is not None:
        q = q.where(t.c.first_seen <= end)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(t.c.first_seen, t.c.id)).mappings()]


def load_observations(engine: Engine, assets: list[dict[str, Any]], event_kinds: Iterable[str],
                      start: float | None, end: float | None, cfg: AssessConfig = AssessConfig()) -> Observations:
    from ..assets.registry import reconcile
    from ..store.tables import EventRow

    ips = sorted({a["ip"] for a in assets if a.get("ip")})
    obs = Observations()
    for r in alerts_touching(engine, ips, start, end):
        obs.alerts.append({k: r[k] for k in ("id", "rule", "title", "level", "layer", "type", "attack",
                                             "controls", "src", "dst", "count", "first_seen", "last_seen")})
        kinds = sorted(set(event_kinds))
        if kinds:
            e = EventRow.__table__
            for col, role in ((e.c.dst_ip, "dst"), (e.c.src_ip, "src")):
                q = (sa.select(e.c.kind, col, sa.func.count(), sa.func.min(e.c.ts), sa.func.max(e.c.ts))
                     .where(e.c.kind.in_(kinds), col.in_(ips)).group_by(e.c.kind, col))
                if role == "src":  # an event from a host to itself was already counted as dst
                    q = q.where(sa.or_(e.c.dst_ip.is_(None), e.c.dst_ip != e.c.src_ip))
                if start is not None:
                    q = q.where(e.c.ts >= start)
                if end is not None:
                    q = q.where(e.c.ts <= end)
                with engine.connect() as conn:
                    for kind, ip, n, first, last in conn.execute(q):
                        obs.events.append({"kind": kind, "ip": ip, "role": role, "count": n, "first": first,
                                           "last": last})
    rec = reconcile(engine, cfg.silence_seconds)
    names = {a["name"] for a in assets}
    obs.silent_assets = [a["name"] for a in rec["assets"] if a["name"] in names and a["silent"]]
    nets = {n for n in (network_of(ip, cfg) for ip in ips) if n is not None}
    for d in rec["unknown"]:
        if any(ipaddress.ip_address(ip) in n for ip in d.get("ips") or [] for n in nets if _valid(ip)):
            obs.unknown_devices.append({"key": d["key"], "ips": d.get("ips") or []})
    return obs


def _valid(ip: str) -> bool:
    try:
        ipaddress.ip_address(ip)
        return True
    except ValueError:
        return False


def run(engine: Engine, catalogue: Catalogue, name: str, *, method: str = "auto", when: date | None = None,
        start: float | None = None, end: float | None = None, risk_cfg: RiskConfig = RiskConfig(),
        cfg: AssessConfig = AssessConfig()) -> dict[str, Any]:
    """Load everything about system `name` and evaluate it."""
    system = get_system(engine, name)
    assets = system_assets(engine, name)
    reqs = applicable(catalogue, system)
    kinds = {k for q in reqs for k in q.evidence.event_kinds} & set(cfg.deficiency_event_kinds)
    obs = load_observations(engine, assets, kinds, start, end, cfg)
    out = evaluate(catalogue, system, assets, current_findings(engine, name), load_mitigations(engine, name), obs,
                   method=method, when=when, period_end=end, cfg=cfg, risk_cfg=risk_cfg)
    out["period"] = {"from": start, "to": end}
    return out


__all__ = ["Finding", "ItemResult", "Mitigation", "Observations", "System", "as_dict", "evaluate", "judge_item",
           "parse_result", "resolve_item", "run"]
