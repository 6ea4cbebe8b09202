"""Syslog headers: RFC 3164 (BSD) and RFC 5424, with or without the `<PRI>`.

What files on disk really contain is looser than either RFC: rsyslog writes no PRI, may write an RFC 3339
timestamp in a 3164-style line (`2015-04-16T18:02:50.32+00:00 host sshd[2716]: ...`), the host can be missing
(`Feb 17 17:40:17 sshd[19725]: ...`), and old daemons log the tag as `[sshd]:` or `[sshd]`. All of those are
accepted. A 3164 time has no year: the caller passes one (the file's mtime year); no zone: UTC (see timeparse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .timeparse import bsd_time, iso_time

_PRI = r"(?:<(\d{1,3})>)?"
_3164 = re.compile(_PRI + r"(?:([A-Z][a-z]{2}) +(\d{1,2}) (\d\d:\d\d:\d\d)|(\d{4}-\d\d-\d\dT\S+)) (.*)$")
_TAG = re.compile(r"(?:([^\s\[\]:]+)(?:\[(\d+)\])?:|\[([^\s\]]+)\]:?)(?: |$)")
_SD = r'(?:-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)'
_5424 = re.compile(_PRI + r"1 (\S+) (\S+) (\S+) (\S+) (\S+) (" + _SD + r")(?: (.*))?$")


@dataclass(slots=True)
class Header:
    ts: float
    host: str | None
    program: str | None
    pid: int | None
    facility: int | None
    severity: int | None
    message: str


def _pri(p: str | None) -> tuple[int | None, int | None]:
    if p is None:
        return None, None
    v = int(p)
    return (v >> 3, v & 7) if v <= 191 else (None, None)


def parse_header(line: str, year: int) -> Header | None:
    """Split a syslog line into its header fields and message, or None when it is not a syslog line."""
    m = _5424.match(line)
    if m is not None:
        pri, when, host, app, procid, _msgid, _sd, msg = m.groups()
        ts = iso_time(when) if when != "-" else 0.0
        if ts is not None:
            fac, sev = _pri(pri)
            msg = (msg or "").removeprefix("\ufeff")
            return Header(ts, None if host == "-" else host, None if app == "-" else app,
                          int(procid) if procid.isdigit() else None, fac, sev, msg)
    m = _3164.match(line)
    if m is None:
        return None
    pri, mon, day, hms, iso, rest = m.groups()
    ts = bsd_time(mon, day, hms, year) if mon else iso_time(iso)
    if ts is None:
        return None
    fac, sev = _pri(pri)
    host = None
    t = _TAG.match(rest)
    if t is None:
        # why: the first token is the host unless it is itself a tag (`sshd[1]:`, `[sshd]`) - a host never ends in ':'
        host, _, after = rest.partition(" ")
        t = _TAG.match(after)
        if t is None:
            return Header(ts, host, None, None, fac, sev, after)
        rest = after
    prog, pid, bracketed = t.groups()
    return Header(ts, host, prog or bracketed, int(pid) if pid else None, fac, sev, rest[t.end():])
