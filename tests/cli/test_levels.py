"""`sentinel levels list|show|grade|validate` through a real subprocess: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", "levels", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def one_line_error(p: subprocess.CompletedProcess) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


def test_list_iot_level3_json():
    p = run("list", "--level", "3", "--part", "iot", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["count"] == 21 and out["control_points"] == 8
    units = [r["unit"] for r in out["requirements"]]
    assert units[0] == "L3-PES4-01" and units[-1] == "L3-MMS4-03"
    assert {r["layer"] for r in out["requirements"]} == {"perception"}


def test_list_filters_combine():
    p = run("list", "--part", "general", "--family", "abs", "--json")
    out = json.loads(p.stdout)
    assert out["count"] == 20 and {r["family"] for r in out["requirements"]} == {"ABS"}
    p = run("list", "--level", "2", "--evidence", "observation", "--importance", "key", "--json")
    out = json.loads(p.stdout)
    assert out["count"] > 0
    assert all(r["evidence"]["kind"] == "observation" and r["importance"] == "key" for r in out["requirements"])
    p = run("list", "--level", "1", "--layer", "management")
    assert p.returncode == 0 and "L1-PSS1-01" in p.stdout and "L1-PES1-01" not in p.stdout
    assert "items in" in p.stderr


@pytest.mark.parametrize("args", [("--level", "7"), ("--family", "XYZ")])
def test_list_rejects_bad_filters(args):
    p = run("list", *args)
    assert p.returncode == 2 and p.stdout == ""
    one_line_error(p)


def test_show_unit_json_includes_high_risk_cases():
    p = run("show", "L3-CES4-05", "--json")
    assert p.returncode == 0, p.stderr
    (r,) = json.loads(p.stdout)["requirements"]
    assert (r["clause"], r["item"], r["importance"]) == ("8.4.3.2", "b", "key")
    assert [c["id"] for c in r["high_risk"]] == ["9.3.2.1"]
    assert "mlps.8.4.3.2" in r["evidence"]["rule_tags"]


def test_show_key_at_another_level_and_text_output():
    p = run("show", "8.1.4.1.a", "--level", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("L2-CES1-01  7.1.4.1 a")
    assert "level-3 equivalent: 8.1.4.1 a" in p.stdout and "high risk 6.4.1.1" in p.stdout


def test_show_unknown_is_exit_2():
    p = run("show", "8.1.99.1 a")
    assert p.returncode == 2
    assert "8.1.99.1 a" in one_line_error(p)


def test_grade_json_and_zh_values():
    p = run("grade", "--s-object", "society", "--s-degree", "serious", "--a-object", "合法权益", "--a-degree", "严重",
            "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert (out["level"], out["code"], out["full_code"]) == (3, "S3A2", "S3A2G3")
    assert out["s"]["cell"] == [2, 2] and out["a"]["cell"] == [1, 2]


def test_grade_text():
    p = run("grade", "--s-object", "national", "--s-degree", "general", "--a-object", "rights", "--a-degree",
            "general")
    assert p.returncode == 0 and p.stdout.startswith("第三级 / level 3  S3A1G3")


def test_grade_bad_value():
    p = run("grade", "--s-object", "aliens", "--s-degree", "serious", "--a-object", "rights", "--a-degree", "general")
    assert p.returncode == 2 and "--s-object" in one_line_error(p)


def test_validate_builtin():
    p = run("validate", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    rows = {(c["level"], c["part"]): (c["control_points"], c["items"]) for c in out["counts"]}
    assert rows[(3, "general")] == (71, 211) and rows[(3, "iot")] == (8, 21) and rows[(3, "cloud")] == (16, 46)
    assert out["high_risk"] >= 46


def test_validate_broken_directory_reports_file_line_field(tmp_path):
    d = tmp_path / "levels"
    d.mkdir()
    (d / "bad.yaml").write_text("level: 3\npart: general\ncontrol_points:\n- clause: '8.1.1.1'\n  family: PES\n"
                                "  zh: 甲\n  en: a\n  tag: G\n  layer: physical\n  colour: red\n  items: []\n",
                                encoding="utf-8")
    p = run("validate", str(d))
    assert p.returncode == 2 and p.stdout == ""
    line = one_line_error(p)
    assert f"{d / 'bad.yaml'}: line 10, field 'colour'" in line


def test_validate_missing_directory(tmp_path):
    p = run("validate", str(tmp_path / "nope"))
    assert p.returncode == 2 and "no such file" in one_line_error(p)
