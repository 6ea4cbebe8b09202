"""Writing alerts to the store, linked to the run's stored evidence events when they can be found.

An evidence reference (alerts.EVIDENCE_FIELDS) names an event of the run by (kind, ts) plus its uid or, without
one, its src_ip; the link goes to the first such event row (the lowest id). References are resolved in bulk: one
query per few hundred references (an OR of index lookups on (kind, ts), one row per reference back), instead of
one query per reference — a log ingest with thousands of scanning clients has thousands of alerts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as DbEngine

from ..store.tables import EventRow
from .alerts import Alert
from .tables import AlertEvidence, AlertRow

_A = AlertRow.__table__
_L = AlertEvidence.__table__
_E = EventRow.__table__

#: references per lookup query. An OR of N terms is an expression N deep for SQLite's parser (limit 1000) and
#: 3N bound parameters (SQLite's limit is 32766, PostgreSQL's 65535).
CHUNK = 250

#: a reference is matched on (kind, ts) and this column, or on (kind, ts) alone (None)
_Key = tuple[str | None, str, Any, Any]
_COLUMNS = ("uid", "src_ip", None)  # the only column names that reach the SQL text below


def store_alerts(engine: DbEngine, run_id: int, alerts: Iterable[Alert]) -> int:
    """Insert the alerts of run `run_id` in one transaction; returns how many. Evidence references are resolved to
    event rows of the same run by (kind, ts) plus uid or src_ip; unresolved evidence stays in the alert's JSON."""
    alerts = list(alerts)
    if not alerts:
        return 0
    with engine.begin() as conn:
        ids = _insert_alerts(conn, run_id, alerts)
        keys = {k for a in alerts for k in map(_key, a.evidence) if k is not None}
        found = _resolve(conn, run_id, keys)
        links: list[tuple[int, int]] = []
        for alert_id, a in zip(ids, alerts):
            linked: set[int] = set()
            for ref in a.evidence:
                key = _key(ref)
                eid = found.get(key) if key is not None else _lookup_one(conn, run_id, ref)
                if eid is not None and eid not in linked:
                    linked.add(eid)
                    links.append((alert_id, eid))
        _insert_links(conn, links)
    return len(alerts)


def _insert_links(conn: Connection, links: list[tuple[int, int]]) -> None:
    """One executemany at the driver: two integers a row do not need SQLAlchemy's per-row parameter processing
    (measured: 0.4 s of the 1.0 s it took for 34,000 links)."""
    if not links:
        return
    mark = {"qmark": "?", "numeric": ":{}", "named": ":p{}", "format": "%s", "pyformat": "%s"}[conn.dialect.paramstyle]
    if "{}" in mark:  # numbered / named styles
        return conn.execute(_L.insert(), [{"alert_id": a, "event_id": e} for a, e in links])  # type: ignore[func-returns-value]
    conn.exec_driver_sql(f"INSERT INTO {_L.name} (alert_id, event_id) VALUES ({mark}, {mark})", links)


def _insert_alerts(conn: Connection, run_id: int, alerts: list[Alert]) -> list[int]:
    rows = [
        dict(run_id=run_id, rule=a.rule, title=a.title[:512], level=a.level, layer=a.layer, type=a.type,
             attack=a.attack, controls=a.controls, src=a.src, dst=a.dst, count=a.count,
             first_seen=a.first_seen, last_seen=a.last_seen, group_key=a.group, evidence=a.evidence,
             falsepositives=a.falsepositives)
        for a in alerts
    ]
    if conn.dialect.name == "sqlite":
        # SQLAlchemy cannot batch RETURNING in parameter order on SQLite (it falls back to one INSERT per row), so:
        # one executemany, then the newest len(rows) ids. They are ours, in order: SQLite gives each row max(id)+1,
        # and from the first INSERT to the commit this transaction holds the database's only write lock.
        conn.execute(_A.insert(), rows)
        ids = list(conn.execute(sa.select(_A.c.id).order_by(_A.c.id.desc()).limit(len(rows))).scalars())
        ids.reverse()
        return ids
    # PostgreSQL: executemany with RETURNING, ids in the order of `rows` (SQLAlchemy's insertmanyvalues). Pages of
    # 100 rows rather than 1,000: 6,791 alerts took 2.3-2.7 s instead of 3.1-3.3 s (huge statements cost the driver
    # more to prepare than the round trips they save).
    stmt = _A.insert().returning(_A.c.id, sort_by_parameter_order=True)
    res = conn.execute(stmt.execution_options(insertmanyvalues_page_size=100), rows)
    return [r[0] for r in res]


def _key(ref: dict[str, Any]) -> _Key | None:
    """What a reference is matched on: (column, kind, ts, value). None: not a reference _resolve can batch (a
    missing kind/ts, or values of unusual types), resolved on its own by _lookup_one as before."""
    kind, ts = ref.get("kind"), ref.get("ts")
    if "kind" not in ref or "ts" not in ref:
        return None
    if not isinstance(kind, str) or isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    if ref.get("uid"):
        return ("uid", kind, ts, ref["uid"]) if isinstance(ref["uid"], str) else None
    if ref.get("src_ip"):
        return ("src_ip", kind, ts, ref["src_ip"]) if isinstance(ref["src_ip"], str) else None
    return (None, kind, ts, None)


def _resolve(conn: Connection, run_id: int, keys: set[_Key]) -> dict[_Key, int]:
    """The first event row (lowest id) of the run matching each key; keys without one are absent."""
    found: dict[_Key, int] = {}
    for column in _COLUMNS:
        todo = [k for k in keys if k[0] == column]
        for i in range(0, len(todo), CHUNK):
            found.update(_resolve_chunk(conn, run_id, column, todo[i : i + CHUNK]))
    return found


def _resolve_chunk(conn: Connection, run_id: int, column: str | None, keys: list[_Key]) -> dict[_Key, int]:
    params: dict[str, Any] = {"run": run_id}
    for i, (_, kind, ts, value) in enumerate(keys):
        params[f"k{i}"], params[f"t{i}"] = kind, ts
        if column is not None:
            params[f"v{i}"] = value
    rows = conn.execute(_lookup_sql(column, len(keys)), params)
    if column is None:
        by_kt = {(key[1], key[2]): key for key in keys}
        return {by_kt[(k, t)]: eid for k, t, eid in rows if (k, t) in by_kt}
    by_ktv = {key[1:]: key for key in keys}
    return {by_ktv[(k, t, v)]: eid for k, t, v, eid in rows if (k, t, v) in by_ktv}


@functools.lru_cache(maxsize=32)
def _lookup_sql(column: str | None, n: int) -> sa.TextClause:
    """SELECT kind, ts[, column], min(id) ... WHERE run_id = :run AND (one term per key) GROUP BY ...: an OR of
    equalities on (kind, ts), each an index lookup (SQLite: MULTI-INDEX OR; PostgreSQL: BitmapOr). Written as text
    and kept per size: building the same OR with SQLAlchemy expressions cost 4x the query itself."""
    extra = f" AND {column} = :v{{i}}" if column is not None else ""
    terms = " OR ".join(f"(kind = :k{i} AND ts = :t{i}{extra.format(i=i)})" for i in range(n))
    cols = f"kind, ts, {column}" if column is not None else "kind, ts"
    return sa.text(f"SELECT {cols}, min(id) FROM event WHERE run_id = :run AND ({terms}) GROUP BY {cols}")


def _lookup_one(conn: Connection, run_id: int, ref: dict[str, Any]) -> int | None:
    """One reference, one query (the general case, for references _key does not batch)."""
    if "kind" not in ref or "ts" not in ref:
        return None
    q = sa.select(_E.c.id).where(_E.c.run_id == run_id, _E.c.kind == ref["kind"], _E.c.ts == ref["ts"])
    if ref.get("uid"):
        q = q.where(_E.c.uid == ref["uid"])
    elif ref.get("src_ip"):
        q = q.where(_E.c.src_ip == ref["src_ip"])
    return conn.execute(q.limit(1)).scalar()
