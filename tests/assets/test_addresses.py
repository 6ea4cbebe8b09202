"""Address normalisation and classification answer exactly what ipaddress answers (the fast paths are integer
range tests and inet_pton/inet_ntop: see observe._v4_classifier, _v6_classifier, _v6_canonical)."""

from __future__ import annotations

import ipaddress
import random
import socket

import pytest

from sentinel.assets import observe
from sentinel.assets.observe import is_public, norm_ip


def _reference(text):
    """What norm_ip and is_public answered when every address went through ipaddress."""
    if not text or not isinstance(text, str):
        return None
    try:
        ip = ipaddress.IPv6Address(text) if ":" in text else ipaddress.ip_address(text)
    except ValueError:
        return None
    canon = str(ip)
    if ip.is_unspecified or ip.is_multicast or canon == "255.255.255.255":
        return None
    return canon, ip.is_global


def _answer(text):
    canon = norm_ip(text)
    return None if canon is None else (canon, is_public(canon))


def _edges(nets, top: int) -> set[int]:
    out = set()
    for net in nets:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            out.update(x for x in (edge - 1, edge, edge + 1) if 0 <= x <= top)
    return out


_V6_NETS = ["::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
            "2001::/32", "2001:2::/48", "2001:10::/28", "2001:20::/28", "2001:db8::/32", "2002::/16", "3fff::/20",
            "5f00::/16", "fc00::/7", "fd00::/8", "fe80::/10", "fec0::/10", "ff00::/8", "ff02::/16", "::/96"]
_V4_NETS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.0.8/32", "192.0.0.9/32", "192.0.0.170/31", "192.0.2.0/24", "192.88.99.0/24",
            "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
            "240.0.0.0/4", "255.255.255.255/32"]


def _samples() -> list[str]:
    rng = random.Random(7)
    v4 = _edges([ipaddress.IPv4Network(n) for n in _V4_NETS], 0xFFFFFFFF)
    v4 |= {rng.getrandbits(32) for _ in range(3000)}
    v6 = _edges([ipaddress.IPv6Network(n) for n in _V6_NETS], (1 << 128) - 1)
    v6 |= {(0xFFFF << 32) | x for x in v4}  # IPv4-mapped, at every IPv4 edge
    v6 |= {x for x in v4}  # IPv4-compatible (::a.b.c.d)
    for _ in range(6000):  # random addresses with runs of zero groups (where the text compresses), ties included
        words = [rng.getrandbits(16) if rng.random() < 0.5 else 0 for _ in range(8)]
        v6.add(int.from_bytes(b"".join(w.to_bytes(2, "big") for w in words), "big"))
    for prefix in (0xFD00, 0xFE80, 0x2001, 0x2002, 0xFF02, 0x0100, 0xFC00):
        v6 |= {(prefix << 112) | rng.getrandbits(rng.choice((16, 64, 112))) for _ in range(300)}
    texts = [str(ipaddress.IPv4Address(n)) for n in sorted(v4)]
    for n in sorted(v6):
        ip = ipaddress.IPv6Address(n)
        texts += [str(ip), ip.exploded, str(ip).upper()]  # the canonical text and two that are not
    texts += ["::ffff:10.0.0.1", "::ffff:8.8.8.8", "::ffff:100.64.0.1", "::1.2.3.4", "fe80::1%eth0", "fe80::1%1",
              "1::2:3:4:5:6:7", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1:2:3:4::5:6:7:8", ":::", "1::2::3",
              "12345::", "g::1", "::ffff:1.2.3.04", "::ffff:256.1.1.1", "010.0.0.1", "10.0.0.1 ", " 10.0.0.1",
              "10.0.0", "0.0.0.0", "255.255.255.255", "1.2.3.4.5", "", "::", "localhost", "fd00::8410",
              "2001:db8::1", "2001:0db8::1", "2001:DB8::1", "::FFFF:10.0.0.1", "1.2.3.4\x00", "fe80::\u0661"]
    return texts


@pytest.fixture
def fresh_caches():
    observe._NORM.clear()
    observe._PUBLIC.clear()
    yield
    observe._NORM.clear()
    observe._PUBLIC.clear()


def test_fast_classifiers_are_built_on_this_python():
    # both are checked against ipaddress when built; None would mean the slow path (still correct)
    assert observe._v4_classifier() is not None
    assert observe._v6_classifier() is not None


def test_norm_ip_and_is_public_match_ipaddress(fresh_caches):
    texts = _samples()
    assert len(texts) > 20_000
    for text in texts:
        assert _answer(text) == _reference(text), text
    # and when answered from the caches
    for text in texts:
        assert _answer(text) == _reference(text), text


def test_inet_ntop_writes_ipaddress_canonical_text():
    rng = random.Random(3)
    for _ in range(20_000):
        words = [rng.getrandbits(rng.choice((1, 4, 16))) if rng.random() < 0.55 else 0 for _ in range(8)]
        n = int.from_bytes(b"".join(w.to_bytes(2, "big") for w in words), "big")
        text = str(ipaddress.IPv6Address(n))
        # declined (None) only where inet_ntop writes an embedded IPv4 address (::a.b.c.d, ::ffff:a.b.c.d)
        expected = None if "." in socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big")) else n
        assert observe._v6_canonical(text) == expected, text
        assert observe._v6_canonical(ipaddress.IPv6Address(n).exploded) in (None, n)
