"""Payloads are scanned where they are decoded: in the capture workers, whose scan events replace the payloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinel.capture.pipeline import analyze_files
from sentinel.decode.registry import default_registry
from sentinel.events.application import YaraMatch

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "city.pcap"


def _marking_scan(payloads: list) -> list:
    """A stand-in scanner that reports, for every payload, the process that saw it and the payload's size."""
    return [YaraMatch(ts=p.ts, sensor=f"pid:{os.getpid()}", rule="seen", origin=p.origin, size=len(p.data))
            for p in payloads]


def _run(workers: int, scan=None) -> tuple[list, list]:
    events, payloads = [], []
    for ev, pl in analyze_files([SAMPLE], registry=default_registry(), workers=workers, scan=scan):
        events += ev
        payloads += pl
    return events, payloads


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_sees_every_payload_and_replaces_it_by_its_events(workers: int) -> None:
    plain_events, plain_payloads = _run(workers)
    assert plain_payloads, "the sample capture carries HTTP bodies and MQTT messages"
    events, payloads = _run(workers, _marking_scan)
    assert payloads == []
    marks = [e for e in events if isinstance(e, YaraMatch)]
    assert sorted((m.origin, m.size) for m in marks) == sorted((p.origin, len(p.data)) for p in plain_payloads)
    # the decoded events themselves are unchanged by scanning
    rest = [e for e in events if not isinstance(e, YaraMatch)]
    assert sorted(map(repr, rest)) == sorted(map(repr, plain_events))


def test_with_workers_the_scan_runs_in_the_worker_processes() -> None:
    events, _ = _run(2, _marking_scan)
    pids = {e.sensor for e in events if isinstance(e, YaraMatch)}
    assert pids and f"pid:{os.getpid()}" not in pids
