"""Live capture for real: two throw-away network namespaces joined by a veth pair (10.99.7.0/24 only)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.netns import veth_pair

pytestmark = pytest.mark.netns

NS_A, NS_B = "snt-cap-a", "snt-cap-b"
CAPTURE = textwrap.dedent("""
    import json, sys
    from sentinel.capture.pipeline import watch
    run = watch("veth-cb", duration=float(sys.argv[1]), bpf=sys.argv[2] or None)
    ev = [e.to_dict() for batch, _ in run for e in batch]
    print(json.dumps({"events": ev, "packets": run.stats.packets, "drops": run.stats.kernel_drops}))
""")
SEND = textwrap.dedent("""
    import time
    from scapy.all import IP, UDP, TCP, DNS, DNSQR, send
    time.sleep(4)  # let the capture process start (imports are slow on a loaded VM)
    for i in range(5):
        send(IP(src="10.99.7.1", dst="10.99.7.2")/UDP(sport=33000+i, dport=53)/DNS(id=i, qd=DNSQR(qname=f"h{i}.test")), verbose=0)
    send(IP(src="10.99.7.1", dst="10.99.7.2")/TCP(sport=44444, dport=8080, flags="S", seq=1), verbose=0)
""")


@pytest.fixture
def netns_pair():
    with veth_pair(NS_A, NS_B, "veth-ca", "veth-cb", "10.99.7.1/24", "10.99.7.2/24"):
        yield


@pytest.mark.parametrize("bpf", ["", "udp or tcp"])
def test_live_capture_produces_conn_and_icmp_events(netns_pair, bpf):
    cap = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, "-c", CAPTURE, "9", bpf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    subprocess.run(["ip", "netns", "exec", NS_A, "timeout", "30", sys.executable, "-c", SEND], check=True,
                   capture_output=True, timeout=60)
    out, err = cap.communicate(timeout=60)
    assert cap.returncode == 0, err
    res = json.loads(out)
    conns = [e for e in res["events"] if e["kind"] == "conn"]
    udp = sorted(c["src_port"] for c in conns if c["proto"] == "udp" and c["dst_port"] == 53)
    assert udp == [33000 + i for i in range(5)]
    tcp = [c for c in conns if c["proto"] == "tcp"]
    # ns B has no listener on 8080: its kernel answers RST, the capture sees both
    assert len(tcp) == 1 and tcp[0]["conn_state"] == "REJ" and tcp[0]["src_ip"] == "10.99.7.1"
    icmp = [e for e in res["events"] if e["kind"] == "icmp"]
    if bpf:  # the filter keeps ICMP port-unreachable replies out
        assert icmp == []
    else:
        assert len(icmp) == 5 and {e["icmp_type"] for e in icmp} == {3}
    assert res["drops"] == 0
