"""Passive discovery: which devices are heard, how they are keyed, and which roles the evidence supports."""

from __future__ import annotations

import gc
from collections import Counter

import pytest

from sentinel.assets.observe import Observer, ObserverConfig, _most_common
from sentinel.events.perception import Modbus
from sentinel.events.transport import Arp, Conn

from .corpus_events import events_from_pcap, pcap
from .test_oui import needs_manuf


def _by_key(obs: Observer) -> dict[str, dict]:
    return {d["key"]: d for d in obs.devices()}


def test_modbus_masters_and_slaves_of_dev04():
    obs = Observer()
    obs.observe_all(events_from_pcap(pcap("dev04_modbus_diagnostics_and_writes.pcap")))
    devs = _by_key(obs)
    assert set(devs) == {"10.0.0.57", "10.0.0.9", "10.0.0.3", "10.0.0.8"}
    for master in ("10.0.0.57", "10.0.0.9"):
        assert devs[master]["role"] == "modbus_master"
        assert "modbus_slave" not in devs[master]["roles"]
        assert any("sent modbus" in r for r in devs[master]["roles"]["modbus_master"])
    for slave in ("10.0.0.3", "10.0.0.8"):
        assert devs[slave]["role"] == "modbus_slave"
        assert "modbus_master" not in devs[slave]["roles"]
        assert devs[slave]["server_ports"].get("tcp/502", 0) > 0
    assert devs["10.0.0.57"]["client_ports"].get("tcp/502", 0) > 0


def test_mqtt_broker_and_client_of_dev01():
    obs = Observer()
    obs.observe_all(events_from_pcap(pcap("dev01_mqtt_anonymous_pubsub.pcap")))
    devs = _by_key(obs)
    assert devs["198.41.30.241"]["role"] == "mqtt_broker"
    assert any("CONNACK" in r for r in devs["198.41.30.241"]["roles"]["mqtt_broker"])
    assert devs["10.0.1.4"]["role"] == "mqtt_client"
    assert "mqtt_broker" not in devs["10.0.1.4"]["roles"]
    assert "mqtt" in devs["10.0.1.4"]["protocols"]


@needs_manuf
def test_arp_sweep_finds_the_scanner_only_keyed_by_mac_with_vendor():
    obs = Observer()
    obs.observe_all(events_from_pcap(pcap("dev12_hostscan_arp_sweep.pcap")))
    devs = obs.devices()
    # 509 who-has for 256 addresses, no replies: the targets were never heard
    assert [d["key"] for d in devs] == ["00:0c:29:20:a8:7f"]
    assert devs[0]["ips"] == ["10.0.0.128"]
    assert devs[0]["vendor"] == "VMware, Inc."


def test_unanswered_port_scan_invents_no_targets():
    obs = Observer()
    # 200 SYNs to 198.51.100.5:443, none answered
    obs.observe_all(events_from_pcap(pcap("dev13_synflood_single_source_crafted.pcap")))
    assert [d["key"] for d in obs.devices()] == ["192.0.2.10"]
    assert obs.devices()[0]["role"] is None


def test_ip_keyed_device_merges_into_its_mac_when_arp_reveals_it():
    obs = Observer()
    obs.observe(Modbus(ts=1.0, src_ip="10.1.0.5", src_port=40000, dst_ip="10.1.0.7", dst_port=502, proto="tcp",
                       func_code=3, func_name="read_holding_registers", response=True))
    assert "10.1.0.7" in _by_key(obs)
    obs.observe(Arp(ts=2.0, src_ip="10.1.0.7", dst_ip="10.1.0.5", proto="arp", operation="reply",
                    src_mac="00:40:8C:AA:BB:CC", dst_mac="00:00:00:00:00:01"))
    devs = _by_key(obs)
    assert "10.1.0.7" not in devs
    d = devs["00:40:8c:aa:bb:cc"]
    assert d["ips"] == ["10.1.0.7"] and d["macs"] == ["00:40:8c:aa:bb:cc"]
    assert "modbus_slave" in d["roles"]  # the evidence moved with it
    assert d["first_seen"] == 1.0 and d["last_seen"] == 2.0
    # later traffic to that IP lands on the MAC-keyed device
    obs.observe(dict(ts=3.0, kind="modbus", src_ip="10.1.0.5", src_port=40001, dst_ip="10.1.0.7", dst_port=502,
                     proto="tcp", func_code=3, func_name="read_holding_registers", response=True))
    assert _by_key(obs)["00:40:8c:aa:bb:cc"]["last_seen"] == 3.0


def _conn(ts, src, dst, dport, **kw):
    base = dict(ts=ts, kind="conn", src_ip=src, src_port=50000, dst_ip=dst, dst_port=dport, proto="tcp",
                orig_pkts=3, resp_pkts=3, conn_state="SF")
    return {**base, **kw}


def test_camera_from_rtsp_onvif_or_vendor():
    obs = Observer()
    obs.observe(_conn(1, "10.2.0.1", "10.2.0.10", 554))
    obs.observe(dict(ts=2, kind="http", src_ip="10.2.0.1", src_port=50001, dst_ip="10.2.0.11", dst_port=8000,
                     proto="tcp", method="POST", uri="/onvif/device_service", status=200))
    obs.observe(dict(ts=3, kind="arp", src_ip="10.2.0.12", dst_ip="10.2.0.1", proto="arp", src_mac="04:03:12:00:00:01",
                     dst_mac="00:00:00:00:00:00", operation="request"))
    obs.observe(_conn(4, "10.2.0.1", "10.2.0.13", 80))  # a plain web server: not a camera
    devs = _by_key(obs)
    assert devs["10.2.0.10"]["role"] == "camera"
    assert devs["10.2.0.11"]["role"] == "camera" and "web_server" in devs["10.2.0.11"]["roles"]
    assert devs["10.2.0.13"]["role"] == "web_server"
    hik = devs["04:03:12:00:00:01"]
    if hik["vendor"]:  # vendor-based guess needs the manuf file
        assert "Hikvision" in hik["vendor"] and hik["role"] == "camera"


def test_refused_or_unanswered_ports_are_not_services():
    obs = Observer()
    obs.observe(_conn(1, "10.3.0.1", "10.3.0.2", 1883, conn_state="REJ", resp_pkts=1))
    obs.observe(_conn(2, "10.3.0.1", "10.3.0.3", 1883, conn_state="S0", resp_pkts=0))
    devs = _by_key(obs)
    assert devs["10.3.0.2"]["role"] is None and devs["10.3.0.2"]["server_ports"] == {}  # alive, port closed
    assert "10.3.0.3" not in devs


def test_dns_server_coap_server_and_web_server():
    obs = Observer()
    obs.observe(dict(ts=1, kind="dns", src_ip="10.4.0.1", src_port=5353, dst_ip="10.4.0.53", dst_port=53, proto="udp",
                     query="example.org", qtype="A", rcode="NOERROR"))
    obs.observe(dict(ts=2, kind="dns", src_ip="10.4.0.1", src_port=5354, dst_ip="10.4.0.54", dst_port=53, proto="udp",
                     query="example.org", qtype="A", rcode=None))  # never answered
    obs.observe(dict(ts=3, kind="coap", src_ip="127.0.0.1", src_port=5683, dst_ip="127.0.0.2", dst_port=40000,
                     proto="udp", msg_type="ACK", code="2.04", is_request=False))
    devs = _by_key(obs)
    assert devs["10.4.0.53"]["role"] == "dns_server"
    assert "10.4.0.54" not in devs
    assert devs["127.0.0.1"]["role"] == "coap_server"


def test_gateway_from_many_source_ips_behind_one_mac():
    obs = Observer(ObserverConfig(gateway_ips=4))
    for i in range(6):
        obs.observe(dict(_conn(i, f"203.0.113.{i + 1}", "10.5.0.2", 443), src_mac="00:00:0c:11:22:33"))
    devs = _by_key(obs)
    assert devs["00:00:0c:11:22:33"]["role"] == "gateway"


def test_gateway_from_talking_to_field_devices_and_the_internet():
    obs = Observer()
    # 10.6.0.1 polls a Modbus slave and publishes to a cloud MQTT broker
    obs.observe(dict(ts=1, kind="modbus", src_ip="10.6.0.1", src_port=40000, dst_ip="10.6.0.20", dst_port=502,
                     proto="tcp", func_code=3, func_name="read_holding_registers", response=True))
    obs.observe(dict(ts=2, kind="mqtt", src_ip="10.6.0.1", src_port=40001, dst_ip="198.41.30.241", dst_port=1883,
                     proto="tcp", msg_type="CONNECT"))
    # 10.6.0.2 only talks to the internet: not a gateway
    obs.observe(_conn(3, "10.6.0.2", "8.8.8.8", 443))
    devs = _by_key(obs)
    assert devs["10.6.0.1"]["role"] == "gateway"
    assert "modbus_master" in devs["10.6.0.1"]["roles"]
    assert "gateway" not in devs["10.6.0.2"]["roles"]


def test_event_objects_and_dicts_give_the_same_devices():
    evs = [Conn(ts=1.0, src_ip="10.7.0.1", src_port=1234, dst_ip="10.7.0.2", dst_port=1883, proto="tcp",
                orig_pkts=2, resp_pkts=2, conn_state="SF", service="mqtt"),
           Modbus(ts=2.0, src_ip="10.7.0.1", src_port=1235, dst_ip="10.7.0.3", dst_port=502, proto="tcp",
                  func_code=6, func_name="write_single_register", response=True)]
    a, b = Observer(), Observer()
    a.observe_all(evs)
    b.observe_all([e.to_dict() for e in evs])
    assert a.devices() == b.devices()
    assert _by_key(a)["10.7.0.2"]["role"] == "mqtt_broker"


def test_device_count_is_bounded():
    obs = Observer(ObserverConfig(max_devices=10))
    for i in range(50):
        obs.observe(dict(ts=i, kind="icmp", src_ip=f"10.8.0.{i + 1}", dst_ip="10.8.1.1", proto="icmp", icmp_type=8))
    assert len(obs.devices()) == 10
    assert obs.dropped == 40


def test_multicast_and_unspecified_addresses_are_not_devices():
    obs = Observer()
    obs.observe(dict(ts=1, kind="conn", src_ip="0.0.0.0", src_port=68, dst_ip="255.255.255.255", dst_port=67,
                     proto="udp", resp_pkts=0))
    obs.observe(dict(ts=2, kind="conn", src_ip="10.9.0.1", src_port=5353, dst_ip="224.0.0.251", dst_port=5353,
                     proto="udp", resp_pkts=1))
    assert [d["key"] for d in obs.devices()] == ["10.9.0.1"]


@pytest.mark.parametrize("kind", ["http_access", "auth"])
def test_log_events_record_the_client(kind):
    obs = Observer()
    obs.observe(dict(ts=5, kind=kind, src_ip="2001:db8:85a3::8a2e:370:7334", sensor="log:access.log"))
    d = obs.devices()[0]
    assert d["key"] == "2001:db8:85a3::8a2e:370:7334" and kind in d["protocols"]


@pytest.mark.parametrize("counts", [{}, {"tcp/80": 2}, {"a": 1, "b": 3, "c": 3, "d": 1}])
def test_counts_come_most_common_first_ties_in_insertion_order(counts):
    out = _most_common(counts)
    assert list(out.items()) == Counter(counts).most_common() and out is not counts


def test_devices_in_key_order_with_ips_newest_first_and_the_collector_as_it_was():
    obs = Observer()
    for ts, ip in ((1.0, "10.8.0.2"), (2.0, "10.8.0.3"), (3.0, "10.8.0.1")):
        obs.observe(dict(ts=ts, kind="arp", src_ip=ip, dst_ip="10.8.0.9", proto="arp", operation="reply",
                         src_mac="00:40:8c:00:00:01", dst_mac="00:40:8c:00:00:09"))
    obs.observe(_conn(4.0, "10.8.0.7", "10.8.0.2", 80))
    obs.observe(_conn(5.0, "10.8.0.5", "10.8.0.2", 80))
    assert gc.isenabled()
    devs = obs.devices()
    assert gc.isenabled()
    assert [d["key"] for d in devs] == ["00:40:8c:00:00:01", "10.8.0.5", "10.8.0.7"]
    assert devs[0]["ips"] == ["10.8.0.2", "10.8.0.1", "10.8.0.3"]  # 10.8.0.2 answered the conns at 4 and 5
    gc.disable()
    try:
        assert obs.devices() == devs and not gc.isenabled()
    finally:
        gc.enable()
