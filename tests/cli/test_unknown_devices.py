"""Unknown devices joining: once an inventory exists, a new field device that is in no asset raises an alert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

SAMPLE = REPO / "samples" / "city.pcap"


def _analyze(db: str, *extra: str) -> dict:
    res = run_cli("analyze", str(SAMPLE), "--json", "--db", db, *extra)
    assert res.returncode == 0, res.stderr.decode()
    return json.loads(res.stdout)


def test_rogue_modbus_master_is_an_unknown_device_once_an_inventory_exists(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("assets", "import", str(REPO / "samples" / "inventory.yaml"), "--db", db).returncode == 0
    out = _analyze(db)
    unknown = {a["src"] for a in out["alerts"] if a["title"] == "Unknown Device Joined the Network"}
    assert "10.20.0.66" in unknown  # the sample's rogue master writing coils
    assert not unknown & {"10.20.0.5", "10.20.1.1", "10.20.1.2", "10.30.0.1"}  # inventory assets
    assert not any(ip.startswith("10.10.") for ip in unknown)  # citizens' clients are not field devices
    again = _analyze(db)  # the same devices are no longer new
    assert not [a for a in again["alerts"] if a["title"] == "Unknown Device Joined the Network"]


def test_no_inventory_means_no_unknown_device_alerts(tmp_path: Path) -> None:
    out = _analyze(f"sqlite:///{tmp_path / 'b.db'}")
    assert "device_unknown" not in out["events"]
    assert not [a for a in out["alerts"] if a["title"] == "Unknown Device Joined the Network"]


def test_modbus_writes_from_a_master_outside_the_slaves_system_are_unauthorised(tmp_path: Path) -> None:
    """The inventory authorises masters: the HMI and PLC 1 are one system; the rogue 10.20.0.66 is in none."""
    db = f"sqlite:///{tmp_path / 'm.db'}"
    assert run_cli("assets", "import", str(REPO / "samples" / "inventory.yaml"), "--db", db).returncode == 0
    out = _analyze(db)
    bad = [a for a in out["alerts"] if a["title"].startswith("Modbus Write or Diagnostics from a Master Not")]
    # PLCs 1 and 2 are inventory assets of city-ops, like the HMI: only the rogue master is unauthorised for them
    assert {(a["src"], a["dst"]) for a in bad if a["dst"] in ("10.20.1.1", "10.20.1.2")} == {("10.20.0.66", "10.20.1.2")}
    # PLCs 3-8 are in no inventory: no master is authorised for them, the HMI included
    assert ("10.20.0.5", "10.20.1.3") in {(a["src"], a["dst"]) for a in bad}
    assert all(a["level"] == "high" and "T0855" in a["attack"] for a in bad)


def test_without_an_inventory_no_master_is_judged(tmp_path: Path) -> None:
    out = _analyze(f"sqlite:///{tmp_path / 'n.db'}")
    assert not [a for a in out["alerts"] if a["title"].startswith("Modbus Write or Diagnostics from a Master Not")]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_masters_verdict_is_stored_with_the_modbus_events(tmp_path: Path, workers: str) -> None:
    """An assessor reading the store back sees the same verdict the alerts were raised on, whether the rows were
    serialised in process or in capture workers (which run before the inventory is read)."""
    import sqlalchemy as sa

    path = tmp_path / "v.db"
    db = f"sqlite:///{path}"
    assert run_cli("assets", "import", str(REPO / "samples" / "inventory.yaml"), "--db", db).returncode == 0
    _analyze(db, "--workers", workers)
    with sa.create_engine(db).connect() as c:
        rows = c.execute(sa.text("select src_ip, dst_ip, json_extract(data, '$.master_authorised') from event "
                                 "where kind = 'modbus' and json_extract(data, '$.request')")).all()
    verdicts = {(s, d): v for s, d, v in rows}
    assert verdicts[("10.20.0.66", "10.20.1.2")] == 0  # the rogue master: in no system
    assert verdicts[("10.20.0.5", "10.20.1.1")] == 1  # the HMI and PLC 1: one system
    assert None not in verdicts.values()
