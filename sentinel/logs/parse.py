"""One line -> one event: format choice, per-line sniffing, and the syslog programs we understand.

`--format auto` sniffs every line on its own, so mixed files (an error log interleaved with an access log, as in
dev_log04/05/08) work. Blank lines and lines starting with `#` (comments, like the annotations in fail2ban's test
logs) are not log lines: they are *skipped* and counted as such, never reported as unparsed.
"""

from __future__ import annotations

from ..events.application import Auth, HttpAccess, Syslog
from ..events.base import Event
from .access import looks_like_access, parse_access
from .jsonl import parse_jsonl
from .sshd import SshdSessions, classify
from .sudo import classify_pam, classify_sudo
from .syslog import Header, parse_header
from .weberror import parse_apache_error, parse_nginx_error

FORMATS = ("auto", "combined", "common", "nginx-error", "syslog", "auth", "jsonl")

#: returned for lines that are not log lines (blank, `#` comments)
SKIP = "skip"


def _is_sshd(program: str) -> bool:
    return program.startswith("sshd")  # sshd, sshd-session (OpenSSH >= 9.8), sshd-auth


class LineParser:
    """Parses lines of one input. Stateful only through sshd's per-process memory (see sshd.SshdSessions)."""

    def __init__(self, fmt: str = "auto", year: int = 1970, sensor: str = "") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.fmt = fmt
        self.year = year
        self.sensor = sensor
        self.sessions = SshdSessions()

    def parse(self, line: str, source: str) -> Event | str | None:
        """An event, SKIP for a non-log line, or None when the line is malformed for the format."""
        if not line or line[0] == "#" or line.isspace():
            return SKIP
        fmt = self.fmt
        if fmt in ("combined", "common"):
            return parse_access(line, source, self.sensor)
        if fmt == "nginx-error":
            return parse_nginx_error(line, source, self.sensor) or parse_apache_error(line, source, self.sensor)
        if fmt in ("syslog", "auth"):
            return self._syslog(line, source)
        if fmt == "jsonl":
            return parse_jsonl(line, source, self.sensor)
        return self._sniff(line, source)

    def _sniff(self, line: str, source: str) -> Event | None:
        c = line[0]
        if c == "{":
            return parse_jsonl(line, source, self.sensor)
        if c == "[":
            return parse_apache_error(line, source, self.sensor) or self._syslog(line, source)
        if looks_like_access(line):
            ev = parse_access(line, source, self.sensor)
            if ev is not None:
                return ev
        if c.isdigit() and line[4:5] == "/":
            ev = parse_nginx_error(line, source, self.sensor)
            if ev is not None:
                return ev
        return self._syslog(line, source)

    def _syslog(self, line: str, source: str) -> Event | None:
        h = parse_header(line, self.year)
        if h is None:
            return None
        prog = h.program or ""
        if _is_sshd(prog):
            v = self.sessions.apply(h.host, h.pid, classify(h.message))
            if v.outcome is not None:
                return self._auth(h, v, "sshd", line, source)
        elif prog == "sudo":
            v = classify_sudo(h.message)
            if v.outcome is not None:
                return self._auth(h, v, "sudo", line, source)
        elif h.message.startswith("pam_unix("):
            v = classify_pam(h.message)
            if v.outcome is not None:
                return self._auth(h, v, prog or None, line, source)
        elif h.message[:1].isalnum() and looks_like_access(h.message):
            # why: nginx/Apache can log through syslog (`access_log syslog:...`); the inner line is the event
            ev = parse_access(h.message, source, self.sensor)
            if ev is not None:
                ev.line = line
                return ev
        return Syslog(ts=h.ts, sensor=self.sensor, host=h.host, program=h.program, pid=h.pid, facility=h.facility,
                      severity=h.severity, message=h.message, line=line, source=source)

    def _auth(self, h: Header, v, service: str | None, line: str, source: str) -> Auth:
        return Auth(ts=h.ts, sensor=self.sensor, src_ip=v.host, src_port=v.port, proto="tcp" if v.port else None,
                    outcome=v.outcome, user=v.user, method=v.method, service=service, reason=v.reason, line=line,
                    source=source)


__all__ = ["FORMATS", "SKIP", "LineParser", "Auth", "HttpAccess", "Syslog"]
