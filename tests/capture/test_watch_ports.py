"""`watch_ports`: a flow on a watched port is announced when it starts, long before its events arrive."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from sentinel.capture.pipeline import analyze_files
from sentinel.decode.registry import default_registry

from .helpers import CLIENT, SERVER, tcp_session

CHUNK = 4096  # many small batches


def _capture(path: Path) -> Path:
    """An SMB session that opens at the start and closes at the end, with pings (an event each) in between."""
    smb = tcp_session(1000.0, sport=49200, dport=445, data=(b"\x00\x00\x00\x04smb!",), reply=(b"\x00\x00\x00\x02ok",))
    head, tail = smb[:3], smb[3:]
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    filler = []
    for i in range(400):
        p = e / IP(src=CLIENT, dst=SERVER) / ICMP(type=8, seq=i) / (b"x" * 40)
        p.time = 1001.0 + i * 0.01
        filler.append(p)
    for k, p in enumerate(tail):
        p.time = 1010.0 + k * 0.01
    wrpcap(str(path), head + filler + tail)
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_the_first_flow_on_a_watched_port_is_announced_once_when_it_starts(tmp_path: Path, workers: int) -> None:
    cap = _capture(tmp_path / "smb.pcap")
    calls: list[int] = []
    delivered: list = []
    run = analyze_files([cap], registry=default_registry(), workers=workers, chunk_size=CHUNK,
                        watch_ports={445, 139}, on_watch=lambda: calls.append(len(delivered)))
    for d in run.delivered():
        delivered.append(d)
    assert len(delivered) > 3, "the test needs several batches"
    assert len(calls) == 1
    smb_conn = next(i for i, d in enumerate(delivered)
                    for ev in d.events if ev.KIND == "conn" and ev.dst_port == 445)
    # announced before the batch that carries the SMB flow's conn event was handed out
    assert calls[0] <= smb_conn and smb_conn >= 3


def test_nothing_is_announced_without_a_watched_flow(tmp_path: Path) -> None:
    cap = _capture(tmp_path / "smb.pcap")
    calls: list[int] = []
    list(analyze_files([cap], registry=default_registry(), workers=2, chunk_size=CHUNK, watch_ports={139},
                       on_watch=lambda: calls.append(1)))
    assert calls == []
