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

Cost: `observe` runs once per event of a run (400k events for a 1M-packet capture), so its path is kept lean: Event
objects are read by attribute (dicts and other objects through a small view that reads a missing field as None),
addresses are normalised and classified once per distinct text (dict caches), a heard device is found with one
lookup and told to the heartbeat learner in one call, and per-device state avoids objects the garbage collector
must track (plain dicts rather than Counters and sets). On cap_100k's 40,925 events this is 2.4x fewer instructions
per event than the first version (95.8k -> 39.6k, valgrind), with identical devices and heartbeat_lost events.
Then: IPv6 addresses classified by integer ranges (cap_1M has 8,797 IPv6 DNS clients, each a miss of every cache),
the device holding its cadence channels, so a sighting looks them up once.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from socket import AF_INET6, inet_ntop, inet_pton
from typing import Any

from ..events.perception import HeartbeatLost
from ..gcpause import gc_paused
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
    # counts are plain dicts, not Counters: a Counter is built by Python code (~2 us each, three per device) and is
    # tracked by the garbage collector, a dict of str -> int is neither; `_most_common` gives Counter's order
    protocols: dict[str, int] = field(default_factory=dict)
    server_ports: dict[str, int] = field(default_factory=dict)  # "tcp/1883" it answered on
    client_ports: dict[str, int] = field(default_factory=dict)  # "tcp/1883" it spoke to
    evidence: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> reason -> count
    # peer IPs (capped), as an ordered set: a dict of str -> None is never tracked by the garbage collector, a set
    # always is (one fewer object per device for every collection to traverse)
    peers: dict[str, None] = field(default_factory=dict)
    external_peers: int = 0  # messages exchanged with public addresses
    events: int = 0
    # the cadence tracker's channels of this device (`CadenceTracker.channels_of(key)`), fetched at the first
    # sighting; None again whenever an ARP merge renames channels
    chans: dict | None = field(default=None, repr=False, compare=False)

    def add_evidence(self, role: str, reason: str, n: int = 1) -> None:
        c = self.evidence.get(role)
        if c is None:
            c = self.evidence[role] = {}
        was = c.get(reason)  # one lookup for a reason already counted (390k calls on cap_1M), not three
        if was is not None:
            c[reason] = was + n
        elif len(c) < MAX_EVIDENCE:
            c[reason] = n


def _bump(counter: dict[str, int], key: str, cap: int, n: int = 1) -> None:
    was = counter.get(key)
    if was is not None:
        counter[key] = was + n
    elif len(counter) < cap:
        counter[key] = n


def _most_common(counts: dict[str, int]) -> dict[str, int]:
    """Highest count first, ties in insertion order: what `dict(Counter.most_common())` gives."""
    if len(counts) < 2:  # nothing to sort: two in three of cap_1M's counters (three per device)
        return dict(counts)
    return dict(sorted(counts.items(), key=itemgetter(1), reverse=True))


# ---------------------------------------------------------------------------------------------- addresses
#: text -> canonical unicast address or None (what `norm_ip` answers). A plain dict rather than lru_cache, so that
#: `observe` reads it with one subscript (no call) for the two addresses of every event. Cleared when full, which
#: keeps a long-running daemon bounded and cannot change an answer; so are the other caches here.
_NORM: dict[Any, str | None] = {}
#: canonical address -> is it global (what `is_public` answers), filled when the address is first parsed
_PUBLIC: dict[str, bool] = {}
_CACHE_MAX = 1 << 17
_MISSING = object()


def norm_ip(text: Any) -> str | None:
    """Canonical text of a unicast IP address; None for missing, unspecified, multicast or non-IP values."""
    try:
        out = _NORM.get(text, _MISSING)
    except TypeError:  # unhashable: not an address
        return None
    if out is _MISSING:
        out = _parse_ip(text) if text and isinstance(text, str) else None
        if len(_NORM) >= _CACHE_MAX:
            _NORM.clear()
        _NORM[text] = out
    return out


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: exactly the dotted quads `ipaddress` accepts (decimal, no leading zero, at most 255), which are their own
#: canonical text
_IPV4 = re.compile(r"\.".join([_OCTET] * 4))


def _parse_ip(text: str) -> str | None:
    m = _IPV4.fullmatch(text)
    if m is not None:
        # why: one regex and integer tests instead of ipaddress's parsing and its walk over its special-purpose
        # networks, 9.9 us -> 3.0 us per new address (7,681 IPv4 addresses in cap_100k, one per client). The
        # answers are ipaddress's own: see _v4_classifier.
        a, b, c, d = m.groups()
        n = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
        classify = _V4[0] if _V4 else _v4_classifier()
        if classify is not None:
            unicast, global_ = classify(n)
            if not unicast:
                return None
            _remember_public(text, global_)
            return text
    elif ":" in text:
        n6 = _v6_canonical(text)
        classify = _V6[0] if _V6 else _v6_classifier()
        if n6 is not None and classify is not None:
            # why: inet_pton and integer tests instead of ipaddress's parsing, its text and its walk over its
            # private networks (is_private caches 128 addresses; cap_1M has 8,797 IPv6 DNS clients): 21 -> 1.5 us
            # per new address. The answers are ipaddress's own: see _v6_canonical and _v6_classifier.
            unicast, global_ = classify(n6)
            if not unicast:
                return None
            _remember_public(text, global_)
            return text
    try:
        # ip_address would first try (and fail) IPv4 on every IPv6 text: 3 of its 9 us
        ip = ipaddress.IPv6Address(text) if ":" in text else ipaddress.ip_address(text)
    except ValueError:
        return None
    canon = str(ip)
    if ip.is_unspecified or ip.is_multicast or canon == "255.255.255.255":
        return None
    _remember_public(canon, ip.is_global)  # nearly every address heard is some device's peer: classify it now
    return canon


def _remember_public(canon: str, global_: bool) -> None:
    if canon not in _PUBLIC:
        if len(_PUBLIC) >= _CACHE_MAX:
            _PUBLIC.clear()
        _PUBLIC[canon] = global_


def _spans(nets) -> tuple[tuple[int, int], ...]:
    """ipaddress networks as (first, last) integer ranges."""
    return tuple((int(n.network_address), int(n.broadcast_address)) for n in nets)


#: [classifier or None] once built (see _v4_classifier)
_V4: list[Any] = []


def _private_networks(cls: type) -> tuple[list, list]:
    """ipaddress's own private networks of an address class, and their exceptions (3.13 added them)."""
    consts = cls._constants  # type: ignore[attr-defined]
    return list(consts._private_networks), list(getattr(consts, "_private_networks_exceptions", ()))


def _v4_classifier():
    """IPv4 as an integer -> (what norm_ip keeps it, `is_global`), the way ipaddress answers; None to ask ipaddress.

    Built from the networks ipaddress itself tests (`_constants`, private attributes: hence the check that follows
    and the fallback), so that the answer is ipaddress's by construction: `is_global` is "not in the shared
    100.64/10 and not private", private is "in one of the private networks and in none of their exceptions" (3.13
    added exceptions). Checked against ipaddress at both edges of every network it names, and on either side.
    """
    try:
        private, exceptions = _private_networks(ipaddress.IPv4Address)
        shared = ipaddress.IPv4Address._constants._public_network
    except AttributeError:
        _V4.append(None)
        return None

    priv, exc, ((s_lo, s_hi),) = _spans(private), _spans(exceptions), _spans([shared])
    special = {o for lo, hi in priv + exc + ((s_lo, s_hi),) for o in range(lo >> 24, (hi >> 24) + 1)}

    def classify(n: int) -> tuple[bool, bool]:
        unicast = n != 0 and n >> 28 != 14 and n != 0xFFFFFFFF  # not unspecified, multicast (224/4), broadcast
        if n >> 24 not in special:
            return unicast, True
        if s_lo <= n <= s_hi:
            return unicast, False
        for lo, hi in priv:
            if lo <= n <= hi:
                return unicast, any(elo <= n <= ehi for elo, ehi in exc)
        return unicast, True

    probes = {0, 1, 0xFFFFFFFF}
    for net in private + exceptions + [shared, ipaddress.IPv4Network("224.0.0.0/4")]:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            probes.update(x for x in (edge - 1, edge, edge + 1) if 0 <= x <= 0xFFFFFFFF)
    for n in probes:
        ip = ipaddress.IPv4Address(n)
        if classify(n) != (not (ip.is_unspecified or ip.is_multicast or n == 0xFFFFFFFF), ip.is_global):
            _V4.append(None)
            return None
    _V4.append(classify)
    return classify


def _v6_canonical(text: str) -> int | None:
    """The IPv6 address `text` as an integer when `text` is its canonical form (what `str(IPv6Address(text))`
    gives), else None (ask ipaddress). inet_ntop writes that form whenever it writes no embedded IPv4 (lower-case
    hex without leading zeros, the longest run of two or more zero groups as "::", the first on a tie), which
    _v6_classifier checks before this is trusted; a text it would write differently is not taken here."""
    try:
        packed = inet_pton(AF_INET6, text)
    except (OSError, ValueError):  # not an address (or one with a scope id): ipaddress decides
        return None
    if "." in text or inet_ntop(AF_INET6, packed) != text:
        return None
    return int.from_bytes(packed, "big")


#: [classifier or None] once built (see _v6_classifier)
_V6: list[Any] = []


def _v6_classifier():
    """IPv6 as an integer -> (what norm_ip keeps it, `is_global`), the way ipaddress answers; None to ask ipaddress.

    As _v4_classifier, from ipaddress's own networks: unicast is "not unspecified and not multicast", global is
    "not private", private is "in a private network and in none of their exceptions" (exceptions came with 3.13),
    and an IPv4-mapped address (::ffff:0:0/96) is judged as its IPv4 address (by `is_private` up to 3.12, by
    `is_global` in 3.13: whichever this Python does). Checked against ipaddress at both edges of every network it
    names and on either side, for IPv4-mapped addresses at every IPv4 edge, and for the text _v6_canonical trusts.
    """
    try:
        private, exceptions = _private_networks(ipaddress.IPv6Address)
        multicast = ipaddress.IPv6Address._constants._multicast_network
        v4_private, v4_exceptions = _private_networks(ipaddress.IPv4Address)
        v4_shared = ipaddress.IPv4Address._constants._public_network
    except AttributeError:
        _V6.append(None)
        return None

    priv, exc, v4_priv, v4_exc = _spans(private), _spans(exceptions), _spans(v4_private), _spans(v4_exceptions)
    ((s_lo, s_hi),) = _spans([v4_shared])
    ((m_lo, m_hi),) = _spans([multicast])
    special = {o for lo, hi in priv + exc for o in range(lo >> 112, (hi >> 112) + 1)}
    mapped_lo = 0xFFFF << 32
    # 3.13 judges a mapped address by its IPv4 is_global (which also excludes the shared 100.64/10), 3.11 by not
    # is_private: 100.64.0.1 tells them apart
    by_global = not ipaddress.IPv6Address("::ffff:100.64.0.1").is_global

    def v4_is_private(n: int) -> bool:
        return any(lo <= n <= hi for lo, hi in v4_priv) and not any(lo <= n <= hi for lo, hi in v4_exc)

    def classify(n: int) -> tuple[bool, bool]:
        unicast = n != 0 and not m_lo <= n <= m_hi
        if n >> 112 not in special:
            return unicast, True
        if mapped_lo <= n <= mapped_lo | 0xFFFFFFFF:
            n4 = n & 0xFFFFFFFF
            if by_global and s_lo <= n4 <= s_hi:
                return unicast, False
            return unicast, not v4_is_private(n4)
        private = any(lo <= n <= hi for lo, hi in priv) and not any(lo <= n <= hi for lo, hi in exc)
        return unicast, not private

    top = (1 << 128) - 1
    probes = {0, 1, 2, top, mapped_lo, mapped_lo - 1, mapped_lo | 0xFFFFFFFF, (mapped_lo | 0xFFFFFFFF) + 1}
    for net in private + exceptions + [multicast] + [ipaddress.IPv6Network(x) for x in _V6_EXTRA_PROBES]:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            probes.update(x for x in (edge - 1, edge, edge + 1) if 0 <= x <= top)
    for net in v4_private + v4_exceptions + [v4_shared, ipaddress.IPv4Network("224.0.0.0/4")]:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            probes.update(mapped_lo | x for x in (edge - 1, edge, edge + 1) if 0 <= x <= 0xFFFFFFFF)
    for n in probes:
        ip = ipaddress.IPv6Address(n)
        text = inet_ntop(AF_INET6, n.to_bytes(16, "big"))
        if classify(n) != (not (ip.is_unspecified or ip.is_multicast), ip.is_global) or (
                "." not in text and text != str(ip)):
            _V6.append(None)
            return None
    _V6.append(classify)
    return classify


#: networks named by no ipaddress list but worth probing at their edges: 6to4, Teredo, NAT64, ORCHID, documentation
_V6_EXTRA_PROBES = ("2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "2001:20::/28", "3fff::/20",
                    "5f00::/16", "fe80::/64", "fec0::/10", "ff02::/16", "100::/64", "::/96")


def is_public(ip: str) -> bool:
    try:
        return _PUBLIC[ip]
    except KeyError:
        pass
    out = ipaddress.ip_address(ip).is_global  # raises for a non-address, as it always did (and nothing is cached)
    if len(_PUBLIC) >= _CACHE_MAX:
        _PUBLIC.clear()
    _PUBLIC[ip] = out
    return out


#: transport -> port -> "transport/port", the text most events name (as a port, and in evidence): built once,
#: because formatting the int is most of an f-string's cost (0.2 us; the lookup is 0.05 us). Only int ports are
#: kept, so that 80, 80.0 and True (equal keys, different texts) cannot be confused.
_PORT_TEXT: dict[Any, dict[int, str]] = {}


def _port_text(transport: Any, port: Any) -> str:
    text = f"{transport}/{port}"
    if port.__class__ is int and transport.__class__ is str:
        by_port = _PORT_TEXT.get(transport)
        if by_port is None:
            by_port = _PORT_TEXT[transport] = {}
        if len(by_port) >= _CACHE_MAX:
            by_port.clear()
        by_port[port] = text
    return text


# ---------------------------------------------------------------------------------------------- events
class _DictView:
    """Attribute view of a flat event dict: `view.rcode` is `d.get("rcode")`, so handlers read every event alike.

    The dict itself becomes the view's `__dict__` (no copy), so a present field is an ordinary attribute read and
    only a missing one goes through `__getattr__`: 1.2 us instead of 5.3 us for the fields of a conn event.
    """

    def __init__(self, d: dict) -> None:
        self.__dict__ = d

    def __getattr__(self, name: str) -> Any:
        return None


class _MappingView:
    """`_DictView` for a dict subclass, whose own `get` is what answers (its `__dict__` use would bypass it)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        return self._d.get(name)


class _ObjectView:
    """Attribute view of an event object that may lack fields (not a known Event class): a missing field is None."""

    __slots__ = ("_o",)

    def __init__(self, o: Any) -> None:
        self._o = o

    def __getattr__(self, name: str) -> Any:
        return getattr(self._o, name, None)


#: fields every handler reads, and the extra fields per kind: an event class having them all is read directly
_COMMON = ("ts", "src_ip", "dst_ip", "src_port", "dst_port", "proto")
_KIND_FIELDS = {
    "arp": ("src_mac",),
    "conn": ("service", "conn_state", "resp_pkts"),
    "dns": ("rcode",),
    "http": ("status", "uri"),
    "tls": ("cipher",),
    "mqtt": ("msg_type",),
    "modbus": ("response", "func_name", "func_code"),
    "coap": ("is_request", "code"),
    "credential": ("protocol",),
}

#: class -> (kind, view class or None for direct reads, has src_mac, handler); kind and handler are None when
#: they must be found per event (dicts, objects that may carry their own KIND)
_CLASSES: dict[type, tuple[Any, Any, bool, Any]] = {}


def _class_info(cls: type) -> tuple[Any, Any, bool, Any]:
    """How to read events of `cls`: decided once per class (Event classes read directly, ~0.1 us less per field)."""
    if issubclass(cls, dict):
        info: tuple[Any, Any, bool, Any] = (None, _DictView if cls is dict else _MappingView, True, None)
    elif getattr(cls, "__dictoffset__", 1) != 0:
        info = (None, _ObjectView, True, None)
    else:
        kind = getattr(cls, "KIND", "")
        needed = _COMMON + _KIND_FIELDS.get(kind, ()) if isinstance(kind, str) else ()
        direct = bool(needed) and all(hasattr(cls, f) for f in needed)
        handler = _HANDLERS.get(kind, Observer._generic) if isinstance(kind, str) else None
        info = (kind, None if direct else _ObjectView, hasattr(cls, "src_mac"), handler)
    _CLASSES[cls] = info
    return info


class Observer:
    """Consumes events; `devices()` gives the observed devices; heartbeat_lost events come back from `observe`."""

    def __init__(self, config: ObserverConfig | None = None) -> None:
        self.cfg = config or ObserverConfig()
        self.devices_by_key: dict[str, Device] = {}
        self.ip_mac: dict[str, str] = {}  # learnt from ARP: which MAC owns an IP
        self.mac_src_ips: dict[str, set[str]] = {}  # from events carrying src_mac: IPs sent from behind a MAC
        # ip -> its device: one lookup instead of two per heard address. Emptied whenever ARP changes an IP's
        # owner, the only thing that moves an IP to another device
        self._by_ip: dict[str, Device] = {}
        self.cadence = CadenceTracker(self.cfg.cadence, sensor="assets")
        self.dropped = 0  # devices not recorded because max_devices was reached
        self.events = 0

    # ------------------------------------------------------------------ input
    def observe(self, ev: Any) -> list[HeartbeatLost]:
        kind, view, has_mac, handler = _CLASSES.get(ev.__class__) or _class_info(ev.__class__)
        if kind is None:
            kind = ev.get("kind", "") if view is not _ObjectView else getattr(ev, "KIND", "")
        if kind == "heartbeat_lost" or not kind:
            return []
        if view is not None:
            ev = view(ev)
        self.events += 1
        ts = float(ev.ts or 0.0)
        lost: list[HeartbeatLost] = []
        if kind == "arp":
            self._arp(ev, ts, lost)
            return self._fill(lost) if lost else lost
        try:  # norm_ip written in (two calls fewer per event); it answers new and unhashable values
            src = _NORM[ev.src_ip]
            dst = _NORM[ev.dst_ip]
        except (KeyError, TypeError):
            src = norm_ip(ev.src_ip)
            dst = norm_ip(ev.dst_ip)
        if src is None:
            expired = self.cadence.tick(ts)
            return self._fill(expired) if expired else lost
        if has_mac:  # on IP events once capture provides it
            src_mac = normalize_mac(ev.src_mac or "")
            if src_mac:
                self._behind_mac(src_mac, src, ts, lost)
        if handler is None:
            handler = _HANDLERS.get(kind, Observer._generic)
        handler(self, ev, kind, ts, src, dst, lost)
        return self._fill(lost) if lost else lost

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
            if len(key) == 17 and normalize_mac(key) == key:  # a MAC key (the length test spares IPs the regex)
                d.macs[key] = None
        return d

    def heard(self, ip: str, ts: float, protocol: str, lost: list, sent: bool = True,
              peer: str | None = None) -> Device | None:
        """`ip` sent or answered something at `ts` on `protocol`, in a message exchanged with `peer` (see `_talk`).

        The per-event core (1.8 calls per event), called with positional arguments (keywords cost a little more
        per call).
        """
        d = self._by_ip.get(ip)
        if d is None:
            key = self.ip_mac.get(ip, ip)
            d = self.devices_by_key.get(key)
            if d is None:
                d = self._device(key, ts)
                if d is None:
                    return None
            self._by_ip[ip] = d
        d.events += 1
        if ts < d.first_seen:
            d.first_seen = ts
        if ts > d.last_seen:
            d.last_seen = ts
        ips = d.ips
        was = ips.get(ip)
        if was is not None:
            if not was > ts:  # max(ts, was), without the call
                ips[ip] = ts
        elif len(ips) < MAX_IPS:
            ips[ip] = ts
        _bump(d.protocols, protocol, MAX_PROTOCOLS)
        chans = d.chans
        if chans is None:
            chans = d.chans = self.cadence.channels_of(d.key)
        self.cadence.sight(chans, d.key, protocol, ts, lost)
        self._talk(d, peer)
        return d

    def _talk(self, d: Device, peer: str | None) -> None:
        """`d` exchanged a message with `peer`: count public peers and remember a bounded set of peers."""
        if peer is None:
            return
        if is_public(peer):
            d.external_peers += 1
        if len(d.peers) < MAX_PEERS:
            d.peers[peer] = None

    def _arp(self, ev: Any, ts: float, lost: list) -> None:
        mac = normalize_mac(ev.src_mac or "")
        ip = norm_ip(ev.src_ip)
        if mac is None or mac == "00:00:00:00:00:00" or mac == "ff:ff:ff:ff:ff:ff":
            return
        if ip is not None and self.ip_mac.get(ip) != mac:
            self.ip_mac[ip] = mac
            self._by_ip.clear()
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
            # which of old's peers fit: the first ones in the order a set of them iterates (what this took when
            # peers were sets; built by adding one by one, as they were, the set iterates in the same order)
            for peer in list(set(list(old.peers)))[: max(0, MAX_PEERS - len(new.peers))]:
                new.peers[peer] = None
            new.external_peers += old.external_peers
            new.events += old.events
        self.cadence.rename(ip, mac)
        for d in (old, new):  # their channels moved: fetch them again at the next sighting
            if d is not None:
                d.chans = None

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
    def _pair(self, ev, proto_name, ts, src, dst, answered: bool,
              lost) -> tuple[Device | None, Device | None, str, int | None]:
        """Record the sender and, when it answered, the responder.

        Returns (src dev, dst dev, "transport/dst port" (also when the port is None), dst port).
        """
        transport = ev.proto or "tcp"
        dport = ev.dst_port
        s = self.heard(src, ts, proto_name, lost, True, dst)
        d = self.heard(dst, ts, proto_name, lost, True, src) if (answered and dst) else None
        try:
            port = _PORT_TEXT[transport][dport] if dport.__class__ is int else _port_text(transport, dport)
        except (KeyError, TypeError):
            port = _port_text(transport, dport)
        if dport is not None:
            if s is not None:
                _bump(s.client_ports, port, MAX_PORTS)
            if d is not None:
                _bump(d.server_ports, port, MAX_PORTS)
        return s, d, port, dport

    def _conn(self, ev, kind, ts, src, dst, lost) -> None:
        service = ev.service
        transport = ev.proto or "tcp"
        answered = (ev.resp_pkts or 0) > 0
        name = service or transport
        s = self.heard(src, ts, name, lost, True, dst)
        d = self.heard(dst, ts, name, lost) if (answered and dst) else None
        dport = ev.dst_port
        if dport is None:
            return
        try:
            port = _PORT_TEXT[transport][dport] if dport.__class__ is int else _port_text(transport, dport)
        except (KeyError, TypeError):
            port = _port_text(transport, dport)
        if s is not None:
            _bump(s.client_ports, port, MAX_PORTS)
        # why: REJ means the host lives but the port is closed; S0 means nobody answered
        if d is None or (ev.conn_state or "") in ("REJ", "S0"):
            return
        self._talk(d, src)
        _bump(d.server_ports, port, MAX_PORTS)
        if dport.__class__ is int and (service is None or service.__class__ is str):
            acts = _CONN_EVIDENCE.get((service, port))
            if acts is None:
                acts = _conn_evidence(service, port, dport)
                if len(_CONN_EVIDENCE) >= _CACHE_MAX:
                    _CONN_EVIDENCE.clear()
                _CONN_EVIDENCE[(service, port)] = acts
        else:
            acts = _conn_evidence(service, port, dport)
        for to_client, role, reason in acts:
            if not to_client:
                d.add_evidence(role, reason)
            elif s is not None:
                s.add_evidence(role, reason)

    def _dns(self, ev, kind, ts, src, dst, lost) -> None:
        answered = ev.rcode is not None
        _s, d, port, _dport = self._pair(ev, "dns", ts, src, dst, answered, lost)
        if d is not None:
            d.add_evidence("dns_server", f"answered dns queries on {port}")

    def _http(self, ev, kind, ts, src, dst, lost) -> None:
        answered = ev.status is not None
        _s, d, port, _dport = self._pair(ev, "http", ts, src, dst, answered, lost)
        if d is None:
            return
        d.add_evidence("web_server", f"answered http on {port}")
        uri = (ev.uri or "").lower()
        if "/onvif/" in uri:
            d.add_evidence("camera", f"ONVIF service (/onvif/ URI) on {port}")

    def _tls(self, ev, kind, ts, src, dst, lost) -> None:
        answered = ev.cipher is not None  # a cipher is chosen only in a ServerHello
        _s, d, port, dport = self._pair(ev, "tls", ts, src, dst, answered, lost)
        if d is not None and dport in WEB_PORTS:
            d.add_evidence("web_server", f"answered tls on {port}")

    def _mqtt(self, ev, kind, ts, src, dst, lost) -> None:
        s = self.heard(src, ts, "mqtt", lost, True, dst)
        if s is None:
            return
        msg = ev.msg_type or ""
        sport, dport = ev.src_port, ev.dst_port
        transport = ev.proto or "tcp"
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
        s, d, port, _dport = self._pair(ev, "modbus", ts, src, dst, bool(ev.response), lost)
        fname = ev.func_name or f"function {ev.func_code}"
        if s is not None:
            s.add_evidence("modbus_master", f"sent modbus {fname} requests")
        if d is not None:
            d.add_evidence("modbus_slave", f"answered modbus requests on {port}")

    def _coap(self, ev, kind, ts, src, dst, lost) -> None:
        s = self.heard(src, ts, "coap", lost, True, dst)
        if s is None:
            return
        sport, dport = ev.src_port, ev.dst_port
        transport = ev.proto or "udp"
        if ev.is_request:
            if dport is not None:
                _bump(s.client_ports, f"{transport}/{dport}", MAX_PORTS)
        elif sport is not None and (sport in COAP_PORTS or (ev.code or "")[:1].isdigit()):
            s.add_evidence("coap_server", f"sent coap responses from {transport}/{sport}")
            _bump(s.server_ports, f"{transport}/{sport}", MAX_PORTS)

    def _generic(self, ev, kind, ts, src, dst, lost) -> None:
        protocol = ev.protocol if kind == "credential" else None
        self.heard(src, ts, protocol or kind, lost, True, dst)

    # ------------------------------------------------------------------ output
    def _fill(self, lost: list[HeartbeatLost]) -> list[HeartbeatLost]:
        for ev in lost:
            d = self.devices_by_key.get(ev.device)
            if d is not None and d.ips:
                ev.src_ip = max(d.ips, key=d.ips.__getitem__)
        return lost

    def devices(self) -> list[dict[str, Any]]:
        """A snapshot of every observed device, as plain dicts (see `describe`), in key order."""
        field_ips: set[str] = set()
        for d in self.devices_by_key.values():
            if d.evidence and not FIELD_ROLES.isdisjoint(d.evidence):
                field_ips.update(d.ips)
        ordered = sorted(self.devices_by_key.values(), key=attrgetter("key"))
        with gc_paused():  # ~7 containers per device; collections were 0.31 of the 0.89 s this took on cap_1M
            return [describe(d, field_ips, self.cadence) for d in ordered]


#: (service, "transport/port") -> what an answered conn says (see _conn_evidence); only for int ports, whose text
#: names them alone. Why: the answered conns of a capture name few services and ports, and their evidence texts
#: cost five tests and up to two f-strings per conn (and were the same strings each time)
_CONN_EVIDENCE: dict[tuple[Any, str], tuple[tuple[bool, str, str], ...]] = {}


def _conn_evidence(service: Any, port: str, dport: Any) -> tuple[tuple[bool, str, str], ...]:
    """Evidence an answered conn gives, in order, as (for the client rather than the responder, role, reason)."""
    out: list[tuple[bool, str, str]] = []
    if service == "mqtt" or dport in MQTT_PORTS:
        out.append((False, "mqtt_broker", f"answered mqtt connections on {port}"))
        out.append((True, "mqtt_client", f"connected to an mqtt broker on {port}"))
    if service == "modbus" or dport in MODBUS_PORTS:
        out.append((False, "modbus_slave", f"answered modbus connections on {port}"))
        out.append((True, "modbus_master", f"connected to a modbus slave on {port}"))
    if service == "coap" or dport in COAP_PORTS:
        out.append((False, "coap_server", f"answered coap on {port}"))
    if service == "rtsp" or dport in RTSP_PORTS:
        out.append((False, "camera", f"RTSP server on {port}"))
    if service == "dns" or dport in DNS_PORTS:
        out.append((False, "dns_server", f"answered dns on {port}"))
    if service in ("http", "tls") or dport in WEB_PORTS:
        out.append((False, "web_server", f"answered {service or 'connections'} on {port}"))
    return tuple(out)


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
    evidence = {role: dict(c) for role, c in d.evidence.items()} if d.evidence else {}
    mac = next(iter(d.macs), None)
    vend = vendor(mac) if mac else None
    derived: dict[str, dict[str, int]] = {}
    if vend and any(v in vend.lower() for v in CAMERA_VENDORS):
        derived["camera"] = {f"MAC vendor {vend} makes IP cameras": 1}
    # why: a box on the local network that talks both to field devices and to the internet relays between them.
    # The cheapest test first: most devices (clients) have no public peer, and skip the peer and address tests
    if d.external_peers and not (FIELD_ROLES - {"mqtt_client"}) & set(evidence):
        field_peers = len(d.peers.keys() & field_ips)
        if field_peers and any(not is_public(ip) for ip in d.ips):
            derived["gateway"] = {f"talks to {field_peers} field device(s) and to public addresses": d.external_peers}
    ips = d.ips
    judged = judge(evidence, derived)
    row = {
        "key": d.key,
        "macs": list(d.macs),
        "ips": sorted(ips, key=ips.__getitem__, reverse=True) if len(ips) > 1 else list(ips),
        "vendor": vend,
        "first_seen": d.first_seen,
        "last_seen": d.last_seen,
        "protocols": _most_common(d.protocols),
        "server_ports": _most_common(d.server_ports),
        "client_ports": _most_common(d.client_ports),
        "evidence": evidence,
        "derived": derived,
        "events": d.events,
        "role": judged["role"],
        "roles": judged["roles"],
    }
    if cadence is not None:
        row["interval"] = cadence.interval(d.key)
        row["heartbeat_lost"] = cadence.is_lost(d.key)
    return row


def judge(evidence: dict[str, dict[str, int]], derived: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """Role guess from evidence counts: `role` (the most specific present) and `roles` with readable evidence.

    `derived` is evidence judged from the whole picture (vendor, peers) rather than counted per event.
    """
    if not evidence and not derived:  # most devices (clients): nothing to judge, and 4x quicker to say so
        return {"role": None, "roles": {}}
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
