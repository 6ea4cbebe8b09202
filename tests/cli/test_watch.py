"""`sentinel watch` for real: a port scan sent between two throw-away namespaces is seen live and alerted on.

Only namespaces this test creates are used (10.99.8.0/24 on a veth pair); they are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.netns import veth_pair

pytestmark = pytest.mark.netns

NS_A, NS_B = "snt-cli-a", "snt-cli-b"
SCAN = textwrap.dedent("""
    import time
    from scapy.all import IP, TCP, send
    time.sleep(5)  # let `sentinel watch` start in the other namespace
    for port in range(20, 45):  # 25 ports: above the pack's 15-port threshold
        send(IP(src="10.99.8.1", dst="10.99.8.2")/TCP(sport=40000, dport=port, flags="S", seq=port), verbose=0)
""")


@pytest.fixture
def namespaces():
    with veth_pair(NS_A, NS_B, "veth-sa", "veth-sb", "10.99.8.1/24", "10.99.8.2/24"):
        yield


def test_watch_sees_a_live_port_scan_and_alerts(namespaces, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    watch = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, "-m", "sentinel.cli.main", "watch",
                              "--iface", "veth-sb", "--duration", "12", "--bpf", "tcp", "--json", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    subprocess.run(["ip", "netns", "exec", NS_A, "timeout", "40", sys.executable, "-c", SCAN], check=True,
                   capture_output=True, timeout=60)
    out, err = watch.communicate(timeout=90)
    assert watch.returncode == 0, err.decode()
    res = json.loads(out)
    assert res["events"].get("conn") == 25  # every probe, each answered by ns B's kernel with a RST
    assert res["kernel_drops"] == 0
    scans = [a for a in res["alerts"] if a["title"] == "TCP Port Scan"]
    assert len(scans) == 1 and scans[0]["src"] == "10.99.8.1" and scans[0]["attack"][0] == "T1046"


def test_watch_on_a_missing_interface_is_a_one_line_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to open a packet socket")
    res = subprocess.run([sys.executable, "-m", "sentinel.cli.main", "watch", "--iface", "nosuch0", "--duration",
                          "1", "--db", f"sqlite:///{tmp_path / 'x.db'}"], capture_output=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert b"Traceback" not in res.stderr and b"nosuch0" in res.stderr
