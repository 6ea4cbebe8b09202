"""Deterministic generator of a realistic smart-city capture (classic pcap, Ethernet, microsecond timestamps).

    python benchmarks/gen_capture.py OUT.pcap [--packets 1000000] [--seed 42]

The mix follows a city network: citizens on the government portal (HTTP, TLS), DNS (with a tunnelling burst), an
HMI polling PLCs over Modbus/TCP (with a rogue master writing coils), sensors publishing MQTT telemetry (some
connecting anonymously), CoAP nodes, ICMP, ARP, IPv6 DNS, and a SYN port scan. Checksums are correct.

Packets are written with `struct` rather than scapy: scapy builds about 1,500 packets/s here (measured), so a
million would take over ten minutes; this writes about 50,000/s. The same generator, at a few thousand packets,
makes the bundled sample capture (samples/city.pcap).
"""

from __future__ import annotations

import argparse
import base64
import heapq
import random
import struct
import sys
from array import array
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args(argv)
    n = Gen(a.out, a.packets, a.seed).run()
    print(f"wrote {n} packets to {a.out} ({a.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
