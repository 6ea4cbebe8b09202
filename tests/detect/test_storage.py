"""Alerts go into the real store (SQLite, migrated by alembic) linked to the run's evidence events."""

from __future__ import annotations

import sqlalchemy as sa

from sentinel.detect import Engine, store_alerts
from sentinel.events.application import Auth
from sentinel.store import RunWriter, open_store

from detect_helpers import rule


def test_store_alerts_with_evidence_links(load, tmp_path):
    rs = load(rule("sel:\n  outcome: failure\ncondition: sel", category="auth"))
    db = open_store(f"sqlite:///{tmp_path / 's.db'}")
    evs = [Auth(ts=float(t), src_ip="10.0.0.9", user="root", outcome="failure") for t in range(3)]
    eng = Engine(rs)
    with RunWriter(db, "analyze", ["x"]) as w:
        for e in evs:
            w.add(e)
            eng.process(e.to_dict())
        w.flush()
        alerts = eng.finish()
        assert store_alerts(db, w.run_id, alerts) == 1
    with db.connect() as c:
        row = c.execute(sa.text("select rule, count, level, src, first_seen, last_seen from alert")).one()
        assert tuple(row) == ("5f1f0a4e-0000-4000-8000-000000000001", 3, "high", "10.0.0.9", 0.0, 2.0)
        links = c.execute(sa.text("select count(*) from alert_evidence")).scalar()
    assert links == 3
