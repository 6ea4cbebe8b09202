"""Writing alerts to the store, linked to the run's stored evidence events when they can be found."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine as DbEngine

from ..store.tables import EventRow
from .alerts import Alert
from .tables import AlertEvidence, AlertRow

_A = AlertRow.__table__
_L = AlertEvidence.__table__
_E = EventRow.__table__


def store_alerts(engine: DbEngine, run_id: int, alerts: Iterable[Alert]) -> int:
    """Insert the alerts of run `run_id` in one transaction; returns how many. Evidence references are resolved to
    event rows of the same run by (kind, ts) plus uid or src_ip; unresolved evidence stays in the alert's JSON."""
    n = 0
    with engine.begin() as conn:
        for a in alerts:
            res = conn.execute(_A.insert().values(
                run_id=run_id, rule=a.rule, title=a.title[:512], level=a.level, layer=a.layer, type=a.type,
                attack=a.attack, controls=a.controls, src=a.src, dst=a.dst, count=a.count,
                first_seen=a.first_seen, last_seen=a.last_seen, group_key=a.group, evidence=a.evidence,
                falsepositives=a.falsepositives,
            ))
            alert_id = res.inserted_primary_key[0]
            linked: set[int] = set()
            for ref in a.evidence:
                if "kind" not in ref or "ts" not in ref:
                    continue
                q = sa.select(_E.c.id).where(_E.c.run_id == run_id, _E.c.kind == ref["kind"], _E.c.ts == ref["ts"])
                if ref.get("uid"):
                    q = q.where(_E.c.uid == ref["uid"])
                elif ref.get("src_ip"):
                    q = q.where(_E.c.src_ip == ref["src_ip"])
                eid = conn.execute(q.limit(1)).scalar()
                if eid is not None and eid not in linked:
                    linked.add(eid)
                    conn.execute(_L.insert().values(alert_id=alert_id, event_id=eid))
            n += 1
    return n
