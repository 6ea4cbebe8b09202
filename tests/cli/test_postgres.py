"""Server mode: the same jobs against a real PostgreSQL server (started by scripts/test.sh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.postgres


def test_analyze_and_ingest_store_events_alerts_and_assets_in_postgresql(pg_clean: str, corpus: Path) -> None:
    res = run_cli("analyze", str(REPO / "samples" / "city.pcap"), "--json", "--db", pg_clean)
    assert res.returncode == 0, res.stderr.decode()
    cap = json.loads(res.stdout)
    res = run_cli("ingest", str(corpus / "logs" / "dev_log07_auth_ssh_bruteforce_user_enum.log"), "--json",
                  "--db", pg_clean)
    assert res.returncode == 0, res.stderr.decode()
    logs = json.loads(res.stdout)
    engine = sa.create_engine(pg_clean)
    with engine.connect() as c:
        runs = c.execute(sa.text("select command, status from run order by id")).all()
        events = c.execute(sa.text("select count(*) from event")).scalar()
        alerts = c.execute(sa.text("select rule, count(*) from alert group by rule")).all()
        linked = c.execute(sa.text("select count(*) from alert_evidence")).scalar()
        devices = c.execute(sa.text("select count(*) from observed_device")).scalar()
        brute = c.execute(sa.text("select src, count from alert where title = 'SSH Brute Force'")).all()
    assert runs == [("analyze", "complete"), ("ingest", "complete")]
    assert events == sum(cap["events"].values()) + sum(logs["events"].values())
    assert sum(n for _, n in alerts) == len(cap["alerts"]) + len(logs["alerts"]) > 0
    assert linked > 0  # alerts point at their stored evidence events
    assert devices > 0
    assert brute == [("35.188.49.176", 6)]


def test_damaged_capture_keeps_postgresql_consistent(pg_clean: str, tmp_path: Path) -> None:
    bad = tmp_path / "cut.pcap"
    bad.write_bytes((REPO / "samples" / "city.pcap").read_bytes()[:300_000])
    res = run_cli("analyze", str(bad), "--json", "--db", pg_clean)
    assert res.returncode == 2 and b"Traceback" not in res.stderr
    out = json.loads(res.stdout)
    engine = sa.create_engine(pg_clean)
    with engine.connect() as c:
        status = c.execute(sa.text("select status from run")).scalar()
        stored = c.execute(sa.text("select count(*) from event")).scalar()
    assert status == "incomplete" and stored == sum(out["events"].values())


def test_grading_assessment_and_ledger_in_postgresql(pg_clean: str, tmp_path: Path) -> None:
    """The graded-protection flow in server mode: grade and record a system, inventory, evidence, assess, ledger."""
    inv = tmp_path / "inv.yaml"
    inv.write_text("- {name: hmi-1, system: water, layer: perception, criticality: 4, protection_level: 3, "
                   "ip: 10.20.0.5}\n- {name: broker, system: water, layer: perception, criticality: 4, "
                   "protection_level: 3, ip: 10.30.0.1}\n")
    for args in (["levels", "grade", "--s-object", "society", "--s-degree", "serious", "--a-object", "rights",
                  "--a-degree", "serious", "--system", "water", "--parts", "general,iot"],
                 ["assets", "import", str(inv)],
                 ["analyze", str(REPO / "samples" / "city.pcap")],
                 ["assess", "record", "8.1.4.1 b", "--system", "water", "--result", "conform", "--evidence",
                  "lockout verified", "--object", "hmi-1"]):
        res = run_cli(*args, "--db", pg_clean)
        assert res.returncode == 0, (args, res.stderr.decode())
    res = run_cli("assess", "--system", "water", "--json", "--db", pg_clean)
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    assert out["system"] == "water" and out["level"] == 3
    assert out["counts"]["conform"] >= 1 and out["counts"]["nonconform"] >= 1  # the broker's cleartext MQTT creds
    assert out["method"] and out["conclusion"]
    res = run_cli("ledger", "verify", "--db", pg_clean)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    engine = sa.create_engine(pg_clean)
    with engine.connect() as c:
        kinds = dict(c.execute(sa.text("select kind, count(*) from ledger_entry group by kind")).all())
    assert kinds.get("alert", 0) > 0 and kinds.get("finding") == 1
