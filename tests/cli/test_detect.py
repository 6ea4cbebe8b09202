"""`sentinel detect --run ID`: evaluating a stored run again gives the alerts analysis would have given."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli

SAMPLE = REPO / "samples" / "city.pcap"


def test_no_detect_then_detect_equals_analyze(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    full = json.loads(run_cli("analyze", str(SAMPLE), "--json", "--db", db).stdout)
    db2 = f"sqlite:///{tmp_path / 'b.db'}"
    res = run_cli("analyze", str(SAMPLE), "--no-detect", "--json", "--db", db2)
    assert res.returncode == 0, res.stderr.decode()
    bare = json.loads(res.stdout)
    assert bare["alerts"] == [] and bare["events"] == {k: v for k, v in full["events"].items()
                                                       if k not in ("yara_match", "heartbeat_lost", "file")}
    res = run_cli("detect", "--run", str(bare["run_id"]), "--json", "--db", db2)
    assert res.returncode == 0, res.stderr.decode()
    later = json.loads(res.stdout)
    key = lambda a: (a["rule"], a["src"], a["dst"], a["count"], a["first_seen"])  # noqa: E731
    assert sorted(map(key, later["alerts"])) == sorted(map(key, full["alerts"]))


def test_detect_refuses_to_double_alerts_and_unknown_runs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run_cli("analyze", str(SAMPLE), "--json", "--db", db)
    res = run_cli("detect", "--run", "1", "--db", db)
    assert res.returncode == 2 and b"--replace" in res.stderr
    res = run_cli("detect", "--run", "99", "--db", db)
    assert res.returncode == 2 and b"no run 99" in res.stderr
    res = run_cli("detect", "--run", "1", "--replace", "--json", "--db", db)
    assert res.returncode == 0 and json.loads(res.stdout)["alerts"]
