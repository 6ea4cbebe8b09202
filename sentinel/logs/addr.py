"""Normalising addresses as logged, so one client has one spelling across sources."""

from __future__ import annotations

import ipaddress


def norm_host(h: str) -> str:
    """IPv6 in compressed form; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4. Anything else (IPv4, a host name
    logged by sshd with UseDNS, a malformed address) is kept as logged: it is evidence, not ours to correct."""
    if ":" not in h:
        return h
    try:
        a = ipaddress.IPv6Address(h.strip("[]"))
    except ValueError:
        return h
    return str(a.ipv4_mapped) if a.ipv4_mapped else a.compressed
