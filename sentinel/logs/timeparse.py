"""Timestamps of the log formats we read, to epoch seconds (UTC).

Formats without a zone (syslog RFC 3164, nginx and Apache error logs) are taken as UTC: the logging host's zone is
not in the line, and guessing the analyst's zone would make results depend on where Sentinel runs. Formats without
a year (RFC 3164) take the year the caller passes (the file's mtime year, see `reader`).
"""

from __future__ import annotations

import calendar
from datetime import datetime
from functools import lru_cache

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


@lru_cache(maxsize=1024)
def _clf_day(date: str, tz: str) -> int:
    """Epoch of midnight of `10/Oct/2000` in zone `-0700`. Cached: a log has few distinct days and zones."""
    day, mon, year = date.split("/")
    t = calendar.timegm((int(year), MONTHS[mon], int(day), 0, 0, 0))
    if tz:
        if len(tz) != 5 or tz[0] not in "+-":
            raise ValueError(tz)
        sign = -1 if tz[0] == "-" else 1
        t -= sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
    return t


def clf_time(s: str) -> float | None:
    """`10/Oct/2000:13:55:36 -0700` (Common Log Format)."""
    try:
        date, hh, mm, rest = s.split(":", 3)
        ss, _, tz = rest.partition(" ")
        h, m, sec = int(hh), int(mm), int(ss)
        if h > 23 or m > 59 or sec > 60:
            return None
        return float(_clf_day(date, tz) + h * 3600 + m * 60 + sec)
    except (ValueError, KeyError, IndexError):
        return None


def bsd_time(mon: str, day: str, hms: str, year: int) -> float | None:
    """RFC 3164 `Jan  5 01:31:41` with the year supplied."""
    try:
        hh, mm, ss = hms.split(":")
        return float(calendar.timegm((year, MONTHS[mon], int(day), int(hh), int(mm), int(ss))))
    except (ValueError, KeyError):
        return None


def iso_time(s: str) -> float | None:
    """ISO 8601 / RFC 3339 (`2019-07-08T17:40:16.954167-04:00`, `...Z`); no zone means UTC."""
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        return calendar.timegm(d.timetuple()) + d.microsecond / 1e6
    return d.timestamp()


def nginx_time(s: str) -> float | None:
    """nginx error log `2021/09/30 09:23:53`."""
    try:
        return float(calendar.timegm(datetime.strptime(s, "%Y/%m/%d %H:%M:%S").timetuple()))
    except ValueError:
        return None


def apache_error_time(s: str) -> float | None:
    """Apache 2.4 error log `Fri Oct 08 17:08:41.203277 2021` (fraction optional)."""
    try:
        _wd, mon, day, hms, year = s.split()
        whole, _, frac = hms.partition(".")
        t = bsd_time(mon, day, whole, int(year))
        return None if t is None else t + (float("0." + frac) if frac else 0.0)
    except ValueError:
        return None
