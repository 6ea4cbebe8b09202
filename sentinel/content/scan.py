"""Scanning content with compiled YARA rules: files on disk and payloads extracted from traffic.

Files are matched by path (libyara maps the file itself, so a 64 MiB file is not copied into Python) on a small
thread pool: yara-python releases the GIL while it scans, and two threads were measured faster than one on this
2-core machine. Payloads are small (packet- to message-sized) and matched on the calling thread: there the fixed
per-call cost dominates and a thread pool was measured 4.6x slower.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import yara

from ..decode.base import Payload
from ..events.application import YaraMatch

#: seconds libyara may spend on one file or payload before giving up on it (counted as `timeout`)
SCAN_TIMEOUT = 60
SENSOR = "yara"


@dataclass(slots=True)
class FileResult:
    """Outcome of scanning one file: its matches, or the reason it could not be scanned."""

    path: str
    size: int
    matches: list[YaraMatch]
    error: str | None = None
    timed_out: bool = False


def first_offset(match: yara.Match) -> int | None:
    """Offset of the earliest string instance of a match; None for condition-only rules."""
    offsets = [inst.offset for s in match.strings for inst in s.instances]
    return min(offsets) if offsets else None


def to_event(match: yara.Match, *, origin: str, sha256: str, size: int, ts: float, **endpoints) -> YaraMatch:
    return YaraMatch(
        ts=ts, sensor=endpoints.pop("sensor", None) or SENSOR, rule=match.rule, namespace=match.namespace,
        tags=list(match.tags), meta=dict(match.meta), sha256=sha256, offset=first_offset(match), origin=origin,
        size=size, **endpoints,
    )


def file_externals(path: str) -> dict[str, str]:
    """Per-file values for the externals signature-base rules test (`filename`, `filepath`, `extension`)."""
    directory, name = os.path.split(path)
    ext = os.path.splitext(name)[1].lower()
    return {"filename": name, "filepath": directory, "extension": ext}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def display_path(path: str) -> str:
    """The path as valid text: bytes that are not UTF-8 (kept by Python as surrogates) shown as `\\xNN`."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _match_path(rules: yara.Rules, path: str) -> list[yara.Match]:
    shown = display_path(path)
    externals = file_externals(shown)
    if shown == path:
        return rules.match(path, externals=externals, timeout=SCAN_TIMEOUT)
    # why: yara-python takes only UTF-8 paths; a file named with other bytes is read here instead
    with open(path, "rb") as fh:
        data = fh.read()
    return rules.match(data=data, externals=externals, timeout=SCAN_TIMEOUT)


def scan_file(rules: yara.Rules, path: str, size: int) -> FileResult:
    """Match one file. Unreadable or vanished files give a result with `error`, never an exception.

    The result's `path` and the events' `origin` are `display_path(path)`, safe to print and to store.
    """
    shown = display_path(path)
    try:
        matches = _match_path(rules, path)
    except yara.TimeoutError:
        return FileResult(shown, size, [], error="scan timed out", timed_out=True)
    except yara.Error as exc:
        return FileResult(shown, size, [], error=str(exc))
    except OSError as exc:
        return FileResult(shown, size, [], error=exc.strerror or str(exc))
    if not matches:
        return FileResult(shown, size, [])
    try:
        # why: hash only files that matched; hashing every file would double the I/O of a clean scan
        digest = sha256_file(path)
    except OSError as exc:
        return FileResult(shown, size, [], error=exc.strerror or str(exc))
    ts = time.time()
    events = [to_event(m, origin=shown, sha256=digest, size=size, ts=ts) for m in matches]
    return FileResult(shown, size, events)


def scan_files(rules: yara.Rules, files: Iterable[tuple[str, int]], threads: int = 2,
               window: int = 256) -> Iterator[FileResult]:
    """Scan (path, size) pairs on `threads` threads, in input order, holding at most `window` files in flight."""
    if threads <= 1:
        for path, size in files:
            yield scan_file(rules, path, size)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="yara") as pool:
        pending = []
        for path, size in files:
            pending.append(pool.submit(scan_file, rules, path, size))
            if len(pending) >= window:
                # why: a bounded window keeps memory flat on trees with millions of files
                yield from (f.result() for f in pending[: window // 2])
                del pending[: window // 2]
        yield from (f.result() for f in pending)


def scan_payloads(rules: yara.Rules, payloads: Iterable[Payload]) -> list[YaraMatch]:
    """YaraMatch events for the payloads that match, carrying the flow's endpoints and uid when there is one.

    A payload carries no direction, so the flow's originator is reported as `src` (as for transaction events).
    A payload libyara cannot scan in time is skipped rather than stopping the analysis of a capture.
    """
    events: list[YaraMatch] = []
    for p in payloads:
        try:
            matches = rules.match(data=p.data, timeout=SCAN_TIMEOUT)
        except yara.Error:  # includes yara.TimeoutError
            continue
        if not matches:
            continue
        digest = hashlib.sha256(p.data).hexdigest()
        endpoints = p.flow.client_endpoints() if p.flow is not None else {}
        events.extend(
            to_event(m, origin=p.origin, sha256=digest, size=len(p.data), ts=p.ts, **endpoints) for m in matches
        )
    return events
