"""`sentinel rules test` against a capture and a log directly, not only an events file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli


def test_rule_against_a_capture(corpus: Path) -> None:
    res = run_cli("rules", "test", str(REPO / "rules" / "transport" / "tcp_port_scan.yml"), "--capture",
                  str(corpus / "pcaps" / "dev10_portscan_tcp_syn_3hosts.pcap"), "--json")
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    assert out["events"] == 4993
    assert sorted(a["group"]["dst_ip"] for a in out["alerts"] if a["title"] == "TCP Port Scan") == \
        ["10.0.0.1", "10.0.0.2", "10.0.0.254"]


def test_public_sigma_rule_against_a_log_shows_why(corpus: Path) -> None:
    res = run_cli("rules", "test", str(corpus / "sigma" / "web_win_webshells_in_access_logs.yml"), "--log",
                  str(corpus / "logs" / "dev_log10_access_f5_cve_2020_5902_cmd_exec.log"), "--json")
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    assert [m["where"].rsplit(":", 1)[1] for m in out["matches"]] == ["2", "4"]
    assert any("whoami" in str(w["value"]) for m in out["matches"] for w in m["why"])


def test_exactly_one_input_and_damaged_capture(tmp_path: Path) -> None:
    rule = str(REPO / "rules" / "transport" / "tcp_port_scan.yml")
    res = run_cli("rules", "test", rule)
    assert res.returncode == 2 and b"exactly one" in res.stderr
    bad = tmp_path / "bad.pcap"
    bad.write_bytes((REPO / "samples" / "city.pcap").read_bytes()[:1000])
    res = run_cli("rules", "test", rule, "--capture", str(bad))
    assert res.returncode == 2 and b"bad.pcap" in res.stderr and b"Traceback" not in res.stderr
