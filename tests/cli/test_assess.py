"""`sentinel assess` end to end: a real SQLite store filled by `sentinel analyze` on corpus captures and
`sentinel assets import`, then assessment, findings, worksheets, mitigation and remediation through the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO.parent / "shared" / "corpus" / "pcaps"
CAPTURES = ("dev01_mqtt_anonymous_pubsub.pcap",  # anonymous MQTT CONNECT to broker 198.41.30.241
            "dev04_modbus_diagnostics_and_writes.pcap",  # diagnostics/writes from 10.0.0.57, 10.0.0.9 to 10.0.0.3/8
            "dev08_http_basic_auth_cleartext.pcap")  # HTTP Basic credential to 172.24.133.205

INVENTORY = """\
- {name: plc-3, system: plant, layer: perception, criticality: 5, protection_level: 3, ip: 10.0.0.3}
- {name: plc-8, system: plant, layer: perception, criticality: 4, ip: 10.0.0.8}
- {name: broker, system: plant, layer: perception, criticality: 4, protection_level: 3, ip: 198.41.30.241}
- {name: portal, system: plant, layer: application, criticality: 3, protection_level: 3, ip: 172.24.133.205}
- {name: hmi, system: plant, layer: transport, criticality: 4, ip: 10.0.0.9}
"""


def sentinel(*args: str, db: str, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTINEL_DB": db}
    env.pop("SENTINEL_DEBUG", None)
    p = subprocess.run([sys.executable, "-m", "sentinel.cli.main", *args], capture_output=True, text=True, env=env,
                       timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr}")
    return p


def assess_json(db: str, *args: str) -> dict:
    p = sentinel("assess", "--system", "plant", "--json", *args, db=db, check=True)
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    for name in CAPTURES:
        if not (PCAPS / name).is_file():
            pytest.skip(f"corpus capture {name} not found under {PCAPS}")
    d = tmp_path_factory.mktemp("assess")
    db = f"sqlite:///{d / 'base.db'}"
    sentinel("analyze", *(str(PCAPS / n) for n in CAPTURES), "--json", db=db, check=True)
    inv = d / "inventory.yaml"
    inv.write_text(INVENTORY)
    sentinel("assets", "import", str(inv), db=db, check=True)
    sentinel("assess", "system", "add", "plant", "--level", "3", "--parts", "iot", "--sa", "S3A3", db=db, check=True)
    with sqlite3.connect(d / "base.db") as conn:  # fold the WAL into the file so copies are whole
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return d / "base.db"


@pytest.fixture
def db(base_store: Path, tmp_path: Path) -> str:
    """A private copy of the analysed store, so tests that record findings do not see each other's."""
    shutil.copy(base_store, tmp_path / "s.db")
    return f"sqlite:///{tmp_path / 's.db'}"


def items_by_unit(out: dict) -> dict[str, dict]:
    return {i["unit"]: i for i in out["items"]}


def test_assessment_from_corpus_evidence(db):
    out = assess_json(db, "--date", "2026-11-25")
    assert (out["system"], out["level"], out["method"], out["version"]) == ("plant", 3, "2025", "2025.1")
    items = items_by_unit(out)
    assert sum(out["counts"].values()) == len(out["items"]) > 200  # level-3 general + IoT items
    # nothing proves conformity: absence of alerts leaves items not assessed
    assert out["counts"]["conform"] == 0 and out["counts"]["not_assessed"] > 150 and out["complete"] is False
    # anonymous MQTT connect to the broker (alert tagged 8.4.2.1) -> IoT access control 不符合 on the broker
    iot = items["L3-ABS4-01"]
    assert iot["objects"]["broker"] == "nonconform"
    assert any(e.get("title") == "Anonymous MQTT Connect" and e["object"] == "broker" for e in iot["evidence"])
    assert "9.2.1.1" in [h["case"] for h in iot["high_risk"]]
    # HTTP Basic credentials in cleartext to the portal: the alert and the `credential` event both count
    auth = items["L3-CES1-03"]
    assert auth["objects"] == {"portal": "nonconform"}
    assert {e["source"] for e in auth["evidence"]} == {"alert", "event"}
    assert next(e for e in auth["evidence"] if e["source"] == "event")["count"] == 1
    assert [(h["case"], h["mitigable"], h["mitigated"]) for h in items["L3-CNS1-07"]["high_risk"]] == [
        ("6.2.2.1", True, False)]
    # Modbus diagnostics from 10.0.0.57 (high/medium alerts, 8.1.3.3.b) hit both PLCs; the transport asset has none
    assert items["L3-ABS1-11"]["objects"] == {"hmi": "not_assessed", "plc-3": "nonconform", "plc-8": "nonconform"}
    assert items["L3-ABS1-11"]["result"] == "partial"
    # only low-level Modbus write alerts (8.1.3.2) involve the HMI: partial
    assert items["L3-ABS1-05"]["objects"]["hmi"] == "partial"
    # 10.0.0.57 is in the PLCs' /24 but not in the inventory
    assert out["observations"]["unknown_devices"] == 1
    assert out["conclusion"] == "不符合" and out["score"] < 60
    hz = out["scoring"]["major_hazards"]
    assert hz["before_remediation"] == len({h["case"] for h in out["high_risks"] if not h["mitigated"]}) > 0
    plc3 = next(r for r in out["risk"]["assets"] if r["asset"] == "plc-3")
    assert plc3["factors"]["asset_value"]["value"] == 4  # ceil((5 + 3) / 2)
    assert set(plc3["factors"]["threat"]["alert_ids"]) and plc3["factors"]["vulnerability"]["value"] == 5
    assert out["risk"]["system"]["max"]["level"] >= plc3["level"]
    assert out["risk"]["system"]["constants"]["method"] == "matrix"


def test_method_follows_the_report_date_and_period_filters_evidence(db):
    old = assess_json(db, "--date", "2025-03-20", "--risk-method", "multiply")
    assert old["method"] == "2021" and old["conclusion"] == "差"  # unmitigated high-risk findings
    assert old["scoring"]["constants"]["focus_y"] == 0.5
    assert all(r["method"] == "multiply" for r in old["risk"]["assets"])
    forced = assess_json(db, "--date", "2025-03-20", "--method", "2025", "--from", "2020-01-01", "--to", "2030-01-01")
    assert forced["method"] == "2025"
    items = items_by_unit(forced)
    # the Modbus (2004) and MQTT (2016) alerts are outside the period; the 2024 credential alert is inside
    assert "nonconform" not in items["L3-ABS1-11"]["objects"].values()
    assert items["L3-CES1-03"]["objects"] == {"portal": "nonconform"}
    assert all(e.get("alert_id") != 1 for i in forced["items"] for e in i["evidence"])


def test_record_findings_win_and_bad_input_exits_2(db):
    p = sentinel("assess", "record", "8.1.3.3 b", "--system", "plant", "--result", "符合", "--object", "plc-3",
                 "--evidence", "IDS rule for Modbus FC8 verified on site", "--assessor", "li", "--json", db=db)
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout)
    assert rec["unit"] == "L3-ABS1-11" and rec["result"] == "conform" and rec["object"] == "plc-3"
    p = sentinel("assess", "record", "L3-PSS1-01", "--system", "plant", "--result", "not_applicable",
                 "--evidence", "policy set covered by the group ISMS", db=db)
    assert p.returncode == 0, p.stderr
    out = assess_json(db, "--date", "2026-11-25")
    items = items_by_unit(out)
    assert items["L3-ABS1-11"]["objects"]["plc-3"] == "conform"  # the assessor overrides the alerts
    ev = next(e for e in items["L3-ABS1-11"]["evidence"] if e["object"] == "plc-3")
    assert ev["source"] == "assessor" and ev["assessor"] == "li" and ev["overrides"]
    assert items["L3-PSS1-01"]["result"] == "not_applicable"
    for args, needle in [
        (("--result", "maybe", "--evidence", "x"), "--result"),
        (("--result", "conform", "--evidence", "x", "--object", "nobody"), "not an asset of system"),
    ]:
        p = sentinel("assess", "record", "8.1.3.3 b", "--system", "plant", *args, db=db)
        assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = sentinel("assess", "--system", "nowhere", db=db)
    assert p.returncode == 2 and "no system named" in p.stderr


def test_mitigation_lowers_a_mitigable_case_and_remediation_is_counted(db):
    sentinel("assess", "record", "L3-CNS1-07", "--system", "plant", "--result", "nonconform", "--object", "portal",
             "--evidence", "HTTP Basic over plain HTTP", "--mitigation", "site-to-site IPsec tunnel",
             "--mitigation-lowers", db=db, check=True)
    sentinel("assess", "record", "L3-CES1-03", "--system", "plant", "--result", "nonconform", "--object", "portal",
             "--evidence", "credentials sent in cleartext", db=db, check=True)
    sentinel("assess", "remediate", "L3-CES1-03", "--system", "plant", db=db, check=True)
    out = assess_json(db, "--date", "2026-11-25")
    items = items_by_unit(out)
    h = items["L3-CNS1-07"]["high_risk"][0]
    assert h["mitigated"] and h["mitigation"] == ["site-to-site IPsec tunnel"]
    assert items["L3-CES1-03"]["high_risk"][0]["remediated"]
    hz = out["scoring"]["major_hazards"]
    assert "6.2.2.1" not in hz["cases"] or any(  # still a hazard only if another item keeps it unmitigated
        not x["mitigated"] for x in out["high_risks"] if x["case"] == "6.2.2.1")
    assert "6.4.1.2" in hz["remediated_cases"] and hz["remediated"] >= 1


def test_worksheet_round_trip_csv_and_yaml(db, tmp_path):
    ws = tmp_path / "ws.csv"
    sentinel("assess", "worksheet", "--system", "plant", "--out", str(ws), db=db, check=True)
    out = assess_json(db, "--date", "2026-11-25")
    with ws.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(i["objects"]) for i in out["items"])
    row = next(r for r in rows if r["unit"] == "L3-ABS4-01" and r["object"] == "broker")
    assert row["observed"] == "nonconform" and row["result"] == ""
    row.update(result="部分符合", evidence="broker ACL allows anonymous read only", assessor="wang")
    with ws.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    p = sentinel("assess", "import", str(ws), "--json", db=db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["recorded"] == 1
    again = json.loads(sentinel("assess", "import", str(ws), "--json", db=db, check=True).stdout)
    assert again["recorded"] == 0 and again["unchanged"] == 1
    items = items_by_unit(assess_json(db, "--date", "2026-11-25"))
    assert items["L3-ABS4-01"]["objects"]["broker"] == "partial"
    # a bad cell is reported with file, line and field, and nothing is written
    line = rows.index(row) + 2
    rows[rows.index(row)]["result"] = "maybe"
    with ws.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    p = sentinel("assess", "import", str(ws), db=db)
    assert p.returncode == 2 and f"{ws}: line {line}, field 'result'" in p.stderr, p.stderr
    # YAML: errors carry the line of the offending key
    wy = tmp_path / "ws.yaml"
    sentinel("assess", "worksheet", "--system", "plant", "--out", str(wy), db=db, check=True)
    text = wy.read_text(encoding="utf-8")
    assert "system: plant" in text and "L3-ABS4-01" in text
    lines = text.splitlines()
    obj_line = next(n for n, s in enumerate(lines) if s.strip() == "object: broker")
    lines[obj_line] = lines[obj_line].replace("broker", "toaster")
    wy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = sentinel("assess", "import", str(wy), db=db)
    assert p.returncode == 2 and f"line {obj_line + 1}, field 'object'" in p.stderr and "toaster" in p.stderr


def test_text_report_and_system_commands(db):
    p = sentinel("assess", "--system", "plant", "--date", "2026-11-25", db=db, check=True)
    assert "Results by family" in p.stdout and "安全区域边界" in p.stdout
    assert "method 2025" in p.stdout and "不符合" in p.stdout and "重大风险隐患" in p.stdout
    shown = json.loads(sentinel("assess", "system", "show", "plant", "--json", db=db, check=True).stdout)
    assert shown["sa_code"] == "S3A3" and shown["parts"] == ["general", "iot"]
    assert sorted(a["name"] for a in shown["assets"]) == ["broker", "hmi", "plc-3", "plc-8", "portal"]
    p = sentinel("assess", "system", "add", "bad", "--level", "3", "--sa", "S2A2", db=db)
    assert p.returncode == 2 and "--sa" in p.stderr
