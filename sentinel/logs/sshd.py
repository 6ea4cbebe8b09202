"""sshd messages -> authentication verdicts, and the little per-process memory sshd's log format needs.

`classify(message)` is pure: it says what one sshd message means (`Verdict`). Outcomes:

* `failure`: a failed or refused login, or a connection that ended before authentication (pre-auth disconnects,
  protocol/banner garbage, timeouts, no common cipher) - these are what brute-force and scan rules count;
* `success`: `Accepted <method> for <user>`;
* `attempt`: a step that does not decide anything by itself: a public key of a valid user that was not accepted
  (clients offer several keys in turn), `Postponed ...`, PAM's own `authentication failure` line (sshd logs the
  same failure again as `Failed password`, so counting both would double it), `User X not allowed because account
  is locked` and `input_userauth_request: invalid user X` (followed by a disconnect line that is counted);
* `None`: not about authentication (connection bookkeeping, normal logouts): the caller makes a Syslog event.

`SshdSessions` adds what one line cannot know (the same thing fail2ban's multi-line sshd filter does): some
failures are logged without the client address (`Disconnecting: Too many authentication failures`,
`kex_exchange_identification: ...`, `Read from socket failed`), so the address is taken from an earlier line of the
same process (`Connection from`, any line naming the client); if none is known yet, the line is an `attempt` and
the failure is attributed to the next line of that process that names the client. A close that follows a
"too many failures" verdict of the same process is its consequence and is not counted again.

Known disagreements with fail2ban's annotated test log (dev_log06), on purpose: fail2ban turns `Accepted ...`
after failures for *other* user names into a failure, and counts the second PAM failure when the user name changes;
that is correlation across lines and belongs to the rules engine, not to the event. fail2ban's normal and
aggressive modes disagree on `Disconnected from authenticating user ... [preauth]` and on the second identical
pre-auth close of one process; we count both as failures, as its aggressive mode does.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from .addr import norm_host


@dataclass(slots=True)
class Verdict:
    outcome: str | None  # success | failure | attempt | None (not an auth event)
    reason: str | None = None
    user: str | None = None
    host: str | None = None
    port: int | None = None
    method: str | None = None
    #: role in a connection: "connect" (starts one), "close" (ends one), "terminal" (too many failures)
    tag: str | None = None


_HOST = r"([^\s\[]\S*?)"
_PORT = r"(?: port (\d+))?"
_PREAUTH = r"( \[preauth\])?"


def _r(p: str) -> re.Pattern[str]:
    return re.compile(p + r"\s*$")


_FAILED = _r(r"Failed (\S+) for (invalid user )?(.*?) from " + _HOST + _PORT + r"(?: ssh\d?)?(?:: .*)?")
_INVALID = _r(r"[Ii](?:nvalid|llegal) user (.*?) from " + _HOST + _PORT + _PREAUTH)
_PAM = _r(r"PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module)"
          r" for (?:illegal user |invalid user )?(.*?) from " + _HOST + r"(?: via \S+)?")
_ROOT_REFUSED = _r(r"ROOT LOGIN REFUSED FROM " + _HOST + _PORT + _PREAUTH)
_NOT_ALLOWED = _r(r"User (.+?) from " + _HOST + r" not allowed because (.*)")
_NOT_ALLOWED_NOHOST = _r(r"User (\S+) not allowed because (.*)")
_REFUSED = _r(r"refused connect from (?:\S+ )?\(?(\S+?)\)?")
_RECV_DISC = _r(r"Received disconnect from " + _HOST + _PORT + r":\s?(\d+): (.*?)" + _PREAUTH)
_MAX_ATTEMPTS = _r(r"maximum authentication attempts exceeded for (invalid user )?(.*?) from " + _HOST + _PORT
                   + r"(?: ssh\d)?" + _PREAUTH)
_DISCONNECTING_USER = _r(r"Disconnecting (?:invalid|authenticating) user (.*) " + _HOST + r" port (\d+): (.*?)" + _PREAUTH)
_DISCONNECTING_HOST = _r(r"Disconnecting " + _HOST + r" port (\d+): (.*?)" + _PREAUTH)
_TOO_MANY = _r(r"Disconnecting: Too many authentication failures(?: for (invalid user )?(.*?))?" + _PREAUTH)
_NO_IDENT = _r(r"Did not receive identification string from " + _HOST + _PORT)
_BAD_PROTO = _r(r"Bad protocol version identification .* from " + _HOST + _PORT)
_READ_FAILED = _r(r"Read from socket failed: (.*?) \[preauth\]")
_CLOSED = _r(r"Connection (closed|reset) by (?:(authenticating|invalid) user (.*?) )?" + _HOST + _PORT + _PREAUTH)
_DISCONNECTED = _r(r"Disconnected from (?:(authenticating|invalid) user (.*?) )?" + _HOST + _PORT + _PREAUTH)
_KEX = _r(r"kex_exchange_identification: (.*)")
_BANNER = _r(r"banner exchange: Connection from " + _HOST + r" port (\d+): (.*)")
_DISPATCH = _r(r"ssh_dispatch_run_fatal: Connection from (?:(?:invalid|authenticating) user .* )?" + _HOST
               + r" port (\d+): (.*?)" + _PREAUTH)
_TIMEOUT = _r(r"Timeout before authentication for (?:connection from )?" + _HOST + _PORT + r"(?: to .*)?")
_NEGOTIATE_HOST = _r(r"Unable to negotiate with " + _HOST + _PORT + r": (.*?)" + _PREAUTH)
_NEGOTIATE = _r(r"(Unable to negotiate a key exchange method|no matching \S+ found).*?" + _PREAUTH)
_CONNECT = _r(r"Connection from " + _HOST + _PORT + r"(?: on .*)?")
_LTYPE = re.compile(r"SSH: Server;Ltype: \w+;Remote: (\S+?)-(\d+);")
_ACCEPTED = _r(r"Accepted (\S+) for (.*?) from " + _HOST + _PORT + r"(?: ssh\d?)?(?:: .*)?")
_POSTPONED = _r(r"Postponed (\S+) for (invalid user )?(.*?) from " + _HOST + _PORT + r"(?: ssh\d?)?" + _PREAUTH)
_INPUT_USERAUTH = _r(r"input_userauth_request: invalid user (\S*)" + _PREAUTH)
_PAM_UNIX = re.compile(r"pam_unix\(sshd:auth\): authentication failure;(.*)$")
_KV = re.compile(r"(\w+)=(\S*)")
_PREFIX = re.compile(r"(?:\[ID \d+ [\w.]+\] )?(?:(?:error|fatal): )?")


def _h(h: str | None) -> str | None:
    return norm_host(h) if h else None


def _p(p: str | None) -> int | None:
    return int(p) if p else None


def _method(m: str) -> str:
    return m.split("/", 1)[0]  # keyboard-interactive/pam -> keyboard-interactive


def classify(message: str) -> Verdict:
    """What one sshd message says about authentication."""
    msg = message[_PREFIX.match(message).end():]
    c = msg[:1]
    if c == "F" and (m := _FAILED.match(msg)):
        method, inv, user, host, port = m.groups()
        invalid = bool(inv) or user == "<invalid username>"
        if method == "publickey" and not invalid:
            return Verdict("attempt", "public key not accepted", user, _h(host), _p(port), "publickey")
        return Verdict("failure", "invalid user" if invalid else f"failed {_method(method)}",
                       None if user == "<invalid username>" else user, _h(host), _p(port), _method(method))
    if c in "Ii" and (m := _INVALID.match(msg)):
        return Verdict("failure", "invalid user", m[1], _h(m[2]), _p(m[3]))
    if c == "C":
        if m := _CLOSED.match(msg):
            what, role, user, host, port, pre = m.groups()
            if pre or role:
                return Verdict("failure", f"connection {what} before authentication", user, _h(host), _p(port),
                               tag="close")
            return Verdict(None, None, None, _h(host), _p(port), tag="close")
        if m := _CONNECT.match(msg):
            return Verdict(None, None, None, _h(m[1]), _p(m[2]), tag="connect")
    if c == "A" and (m := _ACCEPTED.match(msg)):
        return Verdict("success", None, m[2], _h(m[3]), _p(m[4]), _method(m[1]))
    if c == "P":
        if m := _PAM.match(msg):
            return Verdict("failure", "PAM authentication failure", m[1], _h(m[2]), None, "password")
        if m := _POSTPONED.match(msg):
            return Verdict("attempt", "postponed", m[3], _h(m[4]), _p(m[5]), _method(m[1]))
    if c == "R":
        if m := _RECV_DISC.match(msg):
            host, port, code, text, pre = m.groups()
            if pre or "Auth fail" in text or code == "14":
                return Verdict("failure", f"disconnected before authentication: {text}", None, _h(host), _p(port),
                               tag="close")
            return Verdict(None, None, None, _h(host), _p(port), tag="close")
        if m := _ROOT_REFUSED.match(msg):
            return Verdict("failure", "root login refused", "root", _h(m[1]), _p(m[2]))
        if m := _READ_FAILED.match(msg):
            return Verdict("failure", f"read failed before authentication: {m[1]}")
    if c == "U":
        if m := _NOT_ALLOWED.match(msg):
            return Verdict("failure", f"not allowed: {m[3]}", m[1], _h(m[2]))
        if m := _NOT_ALLOWED_NOHOST.match(msg):
            return Verdict("attempt", f"not allowed: {m[2]}", m[1])
        if m := _NEGOTIATE_HOST.match(msg):
            return Verdict("failure", f"unable to negotiate: {m[3]}", None, _h(m[1]), _p(m[2]))
        if m := _NEGOTIATE.match(msg):
            return Verdict("failure", m[1])
    if c == "r" and (m := _REFUSED.match(msg)):
        return Verdict("failure", "refused by TCP wrappers", None, _h(m[1]))
    if c == "m" and (m := _MAX_ATTEMPTS.match(msg)):
        return Verdict("failure", "maximum authentication attempts exceeded", m[2], _h(m[3]), _p(m[4]),
                       tag="terminal")
    if c == "D":
        if m := _TOO_MANY.match(msg):
            return Verdict("failure", "too many authentication failures", m[2], tag="terminal")
        if m := _DISCONNECTING_USER.match(msg):
            user, host, port, text, _pre = m.groups()
            return Verdict("failure", f"disconnected: {text}", user, _h(host), _p(port),
                           tag="terminal" if "Too many" in text else None)
        if m := _DISCONNECTING_HOST.match(msg):
            host, port, text, _pre = m.groups()
            return Verdict("failure", f"disconnected: {text}", None, _h(host), _p(port),
                           tag="terminal" if "Too many" in text else None)
        if m := _DISCONNECTED.match(msg):
            role, user, host, port, pre = m.groups()
            if pre:
                return Verdict("failure", "disconnected before authentication", user, _h(host), _p(port), tag="close")
            return Verdict(None, None, user, _h(host), _p(port), tag="close")
        if m := _NO_IDENT.match(msg):
            return Verdict("failure", "no identification string", None, _h(m[1]), _p(m[2]))
    if c == "B" and (m := _BAD_PROTO.match(msg)):
        return Verdict("failure", "bad protocol version identification", None, _h(m[1]), _p(m[2]))
    if c == "k" and (m := _KEX.match(msg)):
        return Verdict("failure", f"kex_exchange_identification: {m[1]}")
    if c == "b" and (m := _BANNER.match(msg)):
        return Verdict("failure", f"banner exchange: {m[3]}", None, _h(m[1]), _p(m[2]))
    if c == "s" and (m := _DISPATCH.match(msg)):
        return Verdict("failure", m[3], None, _h(m[1]), _p(m[2]))
    if c in "Tf" and (m := _TIMEOUT.match(msg)):
        return Verdict("failure", "timeout before authentication", None, _h(m[1]), _p(m[2]))
    if c == "n" and (m := _NEGOTIATE.match(msg)):
        return Verdict("failure", m[1])
    if c == "i" and (m := _INPUT_USERAUTH.match(msg)):
        return Verdict("attempt", "invalid user", m[1])
    if c == "p" and (m := _PAM_UNIX.match(msg)):
        kv = dict(_KV.findall(m[1]))
        return Verdict("attempt", "PAM authentication failure (sshd reports it itself)",
                       kv.get("user") or kv.get("ruser") or None, _h(kv.get("rhost")) or None, None, "password")
    if c == "S" and (m := _LTYPE.match(msg)):
        return Verdict(None, None, None, _h(m[1]), _p(m[2]))
    return Verdict(None)


@dataclass(slots=True)
class _Session:
    ip: str | None = None
    pending: str | None = None  # reason of a failure logged before the client address was known
    terminal: bool = False


class SshdSessions:
    """Per sshd process (host, pid) memory: the client address and a failure waiting for it. Bounded (LRU)."""

    def __init__(self, limit: int = 10000) -> None:
        self._s: OrderedDict[tuple[str | None, int | None], _Session] = OrderedDict()
        self.limit = limit

    def apply(self, host: str | None, pid: int | None, v: Verdict) -> Verdict:
        key = (host, pid)
        if v.tag == "connect" or key not in self._s:
            self._s[key] = _Session()
            if len(self._s) > self.limit:
                self._s.popitem(last=False)
        else:
            self._s.move_to_end(key)
        s = self._s[key]
        if pid is None:  # why: without a pid, lines of different connections cannot be told apart
            s = _Session()
        if v.host:
            s.ip = v.host
        if v.outcome == "failure":
            if s.terminal and v.tag in ("close", "terminal"):
                v.outcome, v.reason = None, None  # the end of a connection already counted
                return v
            if v.host is None:
                if s.ip is None:
                    s.pending = v.reason
                    v.outcome = "attempt"
                    return v
                v.host = s.ip
            s.pending = None
            if v.tag == "terminal":
                s.terminal = True
            return v
        if s.pending and v.host and v.outcome is None:
            v.outcome, v.reason, s.pending = "failure", s.pending, None
        return v
