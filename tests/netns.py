"""Two throw-away network namespaces joined by a veth pair, for tests that send real packets.

Only namespaces a test creates are touched, with addresses in 10.99.0.0/16; they are deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@contextmanager
def veth_pair(ns_a: str, ns_b: str, dev_a: str, dev_b: str, ip_a: str, ip_b: str) -> Iterator[None]:
    """`ns_a`/`dev_a`/`ip_a` <-> `ns_b`/`dev_b`/`ip_b` (addresses as `10.99.N.M/24`), IPv6 off so no RS/ND noise."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    try:
        sh("ip", "netns", "add", ns_a)
        sh("ip", "netns", "add", ns_b)
        sh("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b)
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns_a, "addr", "add", ip_a, "dev", dev_a)
        sh("ip", "-n", ns_b, "addr", "add", ip_b, "dev", dev_b)
        sh("ip", "-n", ns_a, "link", "set", dev_a, "up")
        sh("ip", "-n", ns_b, "link", "set", dev_b, "up")
        yield
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        pytest.skip(f"cannot create namespaces: {e}")
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
