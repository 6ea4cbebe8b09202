"""nginx and Apache error logs.

Basic-auth failures become `Auth` failure events (method `basic`, service `nginx`/`apache`): nginx's
`user "foo" was not found in "..."` and `user "foo": password mismatch`, Apache's AH01618 (`user X not found`) and
AH01617 (`user X: authentication failure ... Password Mismatch`). Every other error-log line becomes a `Syslog` event
(program `nginx`/`apache`, severity from the level, the client address when the line names one) so nothing an error
log says is lost and rules can still look at it.
"""

from __future__ import annotations

import re

from ..events.application import Auth, Syslog
from .addr import norm_host
from .timeparse import apache_error_time, nginx_time

#: syslog severities (RFC 5424 table 2) for the level words web servers use
SEVERITY = {"emerg": 0, "alert": 1, "crit": 2, "error": 3, "err": 3, "warn": 4, "warning": 4, "notice": 5,
            "info": 6, "debug": 7}

_NGINX = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (\d+)#\d+: (?:\*\d+ )?(.*)$")
_NGINX_CLIENT = re.compile(r", client: ([^,\s]+)")
_NGINX_NOUSER = re.compile(r'user "((?:[^"\\]|\\.)*)"(?: was not found in "[^"]*"|: password mismatch)')

_APACHE = re.compile(r"\[([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] \[(?:([\w.-]+):)?(\w+)\]"
                     r"(?: \[pid (\d+)(?::tid \d+)?\])?(.*)$")
_APACHE_CLIENT = re.compile(r"\[client ([^\]]+)\]")
_APACHE_AUTH = re.compile(r"AH0161[78]: user (.*?)(?: not found|: authentication failure)")


def _split_port(hostport: str) -> tuple[str, int | None]:
    """`1.2.3.4:5678`, `[::1]:5678`, `::1` -> (host, port)."""
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    if hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
        return host, int(port) if port.isdigit() else None
    return hostport, None


def parse_nginx_error(line: str, source: str = "", sensor: str = "") -> Auth | Syslog | None:
    m = _NGINX.match(line)
    if m is None:
        return None
    when, level, pid, msg = m.groups()
    ts = nginx_time(when)
    if ts is None:
        return None
    c = _NGINX_CLIENT.search(msg)
    client = norm_host(c.group(1)) if c else None
    u = _NGINX_NOUSER.match(msg)
    if u is not None:
        reason = "user not found" if "was not found" in msg[: u.end()] else "password mismatch"
        return Auth(ts=ts, sensor=sensor, src_ip=client, outcome="failure", user=u.group(1), method="basic",
                    service="nginx", reason=reason, line=line, source=source)
    return Syslog(ts=ts, sensor=sensor, src_ip=client, program="nginx", pid=int(pid),
                  severity=SEVERITY.get(level.lower()), message=msg, line=line, source=source)


def parse_apache_error(line: str, source: str = "", sensor: str = "") -> Auth | Syslog | None:
    m = _APACHE.match(line)
    if m is None:
        return None
    when, module, level, pid, rest = m.groups()
    ts = apache_error_time(when)
    if ts is None:
        return None
    c = _APACHE_CLIENT.search(rest)
    ip, port = _split_port(c.group(1)) if c else (None, None)
    ip = norm_host(ip) if ip else None
    msg = rest.strip()
    a = _APACHE_AUTH.search(msg)
    if a is not None:
        reason = "user not found" if a.group(0).endswith("not found") else "password mismatch"
        return Auth(ts=ts, sensor=sensor, src_ip=ip, src_port=port, outcome="failure", user=a.group(1),
                    method="basic", service="apache", reason=reason, line=line, source=source)
    return Syslog(ts=ts, sensor=sensor, src_ip=ip, src_port=port, program=f"apache:{module}" if module else "apache",
                  pid=int(pid) if pid else None, severity=SEVERITY.get(level.lower()), message=msg, line=line,
                  source=source)
