"""Deterministic generator of a realistic smart-city capture (classic pcap, Ethernet, microsecond timestamps).

    python benchmarks/gen_capture.py OUT.pcap [--packets 1000000] [--seed 42] [--mix dense|city] [--breakdown]

Two mixes of the same protocols and attacks. `dense` is the default and its output did not change when `city` came
(1M packets, seed 42: md5 be699042b725e074f52ef1b970f9b561; samples/city.pcap: d7e56cd468b864dec36bcc71fe791a7d).

`dense` (about 600 s for a million packets): citizens on the government portal (HTTP, TLS), DNS (with a tunnelling
burst), an HMI polling PLCs over Modbus/TCP (with a rogue master writing coils), sensors publishing MQTT telemetry
(some connecting anonymously), CoAP nodes, ICMP, ARP, IPv6 DNS, and a SYN port scan. Every session is short, so
there is about one event per 2.4 packets: it stresses per-event work.

`city` (about 77 s for a million packets, ~13,000 packets/s, ~115 Mbit/s: a busy aggregation link) puts the bulk
flows that carry most packets of a real city network around the same sessions and attacks. By packet count:

* camera video, ~65 %: ~28 cameras (for 1M packets) streaming 1080p H.264 at 2-4 Mbit/s to an NVR as RTP/UDP in
  packets of up to 1,400 bytes of payload, i.e. ~180-360 packets/s each, 25 or 30 frames/s with an IDR frame
  every 2 s, plus RTCP reports every 5 s. Surveillance recording runs around the clock and is the largest steady
  load of a municipal network (video is over 80 % of IP traffic by bytes in Cisco's VNI), so it dominates here.
* RTSP control, ~0.1 %: one TCP 554 session per camera opened by the NVR (OPTIONS, DESCRIBE with Digest
  authentication, SETUP, PLAY, GET_PARAMETER keepalives every 30 s): control is a few packets beside its stream.
* TLS bulk sessions, ~9 %: dashboards, backups and API clients keep sessions of 4-30 requests answered with 1 KB-
  1 MB (log-normal, median 16 KB; a fifth are uploads), one record per segment as servers size records
  dynamically: hundreds of application-data records per session in both directions, and HTTPS is the bulk of
  non-video traffic.
* HTTP downloads, ~6 %: firmware (cameras fetching updates), video exports, documents and map tiles of 100 KB-2 MB
  (log-uniform) from update servers, cut at the 1,460-byte MSS and acknowledged every second segment (delayed ACK)
  like every bulk transfer of this mix.
* the dense mix's sessions with its own proportions, ~20 % (portal HTTP ~8.7 %, DNS ~3.6 %, short TLS ~2.8 %,
  Modbus ~2 %, MQTT ~1.6 %, ICMP, ARP, CoAP, IPv6 DNS): transactions are many but small; the attacks keep their
  absolute sizes (2,000-port SYN scan, 500-query tunnelling burst, rogue Modbus master, anonymous MQTT, attack
  requests among the portal's), since they are events to find, not load.

Checksums are correct. Packets are written with `struct` rather than scapy: scapy builds about 1,500 packets/s here
(measured), so a million would take over ten minutes; this writes about 50,000/s. The same generator, at a few
thousand packets, makes the bundled sample capture (samples/city.pcap, dense mix).
"""

from __future__ import annotations

import argparse
import base64
import heapq
import math
import random
import struct
import sys
from array import array
from collections import Counter
from pathlib import Path

ETH_IP = b"\x08\x00"
ETH_IP6 = b"\x86\xdd"
ETH_ARP = b"\x08\x06"


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(array("H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    c = (~s) & 0xFFFF
    # array("H") summed the words in host (little-endian) order: swap back to network order
    return ((c & 0xFF) << 8) | (c >> 8) if sys.byteorder == "little" else c


def ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def mac(n: int, oui: bytes = b"\x00\x1b\x21") -> bytes:
    return oui + n.to_bytes(3, "big")


class Writer:
    """Writes pcap records; packets are produced out of order by sessions and merged by time with a heap."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.count = 0

    def write(self, ts: float, frame: bytes) -> None:
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        self.f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.f.write(frame)
        self.count += 1

    def close(self) -> None:
        self.f.close()


def eth(src: bytes, dst: bytes, etype: bytes, payload: bytes) -> bytes:
    return dst + src + etype + payload


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int = 64, ident: int = 0) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, ttl, proto, 0, src, dst)
    c = _csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    c = _csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, v6: bool = False) -> bytes:
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    if v6:
        pseudo = src + dst + struct.pack("!II", length, 17)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    c = _csum(pseudo + hdr + payload) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.split("."):
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\0"


QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}


def dns_query(tid: int, name: str, qtype: str) -> bytes:
    return struct.pack("!HHHHHH", tid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", QTYPES[qtype], 1)


def dns_response(tid: int, name: str, qtype: str, rcode: int, rng: random.Random) -> bytes:
    q = dns_name(name) + struct.pack("!HH", QTYPES[qtype], 1)
    answers = b""
    n = 0
    if rcode == 0:
        for _ in range(rng.randint(1, 3)):
            if qtype == "A":
                rdata = bytes([10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)])
            elif qtype == "AAAA":
                rdata = b"\x20\x01\x0d\xb8" + rng.randbytes(12)
            elif qtype == "TXT":
                t = rng.randbytes(40).hex().encode()
                rdata = bytes([len(t)]) + t
            elif qtype == "MX":
                rdata = struct.pack("!H", 10) + dns_name("mail." + name)
            else:
                rdata = dns_name("host-%d.city.example" % rng.randint(1, 999))
            answers += b"\xc0\x0c" + struct.pack("!HHIH", QTYPES[qtype], 1, 300, len(rdata)) + rdata
            n += 1
    return struct.pack("!HHHHHH", tid, 0x8180 | rcode, 1, n, 0, 0) + q + answers


def tls_client_hello(sni: str, rng: random.Random) -> bytes:
    host = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host
    sv = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    alpn_list = b"\x02h2\x08http/1.1"
    alpn = struct.pack("!HHH", 16, len(alpn_list) + 2, len(alpn_list)) + alpn_list
    exts = sni_ext + sv + alpn
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
    body += struct.pack("!H", 6) + b"\x13\x01\x13\x02\xc0\x2f" + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello(rng: random.Random) -> bytes:
    exts = struct.pack("!HHH", 43, 2, 0x0304)
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + b"\x13\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


def mqtt_packet(ptype: int, flags: int, body: bytes) -> bytes:
    n = len(body)
    rl = b""
    while True:
        d = n % 128
        n //= 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([(ptype << 4) | flags]) + rl + body


def mqtt_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def mqtt_connect(client: str, user: str | None, password: str | None) -> bytes:
    flags = 0x02 | (0x80 if user else 0) | (0x40 if password else 0)
    body = mqtt_str("MQTT") + bytes([4, flags]) + struct.pack("!H", 60) + mqtt_str(client)
    if user:
        body += mqtt_str(user)
    if password:
        body += mqtt_str(password)
    return mqtt_packet(1, 0, body)


class Gen:
    """Session generators push (ts, seq, frame) into a heap; `run` drains it in time order."""

    def __init__(self, out: Path, packets: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.w = Writer(out)
        self.target = packets
        self.heap: list[tuple[float, int, bytes]] = []
        self.n = 0
        self.span = max(30.0, packets * 0.0006)  # ~600 s for a million packets
        self.t0 = 1_795_500_000.0  # 2026-11-24: the sample capture and sample logs share a day
        self.gw_mac = mac(1, b"\x00\x0c\x29")

    def emit(self, ts: float, frame: bytes) -> None:
        self.n += 1
        heapq.heappush(self.heap, (ts, self.n, frame))

    def flush_until(self, ts: float) -> None:
        while self.heap and self.heap[0][0] <= ts:
            t, _, f = heapq.heappop(self.heap)
            self.w.write(t, f)

    # --- sessions -------------------------------------------------------------------------------------------
    def tcp_session(self, t: float, cmac: bytes, smac: bytes, c: bytes, s: bytes, sport: int, dport: int,
                    exchanges: list[tuple[bytes, list[bytes]]], rtt: float = 0.002) -> None:
        rng = self.rng
        cs, ss = rng.getrandbits(32), rng.getrandbits(32)
        E = lambda src_mac, dst_mac, a, b, sp, dp, seq, ack, fl, pl=b"": self.emit(  # noqa: E731
            t, eth(src_mac, dst_mac, ETH_IP, ipv4(a, b, 6, tcp(a, b, sp, dp, seq, ack, fl, pl))))
        E(cmac, smac, c, s, sport, dport, cs, 0, 0x02)
        t += rtt / 2
        E(smac, cmac, s, c, dport, sport, ss, cs + 1, 0x12)
        t += rtt / 2
        cs += 1
        ss += 1
        E(cmac, smac, c, s, sport, dport, cs, ss, 0x10)
        for req, resp_segments in exchanges:
            t += 0.0005
            E(cmac, smac, c, s, sport, dport, cs, ss, 0x18, req)
            cs += len(req)
            t += rtt / 2 + rng.random() * 0.01
            for seg in resp_segments:
                E(smac, cmac, s, c, dport, sport, ss, cs, 0x18 if seg is resp_segments[-1] else 0x10, seg)
                ss += len(seg)
                t += 0.0002
            t += rtt / 2
            E(cmac, smac, c, s, sport, dport, cs, ss, 0x10)
        t += 0.001
        E(cmac, smac, c, s, sport, dport, cs, ss, 0x11)
        t += rtt / 2
        E(smac, cmac, s, c, dport, sport, ss, cs + 1, 0x11)
        t += rtt / 2
        E(cmac, smac, c, s, sport, dport, cs + 1, ss + 1, 0x10)

    def http(self, t: float) -> None:
        rng = self.rng
        client = ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250)))
        server = ip4(rng.choice(["10.0.1.10", "10.0.1.11"]))
        port = rng.choice([80, 80, 80, 8080])
        exchanges = []
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(["/", "/services/permit", "/api/v1/status", "/login", "/static/app.js", "/news?id=%d" % rng.randint(1, 9999)])
            if rng.random() < 0.003:
                path = rng.choice(["/upload.php?cmd=whoami", "/index.php?id=1%27%20OR%201=1--", "/cgi-bin/.%2e/%2e%2e/etc/passwd"])
            method = "POST" if rng.random() < 0.2 else "GET"
            body = b"name=zhang&id=%d" % rng.randint(1, 10**6) if method == "POST" else b""
            req = (f"{method} {path} HTTP/1.1\r\nHost: portal.city.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)"
                   f"\r\nAccept: */*\r\n" + (f"Content-Length: {len(body)}\r\n" if body else "") + "\r\n").encode() + body
            size = rng.choice([120, 900, 2800, 6000])
            payload = rng.randbytes(size // 2).hex().encode()[:size]
            if rng.random() < 0.3:
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 1000]), payload[i:i + 1000]) for i in range(0, len(payload), 1000))
                resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
            else:
                status = rng.choice([b"200 OK"] * 8 + [b"404 Not Found", b"302 Found"])
                resp = b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
            segs = [resp[i:i + 1460] for i in range(0, len(resp), 1460)]
            exchanges.append((req, segs))
        self.tcp_session(t, mac(rng.randint(1, 5000)), self.gw_mac, client, server, rng.randint(32768, 60999), port, exchanges)

    def tls(self, t: float) -> None:
        rng = self.rng
        client = ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250)))
        server = ip4(rng.choice(["10.0.1.20", "10.0.1.21"]))
        sni = rng.choice(["gov.city.example", "pay.city.example", "api.city.example", "cdn.city.example"])
        app = [(rng.randbytes(rng.randint(200, 600)), [rng.randbytes(1200), rng.randbytes(rng.randint(100, 1400))])
               for _ in range(rng.randint(1, 3))]
        exchanges = [(tls_client_hello(sni, rng), [tls_server_hello(rng) + b"\x14\x03\x03\x00\x01\x01"])] + [
            (b"\x17\x03\x03" + struct.pack("!H", len(r)) + r, [b"\x17\x03\x03" + struct.pack("!H", len(s)) + s for s in segs])
            for r, segs in app]
        self.tcp_session(t, mac(rng.randint(1, 5000)), self.gw_mac, client, server, rng.randint(32768, 60999), 443, exchanges)

    def dns(self, t: float, v6: bool = False, tunnel: bool = False) -> None:
        rng = self.rng
        if tunnel:  # base32 labels, as iodine and dns2tcp-style tools send
            b32 = base64.b32encode(rng.randbytes(60)).decode().rstrip("=").lower()
            name = "%s.%s.exfil-tunnel.example" % (b32[:63], b32[63:])
            qtype = "TXT"
        else:
            name = rng.choice(["portal.city.example", "www.gov.example", "mqtt.iot.city.example", "ntp.city.example",
                               "api.weather.example", "updates.vendor.example"])
            if rng.random() < 0.05:
                name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(14)) + ".example"
            qtype = rng.choice(["A", "A", "A", "AAAA", "TXT", "MX", "PTR"])
        tid = rng.getrandbits(16)
        sport = rng.randint(1024, 65535)
        rcode = 3 if name.endswith(".example") and len(name.split(".")[0]) == 14 else 0
        if v6:
            c, s = b"\xfd\x00" + b"\0" * 12 + rng.randbytes(2), b"\xfd\x00" + b"\0" * 13 + b"\x35"
            def frame(a, b, sp, dp, pl):  # noqa: E306
                u = udp(a, b, sp, dp, pl, v6=True)
                return eth(mac(7), self.gw_mac, ETH_IP6, struct.pack("!IHBB", 0x60000000, len(u), 17, 64) + a + b + u)
        else:
            c = ip4("10.10.9.99") if tunnel else ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250)))
            s = ip4("10.0.0.53")
            def frame(a, b, sp, dp, pl):  # noqa: E306
                return eth(mac(7), self.gw_mac, ETH_IP, ipv4(a, b, 17, udp(a, b, sp, dp, pl)))
        self.emit(t, frame(c, s, sport, 53, dns_query(tid, name, qtype)))
        if rng.random() < 0.97:
            self.emit(t + 0.001 + rng.random() * 0.02, frame(s, c, 53, sport, dns_response(tid, name, qtype, rcode, rng)))

    def modbus(self, t: float, rogue: bool = False) -> None:
        rng = self.rng
        hmi = ip4("10.20.0.66" if rogue else "10.20.0.5")
        plc = ip4("10.20.1.%d" % rng.randint(1, 8))
        exchanges = []
        tid = rng.getrandbits(16)
        for _ in range(rng.randint(4, 12)):
            tid = (tid + 1) & 0xFFFF
            fc = rng.choice([3, 3, 3, 1, 6, 16]) if not rogue else rng.choice([5, 15, 6, 8])
            addr, qty = rng.randint(0, 200), rng.randint(1, 10)
            if fc in (1, 3):
                pdu = struct.pack("!BHH", fc, addr, qty)
                if rng.random() < 0.02:
                    rpdu = bytes([fc | 0x80, 2])
                else:
                    data = rng.randbytes(qty * 2 if fc == 3 else (qty + 7) // 8)
                    rpdu = bytes([fc, len(data)]) + data
            elif fc in (5, 6):
                pdu = struct.pack("!BHH", fc, addr, 0xFF00 if fc == 5 else rng.randint(0, 999))
                rpdu = pdu
            elif fc == 8:
                pdu = struct.pack("!BHH", 8, 1, 0)
                rpdu = pdu
            else:  # 15/16
                vals = rng.randbytes(qty * 2)
                pdu = struct.pack("!BHHB", fc, addr, qty, len(vals)) + vals
                rpdu = struct.pack("!BHH", fc, addr, qty)
            req = struct.pack("!HHHB", tid, 0, len(pdu) + 1, 1) + pdu
            resp = struct.pack("!HHHB", tid, 0, len(rpdu) + 1, 1) + rpdu
            exchanges.append((req, [resp]))
        self.tcp_session(t, mac(20, b"\x00\x80\xf4"), mac(21, b"\x00\x80\xf4"), hmi, plc, rng.randint(32768, 60999), 502, exchanges, rtt=0.004)

    def mqtt(self, t: float, anonymous: bool = False) -> None:
        rng = self.rng
        n = rng.randint(1, 400)
        sensor = ip4("10.30.%d.%d" % (n // 200 + 1, n % 200 + 2))
        broker = ip4("10.30.0.1")
        anon = anonymous or n % 37 == 0
        conn = mqtt_connect("sensor-%04d" % n, None if anon else "sensor", None if anon else "s3cret-%d" % n)
        exchanges = [(conn, [mqtt_packet(2, 0, b"\x00\x00")])]
        if rng.random() < 0.05:
            topic = "city/#" if n % 11 == 0 else "city/cmd/sensor-%04d" % n
            exchanges.append((mqtt_packet(8, 2, struct.pack("!H", 1) + mqtt_str(topic) + b"\x01"), [mqtt_packet(9, 0, b"\x00\x01\x01")]))
        for i in range(rng.randint(2, 8)):
            payload = b'{"t":%.2f,"h":%d,"pm25":%d}' % (rng.uniform(-5, 35), rng.randint(10, 90), rng.randint(1, 300))
            qos = rng.choice([0, 1])
            body = mqtt_str("city/env/sensor-%04d" % n) + (struct.pack("!H", i + 1) if qos else b"") + payload
            exchanges.append((mqtt_packet(3, qos << 1, body), [mqtt_packet(4, 0, struct.pack("!H", i + 1))] if qos else [mqtt_packet(13, 0, b"")]))
        exchanges.append((mqtt_packet(12, 0, b""), [mqtt_packet(13, 0, b"")]))
        self.tcp_session(t, mac(n, b"\x24\x0a\xc4"), self.gw_mac, sensor, broker, rng.randint(32768, 60999), 1883, exchanges, rtt=0.01)

    def coap(self, t: float) -> None:
        rng = self.rng
        node = ip4("10.31.0.%d" % rng.randint(2, 60))
        srv = ip4("10.31.0.1")
        mid = rng.getrandbits(16)
        code = rng.choice([1, 1, 1, 3])  # GET or PUT
        msg = bytes([0x41, code]) + struct.pack("!H", mid) + b"\x7a" + b"\xb6sensor" + b"\x04temp"
        if code == 3:
            msg += b"\xff" + b"21.5"
        self.emit(t, eth(mac(9), self.gw_mac, ETH_IP, ipv4(node, srv, 17, udp(node, srv, 5683, 5683, msg))))
        rsp = bytes([0x61, 0x45 if code == 1 else 0x44]) + struct.pack("!H", mid) + b"\x7a" + b"\xff22.0"
        self.emit(t + 0.005, eth(self.gw_mac, mac(9), ETH_IP, ipv4(srv, node, 17, udp(srv, node, 5683, 5683, rsp))))

    def icmp(self, t: float) -> None:
        rng = self.rng
        a = ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250)))
        b = ip4("10.0.1.%d" % rng.randint(1, 30))
        ident = rng.getrandbits(16)
        for i in range(rng.randint(1, 4)):
            data = bytes(range(56))
            req = struct.pack("!BBHHH", 8, 0, 0, ident, i) + data
            req = req[:2] + struct.pack("!H", _csum(req)) + req[4:]
            rep = struct.pack("!BBHHH", 0, 0, 0, ident, i) + data
            rep = rep[:2] + struct.pack("!H", _csum(rep)) + rep[4:]
            self.emit(t + i, eth(mac(3), self.gw_mac, ETH_IP, ipv4(a, b, 1, req)))
            self.emit(t + i + 0.001, eth(self.gw_mac, mac(3), ETH_IP, ipv4(b, a, 1, rep)))

    def arp(self, t: float) -> None:
        rng = self.rng
        n = rng.randint(2, 250)
        sha, spa = mac(n, b"\x00\x1b\x21"), ip4("10.10.0.%d" % n)
        tpa = ip4("10.10.0.1")
        req = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sha, spa, b"\0" * 6, tpa)
        self.emit(t, eth(sha, b"\xff" * 6, ETH_ARP, req + b"\0" * 18))
        rep = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, self.gw_mac, tpa, sha, spa)
        self.emit(t + 0.0003, eth(self.gw_mac, sha, ETH_ARP, rep + b"\0" * 18))

    def portscan(self, t: float, ports: int) -> None:
        rng = self.rng
        a, b = ip4("10.66.6.6"), ip4("10.0.1.10")
        amac = mac(666, b"\x00\x0c\x29")
        for i, port in enumerate(rng.sample(range(1, 10000), ports)):
            ts = t + i * 0.001
            seq = rng.getrandbits(32)
            self.emit(ts, eth(amac, self.gw_mac, ETH_IP, ipv4(a, b, 6, tcp(a, b, 41000, port, seq, 0, 0x02))))
            if port in (22, 80, 443, 8080):
                self.emit(ts + 0.0002, eth(self.gw_mac, amac, ETH_IP, ipv4(b, a, 6, tcp(b, a, port, 41000, 1, seq + 1, 0x12))))
                self.emit(ts + 0.0004, eth(amac, self.gw_mac, ETH_IP, ipv4(a, b, 6, tcp(a, b, 41000, port, seq + 1, 0, 0x04))))
            elif rng.random() < 0.75:
                self.emit(ts + 0.0002, eth(self.gw_mac, amac, ETH_IP, ipv4(b, a, 6, tcp(b, a, port, 41000, 0, seq + 1, 0x14))))

    def run(self) -> int:
        rng = self.rng
        # per-session mean packet counts, used to turn the packet target into session counts
        mix = [(self.http, 0.44, 15), (self.dns, 0.18, 1.97), (self.tls, 0.14, 15), (self.modbus, 0.10, 25),
               (self.mqtt, 0.08, 20), (self.icmp, 0.025, 5), (self.arp, 0.015, 2), (self.coap, 0.005, 2)]
        scan_ports = min(2000, max(50, self.target // 500))
        budget = self.target - scan_ports * 2
        sessions: list[tuple[float, object]] = []
        for fn, share, per in mix:
            for _ in range(int(budget * share / per)):
                sessions.append((self.t0 + rng.random() * self.span, fn))
        for _ in range(int(budget * 0.01)):
            sessions.append((self.t0 + rng.random() * self.span, lambda t: self.dns(t, v6=True)))
        tunnel_at = self.t0 + self.span * 0.6
        for i in range(max(60, self.target // 2000)):
            sessions.append((tunnel_at + i * 0.002, lambda t: self.dns(t, tunnel=True)))
        for i in range(max(2, self.target // 100000)):
            sessions.append((self.t0 + self.span * (0.5 + i * 0.01), lambda t: self.mqtt(t, anonymous=True)))
        for i in range(max(3, self.target // 50000)):
            sessions.append((self.t0 + self.span * (0.3 + i * 0.01), lambda t: self.modbus(t, rogue=True)))
        sessions.sort(key=lambda s: s[0])
        scan_at = self.t0 + self.span * 0.2
        scanned = False
        for t, fn in sessions:
            if not scanned and t >= scan_at:
                self.portscan(t, scan_ports)
                scanned = True
            fn(t)  # type: ignore[operator]
            self.flush_until(t - 5.0)  # sessions last under 5 s of capture time
            if self.n >= self.target:
                break
        self.flush_until(float("inf"))
        self.w.close()
        return self.w.count


# --- the `city` mix: bulk flows carry most packets -----------------------------------------------------------------

MSS = 1460
FU_MAX = 1400  # H.264 fragment per RTP packet: 12 (RTP) + 2 (FU-A) + 1,400 + 28 (UDP/IP) stays under a 1,500 MTU
I_RATIO = 8.0  # an IDR frame is about 8 P-frames in size at constant bitrate
CAMERA_OUIS = (b"\x44\x19\xb6", b"\x00\x40\x8c", b"\x3c\xef\x8c")  # Hikvision, Axis, Dahua
VIDEO_SHARE, TLS_BULK_SHARE, HTTP_DL_SHARE = 0.65, 0.09, 0.06
# mean packets per session, measured on the generator's output (used to turn shares into session counts)
TLS_BULK_PER, HTTP_DL_PER, CAMERA_PPS = 830, 655, 285.0
POOL = 1 << 20


class TcpConn:
    """One TCP connection of the city mix. Data is cut at the MSS and the receiver acknowledges every second
    segment and the last one (delayed ACK), so bulk transfers have the data/ACK proportions of a real capture."""

    def __init__(self, g: "CityGen", cmac: bytes, smac: bytes, c: bytes, s: bytes, sport: int, dport: int,
                 rtt: float = 0.002) -> None:
        self.g, self.cmac, self.smac, self.c, self.s, self.sport, self.dport = g, cmac, smac, c, s, sport, dport
        self.rtt = rtt
        self.cs, self.ss = g.rng.getrandbits(32), g.rng.getrandbits(32)

    def seg(self, t: float, from_client: bool, flags: int, payload: bytes = b"") -> None:
        if from_client:
            frame = eth(self.cmac, self.smac, ETH_IP, ipv4(self.c, self.s, 6, tcp(
                self.c, self.s, self.sport, self.dport, self.cs, self.ss, flags, payload)))
            self.cs += len(payload)
        else:
            frame = eth(self.smac, self.cmac, ETH_IP, ipv4(self.s, self.c, 6, tcp(
                self.s, self.c, self.dport, self.sport, self.ss, self.cs, flags, payload)))
            self.ss += len(payload)
        self.g.emit(t, frame)

    def open(self, t: float) -> float:
        self.seg(t, True, 0x02)
        self.cs += 1
        self.seg(t + self.rtt / 2, False, 0x12)
        self.ss += 1
        self.seg(t + self.rtt, True, 0x10)
        return t + self.rtt

    def send(self, t: float, from_client: bool, data: bytes, gap: float = 0.0002, ack: bool = True) -> float:
        """Data in MSS segments `gap` seconds apart; returns when the last one arrived (or its ACK, if `ack`)."""
        n = (len(data) + MSS - 1) // MSS
        # the receiver's window (64,240 bytes, unscaled) bounds what is in flight over one round trip
        gap = max(gap, self.rtt * MSS / 64240)
        for i in range(n):
            last = i == n - 1
            self.seg(t, from_client, 0x18 if last else 0x10, data[i * MSS:(i + 1) * MSS])
            if ack and (i % 2 == 1 or last):
                self.seg(t + self.rtt / 2, not from_client, 0x10)
            t += gap
        return t - gap + (self.rtt / 2 if ack else 0.0)

    def close(self, t: float) -> None:
        self.seg(t, True, 0x11)
        self.cs += 1
        self.seg(t + self.rtt / 2, False, 0x11)
        self.ss += 1
        self.seg(t + self.rtt, True, 0x10)


class Camera:
    """A camera streaming H.264 over RTP/UDP to the NVR: `fps` frames a second, an IDR frame (preceded by SPS and
    PPS) every two seconds, fragmented into FU-A packets of up to 1,400 bytes and sent as one burst per frame, plus
    an RTCP sender report every 5 s and the NVR's receiver report back."""

    def __init__(self, g: "CityGen", idx: int) -> None:
        rng = g.rng
        self.g, self.idx = g, idx
        self.ip = ip4("10.40.%d.%d" % (idx // 200 + 1, idx % 200 + 10))
        self.mac = mac(0x100 + idx, CAMERA_OUIS[idx % len(CAMERA_OUIS)])
        self.nvr_port = 5000 + 2 * idx
        self.ssrc, self.seq, self.rtp_ts = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
        self.fps = rng.choice([25, 25, 30])
        self.gop = 2 * self.fps
        bitrate = rng.uniform(2e6, 4e6)
        self.p_size = bitrate / 8 * 2 / (self.gop - 1 + I_RATIO)
        self.frame_no = rng.randrange(self.gop)
        self.next_ts = float("inf")  # set when PLAY is answered
        self.rtcp_at = float("inf")
        self.sent_pkts = self.sent_bytes = 0
        # packets a second: full fragments, about half a packet more per frame for the last fragment, SPS and PPS
        self.pps = bitrate / 8 / FU_MAX + self.fps * 0.5 + 1.0

    def start(self, t: float) -> None:
        """The NVR's RTSP session on TCP 554 (Digest authentication), then the stream starts; keepalives every
        30 s stay on the connection, which outlives the capture."""
        g, rng = self.g, self.g.rng
        conn = TcpConn(g, g.nvr_mac, self.mac, g.nvr_ip, self.ip, rng.randint(32768, 60999), 554, rtt=0.001)
        url = "rtsp://%d.%d.%d.%d:554/Streaming/Channels/101" % tuple(self.ip)
        nonce = rng.randbytes(16).hex()
        auth = ('Authorization: Digest username="nvr", realm="IP Camera", nonce="%s", uri="%s", response="%s"\r\n'
                % (nonce, url, rng.randbytes(16).hex()))
        session = "%08X" % rng.getrandbits(32)
        sdp = ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=Media Presentation\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
               "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;"
               "profile-level-id=640028\r\na=framerate:%d\r\na=control:trackID=1\r\n"
               % (self.ssrc, ".".join(map(str, self.ip)), self.fps))
        exchanges = [
            (f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: NVR/4.2\r\n\r\n",
             "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n"),
            (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
             f'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="IP Camera", nonce="{nonce}"'
             "\r\n\r\n"),
            (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAccept: application/sdp\r\n{auth}\r\n",
             f"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"),
            (f"SETUP {url}/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;client_port={self.nvr_port}-"
             f"{self.nvr_port + 1}\r\n{auth}\r\n",
             f"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: {session};timeout=60\r\nTransport: RTP/AVP;unicast;"
             f"client_port={self.nvr_port}-{self.nvr_port + 1};server_port=6970-6971;ssrc={self.ssrc:08X}\r\n\r\n"),
            (f"PLAY {url} RTSP/1.0\r\nCSeq: 5\r\nSession: {session}\r\nRange: npt=0.000-\r\n{auth}\r\n",
             f"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: {session}\r\nRTP-Info: url={url}/trackID=1;seq={self.seq};"
             f"rtptime={self.rtp_ts}\r\n\r\n"),
        ]
        t = conn.open(t)
        for req, resp in exchanges:
            t = conn.send(t + 0.0005, True, req.encode(), ack=False)
            t = conn.send(t + conn.rtt / 2 + 0.002, False, resp.encode())
        self.next_ts = t + 0.01
        self.rtcp_at = t + rng.uniform(1.0, 5.0)
        ka, cseq = t + 30.0, 6
        while ka < g.t0 + g.span:
            t = conn.send(ka, True, f"GET_PARAMETER {url} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {session}\r\n\r\n"
                          .encode(), ack=False)
            conn.send(t + conn.rtt / 2 + 0.001, False, f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode())
            ka, cseq = ka + 30.0, cseq + 1

    def _udp(self, t: float, to_nvr: bool, sport: int, dport: int, payload: bytes) -> None:
        g = self.g
        a, b = (self.ip, g.nvr_ip) if to_nvr else (g.nvr_ip, self.ip)
        ma, mb = (self.mac, g.nvr_mac) if to_nvr else (g.nvr_mac, self.mac)
        g.emit(t, eth(ma, mb, ETH_IP, ipv4(a, b, 17, udp(a, b, sport, dport, payload))))

    def _rtp(self, t: float, marker: bool, payload: bytes) -> None:
        hdr = struct.pack("!BBHII", 0x80, 0xE0 if marker else 0x60, self.seq, self.rtp_ts & 0xFFFFFFFF, self.ssrc)
        self._udp(t, True, 6970, self.nvr_port, hdr + payload)
        self.seq = (self.seq + 1) & 0xFFFF
        self.sent_pkts += 1
        self.sent_bytes += len(payload)

    def _rtcp(self, t: float) -> None:
        ntp = int((t + 2_208_988_800) * (1 << 32))
        sdes_name = b"cam-%03d" % self.idx
        sdes = struct.pack("!BBHIBB", 0x81, 202, 0, self.ssrc, 1, len(sdes_name)) + sdes_name + b"\0"
        sdes += b"\0" * (-len(sdes) % 4)
        sdes = sdes[:2] + struct.pack("!H", len(sdes) // 4 - 1) + sdes[4:]
        sr = struct.pack("!BBHIQIII", 0x80, 200, 6, self.ssrc, ntp & (2 ** 64 - 1), self.rtp_ts & 0xFFFFFFFF,
                         self.sent_pkts & 0xFFFFFFFF, self.sent_bytes & 0xFFFFFFFF)
        self._udp(t, True, 6971, self.nvr_port + 1, sr + sdes)
        rr = struct.pack("!BBHIIIIIII", 0x81, 201, 7, self.ssrc ^ 0x5A5A5A5A, self.ssrc, 0, self.seq, 2, 0, 0)
        self._udp(t + 0.002, False, self.nvr_port + 1, 6971, rr)
        self.rtcp_at += 5.0

    def frame(self) -> None:
        """One video frame's packets at `next_ts`, 120 µs apart (a 1,440-byte packet on a 100 Mbit/s port)."""
        g, t = self.g, self.next_ts
        idr = self.frame_no % self.gop == 0
        size = int(self.p_size * (I_RATIO if idr else 1.0) * g.rng.uniform(0.75, 1.25))
        if idr:  # SPS and PPS, each a single-NAL packet
            self._rtp(t, False, b"\x67\x64\x00\x28\xac\xd9\x40\x78\x02\x27\xe5\x84\x00\x00\x03\x00\x04\x00\x00\x03"
                      b"\x00\xca\x3c\x60\xc6\x58")
            self._rtp(t + 0.00005, False, b"\x68\xeb\xe3\xcb\x22\xc0")
            t += 0.0001
        nal_type, nri = (5, 0x60) if idr else (1, 0x40)
        n = (size + FU_MAX - 1) // FU_MAX
        for i in range(n):
            chunk = FU_MAX if i < n - 1 else size - FU_MAX * (n - 1)
            g.pool_off = (g.pool_off + 1451) % (POOL - FU_MAX)
            body = g.pool[g.pool_off:g.pool_off + chunk]
            if n == 1:
                payload = bytes([nri | nal_type]) + body
            else:
                payload = bytes([nri | 28, (0x80 if i == 0 else 0) | (0x40 if i == n - 1 else 0) | nal_type]) + body
            self._rtp(t, i == n - 1, payload)
            t += 0.00012
        self.frame_no += 1
        self.rtp_ts += 90000 // self.fps
        self.next_ts += 1.0 / self.fps
        if self.next_ts >= self.rtcp_at:
            self._rtcp(self.rtcp_at)


class CityGen(Gen):
    """The `city` mix: the dense mix's sessions and attacks at a fifth of the packets, with camera video, bulk TLS
    sessions and HTTP downloads carrying the rest (shares and sizes justified in the module docstring)."""

    def __init__(self, out: Path, packets: int, seed: int) -> None:
        super().__init__(out, packets, seed)
        # a first guess at ~80 s for a million packets (~12,500 packets/s on the link), to choose the number of
        # cameras; `run` sets it from their bitrates
        self.span = max(10.0, packets * 0.00008)
        self.nvr_ip, self.nvr_mac = ip4("10.40.0.2"), mac(0x40, b"\x00\x1b\x21")
        self.pool = self.rng.randbytes(POOL)  # compressed video is incompressible: random bytes stand in for it
        self.pool3 = self.pool * 3  # bodies of up to 2 MB slice it from any offset below POOL
        self.pool_off = 0
        self.cameras: list[Camera] = []
        self.tls_scale = self.http_scale = 1.0

    def tls_bulk(self, t: float) -> None:
        """An HTTPS session of a dashboard, a backup or an API client: handshake, then 4-30 requests answered with
        1 KB-1 MB, one TLS record per segment (dynamic record sizing), a fifth of them uploads."""
        rng = self.rng
        client = ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250)))
        server = ip4(rng.choice(["10.0.1.24", "10.0.1.25"]))
        sni = rng.choice(["vms.city.example", "backup.city.example", "api.city.example", "maps.city.example"])
        conn = TcpConn(self, mac(rng.randint(1, 5000)), self.gw_mac, client, server, rng.randint(32768, 60999), 443,
                       rtt=rng.uniform(0.001, 0.02))
        gap = MSS * 8 / rng.uniform(20e6, 200e6)
        t = conn.open(t)
        t = conn.send(t, True, tls_client_hello(sni, rng), ack=False)
        flight = tls_server_hello(rng) + b"\x14\x03\x03\x00\x01\x01" + self._records(rng.randint(2500, 4500))
        t = conn.send(t + conn.rtt / 2, False, flight, gap)
        t = conn.send(t, True, b"\x14\x03\x03\x00\x01\x01" + self._records(53), ack=False)
        for _ in range(rng.randint(4, 30)):
            t += rng.uniform(0.01, 0.3)
            if rng.random() < 0.2:
                t = conn.send(t, True, self._records(int(rng.lognormvariate(9.5, 1.2) * self.tls_scale) + 1), gap)
            else:
                t = conn.send(t, True, self._records(rng.randint(200, 800)), ack=False)
            size = int(min(1 << 20, max(1000, rng.lognormvariate(9.7, 1.3))) * self.tls_scale)
            t = conn.send(t + conn.rtt / 2 + rng.uniform(0.001, 0.02), False, self._records(size), gap)
        conn.close(t + 0.5)

    def _records(self, size: int) -> bytes:
        """`size` bytes of application data as TLS records sized to fill one segment each."""
        out = []
        while size > 0:
            n = min(size, MSS - 5)
            self.pool_off = (self.pool_off + 1451) % (POOL - MSS)
            out.append(b"\x17\x03\x03" + struct.pack("!H", n) + self.pool[self.pool_off:self.pool_off + n])
            size -= n
        return b"".join(out)

    def http_download(self, t: float) -> None:
        """A firmware, export or document download of 100 KB-2 MB (log-uniform) over plain HTTP."""
        rng = self.rng
        who = rng.random()
        if who < 0.4:  # a camera fetching its firmware from the update server
            cam = self.cameras[rng.randrange(len(self.cameras))]
            client, cmac = cam.ip, cam.mac
            path, ctype = "/firmware/ipc-5.7.%d.bin" % rng.randint(0, 9), "application/octet-stream"
        else:
            client, cmac = ip4("10.10.%d.%d" % (rng.randint(0, 40), rng.randint(2, 250))), mac(rng.randint(1, 5000))
            path, ctype = rng.choice([("/exports/clip-%d.mp4", "video/mp4"), ("/docs/permit-%d.pdf", "application/pdf"),
                                      ("/maps/tiles-%d.zip", "application/zip")])
            path %= rng.randint(1, 99999)
        server = rng.choice(["10.0.1.30", "10.0.1.31"])
        size = int(math.exp(rng.uniform(math.log(100_000), math.log(2_000_000))) * self.http_scale)
        conn = TcpConn(self, cmac, self.gw_mac, client, ip4(server), rng.randint(32768, 60999), 80,
                       rtt=rng.uniform(0.001, 0.01))
        req = (f"GET {path} HTTP/1.1\r\nHost: updates.city.example\r\nUser-Agent: Wget/1.21\r\nAccept: */*\r\n"
               "\r\n").encode()
        self.pool_off = (self.pool_off + 1451) % POOL
        body = self.pool3[self.pool_off:self.pool_off + size]
        resp = (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {size}\r\n\r\n").encode() + body
        t = conn.open(t)
        t = conn.send(t, True, req, ack=False)
        t = conn.send(t + conn.rtt / 2 + 0.002, False, resp, MSS * 8 / rng.uniform(20e6, 200e6))
        conn.close(t + 0.05)

    def video_until(self, t: float) -> None:
        for cam in self.cameras:
            while cam.next_ts <= t:
                cam.frame()

    def run(self) -> int:
        rng, target = self.rng, self.target
        n_cam = max(1, round(target * VIDEO_SHARE / (CAMERA_PPS * self.span)))
        self.cameras = [Camera(self, i) for i in range(n_cam)]
        # the span that gives the video its share with these cameras' bitrates (they start within the first 2 s)
        self.span = target * VIDEO_SHARE / sum(cam.pps for cam in self.cameras) + 1.0
        sessions: list[tuple[float, object]] = [(self.t0 + rng.uniform(0, 2.0), cam.start) for cam in self.cameras]
        # a capture too small for one whole bulk session of each kind gets one with its transfers scaled down
        self.tls_scale = min(1.0, target * TLS_BULK_SHARE / TLS_BULK_PER)
        self.http_scale = min(1.0, target * HTTP_DL_SHARE / HTTP_DL_PER)
        for fn, share, per in ((self.tls_bulk, TLS_BULK_SHARE, TLS_BULK_PER),
                               (self.http_download, HTTP_DL_SHARE, HTTP_DL_PER)):
            for _ in range(max(1, round(target * share / per))):
                sessions.append((self.t0 + rng.random() * self.span, fn))
        # the dense mix's sessions with its proportions, in what the video and the bulk flows leave
        scan_ports = min(2000, max(50, target // 500))
        budget = target * (1 - VIDEO_SHARE - TLS_BULK_SHARE - HTTP_DL_SHARE) - scan_ports * 2
        mix = [(self.http, 0.44, 15), (self.dns, 0.18, 1.97), (self.tls, 0.14, 15), (self.modbus, 0.10, 25),
               (self.mqtt, 0.08, 20), (self.icmp, 0.025, 5), (self.arp, 0.015, 2), (self.coap, 0.005, 2)]
        for fn, share, per in mix:
            for _ in range(int(budget * share / per)):
                sessions.append((self.t0 + rng.random() * self.span, fn))
        for _ in range(int(budget * 0.01)):
            sessions.append((self.t0 + rng.random() * self.span, lambda t: self.dns(t, v6=True)))
        # the attacks keep the dense mix's absolute sizes: they are events, not load
        tunnel_at = self.t0 + self.span * 0.6
        for i in range(max(60, target // 2000)):
            sessions.append((tunnel_at + i * 0.002, lambda t: self.dns(t, tunnel=True)))
        for i in range(max(2, target // 100000)):
            sessions.append((self.t0 + self.span * (0.5 + i * 0.01), lambda t: self.mqtt(t, anonymous=True)))
        for i in range(max(3, target // 50000)):
            sessions.append((self.t0 + self.span * (0.3 + i * 0.01), lambda t: self.modbus(t, rogue=True)))
        sessions.sort(key=lambda s: s[0])
        scan_at = self.t0 + self.span * 0.2
        scanned = False
        for t, fn in sessions:
            self.video_until(t)
            if not scanned and t >= scan_at:
                self.portscan(t, scan_ports)
                scanned = True
            fn(t)  # type: ignore[operator]
            self.flush_until(t - 5.0)
            if self.n >= target:
                break
        t = sessions[-1][0]
        while self.n < target and t < self.t0 + 2 * self.span:  # the cameras fill what the sessions left short
            t += 0.05
            self.video_until(t)
            self.flush_until(t - 5.0)
        self.flush_until(float("inf"))
        self.w.close()
        return self.w.count


def breakdown(path: Path) -> Counter:
    """Packets per traffic class of a capture written by this generator (classified by address and port)."""
    data = Path(path).read_bytes()
    out: Counter = Counter()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        out[_classify(data[off + 16:off + 16 + incl])] += 1
        off += 16 + incl
    return out


def _classify(f: bytes) -> str:
    etype = f[12:14]
    if etype == ETH_ARP:
        return "arp"
    if etype == ETH_IP6:
        return "dns (IPv6)"
    ihl = (f[14] & 0xF) * 4
    proto, src, dst = f[23], f[26:30], f[30:34]
    if proto == 1:
        return "icmp"
    if src == b"\x0a\x42\x06\x06" or dst == b"\x0a\x42\x06\x06":
        return "port scan"
    sport, dport = struct.unpack_from("!HH", f, 14 + ihl)
    ports = {sport, dport}
    if proto == 17:
        if 53 in ports:
            return "dns"
        if 5683 in ports:
            return "coap"
        return "video rtcp" if ports & {6971} else "video rtp" if 6970 in ports else "udp other"
    server = dst if dport < sport else src
    if 554 in ports:
        return "rtsp"
    if 443 in ports:
        return "tls bulk" if server[3] in (24, 25) else "tls"
    if ports & {80, 8080}:
        return "http download" if server[3] in (30, 31) else "http"
    return {502: "modbus", 1883: "mqtt"}.get(min(ports), "tcp other")


MIXES = {"dense": Gen, "city": CityGen}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mix", choices=sorted(MIXES), default="dense", help="dense (default) or city: see above")
    ap.add_argument("--breakdown", action="store_true", help="print the packets per traffic class afterwards")
    a = ap.parse_args(argv)
    if a.packets < 1:
        ap.error("--packets must be at least 1")
    n = MIXES[a.mix](a.out, a.packets, a.seed).run()
    print(f"wrote {n} packets to {a.out} ({a.out.stat().st_size} bytes)", file=sys.stderr)
    if a.breakdown:
        for cls, k in breakdown(a.out).most_common():
            print(f"{cls:<16}{k:>10,}{100 * k / n:>8.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
