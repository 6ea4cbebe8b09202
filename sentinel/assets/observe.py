"""Passive device discovery: events in, observed devices (with role guesses and their evidence) out.

Streaming and bounded: one `Observer` consumes events in capture order (flat dicts from `Event.to_dict()` or Event
objects) and keeps one small record per device, with every per-device set capped. A device is keyed by its MAC when
one is known for its IP (ARP tells us which MAC owns which IP on the link), else by its IP; when ARP later reveals
the MAC of an IP-keyed device, the two records merge.

A device is recorded only when it is *heard*: it sent something, or it answered (a conn with responder packets, a
DNS response, an HTTP status, a Modbus response). Being addressed is not enough, or every port or ARP sweep would
invent hundreds of devices.

Role evidence is a count per (role, reason), e.g. ("mqtt_broker", "sent CONNACK"); the role guess is computed from
the counts when asked (`devices()`), so counts from several runs can be added up in the store and re-judged.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..events.perception import HeartbeatLost
from .cadence import ALL, CadenceConfig, CadenceTracker
from .oui import normalize_mac, vendor

MQTT_PORTS = {1883, 8883}
MODBUS_PORTS = {502}
COAP_PORTS = {5683, 5684}
RTSP_PORTS = {554, 8554}
ONVIF_PORTS = {80, 8000, 8080}
DNS_PORTS = {53, 5353}
WEB_PORTS = {80, 443, 8000, 8008, 8080, 8443, 8888}
MQTT_BROKER_MSGS = {"CONNACK", "SUBACK", "UNSUBACK", "PINGRESP"}
MQTT_CLIENT_MSGS = {"CONNECT", "SUBSCRIBE", "UNSUBSCRIBE", "PINGREQ"}

#: vendors (substring of the manuf long name, lower case) that make mostly IP cameras
CAMERA_VENDORS = ("hikvision", "dahua", "axis communications", "uniview", "hanwha", "vivotek", "reolink",
                  "mobotix", "avigilon", "tiandy", "amcrest", "foscam", "geovision")

#: most specific first: the first role present is the device's primary role
ROLE_ORDER = ("camera", "gateway", "mqtt_broker", "modbus_slave", "modbus_master", "coap_server", "dns_server",
              "mqtt_client", "web_server")
#: roles that mark a field (perception-layer) device, for the gateway guess
FIELD_ROLES = {"mqtt_client", "modbus_slave", "coap_server", "camera"}

MAX_IPS = 32
MAX_PORTS = 64
MAX_PEERS = 256
MAX_EVIDENCE = 64
MAX_PROTOCOLS = 32


@dataclass(slots=True)
class ObserverConfig:
    max_devices: int = 100_000
    gateway_ips: int = 4  # more distinct source IPs than this behind one MAC -> it routes
    cadence: CadenceConfig = field(default_factory=CadenceConfig)


@dataclass(slots=True)
class Device:
    key: str
    first_seen: float
    last_seen: float
    macs: dict[str, None] = field(default_factory=dict)  # ordered set
    ips: dict[str, float] = field(default_factory=dict)  # ip -> last seen
    protocols: Counter = field(default_factory=Counter)
    server_ports: Counter = field(default_factory=Counter)  # "tcp/1883" it answered on
    client_ports: Counter = field(default_factory=Counter)  # "tcp/1883" it spoke to
    evidence: dict[str, Counter] = field(default_factory=dict)  # role -> reason -> count
    peers: set[str] = field(default_factory=set)  # peer IPs (capped)
    external_peers: int = 0  # messages exchanged with public addresses
    events: int = 0

    def add_evidence(self, role: str, reason: str, n: int = 1) -> None:
        c = self.evidence.get(role)
        if c is None:
            c = self.evidence[role] = Counter()
        if reason in c or len(c) < MAX_EVIDENCE:
            c[reason] += n


def _bump(counter: Counter, key: str, cap: int, n: int = 1) -> None:
    if key in counter or len(counter) < cap:
        counter[key] += n


def norm_ip(text: Any) -> str | None:
    """Canonical text of a unicast IP address; None for missing, unspecified, multicast or non-IP values."""
    if not text or not isinstance(text, str):
        return None
    return _norm_ip(text)


@functools.lru_cache(maxsize=1 << 16)
def _norm_ip(text: str) -> str | None:
    # why cached: every event names two addresses and a network has few; ipaddress parsing cost ~35 us per call
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_unspecified or ip.is_multicast or str(ip) == "255.255.255.255":
        return None
    return str(ip)


@functools.lru_cache(maxsize=1 << 16)
def is_public(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_global


def _get(ev: Any, name: str, default: Any = None) -> Any:
    if isinstance(ev, dict):
        return ev.get(name, default)
    return getattr(ev, name, default)


def _kind(ev: Any) -> str:
    return ev.get("kind", "") if isinstance(ev, dict) else getattr(ev, "KIND", "")


class Observer:
    """Consumes events; `devices()` gives the observed devices; heartbeat_lost events come back from `observe`."""

    def __init__(self, config: ObserverConfig | None = None) -> None:
        self.cfg = config or ObserverConfig()
        self.devices_by_key: dict[str, Device] = {}
        self.ip_mac: dict[str, str] = {}  # learnt from ARP: which MAC owns an IP
        self.mac_src_ips: dict[str, set[str]] = {}  # from events carrying src_mac: IPs sent from behind a MAC
        self.cadence = CadenceTracker(self.cfg.cadence, sensor="assets")
        self.dropped = 0  # devices not recorded because max_devices was reached
        self.events = 0

    # ------------------------------------------------------------------ input
    def observe(self, ev: Any) -> list[HeartbeatLost]:
        kind = _kind(ev)
        if kind == "heartbeat_lost" or not kind:
            return []
        self.events += 1
        ts = float(_get(ev, "ts") or 0.0)
        lost: list[HeartbeatLost] = []
        if kind == "arp":
            self._arp(ev, ts, lost)
            return self._fill(lost)
        src = norm_ip(_get(ev, "src_ip"))
        dst = norm_ip(_get(ev, "dst_ip"))
        if src is None:
            lost += self.cadence.tick(ts)
            return self._fill(lost)
        src_mac = normalize_mac(_get(ev, "src_mac") or "")  # on IP events once capture provides it
        if src_mac:
            self._behind_mac(src_mac, src, ts, lost)
        handler = _HANDLERS.get(kind, Observer._generic)
        handler(self, ev, kind, ts, src, dst, lost)
        return self._fill(lost)

    def observe_all(self, events) -> list[HeartbeatLost]:
        out: list[HeartbeatLost] = []
        for ev in events:
            out += self.observe(ev)
        return out

    def finish(self, now: float | None = None) -> list[HeartbeatLost]:
        """End of input (or a clock tick in the daemon): report channels silent at `now` (default: newest ts)."""
        if now is None:
            return []  # the clock is already at the newest event: nothing more can have expired
        return self._fill(self.cadence.tick(now))

    # ------------------------------------------------------------------ devices
    def _key(self, ip: str) -> str:
        return self.ip_mac.get(ip, ip)

    def _device(self, key: str, ts: float) -> Device | None:
        d = self.devices_by_key.get(key)
        if d is None:
            if len(self.devices_by_key) >= self.cfg.max_devices:
                self.dropped += 1
                return None
            d = self.devices_by_key[key] = Device(key, ts, ts)
            if normalize_mac(key) == key:
                d.macs[key] = None
        return d

    def heard(self, ip: str, ts: float, protocol: str, lost: list, sent: bool = True) -> Device | None:
        """`ip` sent or answered something at `ts` on `protocol`."""
        d = self._device(self._key(ip), ts)
        if d is None:
            return None
        d.events += 1
        if ts < d.first_seen:
            d.first_seen = ts
        if ts > d.last_seen:
            d.last_seen = ts
        if ip in d.ips or len(d.ips) < MAX_IPS:
            d.ips[ip] = max(ts, d.ips.get(ip, ts))
        _bump(d.protocols, protocol, MAX_PROTOCOLS)
        lost += self.cadence.seen(d.key, ALL, ts)
        lost += self.cadence.seen(d.key, protocol, ts)
        return d

    def _talk(self, d: Device, peer: str | None) -> None:
        if peer is None:
            return
        if is_public(peer):
            d.external_peers += 1
        if len(d.peers) < MAX_PEERS:
            d.peers.add(peer)

    def _arp(self, ev: Any, ts: float, lost: list) -> None:
        mac = normalize_mac(_get(ev, "src_mac") or "")
        ip = norm_ip(_get(ev, "src_ip"))
        if mac is None or mac == "00:00:00:00:00:00" or mac == "ff:ff:ff:ff:ff:ff":
            return
        if ip is not None and self.ip_mac.get(ip) != mac:
            self.ip_mac[ip] = mac
            self._merge(ip, mac)
        d = self._device(mac, ts)
        if d is None:
            return
        d.events += 1
        d.first_seen = min(d.first_seen, ts)
        d.last_seen = max(d.last_seen, ts)
        if ip is not None and (ip in d.ips or len(d.ips) < MAX_IPS):
            d.ips[ip] = max(ts, d.ips.get(ip, ts))
        _bump(d.protocols, "arp", MAX_PROTOCOLS)
        lost += self.cadence.seen(mac, ALL, ts)

    def _merge(self, ip: str, mac: str) -> None:
        """The IP-keyed device `ip` is the device with MAC `mac`: fold its record into the MAC's."""
        old = self.devices_by_key.pop(ip, None)
        if old is None:
            return
        new = self.devices_by_key.get(mac)
        if new is None:
            old.key = mac
            old.macs[mac] = None
            self.devices_by_key[mac] = old
        else:
            new.first_seen = min(new.first_seen, old.first_seen)
            new.last_seen = max(new.last_seen, old.last_seen)
            for k, v in old.ips.items():
                if k in new.ips or len(new.ips) < MAX_IPS:
                    new.ips[k] = max(v, new.ips.get(k, v))
            for src_c, dst_c, cap in ((old.protocols, new.protocols, MAX_PROTOCOLS),
                                      (old.server_ports, new.server_ports, MAX_PORTS),
                                      (old.client_ports, new.client_ports, MAX_PORTS)):
                for k, v in src_c.items():
                    _bump(dst_c, k, cap, v)
            for role, reasons in old.evidence.items():
                for reason, n in reasons.items():
                    new.add_evidence(role, reason, n)
            new.peers |= set(list(old.peers)[: max(0, MAX_PEERS - len(new.peers))])
            new.external_peers += old.external_peers
            new.events += old.events
        self.cadence.rename(ip, mac)

    def _behind_mac(self, mac: str, ip: str, ts: float, lost: list) -> None:
        """Frames from one MAC with many source IPs: that MAC forwards for others (a router/gateway)."""
        ips = self.mac_src_ips.setdefault(mac, set())
        if len(ips) <= self.cfg.gateway_ips:
            ips.add(ip)
        if len(ips) > self.cfg.gateway_ips:
            d = self._device(mac, ts)
            if d is not None:
                d.add_evidence("gateway", f"more than {self.cfg.gateway_ips} source IPs behind MAC {mac}")
                d.last_seen = max(d.last_seen, ts)

    # ------------------------------------------------------------------ per kind
    def _pair(self, ev, proto_name, ts, src, dst, answered: bool, lost) -> tuple[Device | None, Device | None, str, int | None]:
        """Record the sender and, when it answered, the responder. Returns (src dev, dst dev, transport, dst port)."""
        transport = _get(ev, "proto") or "tcp"
        dport = _get(ev, "dst_port")
        s = self.heard(src, ts, proto_name, lost)
        d = self.heard(dst, ts, proto_name, lost) if (answered and dst) else None
        if s is not None:
            self._talk(s, dst)
            if dport is not None:
                _bump(s.client_ports, f"{transport}/{dport}", MAX_PORTS)
        if d is not None:
            self._talk(d, src)
            if dport is not None:
                _bump(d.server_ports, f"{transport}/{dport}", MAX_PORTS)
        return s, d, transport, dport

    def _conn(self, ev, kind, ts, src, dst, lost) -> None:
        service = _get(ev, "service")
        state = _get(ev, "conn_state") or ""
        transport = _get(ev, "proto") or "tcp"
        answered = (_get(ev, "resp_pkts") or 0) > 0
        # why: REJ means the host lives but the port is closed; S0 means nobody answered
        serves = answered and state not in ("REJ", "S0")
        name = service or transport
        s = self.heard(src, ts, name, lost)
        d = self.heard(dst, ts, name, lost) if (answered and dst) else None
        dport = _get(ev, "dst_port")
        if s is not None:
            self._talk(s, dst)
            if dport is not None:
                _bump(s.client_ports, f"{transport}/{dport}", MAX_PORTS)
        if d is None or not serves or dport is None:
            return
        self._talk(d, src)
        port = f"{transport}/{dport}"
        _bump(d.server_ports, port, MAX_PORTS)
        if service == "mqtt" or dport in MQTT_PORTS:
            d.add_evidence("mqtt_broker", f"answered mqtt connections on {port}")
            if s is not None:
                s.add_evidence("mqtt_client", f"connected to an mqtt broker on {port}")
        if service == "modbus" or dport in MODBUS_PORTS:
            d.add_evidence("modbus_slave", f"answered modbus connections on {port}")
            if s is not None:
                s.add_evidence("modbus_master", f"connected to a modbus slave on {port}")
        if service == "coap" or dport in COAP_PORTS:
            d.add_evidence("coap_server", f"answered coap on {port}")
        if service == "rtsp" or dport in RTSP_PORTS:
            d.add_evidence("camera", f"RTSP server on {port}")
        if service == "dns" or dport in DNS_PORTS:
            d.add_evidence("dns_server", f"answered dns on {port}")
        if service in ("http", "tls") or dport in WEB_PORTS:
            d.add_evidence("web_server", f"answered {service or 'connections'} on {port}")

    def _dns(self, ev, kind, ts, src, dst, lost) -> None:
        answered = _get(ev, "rcode") is not None
        _s, d, transport, dport = self._pair(ev, "dns", ts, src, dst, answered, lost)
        if d is not None:
            d.add_evidence("dns_server", f"answered dns queries on {transport}/{dport}")

    def _http(self, ev, kind, ts, src, dst, lost) -> None:
        answered = _get(ev, "status") is not None
        _s, d, transport, dport = self._pair(ev, "http", ts, src, dst, answered, lost)
        if d is None:
            return
        d.add_evidence("web_server", f"answered http on {transport}/{dport}")
        uri = (_get(ev, "uri") or "").lower()
        if "/onvif/" in uri:
            d.add_evidence("camera", f"ONVIF service (/onvif/ URI) on {transport}/{dport}")

    def _tls(self, ev, kind, ts, src, dst, lost) -> None:
        answered = _get(ev, "cipher") is not None  # a cipher is chosen only in a ServerHello
        _s, d, transport, dport = self._pair(ev, "tls", ts, src, dst, answered, lost)
        if d is not None and dport in WEB_PORTS:
            d.add_evidence("web_server", f"answered tls on {transport}/{dport}")

    def _mqtt(self, ev, kind, ts, src, dst, lost) -> None:
        s = self.heard(src, ts, "mqtt", lost)
        if s is None:
            return
        self._talk(s, dst)
        msg = _get(ev, "msg_type") or ""
        sport, dport = _get(ev, "src_port"), _get(ev, "dst_port")
        transport = _get(ev, "proto") or "tcp"
        if msg in MQTT_BROKER_MSGS:
            s.add_evidence("mqtt_broker", f"sent mqtt {msg}")
        elif msg in MQTT_CLIENT_MSGS:
            s.add_evidence("mqtt_client", f"sent mqtt {msg}")
        elif sport in MQTT_PORTS:
            s.add_evidence("mqtt_broker", f"sent mqtt {msg or 'messages'} from {transport}/{sport}")
        elif dport in MQTT_PORTS:
            s.add_evidence("mqtt_client", f"sent mqtt {msg or 'messages'} to {transport}/{dport}")
        if sport in MQTT_PORTS:
            _bump(s.server_ports, f"{transport}/{sport}", MAX_PORTS)
        elif dport is not None:
            _bump(s.client_ports, f"{transport}/{dport}", MAX_PORTS)

    def _modbus(self, ev, kind, ts, src, dst, lost) -> None:
        s, d, transport, dport = self._pair(ev, "modbus", ts, src, dst, bool(_get(ev, "response")), lost)
        fname = _get(ev, "func_name") or f"function {_get(ev, 'func_code')}"
        if s is not None:
            s.add_evidence("modbus_master", f"sent modbus {fname} requests")
        if d is not None:
            d.add_evidence("modbus_slave", f"answered modbus requests on {transport}/{dport}")

    def _coap(self, ev, kind, ts, src, dst, lost) -> None:
        s = self.heard(src, ts, "coap", lost)
        if s is None:
            return
        self._talk(s, dst)
        sport, dport = _get(ev, "src_port"), _get(ev, "dst_port")
        transport = _get(ev, "proto") or "udp"
        if _get(ev, "is_request"):
            if dport is not None:
                _bump(s.client_ports, f"{transport}/{dport}", MAX_PORTS)
        elif sport is not None and (sport in COAP_PORTS or (_get(ev, "code") or "")[:1].isdigit()):
            s.add_evidence("coap_server", f"sent coap responses from {transport}/{sport}")
            _bump(s.server_ports, f"{transport}/{sport}", MAX_PORTS)

    def _generic(self, ev, kind, ts, src, dst, lost) -> None:
        protocol = _get(ev, "protocol") if kind == "credential" else None
        s = self.heard(src, ts, protocol or kind, lost)
        if s is not None:
            self._talk(s, dst)

    # ------------------------------------------------------------------ output
    def _fill(self, lost: list[HeartbeatLost]) -> list[HeartbeatLost]:
        for ev in lost:
            d = self.devices_by_key.get(ev.device)
            if d is not None and d.ips:
                ev.src_ip = max(d.ips, key=d.ips.__getitem__)
        return lost

    def devices(self) -> list[dict[str, Any]]:
        """A snapshot of every observed device, as plain dicts (see `describe`)."""
        field_ips = set()
        for d in self.devices_by_key.values():
            if FIELD_ROLES & set(d.evidence):
                field_ips.update(d.ips)
        out = []
        for d in self.devices_by_key.values():
            out.append(describe(d, field_ips, self.cadence))
        out.sort(key=lambda x: x["key"])
        return out


_HANDLERS = {
    "conn": Observer._conn,
    "dns": Observer._dns,
    "http": Observer._http,
    "tls": Observer._tls,
    "mqtt": Observer._mqtt,
    "modbus": Observer._modbus,
    "coap": Observer._coap,
}


def describe(d: Device, field_ips: set[str], cadence: CadenceTracker | None = None) -> dict[str, Any]:
    """Plain-dict view of a device, with the gateway and camera guesses that need the whole picture."""
    evidence = {role: dict(c) for role, c in d.evidence.items()}
    mac = next(iter(d.macs), None)
    vend = vendor(mac) if mac else None
    derived: dict[str, dict[str, int]] = {}
    if vend and any(v in vend.lower() for v in CAMERA_VENDORS):
        derived["camera"] = {f"MAC vendor {vend} makes IP cameras": 1}
    # why: a box on the local network that talks both to field devices and to the internet relays between them
    local = any(not is_public(ip) for ip in d.ips)
    field_peers = len(d.peers & field_ips)
    if local and field_peers and d.external_peers and not (FIELD_ROLES - {"mqtt_client"}) & set(evidence):
        derived["gateway"] = {f"talks to {field_peers} field device(s) and to public addresses": d.external_peers}
    row = {
        "key": d.key,
        "macs": list(d.macs),
        "ips": sorted(d.ips, key=d.ips.__getitem__, reverse=True),
        "vendor": vend,
        "first_seen": d.first_seen,
        "last_seen": d.last_seen,
        "protocols": dict(d.protocols.most_common()),
        "server_ports": dict(d.server_ports.most_common()),
        "client_ports": dict(d.client_ports.most_common()),
        "evidence": evidence,
        "derived": derived,
        "events": d.events,
    }
    row.update(judge(evidence, derived))
    if cadence is not None:
        row["interval"] = cadence.interval(d.key)
        row["heartbeat_lost"] = cadence.is_lost(d.key)
    return row


def judge(evidence: dict[str, dict[str, int]], derived: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """Role guess from evidence counts: `role` (the most specific present) and `roles` with readable evidence.

    `derived` is evidence judged from the whole picture (vendor, peers) rather than counted per event.
    """
    merged: dict[str, dict[str, int]] = {r: dict(c) for r, c in evidence.items()}
    for role, reasons in (derived or {}).items():
        merged.setdefault(role, {}).update(reasons)
    roles = {
        role: [f"{reason} (x{n})" if n > 1 else reason for reason, n in sorted(reasons.items(), key=lambda x: -x[1])]
        for role, reasons in merged.items()
        if reasons
    }
    primary = next((r for r in ROLE_ORDER if r in roles), None)
    ordered = {r: roles[r] for r in ROLE_ORDER if r in roles}
    return {"role": primary, "roles": ordered}
