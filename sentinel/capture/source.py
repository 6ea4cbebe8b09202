"""Thin I/O around the format walkers: read a capture file (plain or gzip) in fixed chunks and yield `Batch`es.

Memory stays bounded by one chunk buffer (reused: no per-chunk allocation) plus the batch arrays; an incomplete
trailing record is moved to the front of the buffer and completed by the next read. Damage is raised as
CaptureError *after* every complete packet before it has been yielded.

A yielded Batch views the shared buffer: it is valid only until the generator is resumed.
"""

from __future__ import annotations

import gzip
import zlib
import os
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import CaptureError
from .formats import FormatError, Records, make_walker

DEFAULT_CHUNK = 8 << 20


@dataclass(slots=True)
class Batch:
    """Complete packets of one buffer. `first` is the 1-based number of the first packet (for error messages)."""

    buf: np.ndarray  # uint8 view of the buffer that the offsets index
    rec: Records
    first: int = 1
    source: str = ""

    def __len__(self) -> int:
        return len(self.rec)


def _open(path: str):
    raw = open(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":  # gzip by content, whatever the file name says
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")
    return raw, raw


def _fill(f, view: memoryview) -> int:
    """Read until the view is full or EOF (gzip and pipes return short reads)."""
    got = 0
    n = len(view)
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            break
        got += k
    return got


def read_batches(path: str, chunk_size: int = DEFAULT_CHUNK,
                 progress: Callable[[int], None] | None = None) -> Iterator[Batch]:
    """Yield the packets of a capture file batch by batch; raise CaptureError at the first damage.

    `progress(raw_bytes_read)` is called after each chunk with the position in the file on disk.
    """
    src = str(path)
    try:
        raw, f = _open(src)
    except OSError as e:
        raise CaptureError(src, f"cannot open: {e.strerror or e}") from None
    with raw:
        buf = bytearray(chunk_size)
        mv = memoryview(buf)
        try:
            have = _fill(f, mv)
        except (OSError, EOFError, zlib.error) as e:
            raise CaptureError(src, f"cannot decompress: {e}", offset=0) from None
        try:
            walker = make_walker(bytes(buf[:64 * 1024 if have > 64 * 1024 else have]))
        except FormatError as e:
            raise CaptureError(src, e.message, packet=e.packet, offset=e.offset) from None
        pos = walker.start()
        base = 0  # stream offset of buf[0]
        npkt = 0
        eof = have < chunk_size
        arr = np.frombuffer(buf, np.uint8)
        while True:
            try:
                recs, stop, damage = walker.walk(buf, pos, have)
            except FormatError as e:
                raise CaptureError(src, e.message, packet=(e.packet or npkt + 1), offset=base + e.offset) from None
            if len(recs):
                yield Batch(arr, recs, npkt + 1, src)
                npkt += len(recs)
            if damage is not None:
                raise CaptureError(src, damage.message, packet=npkt + 1, offset=base + damage.offset)
            if progress is not None:
                progress(raw.tell())
            if eof:
                if stop < have:
                    raise CaptureError(src, f"truncated record ({have - stop} bytes at end of file)",
                                       packet=npkt + 1, offset=base + stop)
                return
            # carry the incomplete tail over to the front of the buffer and refill
            tail = have - stop
            if tail == chunk_size:  # one record larger than a chunk: only possible if corrupt
                raise CaptureError(src, "corrupt record (larger than the read buffer)", packet=npkt + 1,
                                   offset=base + stop)
            buf[:tail] = bytes(mv[stop:have])
            base += stop
            try:
                got = _fill(f, mv[tail:])
            except (OSError, EOFError, zlib.error) as e:
                raise CaptureError(src, f"cannot decompress: {e}", packet=npkt + 1, offset=base + tail) from None
            have = tail + got
            eof = have < chunk_size
            pos = 0


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
