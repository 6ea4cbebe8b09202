"""JSON lines: one object per line, mapped by common key names.

Keys looked up (first present wins):
  time:   ts, time, @timestamp, timestamp  (epoch seconds or milliseconds as a number, or ISO 8601 text)
  client: src_ip, remote_addr, client_ip, clientip, client, ip
  port:   src_port, remote_port
An object with `status`, `request`, `uri` or `method` (or `request_uri`, `path`) is an `HttpAccess` event
(status, method, uri/request, user_agent/http_user_agent, referrer/http_referer, bytes/body_bytes_sent, host/vhost);
any other object is a `Syslog` event whose message is `message`/`msg`/`log` (else the whole line) and program
`program`/`app`/`service`. A line that is not a JSON object, or has no usable time, is unparsed.
"""

from __future__ import annotations

import json

from ..events.application import HttpAccess, Syslog
from .addr import norm_host
from .timeparse import iso_time


def _first(d: dict, *keys: str):
    for k in keys:
        v = d.get(k)
        if v not in (None, ""):
            return v
    return None


def _ts(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v) / 1000.0 if v > 1e11 else float(v)  # why: JS/Java loggers write milliseconds
    if isinstance(v, str):
        return iso_time(v)
    return None


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def parse_jsonl(line: str, source: str = "", sensor: str = "") -> HttpAccess | Syslog | None:
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        d = json.loads(s)
    except ValueError:
        return None
    if not isinstance(d, dict):
        return None
    ts = _ts(_first(d, "ts", "time", "@timestamp", "timestamp"))
    if ts is None:
        return None
    ip = _first(d, "src_ip", "remote_addr", "client_ip", "clientip", "client", "ip")
    ip = norm_host(str(ip)) if ip is not None else None
    port = _int(_first(d, "src_port", "remote_port"))
    if any(k in d for k in ("status", "request", "uri", "method", "request_uri", "path")):
        req = _first(d, "request")
        method, uri, version = _first(d, "method", "request_method"), _first(d, "uri", "request_uri", "path"), None
        if isinstance(req, str) and uri is None:
            parts = req.split(" ")
            method, uri, version = (parts if len(parts) == 3 else (method, req, None))
        return HttpAccess(ts=ts, sensor=sensor, src_ip=ip, src_port=port, vhost=_first(d, "vhost", "host"),
                          user=_first(d, "user", "remote_user"), method=method, uri=uri,
                          version=version or _first(d, "protocol", "server_protocol"),
                          status=_int(d.get("status")), bytes=_int(_first(d, "bytes", "body_bytes_sent", "size")),
                          referrer=_first(d, "referrer", "referer", "http_referer"),
                          user_agent=_first(d, "user_agent", "http_user_agent", "ua"), line=line, source=source)
    msg = _first(d, "message", "msg", "log")
    return Syslog(ts=ts, sensor=sensor, src_ip=ip, src_port=port, host=_first(d, "host", "hostname"),
                  program=_first(d, "program", "app", "service"), pid=_int(d.get("pid")),
                  message=str(msg) if msg is not None else s, line=line, source=source)
