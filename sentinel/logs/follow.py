"""`ingest --follow`: tail growing log files across rotation, remembering where we are in the store.

Rotation styles handled:
* rename + create (logrotate default): the path gets a new inode. The old file is read to its end through the
  handle we still hold, then the new file is read from its start.
* copytruncate: same inode, size drops below our offset: read again from the start. (Lines written between
  logrotate's copy and its truncate are lost by copytruncate itself; no reader can get them back.)

Exactly-once across restarts: `OffsetRunWriter` writes each batch of events and the (path, inode, offset, line)
position just after the last of their lines in ONE transaction. On restart, a file whose inode changed while we
were stopped is looked for in the same directory by its old inode (e.g. `access.log.1`) and read to its end first.
Only whole lines are consumed: a partial last line waits for its newline.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import BinaryIO

import sqlalchemy as sa

from ..events.base import Event
from ..store import RunWriter
from .parse import LineParser
from .reader import MAX_LINE, Stats, file_year, handle_line
from .tables import LogOffset

_OFF = LogOffset.__table__


class OffsetRunWriter(RunWriter):
    """A RunWriter whose every flush also commits the followed files' positions, in the same transaction."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.offsets: dict[str, tuple[int, int, int]] = {}
        self._saved: dict[str, tuple[int, int, int]] = {}

    def side_writes(self):
        changed = {p: o for p, o in self.offsets.items() if self._saved.get(p) != o}
        if not changed:
            return None

        def write(conn: sa.Connection) -> None:
            for path, (inode, offset, line) in changed.items():
                conn.execute(_OFF.delete().where(_OFF.c.path == path))
                conn.execute(_OFF.insert().values(path=path, inode=inode, offset=offset, line=line))
            self._saved.update(changed)

        return write


def load_offsets(engine: sa.Engine) -> dict[str, tuple[int, int, int]]:
    with engine.connect() as conn:
        return {r.path: (r.inode, r.offset, r.line) for r in conn.execute(sa.select(_OFF))}


def _find_by_inode(path: str, inode: int) -> str | None:
    d = os.path.dirname(path) or "."
    try:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            try:
                if os.stat(p).st_ino == inode and os.path.isfile(p):
                    return p
            except OSError:
                continue
    except OSError:
        pass
    return None


class Tail:
    """One followed path."""

    def __init__(self, path: str, fmt: str, stats: Stats, writer: OffsetRunWriter, emit: Callable[[Event], None],
                 saved: tuple[int, int, int] | None) -> None:
        self.path = os.path.abspath(path)
        self.shown = path
        self.stats, self.writer, self.emit = stats, writer, emit
        self.parser = LineParser(fmt, year=file_year(path), sensor=f"log:{os.path.basename(path)}")
        self.fh: BinaryIO | None = None
        self.inode = 0
        self.line = 0
        self._open(saved)

    def _open(self, saved: tuple[int, int, int] | None) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if saved is not None:
            inode, offset, line = saved
            if inode == st.st_ino and st.st_size >= offset:
                self._attach(self.path, st.st_ino, offset, line)
                return
            if inode != st.st_ino:
                old = _find_by_inode(self.path, inode)
                if old is not None:  # rotated while we were stopped: finish the old file first
                    with open(old, "rb") as f:
                        f.seek(offset)
                        self._drain(f, old, line, inode)
        self._attach(self.path, st.st_ino, 0, 0)

    def _attach(self, path: str, inode: int, offset: int, line: int) -> None:
        self.fh = open(path, "rb")
        self.fh.seek(offset)
        self.inode, self.line = inode, line
        self.writer.offsets[self.path] = (inode, offset, line)

    def _drain(self, f: BinaryIO, shown: str, line: int, inode: int, record: bool = True) -> int:
        """Handle every complete line from f's position; returns the last line number."""
        while True:
            pos = f.tell()
            raw = f.readline(MAX_LINE + 1)
            if not raw:
                break
            overlong = False
            if not raw.endswith(b"\n"):
                if len(raw) <= MAX_LINE:
                    f.seek(pos)  # a partial line: wait for the rest
                    break
                overlong = True
                while raw and not raw.endswith(b"\n"):
                    raw = f.readline(MAX_LINE)
            line += 1
            handle_line(self.parser, shown, line, raw, overlong, self.stats, self.emit)
            # why: per line, so an automatic batch flush never commits events past the recorded position
            if record:
                self.writer.offsets[self.path] = (inode, f.tell(), line)
        return line

    def poll(self) -> None:
        if self.fh is None:
            self._open(None)
            if self.fh is None:
                return
        self.line = self._drain(self.fh, self.shown, self.line, self.inode)
        try:
            st = os.stat(self.path)
        except OSError:
            return  # renamed, new file not created yet: keep the old handle
        if st.st_ino != self.inode:
            self.line = self._drain(self.fh, self.shown, self.line, self.inode)
            self.fh.close()
            self._attach(self.path, st.st_ino, 0, 0)
            self.line = self._drain(self.fh, self.shown, 0, self.inode)
        elif st.st_size < self.fh.tell():
            self.fh.seek(0)
            self.line = 0
            self.writer.offsets[self.path] = (self.inode, 0, 0)
            self.line = self._drain(self.fh, self.shown, 0, self.inode)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def follow(paths: list[str], fmt: str, stats: Stats, writer: OffsetRunWriter, emit: Callable[[Event], None],
           seconds: float | None = None, poll: float = 0.2, on_ready: Callable[[], None] | None = None) -> None:
    """Tail `paths` until SIGINT/SIGTERM (or `seconds`), committing events and positions after every poll."""
    stop = False

    def _stop(_sig, _frame) -> None:
        nonlocal stop
        stop = True

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    saved = load_offsets(writer.engine)
    tails = [Tail(p, fmt, stats, writer, emit, saved.get(os.path.abspath(p))) for p in paths]
    deadline = time.monotonic() + seconds if seconds is not None else None
    if on_ready is not None:
        on_ready()
    try:
        while not stop and (deadline is None or time.monotonic() < deadline):
            for t in tails:
                t.poll()
            writer.flush()
            time.sleep(poll)
        for t in tails:  # a last look, so lines written before the signal are not left behind
            t.poll()
        writer.flush()
    finally:
        for t in tails:
            t.close()
        for s, h in old.items():
            signal.signal(s, h)
