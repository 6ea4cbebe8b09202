"""Inventory files: validation names file, line and field for every kind of mistake; export re-imports losslessly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.assets.inventory import dump_csv, dump_yaml, load, parse_assignments
from sentinel.errors import InputError


@pytest.mark.parametrize(
    "name,text,where,words",
    [
        ("bad.yaml", "assets:\n  - name: a\n    layer: [perception\n", "bad.yaml: line 4", "malformed YAML"),
        ("bad.yaml", "- name: a\n  colour: red\n", "bad.yaml: line 2, field 'colour'", "unknown field"),
        ("bad.yaml", "- name: a\n  layer: physical\n", "bad.yaml: line 2, field 'layer'", "bad layer"),
        ("bad.yaml", "- name: a\n- name: b\n  criticality: 7\n", "bad.yaml: line 3, field 'criticality'",
         "out of range"),
        ("bad.yaml", "- name: a\n  protection_level: high\n", "bad.yaml: line 2, field 'protection_level'",
         "integer"),
        ("bad.yaml", "- name: a\n- name: b\n- name: a\n", "bad.yaml: line 3, field 'name'", "duplicate name"),
        ("bad.yaml", "- name: a\n  ip: 10.0.0.300\n", "bad.yaml: line 2, field 'ip'", "not an IP"),
        ("bad.yaml", "- name: a\n  mac: 00:11:22\n", "bad.yaml: line 2, field 'mac'", "not a MAC"),
        ("bad.yaml", "- owner: x\n", "bad.yaml: line 1, field 'name'", "name is required"),
        ("bad.yaml", "name: a\n", "bad.yaml: line 1", "expected a list"),
        ("bad.csv", "name,colour\na,red\n", "bad.csv: line 1, field 'colour'", "unknown field"),
        ("bad.csv", "name,layer\na,perception\nb,sky\n", "bad.csv: line 3, field 'layer'", "bad layer"),
        ("bad.csv", "name,criticality\na,0\n", "bad.csv: line 2, field 'criticality'", "out of range"),
        ("bad.csv", "name,ip\na,10.0.0.1\nb,10.0.0.1\n", "bad.csv: line 3, field 'ip'", "duplicate ip"),
        ("bad.csv", 'name,notes\na,"two\nlines"\nb,x,extra\n', "bad.csv: line 4", "columns"),
        ("bad.csv", "owner\nx\n", "bad.csv: line 1", "no `name` column"),
        ("bad.txt", "name: a\n", "bad.txt", "unknown inventory format"),
    ],
)
def test_bad_inventory_names_file_line_and_field(tmp_path: Path, name, text, where, words):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load(p)
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path}/{where}") and words in msg, msg
    assert exc.value.exit_code == 2


def test_values_are_normalised(tmp_path: Path):
    p = tmp_path / "inv.yaml"
    p.write_text("- name: ' cam-1 '\n  layer: Perception\n  criticality: '4'\n  mac: 0040.8CAA.BBCC\n"
                 "  ip: '2001:DB8::1'\n  owner: 42\n  notes: ''\n", encoding="utf-8")
    [a] = load(p)
    assert a == {"name": "cam-1", "layer": "perception", "criticality": 4, "mac": "00:40:8c:aa:bb:cc",
                 "ip": "2001:db8::1", "owner": "42", "notes": None}


def test_dumps_reload_to_the_same_assets(tmp_path: Path):
    assets = [{"name": "a", "owner": "Dept, \"Ops\"", "layer": "transport", "criticality": 2, "protection_level": 3,
               "mac": "00:11:22:33:44:55", "ip": "10.0.0.1", "notes": "line1\nline2", "location": None,
               "system": "x"},
              {"name": "b", "owner": None, "layer": None, "criticality": None, "protection_level": None, "mac": None,
               "ip": None, "notes": None, "location": "Hall", "system": None}]
    for fname, text in (("x.yaml", dump_yaml(assets)), ("x.csv", dump_csv(assets))):
        p = tmp_path / fname
        p.write_text(text, encoding="utf-8")
        back = load(p)
        assert [{k: v for k, v in a.items() if v is not None} for a in back] == \
               [{k: v for k, v in a.items() if v is not None} for a in assets], fname


def test_empty_files_are_empty_inventories(tmp_path: Path):
    for name in ("e.yaml", "e.csv"):
        (tmp_path / name).write_text("", encoding="utf-8")
        assert load(tmp_path / name) == []


def test_assignments():
    assert parse_assignments(["criticality=3", "notes=", "layer=application"]) == \
           {"criticality": 3, "notes": None, "layer": "application"}
    with pytest.raises(InputError, match="field 'protection_level'"):
        parse_assignments(["protection_level=6"])
