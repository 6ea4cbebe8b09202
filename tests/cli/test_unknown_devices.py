"""Unknown devices joining: once an inventory exists, a new field device that is in no asset raises an alert."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli

SAMPLE = REPO / "samples" / "city.pcap"


def _analyze(db: str) -> dict:
    res = run_cli("analyze", str(SAMPLE), "--json", "--db", db)
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
