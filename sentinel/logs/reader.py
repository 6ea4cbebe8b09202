"""Reading log files: plain or gzip (by magic, not by name), bounded lines, damaged input reported with position.

* Lines longer than MAX_LINE bytes are not loaded: the rest of such a line is skipped in MAX_LINE chunks and the
  line is counted as over-long (and unparsed).
* Bytes are decoded as UTF-8 with errors="replace": junk never stops a run; a line that then fails to parse is
  unparsed like any other. Lines with invalid UTF-8 are counted (`invalid_utf8`).
* A truncated or corrupt gzip stream ends the file with an InputError naming the file and the line reached; what
  was read before stays counted (the caller stores it).
* RFC 3164 syslog has no year: the file's modification year (UTC) is used.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

from ..errors import InputError
from ..events.base import Event
from .parse import SKIP, LineParser

MAX_LINE = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Stats:
    """What reading produced, over all inputs of one run."""

    lines: int = 0
    parsed: int = 0
    skipped: int = 0
    unparsed: int = 0
    invalid_utf8: int = 0
    unparsed_lines: dict[str, list[int]] = field(default_factory=dict)
    overlong_lines: dict[str, list[int]] = field(default_factory=dict)
    events: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "lines": self.lines, "parsed": self.parsed, "skipped": self.skipped, "unparsed": self.unparsed,
            "invalid_utf8": self.invalid_utf8, "events": dict(self.events), "unparsed_lines": self.unparsed_lines,
            "overlong_lines": self.overlong_lines, "top_sources": self.sources.most_common(10),
            "errors": self.errors,
        }


def open_log(path: str) -> BinaryIO:
    """Binary file object for `path`, decompressing gzip when the file starts with the gzip magic."""
    try:
        f = open(path, "rb")
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a log file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if f.read(2) == GZIP_MAGIC:
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    f.seek(0)
    return f


def file_year(path: str) -> int:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc).year
    except OSError:
        return datetime.now(timezone.utc).year


def read_line(f: BinaryIO) -> tuple[bytes, bool]:
    """Next line without its newline, and whether it was over-long (then only its first MAX_LINE bytes)."""
    raw = f.readline(MAX_LINE + 1)
    if len(raw) <= MAX_LINE or raw.endswith(b"\n"):
        return raw, False
    head = raw[:MAX_LINE]
    while raw and not raw.endswith(b"\n"):  # why: drain the rest without ever holding it whole
        raw = f.readline(MAX_LINE)
    return head + b"\n", True


def iter_lines(f: BinaryIO, path: str, first_line: int = 1) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, raw line with newline, over-long) until EOF; damaged gzip -> InputError at the line reached."""
    n = first_line - 1
    while True:
        try:
            raw, overlong = read_line(f)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            what = "truncated gzip stream" if isinstance(exc, EOFError) else f"damaged input: {exc}"
            raise InputError(path, f"{what} (lines before it were read)", f"line {n + 1}") from None
        if not raw:
            return
        n += 1
        yield n, raw, overlong


def handle_line(parser: LineParser, path: str, n: int, raw: bytes, overlong: bool, stats: Stats,
                emit: Callable[[Event], None]) -> None:
    """Count and parse one raw line, passing its event (if any) to `emit`."""
    stats.lines += 1
    if overlong:
        stats.unparsed += 1
        stats.unparsed_lines.setdefault(path, []).append(n)
        stats.overlong_lines.setdefault(path, []).append(n)
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        stats.invalid_utf8 += 1
    text = text.rstrip("\r\n")
    ev = parser.parse(text, f"{path}:{n}")
    if ev is SKIP:
        stats.skipped += 1
    elif ev is None:
        stats.unparsed += 1
        stats.unparsed_lines.setdefault(path, []).append(n)
    else:
        stats.parsed += 1
        stats.events[ev.KIND] += 1  # type: ignore[union-attr]
        if ev.src_ip:  # type: ignore[union-attr]
            stats.sources[ev.src_ip] += 1  # type: ignore[union-attr]
        emit(ev)  # type: ignore[arg-type]


def read_file(path: str, fmt: str, stats: Stats, emit: Callable[[Event], None]) -> None:
    """Parse a whole file; raises InputError for unreadable or damaged input after emitting what was read."""
    parser = LineParser(fmt, year=file_year(path), sensor=f"log:{os.path.basename(path)}")
    with open_log(path) as f:
        for n, raw, overlong in iter_lines(f, path):
            handle_line(parser, path, n, raw, overlong, stats, emit)
