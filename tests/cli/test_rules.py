"""`sentinel rules` through a real subprocess: exit codes, stderr, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", "rules", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def test_list_filters_and_json(corpus):
    r = cli("list", "--no-builtin", "-r", str(corpus / "sigma"), "--level", "high", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [x["title"] for x in out["rules"]] == ["Windows Webshell Strings"]
    r = cli("list", "--no-builtin", "-r", str(corpus / "sigma"), "--tag", "attack.t1083", "--json")
    assert [x["id"] for x in json.loads(r.stdout)["rules"]] == ["953d460b-f810-420a-97a2-cfca4c98e602"]


def test_show_by_id_prefix(corpus):
    r = cli("show", "7ff9db12", "--no-builtin", "-r", str(corpus / "sigma"), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["level"] == "high" and {t["selection"] for t in d["tests"]} == {"selection_method", "selection_keywords"}
    r = cli("show", "nope", "--no-builtin", "-r", str(corpus / "sigma"))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_validate_reports_file_and_line_and_exits_2(tmp_path, corpus):
    good = cli("validate", str(corpus / "sigma"))
    assert good.returncode == 0 and "0 errors" in good.stdout
    (tmp_path / "bad.yml").write_text("title: x\nlogsource:\n  category: webserver\ndetection:\n  sel:\n"
                                      "    cs-uri-query|bogus: x\n  condition: sel\n")
    r = cli("validate", str(tmp_path), "--json")
    assert r.returncode == 2
    errs = json.loads(r.stdout)["errors"]
    assert len(errs) == 1 and errs[0]["file"].endswith("bad.yml") and "bogus" in errs[0]["message"]
    assert errs[0]["position"] == "line 6"


def test_test_shows_matches_and_why(tmp_path, corpus):
    evs = tmp_path / "events.jsonl"
    evs.write_text("\n".join(json.dumps(e) for e in [
        {"ts": 1.0, "kind": "http_access", "src_ip": "10.0.0.7", "method": "GET", "uri": "/x", "user_agent": "sqlmap/1.7"},
        {"ts": 2.0, "kind": "http_access", "src_ip": "10.0.0.7", "method": "GET", "uri": "/y", "user_agent": "sqlmap/1.7"},
        {"ts": 3.0, "kind": "http_access", "src_ip": "10.0.0.8", "method": "GET", "uri": "/", "user_agent": "Firefox"},
    ]) + "\n")
    r = cli("test", str(corpus / "sigma" / "web_susp_useragents.yml"), "--events", str(evs), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["line"] for m in out["matches"]] == [1, 2]
    assert out["matches"][0]["why"][0]["field"] == "user_agent" and out["matches"][0]["why"][0]["value"] == "sqlmap/1.7"
    assert len(out["alerts"]) == 1 and out["alerts"][0]["count"] == 2 and out["alerts"][0]["src"] == "10.0.0.7"
    assert set(out["alerts"][0]) >= {"rule", "title", "level", "layer", "attack", "controls", "src", "dst", "count",
                                     "first_seen", "last_seen"}
    evs.write_text("{not json\n")
    r = cli("test", str(corpus / "sigma"), "--events", str(evs))
    assert r.returncode == 2 and "line 1" in r.stderr
