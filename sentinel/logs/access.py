"""Apache/nginx access logs: Common and Combined Log Format, optionally prefixed by a virtual host.

Accepted shapes (what Apache `%v`/`%v:%p` and nginx `$host` prefixes give):

    CLIENT IDENT USER [TIME] "REQUEST" STATUS BYTES
    CLIENT IDENT USER [TIME] "REQUEST" STATUS BYTES "REFERER" "USER-AGENT" [extra fields...]
    VHOST[:PORT] <either of the above>

Extra fields after the user agent (nginx `"$http_x_forwarded_for"` and the like) are allowed and ignored; the
original line is kept on the event. A request that is not `METHOD TARGET VERSION` (scanners send TLS hellos and
junk) still gives an event, with `uri` holding the raw request and `method`/`version` empty.
"""

from __future__ import annotations

import re

from ..events.application import HttpAccess
from .addr import norm_host
from .timeparse import clf_time

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled loop: much faster than an alternation per character
_BODY = (
    r'(\S+) (\S+) (\S+) \[([^\]]+)\] ' + _Q + r' (\d{3}|-) (\d+|-)'
    r'(?: ' + _Q + r' ' + _Q + r')?((?: .*)?)$'
)
_PLAIN = re.compile(_BODY)
_VHOST = re.compile(r'(\S+) ' + _BODY)


def parse_access(line: str, source: str = "", sensor: str = "") -> HttpAccess | None:
    """One access-log line -> HttpAccess, or None when the line is not an access-log line."""
    m = _PLAIN.match(line)
    vhost = None
    if m is None:
        m = _VHOST.match(line)
        if m is None:
            return None
        vhost, g = m.group(1), m.groups()[1:]
    else:
        g = m.groups()
    client, ident, user, when, req, status, size, ref, ua, _extra = g
    ts = clf_time(when)
    if ts is None:
        return None
    parts = req.split(" ")
    if len(parts) == 3:
        method, uri, version = parts
    else:
        method, uri, version = None, req, None
    return HttpAccess(
        ts=ts,
        sensor=sensor,
        src_ip=norm_host(client),
        vhost=vhost,
        ident=None if ident == "-" else ident,
        user=None if user == "-" else user,
        method=method,
        uri=uri,
        version=version,
        status=None if status == "-" else int(status),
        bytes=None if size == "-" else int(size),
        referrer=None if ref in (None, "-") else ref,
        user_agent=None if ua in (None, "-") else ua,
        line=line,
        source=source,
    )


def looks_like_access(line: str) -> bool:
    """Cheap pre-check for the sniffer: a `[dd/Mon/yyyy:` time and a quoted request."""
    i = line.find(" [")
    return i > 0 and line[i + 4 : i + 5] == "/" and '] "' in line
