"""`sentinel assets`: import/export, validation errors with file:line:field, unknown and silent flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INVENTORY = """\
assets:
  - name: plc-3
    owner: Water Department
    location: Pump station 3
    system: SCADA
    layer: perception
    criticality: 4
    protection_level: 3
    ip: 10.0.0.3
  - name: plc-8
    layer: perception
    criticality: 3
    ip: 10.0.0.8
  - name: old-rtu
    layer: perception
    mac: 00-20-78-AA-BB-CC
    notes: "decommissioned? check"
"""


def sentinel(*args: str, db: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTINEL_DB": db}
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", "assets", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sentinel.db'}"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_yaml_import_export_round_trip_and_csv_round_trip(tmp_path, db):
    src = _write(tmp_path, "inv.yaml", INVENTORY)
    r = sentinel("import", str(src), "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"file": str(src), "assets": 3, "added": 3, "updated": 0, "removed": 0}

    y = sentinel("export", db=db)
    assert y.returncode == 0
    exported = _write(tmp_path, "again.yaml", y.stdout)
    c = sentinel("export", "--out", str(tmp_path / "inv.csv"), db=db)
    assert c.returncode == 0
    csv_text = (tmp_path / "inv.csv").read_text()
    assert csv_text.splitlines()[0] == "name,owner,location,system,layer,criticality,protection_level,mac,ip,notes"

    db2 = f"sqlite:///{tmp_path / 'other.db'}"
    assert sentinel("import", str(tmp_path / "inv.csv"), db=db2).returncode == 0
    assert sentinel("export", db=db2).stdout == y.stdout  # YAML -> store -> CSV -> store -> YAML is lossless
    db3 = f"sqlite:///{tmp_path / 'third.db'}"
    assert sentinel("import", str(exported), db=db3).returncode == 0
    assert sentinel("export", "--format", "csv", db=db3).stdout == csv_text
    assert "mac: 00:20:78:aa:bb:cc" in y.stdout  # normalised on the way in

    again = sentinel("import", str(src), "--json", db=db)
    assert json.loads(again.stdout)["updated"] == 3 and json.loads(again.stdout)["added"] == 0


@pytest.mark.parametrize(
    "name,text,where,words",
    [
        ("bad.yaml", "assets:\n  - name: a\n    layer: [perception\n", "bad.yaml: line 4", "malformed YAML"),
        ("bad.csv", "name,colour\na,red\n", "bad.csv: line 1, field 'colour'", "unknown field"),
        ("bad.yaml", "- name: a\n- name: b\n  criticality: 7\n- name: a\n", "bad.yaml: line 3, field 'criticality'",
         "out of range 1-5 (and 1 more error(s))"),
    ],
)
def test_bad_inventory_exits_2_with_one_line_naming_file_line_and_field(tmp_path, db, name, text, where, words):
    p = _write(tmp_path, name, text)
    r = sentinel("import", str(p), db=db)
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: ") and f"{tmp_path}/{where}" in err and words in err, err
    assert sentinel("export", db=db).stdout == "assets: []\n"  # nothing half-imported


def _events(tmp_path: Path) -> Path:
    """Modbus traffic: 10.0.0.3 answers all day, 10.0.0.8 only early; 10.0.0.77 is not in the inventory."""
    evs = []
    for h in range(0, 48):
        ts = 1_700_000_000 + 3600.0 * h
        evs.append(dict(ts=ts, kind="modbus", src_ip="10.0.0.57", src_port=40000, dst_ip="10.0.0.3", dst_port=502,
                        proto="tcp", func_code=3, func_name="read_holding_registers", response=True))
        if h < 2:
            evs.append(dict(ts=ts, kind="modbus", src_ip="10.0.0.57", src_port=40001, dst_ip="10.0.0.8",
                            dst_port=502, proto="tcp", func_code=3, func_name="read_holding_registers",
                            response=True))
    evs.append(dict(ts=1_700_000_000 + 3600.0 * 47, kind="arp", src_ip="10.0.0.77", dst_ip="10.0.0.1", proto="arp",
                    operation="request", src_mac="00:40:8c:01:02:03", dst_mac="00:00:00:00:00:00"))
    p = tmp_path / "events.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in evs))
    return p


def test_unknown_and_silent_flags_after_import_and_observation(tmp_path, db):
    assert sentinel("import", str(_write(tmp_path, "inv.yaml", INVENTORY)), db=db).returncode == 0
    r = sentinel("observe", str(_events(tmp_path)), "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["devices"] == 4

    out = json.loads(sentinel("list", "--json", db=db).stdout)
    assets = {a["name"]: a for a in out["assets"]}
    assert not assets["plc-3"]["silent"] and assets["plc-3"]["role"] == "modbus_slave"
    assert assets["plc-8"]["silent"]  # last seen 46 h before the newest observation, period 24 h
    assert assets["old-rtu"]["silent"] and assets["old-rtu"]["last_seen"] is None  # never seen
    assert sorted(d["key"] for d in out["unknown"]) == ["00:40:8c:01:02:03", "10.0.0.57"]

    silent = json.loads(sentinel("list", "--silent", "--json", db=db).stdout)
    assert sorted(a["name"] for a in silent["assets"]) == ["old-rtu", "plc-8"] and silent["unknown"] == []
    unknown = json.loads(sentinel("list", "--unknown", "--json", db=db).stdout)
    assert unknown["assets"] == [] and len(unknown["unknown"]) == 2
    longer = json.loads(sentinel("list", "--silent", "--silence", "3d", "--json", db=db).stdout)
    assert [a["name"] for a in longer["assets"]] == ["old-rtu"]

    shown = json.loads(sentinel("show", "10.0.0.57", "--json", db=db).stdout)
    assert shown["unknown"] and shown["devices"][0]["role"] == "modbus_master"
    plc = json.loads(sentinel("show", "plc-3", "--json", db=db).stdout)
    assert plc["asset"]["owner"] == "Water Department" and plc["devices"][0]["key"] == "10.0.0.3"
    human = sentinel("show", "plc-3", db=db)
    assert human.returncode == 0 and "modbus_slave: answered modbus requests on tcp/502 (x48)" in human.stdout

    # adding the unknown master to the inventory clears its flag
    s = sentinel("set", "scada-master", "ip=10.0.0.57", "layer=application", "criticality=5", "--create", db=db)
    assert s.returncode == 0, s.stderr
    unknown = json.loads(sentinel("list", "--unknown", "--json", db=db).stdout)
    assert [d["key"] for d in unknown["unknown"]] == ["00:40:8c:01:02:03"]


def test_set_validates_and_refuses_unknown_assets(tmp_path, db):
    assert sentinel("import", str(_write(tmp_path, "inv.yaml", INVENTORY)), db=db).returncode == 0
    ok = sentinel("set", "plc-8", "criticality=5", "location=Reservoir", "--json", db=db)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["asset"]["criticality"] == 5
    for args, words in [(["plc-8", "criticality=0"], "out of range"), (["nope", "criticality=2"], "no asset named"),
                        (["plc-8", "ip=10.0.0.3"], "already the ip of asset 'plc-3'")]:
        r = sentinel("set", *args, db=db)
        assert r.returncode == 2 and words in r.stderr, (args, r.stderr)


def test_bad_options_and_inputs_exit_2(tmp_path, db):
    assert sentinel("export", "--format", "xml", db=db).returncode == 2
    assert sentinel("list", "--silence", "soon", db=db).returncode == 2
    assert sentinel("show", "nothing-here", db=db).returncode == 2
    bad = _write(tmp_path, "ev.jsonl", '{"ts": 1, "kind": "conn"}\nnot json\n')
    r = sentinel("observe", str(bad), db=db)
    assert r.returncode == 2 and "ev.jsonl: line 2" in r.stderr
