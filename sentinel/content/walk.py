"""Which files a scan reads: a recursive walk that never blocks, never loops and stays inside the scanned tree.

* Special files (devices, FIFOs, sockets) are skipped and counted: opening a FIFO would block the scan and a
  device can be endless.
* A symbolic link is followed only when its target lies inside one of the scanned roots (or with
  `follow_links`); links leading out of the tree are counted, not followed, so scanning a directory cannot be made
  to read `/etc/shadow` or a whole disk through a planted link.
* Every regular file is yielded once, even when reached through several links (deduplicated by device and inode),
  which also stops directory-link loops.
* Files over `max_size` are counted, not read.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: skip reasons, the keys of `Walk.skipped`
SPECIAL, TOO_LARGE, LINK_OUTSIDE, BROKEN_LINK, UNREADABLE, TIMEOUT = (
    "special", "too_large", "link_outside", "broken_link", "unreadable", "timeout")
SKIP_REASONS = (SPECIAL, TOO_LARGE, LINK_OUTSIDE, BROKEN_LINK, UNREADABLE, TIMEOUT)


@dataclass(slots=True)
class Walk:
    """State of one walk: what was skipped and why. `unreadable` lists (path, reason)."""

    max_size: int
    follow_links: bool = False
    skipped: Counter = field(default_factory=lambda: Counter(dict.fromkeys(SKIP_REASONS, 0)))
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    _roots: list[str] = field(default_factory=list)
    _seen: set[tuple[int, int]] = field(default_factory=set)

    def files(self, paths: list[Path]) -> Iterator[tuple[str, int]]:
        """(path, size) of every regular file to scan under `paths`. Missing paths raise InputError up front."""
        self.check(paths)
        # why: realpath so a link is judged by where it really points, whatever spelling the user gave
        self._roots = [os.path.realpath(p) for p in paths]
        for p in paths:
            # a path named on the command line is followed even when it is a link: the user chose it
            yield from self._visit(str(p), top=True)

    @staticmethod
    def check(paths: list[Path]) -> None:
        """InputError for the first path that does not exist."""
        for p in paths:
            if not os.path.lexists(p):
                raise InputError(str(p), "no such file or directory")

    def _inside(self, real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self._roots)

    def _unreadable(self, path: str, exc: OSError) -> None:
        self.skipped[UNREADABLE] += 1
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        self.unreadable.append((shown, exc.strerror or str(exc)))

    def _visit(self, start: str, top: bool = False) -> Iterator[tuple[str, int]]:
        # why: an explicit stack, not recursion, so a very deep tree cannot exhaust Python's recursion limit
        stack: list[tuple[str, bool]] = [(start, top)]
        while stack:
            path, is_top = stack.pop()
            found = self._entry(path, is_top)
            if found is None:
                continue
            st = found
            if stat.S_ISDIR(st.st_mode):
                try:
                    with os.scandir(path) as it:
                        names = sorted(e.name for e in it)
                except OSError as exc:
                    self._unreadable(path, exc)
                    continue
                stack.extend((os.path.join(path, n), False) for n in reversed(names))
            elif stat.S_ISREG(st.st_mode):
                if st.st_size > self.max_size:
                    self.skipped[TOO_LARGE] += 1
                    continue
                yield path, st.st_size
            else:
                self.skipped[SPECIAL] += 1

    def _entry(self, path: str, top: bool) -> os.stat_result | None:
        """The stat of what `path` leads to, or None (counted) when it must not be visited."""
        try:
            lst = os.lstat(path)
        except OSError as exc:
            self._unreadable(path, exc)
            return None
        st = lst
        if stat.S_ISLNK(lst.st_mode):
            try:
                st = os.stat(path)
            except OSError:
                self.skipped[BROKEN_LINK] += 1
                return None
            if not (top or self.follow_links or self._inside(os.path.realpath(path))):
                self.skipped[LINK_OUTSIDE] += 1
                return None
        ident = (st.st_dev, st.st_ino)
        if ident in self._seen:
            return None  # reached again through a link or a loop: scanned once already
        self._seen.add(ident)
        return st
