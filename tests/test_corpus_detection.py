"""Detection quality on the public corpus: every item with ground truth raises its alert; benign items raise none.

Ground truth is in ../shared/corpus/MANIFEST.md. Each case runs the real CLI (`sentinel analyze` / `ingest`) with
the built-in packs, and the corpus Sigma rules unchanged. docs/detection.md records the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

SERIOUS = {"medium", "high", "critical"}

PCAPS = {
    "dev01_mqtt_anonymous_pubsub.pcap": {"Anonymous MQTT Connect"},
    "dev02_mqtt_wildcard_subscribe_large_publish.pcap": {"MQTT Multi-Level Wildcard Subscription",
                                                         "MQTT Connect with User Name but No Password"},
    "dev03_mqtt5_cleartext_creds_publish.pcap": {"MQTT Credentials in Cleartext"},
    "dev04_modbus_diagnostics_and_writes.pcap": {"Modbus Write Request", "Modbus Diagnostics Request",
                                                 "Modbus Device Forced to Listen-Only Mode or Restarted"},
    "dev05_modbus_write_multiple_coils.pcap": {"Modbus Write Request"},
    "dev06_dns_tunnel_dns2tcp_txt.pcap": {"DNS Tunnelling - Burst of TXT/NULL/ANY Queries",
                                          "DNS Query with Long High-Entropy Name"},
    "dev08_http_basic_auth_cleartext.pcap": {"Cleartext Credentials on the Network"},
    "dev10_portscan_tcp_syn_3hosts.pcap": {"TCP Port Scan"},
    "dev11_portscan_udp.pcap": {"UDP Port Scan"},
    "dev12_hostscan_arp_sweep.pcap": {"ARP Host Sweep"},
    "dev13_synflood_single_source_crafted.pcap": {"TCP SYN Flood"},
    "dev14_ftp_bruteforce_cleartext.pcap": {"Password Guessing over a Cleartext Protocol",
                                            "Cleartext Credentials on the Network"},
    "dev15_smb_eicar_upload.pcap": {"YARA Rule Matched"},
    "dev16_coap_put.pcap": {"CoAP State-Changing Request without DTLS"},
}
BENIGN_PCAPS = ["dev07_benign_dns_udp.pcap", "dev09_benign_http_get.pcap"]

LOGS = {
    "dev_log01_access_apache_rfi_probing.log": {"Web Scanning Burst (Many Failing Paths)"},
    "dev_log02_access_nginx_xss_probing.log": {"Cross-Site Scripting Attempt in Web Request"},
    "dev_log03_access_nginx_sensitive_files.log": {"Web Request for a Sensitive File"},
    "dev_log04_apache_cve_2021_41773_traversal.log": {"Path Traversal Attempt in Web Request"},
    "dev_log05_access_apache2_misc_scanners.log": {"Web Scanner or Attack Tool User-Agent"},
    "dev_log07_auth_ssh_bruteforce_user_enum.log": {"SSH Brute Force", "SSH User Enumeration"},
    "dev_log08_error_nginx_basic_auth_bruteforce.log": {"Web Brute Force (Repeated 401 Responses)",
                                                        "Web Brute Force (Web Server Auth Failures)"},
    "dev_log09_access_grafana_cve_2021_43798_traversal.log": {"Path Traversal Attempt in Web Request"},
    "dev_log10_access_f5_cve_2020_5902_cmd_exec.log": {"Webshell Command Execution in Web Request"},
    "dev_log11_access_ipv6_client_nikto_ua.log": {"Web Scanner or Attack Tool User-Agent"},
}

# MANIFEST section 3: the public SigmaHQ rules, unchanged, and the log lines each must match (and no others).
SIGMA = {
    "dev_log03_access_nginx_sensitive_files.log": {"Source Code Enumeration Detection by Keyword": [9]},
    "dev_log09_access_grafana_cve_2021_43798_traversal.log": {"Path Traversal Exploitation Attempts": [1]},
    "dev_log10_access_f5_cve_2020_5902_cmd_exec.log": {"Windows Webshell Strings": [2, 4]},
    "dev_log11_access_ipv6_client_nikto_ua.log": {"Suspicious User-Agents Related To Recon Tools": [1, 2]},
}


def _alerts(args: list[str], tmp_path: Path) -> list[dict]:
    res = run_cli(*args, "--json", "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert res.returncode == 0, res.stderr.decode()
    return json.loads(res.stdout)["alerts"]


@pytest.mark.parametrize("name", sorted(PCAPS))
def test_capture_raises_its_ground_truth_alerts(name: str, corpus: Path, tmp_path: Path) -> None:
    alerts = _alerts(["analyze", str(corpus / "pcaps" / name)], tmp_path)
    titles = {a["title"] for a in alerts}
    assert PCAPS[name] <= titles, f"missing {PCAPS[name] - titles}"
    for a in alerts:  # every alert is tagged for the people who act on it
        assert a["attack"] and all(t.startswith("T") for t in a["attack"]), a
        assert a["controls"], a


@pytest.mark.parametrize("name", BENIGN_PCAPS)
def test_benign_capture_raises_nothing_serious(name: str, corpus: Path, tmp_path: Path) -> None:
    alerts = _alerts(["analyze", str(corpus / "pcaps" / name)], tmp_path)
    assert [a["title"] for a in alerts if a["level"] in SERIOUS] == []


def test_eicar_over_smb_is_extracted_and_matched(corpus: Path, tmp_path: Path) -> None:
    ev_file = tmp_path / "ev.jsonl"
    res = run_cli("analyze", str(corpus / "pcaps" / "dev15_smb_eicar_upload.pcap"), "--events", str(ev_file),
                  "--json", "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert res.returncode == 0, res.stderr.decode()
    events = [json.loads(line) for line in ev_file.read_text().splitlines()]
    (f,) = [e for e in events if e["kind"] == "file"]
    assert (f["filename"], f["size"], f["direction"]) == ("\\eicar", 68, "upload")
    assert f["sha256"] == "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    (m,) = [e for e in events if e["kind"] == "yara_match"]
    assert m["rule"] == "SUSP_Just_EICAR" and m["src_ip"] == "192.168.1.100" and m["dst_port"] == 445


@pytest.mark.parametrize("name", sorted(LOGS))
def test_log_raises_its_ground_truth_alerts(name: str, corpus: Path, tmp_path: Path) -> None:
    alerts = _alerts(["ingest", str(corpus / "logs" / name)], tmp_path)
    titles = {a["title"] for a in alerts}
    assert LOGS[name] <= titles, f"missing {LOGS[name] - titles}"


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[2] / "shared" / "corpus"
                                                         / "logs").glob("*.log")) or ["none"])
def test_public_sigma_rules_match_exactly_the_manifest_lines(name: str, corpus: Path, tmp_path: Path) -> None:
    alerts = _alerts(["ingest", str(corpus / "logs" / name), "--rules", str(corpus / "sigma"), "--no-builtin"],
                     tmp_path)
    got: dict[str, list[int]] = {}
    for a in alerts:
        lines = [int(e["source"].rsplit(":", 1)[1]) for e in a["evidence"]]
        got.setdefault(a["title"], []).extend(lines)
    assert {k: sorted(v) for k, v in got.items()} == SIGMA.get(name, {})
