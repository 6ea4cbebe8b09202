"""Logins sent in cleartext: FTP, Telnet, POP3 and IMAP. One `Credential` event per login attempt.

Each attempt is reported once its outcome is known (FTP 230 / 530, POP3 +OK / -ERR, IMAP tagged OK / NO, Telnet's
next prompt or shell), or with `success=None` when the flow closes first. Only the user name is kept: passwords
(FTP PASS, POP3 PASS, APOP digests, IMAP LOGIN's second argument, SASL PLAIN/LOGIN secrets, what a Telnet user types
after `Password:`) are parsed only to find where they end and are never stored, logged or put on an event.

All four are line protocols, so the decoders share a line splitter with a length cap (an over-long line is cut and
the rest of it dropped: memory per flow stays bounded). After STARTTLS / STLS / AUTH TLS succeeds the bytes are TLS
and decoding stops; POP3 and IMAP also stop after a successful login, since what follows is mail content.

Roles: the server is the side on the protocol's well-known port; otherwise the originator is the client.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import deque

from ..events.base import Event
from ..events.perception import Credential
from .base import Flow, StreamDecoder

MAX_LINE = 4096
MAX_USER = 256


def _text(b: bytes) -> str:
    return b[:MAX_USER].decode("utf-8", "replace")


def sasl_username(mech: str, response: bytes) -> str | None:
    """User name in a base64 SASL response: PLAIN `authzid NUL authcid NUL passwd` -> authcid; LOGIN -> the text."""
    try:
        raw = base64.b64decode(response.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if mech == "PLAIN":
        parts = raw.split(b"\x00")
        return _text(parts[1]) if len(parts) >= 3 else None
    return _text(raw)


class LineSplitter:
    """Bytes in, complete lines out (without CR LF); lines longer than `cap` are truncated."""

    __slots__ = ("buf", "cap", "dropping")

    def __init__(self, cap: int = MAX_LINE) -> None:
        self.buf = bytearray()
        self.cap = cap
        self.dropping = False  # inside the tail of an over-long line

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            if self.dropping:
                self.dropping = False
            else:
                self.buf += data[start:nl]
                lines.append(bytes(self.buf[:self.cap]).rstrip(b"\r"))
            self.buf.clear()
            start = nl + 1
        if not self.dropping:
            self.buf += data[start:]
            if len(self.buf) > self.cap:
                lines.append(bytes(self.buf[:self.cap]))
                self.buf.clear()
                self.dropping = True
        return lines

    def rest(self) -> bytes:
        return bytes(self.buf)


class _LoginDecoder(StreamDecoder):
    """Common plumbing: roles by port, per-direction line splitting, pending attempt, stop after TLS."""

    PROTOCOL = ""
    TCP_PORTS: set[int] = set()  # the server's well-known ports, as the registry reads them

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        ports = self.TCP_PORTS
        self.client_is_orig = not (flow.orig_port in ports and flow.resp_port not in ports)
        self._split = {True: LineSplitter(), False: LineSplitter()}
        self.attempt: Credential | None = None
        self.done = False  # TLS started, or logged in where only mail content follows

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        if self.done:
            return []
        events: list[Event] = []
        from_client = from_orig == self.client_is_orig
        for line in self._split[from_orig].feed(data):
            if self.done:
                break
            if from_client:
                self.client_line(ts, line, events)
            else:
                self.server_line(ts, line, events)
        return events

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        self._split[from_orig] = LineSplitter()  # the partial line is lost; the next line boundary resynchronises
        return []

    def close(self, ts: float) -> list[Event]:
        events: list[Event] = []
        self.finish(None, events)
        return events

    def start(self, ts: float, username: str | None, method: str, events: list[Event]) -> Credential:
        """A new attempt; an earlier one still unresolved is reported with unknown outcome."""
        self.finish(None, events)
        self.attempt = Credential(ts=ts, protocol=self.PROTOCOL, username=username, method=method,
                                  **self.flow.endpoints(self.client_is_orig))
        return self.attempt

    def finish(self, success: bool | None, events: list[Event]) -> None:
        if self.attempt is not None:
            self.attempt.success = success
            events.append(self.attempt)
            self.attempt = None

    def client_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        raise NotImplementedError

    def server_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        raise NotImplementedError


# --- FTP (RFC 959) ---------------------------------------------------------------------------------------------

_FTP_REPLY = re.compile(rb"^(\d{3})([ -]?)")


def looks_like_ftp_banner(data: bytes) -> bool:
    """Sniffer on the server's first bytes: a 220 greeting naming FTP (SMTP greets with 220 too, so insist)."""
    first = data.split(b"\n", 1)[0]
    return first[:4] in (b"220 ", b"220-") and b"FTP" in first.upper()


class FtpDecoder(_LoginDecoder):
    """USER / PASS (/ ACCT) against the reply to each: 230 or 202 logged in, 331/332 go on, 4xx/5xx refused."""

    service = "ftp"
    PROTOCOL = "ftp"
    TCP_PORTS = {21}

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self.commands: deque[str] = deque(maxlen=64)  # verbs awaiting their final reply, in order
        self.greeted = False
        self.multi: bytes | None = None  # code of a multi-line reply in progress

    def client_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        verb, _, arg = line.strip().partition(b" ")
        verb_s = verb.upper().decode("ascii", "replace")
        if not verb_s:
            return
        self.commands.append(verb_s if verb_s != "AUTH" else "AUTH " + arg.strip().upper().decode("ascii", "replace"))
        if verb_s == "USER":
            self.start(ts, _text(arg.strip()), "USER/PASS", events)
        elif verb_s == "PASS" and self.attempt is None:
            self.start(ts, None, "USER/PASS", events)

    def server_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        m = _FTP_REPLY.match(line)
        if self.multi is not None:  # inside "ddd-": only "ddd " ends it
            if m and m.group(1) == self.multi and m.group(2) == b" ":
                self.multi = None
                self._reply(int(m.group(1)), events)
            return
        if not m:
            return
        if m.group(2) == b"-":
            self.multi = m.group(1)
            return
        self._reply(int(m.group(1)), events)

    def _reply(self, code: int, events: list[Event]) -> None:
        if code < 200:
            return  # preliminary: the command's final reply is still to come
        if not self.greeted:  # the server speaks first; a client typing ahead must not have it taken as a reply
            self.greeted = True
            if code == 220 or not self.commands:
                return
        if not self.commands:
            return
        verb = self.commands.popleft()
        if verb in ("USER", "PASS", "ACCT") and self.attempt is not None:
            if code in (230, 202):
                self.finish(True, events)
            elif code >= 400:
                self.finish(False, events)
        elif verb in ("AUTH TLS", "AUTH SSL", "AUTH TLS-C", "AUTH TLS-P") and code == 234:
            self.finish(None, events)
            self.done = True


# --- POP3 (RFC 1939, 2449, 5034) -------------------------------------------------------------------------------

def looks_like_pop3_greeting(data: bytes) -> bool:
    """Sniffer on the server's first bytes."""
    return data[:4] == b"+OK " or data[:5] == b"+OK\r\n"


_POP3_MULTILINE = {"CAPA", "LIST", "UIDL", "RETR", "TOP"}


class Pop3Decoder(_LoginDecoder):
    """USER/PASS, APOP, AUTH PLAIN/LOGIN; each attempt resolved by +OK / -ERR."""

    service = "pop3"
    PROTOCOL = "pop3"
    TCP_PORTS = {110}

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self.commands: deque[tuple[str, bool]] = deque(maxlen=64)  # (verb, +OK answer is multi-line)
        self.greeted = False
        self.in_listing = False
        self.sasl: str | None = None  # mechanism of an AUTH exchange in progress
        self.sasl_steps = 0

    def client_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        if self.sasl is not None:  # a SASL response, not a command
            if line.strip() == b"*":
                return
            if self.sasl_steps == 0 and self.attempt is not None:
                self.attempt.username = sasl_username(self.sasl, line)
            self.sasl_steps += 1
            return
        verb, _, arg = line.strip().partition(b" ")
        verb_s = verb.upper().decode("ascii", "replace")
        if not verb_s:
            return
        args = arg.split()
        multi = verb_s in _POP3_MULTILINE and (verb_s not in ("LIST", "UIDL") or not args)
        if verb_s == "AUTH" and not args:
            multi = True  # lists the mechanisms
        self.commands.append((verb_s, multi))
        if verb_s == "USER":
            self.start(ts, _text(arg.strip()), "USER/PASS", events)
        elif verb_s == "PASS" and self.attempt is None:
            self.start(ts, None, "USER/PASS", events)
        elif verb_s == "APOP":
            self.start(ts, _text(args[0]) if args else None, "APOP", events)
        elif verb_s == "AUTH" and args:
            mech = args[0].upper().decode("ascii", "replace")
            cred = self.start(ts, None, "AUTH " + mech, events)
            if mech in ("PLAIN", "LOGIN"):
                if len(args) > 1:
                    cred.username = sasl_username(mech, args[1])
                    self.sasl_steps = 1
                else:
                    self.sasl_steps = 0
                self.sasl = mech

    def server_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        if self.in_listing:
            if line == b".":
                self.in_listing = False
            return
        if line[:1] == b"+" and line[:3] != b"+OK":
            return  # "+ challenge": the SASL exchange goes on
        ok = line[:3] == b"+OK"
        if not ok and line[:4] != b"-ERR":
            return
        if not self.greeted:  # the greeting (it may carry the APOP timestamp)
            self.greeted = True
            return
        if not self.commands:
            return
        verb, multi = self.commands.popleft()
        self.sasl = None
        if ok and multi:
            self.in_listing = True
        if verb in ("USER", "PASS", "APOP", "AUTH") and self.attempt is not None:
            if not ok:
                self.finish(False, events)
            elif verb != "USER":
                self.finish(True, events)
                self.done = True  # transaction state: mail follows
        elif verb == "STLS" and ok:
            self.finish(None, events)
            self.done = True


# --- IMAP (RFC 9051 / 3501) ------------------------------------------------------------------------------------

def looks_like_imap_greeting(data: bytes) -> bool:
    """Sniffer on the server's first bytes: an untagged OK/PREAUTH greeting that says IMAP."""
    first = data.split(b"\n", 1)[0]
    return first[:5] in (b"* OK ", b"* PRE") and b"IMAP" in first.upper()


_LITERAL = re.compile(rb"\{(\d{1,9})\+?\}$")
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


def imap_tokens(parts: list[tuple[bool, bytes]]) -> list[bytes]:
    """Arguments of one command: atoms, quoted strings (unescaped) and literals ((True, bytes) parts)."""
    out: list[bytes] = []
    for is_literal, chunk in parts:
        if is_literal:
            out.append(chunk)
            continue
        if m := _LITERAL.search(chunk):
            chunk = chunk[:m.start()]
        for q, atom in _TOKEN.findall(chunk):
            out.append(re.sub(rb"\\(.)", rb"\1", q) if q or not atom else atom)
    return out


class ImapDecoder(_LoginDecoder):
    """LOGIN and AUTHENTICATE PLAIN/LOGIN commands, resolved by their tagged OK / NO / BAD."""

    service = "imap"
    PROTOCOL = "imap"
    TCP_PORTS = {143}

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self.tags: dict[bytes, tuple[str, Credential | None]] = {}
        self.parts: list[tuple[bool, bytes]] = []  # a command being assembled around literals
        self.literal_left = 0
        self.literal = bytearray()
        self.sasl: tuple[bytes, str] | None = None  # (tag, mechanism) of an AUTHENTICATE in progress
        self.sasl_steps = 0

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        if self.done or from_orig != self.client_is_orig:
            return super().data(from_orig, ts, data)
        events: list[Event] = []
        while data and not self.done:
            if self.literal_left:  # client literal bytes ({n} announced): raw, not lines
                take = data[:self.literal_left]
                self.literal_left -= len(take)
                if len(self.literal) < MAX_LINE:
                    self.literal += take[:MAX_LINE - len(self.literal)]
                data = data[len(take):]
                if not self.literal_left:
                    self.parts.append((True, bytes(self.literal)))
                    self.literal.clear()
                continue
            nl = data.find(b"\n")
            if nl < 0:
                self._split[from_orig].feed(data)
                break
            for line in self._split[from_orig].feed(data[:nl + 1]):
                self._client_piece(ts, line, events)
            data = data[nl + 1:]
        return events

    def _client_piece(self, ts: float, line: bytes, events: list[Event]) -> None:
        m = _LITERAL.search(line)
        if m and len(self.parts) < 16:
            self.parts.append((False, line))
            self.literal_left = int(m.group(1))
            return
        self.parts.append((False, line))
        parts, self.parts = self.parts, []
        self.client_command(ts, parts, events)

    def client_line(self, ts: float, line: bytes, events: list[Event]) -> None:  # unused: see data()
        self.client_command(ts, [(False, line)], events)

    def client_command(self, ts: float, parts: list[tuple[bool, bytes]], events: list[Event]) -> None:
        if self.sasl is not None:
            tag, mech = self.sasl
            if self.sasl_steps == 0 and parts[0][1].strip() != b"*":
                entry = self.tags.get(tag)
                if entry and entry[1] is not None:
                    entry[1].username = sasl_username(mech, parts[0][1])
            self.sasl_steps += 1
            return
        tokens = imap_tokens(parts)
        if len(tokens) < 2:
            return
        tag, verb = tokens[0], tokens[1].upper().decode("ascii", "replace")
        cred = None
        if verb == "LOGIN":
            cred = self.start(ts, _text(tokens[2]) if len(tokens) > 2 else None, "LOGIN", events)
        elif verb == "AUTHENTICATE" and len(tokens) > 2:
            mech = tokens[2].upper().decode("ascii", "replace")
            cred = self.start(ts, None, "AUTHENTICATE " + mech, events)
            if mech in ("PLAIN", "LOGIN"):
                if len(tokens) > 3:
                    cred.username = sasl_username(mech, tokens[3])
                    self.sasl_steps = 1
                else:
                    self.sasl_steps = 0
                self.sasl = (tag, mech)
        if len(self.tags) < 64:
            self.tags[tag] = (verb, cred)

    def start(self, ts: float, username: str | None, method: str, events: list[Event]) -> Credential:
        # IMAP may pipeline logins under different tags: keep each pending under its tag, not as "the" attempt
        cred = Credential(ts=ts, protocol=self.PROTOCOL, username=username, method=method,
                          **self.flow.endpoints(self.client_is_orig))
        return cred

    def server_line(self, ts: float, line: bytes, events: list[Event]) -> None:
        tag, _, rest = line.partition(b" ")
        if tag in (b"*", b"+") or tag not in self.tags:
            return
        verb, cred = self.tags.pop(tag)
        status = rest.split(b" ", 1)[0].upper()
        if self.sasl is not None and self.sasl[0] == tag:
            self.sasl = None
        if cred is not None:
            cred.success = status == b"OK"
            events.append(cred)
            if cred.success:
                self.done = True
        elif verb == "STARTTLS" and status == b"OK":
            self.done = True

    def close(self, ts: float) -> list[Event]:
        events = [cred for _, cred in self.tags.values() if cred is not None]
        self.tags.clear()
        return events


# --- Telnet (RFC 854) ------------------------------------------------------------------------------------------

IAC, SE, SB, WILL, DONT = 255, 240, 250, 251, 254
_LOGIN_PROMPT = re.compile(rb"(?:login|user ?name|user)\s*:\s*$", re.I)
_PASS_PROMPT = re.compile(rb"password\s*:\s*$", re.I)
_FAILED = re.compile(rb"incorrect|invalid|fail|denied|bad password|wrong", re.I)
_SHELL = re.compile(rb"(?:[$#>%]|\$ |# |> )\s*$|last login|welcome|busybox", re.I)


def looks_like_telnet(data: bytes) -> bool:
    """Sniffer: option negotiation (IAC WILL/WONT/DO/DONT) right at the start, as telnet servers open."""
    return len(data) >= 3 and data[0] == IAC and WILL <= data[1] <= DONT


class TelnetStripper:
    """Removes IAC command sequences from a byte stream, across segment boundaries."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = 0  # 0 data, 1 after IAC, 2 after IAC WILL..DONT, 3 in SB, 4 IAC inside SB

    def feed(self, data: bytes) -> bytes:
        if self.state == 0 and IAC not in data:
            return data
        out = bytearray()
        for b in data:
            s = self.state
            if s == 0:
                if b == IAC:
                    self.state = 1
                else:
                    out.append(b)
            elif s == 1:
                if b == IAC:
                    out.append(IAC)
                    self.state = 0
                elif WILL <= b <= DONT:
                    self.state = 2
                elif b == SB:
                    self.state = 3
                else:
                    self.state = 0
            elif s == 2:
                self.state = 0
            elif s == 3:
                if b == IAC:
                    self.state = 4
            else:
                self.state = 0 if b == SE else 3
        return bytes(out)


class TelnetDecoder(_LoginDecoder):
    """Best effort: a `login:` prompt, the line the user types, a `Password:` prompt, then the verdict.

    The verdict is the server's next words: an error (`Login incorrect`...) or a new login prompt is a failure, a
    shell prompt / `Last login` / banner is a success, and the flow closing first leaves it unknown. The line typed
    after `Password:` is discarded character by character, never assembled.
    """

    service = "telnet"
    PROTOCOL = "telnet"
    TCP_PORTS = {23, 2323}  # 2323: the alternative port IoT botnets scan
    TAIL = 256

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self._strip = {True: TelnetStripper(), False: TelnetStripper()}
        self.screen = bytearray()  # the last TAIL bytes the server printed (after IAC stripping)
        self.typed = bytearray()  # the client's current line, only while a user name is expected
        self.expect: str | None = None  # "user" | "password" | "verdict"
        self.logged_in = False

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        if self.done:
            return []
        events: list[Event] = []
        text = self._strip[from_orig].feed(data)
        if from_orig == self.client_is_orig:
            self._client(ts, text, events)
        else:
            self._server(ts, text, events)
        return events

    def _client(self, ts: float, text: bytes, events: list[Event]) -> None:
        for b in text:
            if b in (0x0D, 0x0A):
                if self.expect == "user" and self.typed:
                    self.start(ts, _text(bytes(self.typed).strip()), "prompt", events)
                    self.expect = None
                elif self.expect == "password":
                    if self.attempt is None:
                        self.start(ts, None, "prompt", events)
                    self.expect = "verdict"
                self.typed.clear()
            elif self.expect == "user":
                if b in (0x08, 0x7F):
                    del self.typed[-1:]
                elif len(self.typed) < MAX_USER and b >= 0x20:
                    self.typed.append(b)
            # while the password is typed nothing is kept

    def _server(self, ts: float, text: bytes, events: list[Event]) -> None:
        if not text:
            return
        self.screen += text
        del self.screen[:-self.TAIL]
        screen = bytes(self.screen).rstrip(b"\x00")
        if self.expect == "verdict":
            if _FAILED.search(text) or _LOGIN_PROMPT.search(screen):
                self.finish(False, events)
                self.expect = None
            elif _PASS_PROMPT.search(screen):
                return
            elif _SHELL.search(screen):
                self.finish(True, events)
                self.expect = None
                self.logged_in = True
                self.done = True  # a shell session: nothing more to learn here
                return
        if _PASS_PROMPT.search(screen):
            self.expect = "password"
            self.screen.clear()
        elif _LOGIN_PROMPT.search(screen):
            if self.attempt is not None and self.expect != "verdict":
                self.finish(False, events)  # asked again for a login: the previous attempt failed
            self.expect = "user"
            self.typed.clear()
            self.screen.clear()

    def client_line(self, ts: float, line: bytes, events: list[Event]) -> None:  # pragma: no cover - data() overrides
        pass

    def server_line(self, ts: float, line: bytes, events: list[Event]) -> None:  # pragma: no cover
        pass


#: decoder class -> its server ports, for the registry
TCP_PORTS = {cls: cls.TCP_PORTS for cls in (FtpDecoder, Pop3Decoder, ImapDecoder, TelnetDecoder)}
#: (sniffer on the server's first bytes, decoder) for flows on other ports
SNIFFERS = [(looks_like_ftp_banner, FtpDecoder), (looks_like_pop3_greeting, Pop3Decoder),
            (looks_like_imap_greeting, ImapDecoder), (looks_like_telnet, TelnetDecoder)]
