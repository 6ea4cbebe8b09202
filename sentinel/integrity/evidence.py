"""The store's side of an evidence bundle: the runs, alerts and linked evidence events to include.

Reads only (runs, alerts, alert_evidence, events, assets); the rows are written as JSON lines in id order so the
same store gives the same bundle members.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError
from .bundle import Member, jsonl


def _rows(conn, query) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


def store_members(engine: Engine, run_ids: list[int], system: str | None = None) -> list[Member]:
    """Members `store/*.jsonl` for `run_ids` (all runs when empty but a system is given), optionally narrowed to
    alerts whose source or destination is an asset of `system`."""
    md = sa.MetaData()
    md.reflect(engine, only=[t for t in ("run", "alert", "alert_evidence", "event", "asset")
                             if sa.inspect(engine).has_table(t)])
    t = md.tables
    out: list[Member] = []
    with engine.connect() as conn:
        known = {r[0] for r in conn.execute(sa.select(t["run"].c.id).where(t["run"].c.id.in_(run_ids)))}
        for rid in run_ids:
            if rid not in known:
                raise InputError("--run", f"no run {rid} in the store")
        runs = _rows(conn, sa.select(t["run"]).where(t["run"].c.id.in_(run_ids)).order_by(t["run"].c.id))
        out.append(Member("store/runs.jsonl", jsonl(runs)))
        if "alert" not in t:
            return out
        a = t["alert"]
        q = sa.select(a).order_by(a.c.id)
        if run_ids:
            q = q.where(a.c.run_id.in_(run_ids))
        if system is not None:
            assets = _rows(conn, sa.select(t["asset"]).where(t["asset"].c.system == system).order_by(t["asset"].c.id)) \
                if "asset" in t else []
            if not assets:
                raise InputError("--system", f"no asset of system {system!r} in the inventory")
            ips = sorted({x["ip"] for x in assets if x.get("ip")})
            q = q.where(sa.or_(a.c.src.in_(ips), a.c.dst.in_(ips)))
            out.append(Member("store/assets.jsonl", jsonl(assets)))
        alerts = _rows(conn, q)
        out.append(Member("store/alerts.jsonl", jsonl(alerts)))
        events: list[dict[str, Any]] = []
        if alerts and "alert_evidence" in t:
            le, ev = t["alert_evidence"], t["event"]
            ids = [x["id"] for x in alerts]
            for i in range(0, len(ids), 500):  # why: bounded IN lists (SQLite's parameter limit)
                q = (sa.select(ev).join(le, le.c.event_id == ev.c.id).where(le.c.alert_id.in_(ids[i:i + 500]))
                     .distinct().order_by(ev.c.id))
                events.extend(_rows(conn, q))
            events = sorted({e["id"]: e for e in events}.values(), key=lambda e: e["id"])
        out.append(Member("store/events.jsonl", jsonl(events)))
    return out
