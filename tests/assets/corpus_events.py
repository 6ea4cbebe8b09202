"""Event dicts built straight from corpus captures with scapy, standing in for the capture pipeline.

Deliberately small decoders (MBAP header, MQTT fixed header, ARP, per-4-tuple flows) so the asset tests exercise
the observer on real traffic without depending on the capture engineer's code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"

MQTT_TYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 8: "SUBSCRIBE", 9: "SUBACK",
              10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}


def pcap(name: str) -> Path:
    p = CORPUS / "pcaps" / name
    if not p.exists():
        pytest.skip(f"corpus file missing: {p}")
    return p


def _mqtt_packets(payload: bytes):
    i = 0
    while i + 2 <= len(payload):
        ptype = payload[i] >> 4
        mult, length, j = 1, 0, i + 1
        while j < len(payload):
            b = payload[j]
            length += (b & 0x7F) * mult
            mult *= 128
            j += 1
            if not b & 0x80:
                break
        yield MQTT_TYPES.get(ptype, f"TYPE{ptype}")
        i = j + length


def events_from_pcap(path: Path) -> list[dict]:
    from scapy.all import ARP, IP, TCP, UDP, rdpcap

    out: list[dict] = []
    flows: dict[tuple, dict] = {}
    pending: dict[tuple, dict] = {}
    for pkt in rdpcap(str(path)):
        ts = float(pkt.time)
        if ARP in pkt:
            a = pkt[ARP]
            out.append(dict(ts=ts, kind="arp", src_ip=a.psrc, dst_ip=a.pdst, proto="arp",
                            operation="request" if a.op == 1 else "reply", src_mac=a.hwsrc, dst_mac=a.hwdst))
            continue
        if IP not in pkt or (TCP not in pkt and UDP not in pkt):
            continue
        l4 = pkt[TCP] if TCP in pkt else pkt[UDP]
        proto = "tcp" if TCP in pkt else "udp"
        s, d, sp, dp = pkt[IP].src, pkt[IP].dst, l4.sport, l4.dport
        fwd, rev = (s, sp, d, dp, proto), (d, dp, s, sp, proto)
        if rev not in flows and fwd not in flows and sp < 1024 <= dp:
            # a flow first seen from the server's side (capture started mid-connection): orient it client -> server
            flows[rev] = dict(ts=ts, kind="conn", src_ip=d, src_port=dp, dst_ip=s, dst_port=sp, proto=proto,
                              orig_pkts=0, resp_pkts=0, conn_state="OTH")
        if rev in flows:
            flows[rev]["resp_pkts"] += 1
        else:
            f = flows.setdefault(fwd, dict(ts=ts, kind="conn", src_ip=s, src_port=sp, dst_ip=d, dst_port=dp,
                                           proto=proto, orig_pkts=0, resp_pkts=0, conn_state="SF"))
            f["orig_pkts"] += 1
        payload = bytes(l4.payload)
        if not payload:
            continue
        if 502 in (sp, dp) and len(payload) >= 8:
            tid, fc = int.from_bytes(payload[0:2], "big"), payload[7] & 0x7F
            if dp == 502:
                ev = dict(ts=ts, kind="modbus", src_ip=s, src_port=sp, dst_ip=d, dst_port=dp, proto="tcp",
                          trans_id=tid, unit_id=payload[6], func_code=fc, func_name=f"fc{fc}", response=False)
                pending[(s, sp, d, dp, tid)] = ev
                out.append(ev)
            elif (d, dp, s, sp, tid) in pending:
                pending.pop((d, dp, s, sp, tid))["response"] = True
        if 1883 in (sp, dp):
            for msg in _mqtt_packets(payload):
                out.append(dict(ts=ts, kind="mqtt", src_ip=s, src_port=sp, dst_ip=d, dst_port=dp, proto="tcp",
                                msg_type=msg))
    out.extend(flows.values())
    out.sort(key=lambda e: e["ts"])
    return out
