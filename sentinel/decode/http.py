"""HTTP/1.x on a reassembled TCP stream.

Each direction has its own message parser (start line + headers, then a body framed by Content-Length, chunked
transfer coding, or the end of the connection). A direction does not assume its role: a message whose start line
begins with `HTTP/` is a response, anything else that parses is a request. That keeps a capture that missed the
SYN (so that "orig" may be the server) decodable.

Requests queue up in order; each complete response is paired with the oldest unanswered request (pipelining) and
the pair becomes one `Http` event. Requests still waiting at `close` are emitted without a status.

Limits keep hostile streams cheap: a header block over `MAX_HEADER` bytes, a chunk-size line over `_MAX_LINE`,
or an unparsable start line stops decoding of that direction. Bodies are counted in full but only the first
`MAX_BODY` bytes are kept (then decompressed up to `MAX_BODY` as well) for the content scanner.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections import deque

from ..events.base import Event
from ..events.perception import Credential
from ..events.transport import Http
from .base import Flow, Payload, StreamDecoder
from .fastbuild import builder

TCP_PORTS = {80, 591, 3128, 8000, 8008, 8080, 8081, 8088, 8888}

MAX_HEADER = 64 * 1024  # bytes of start line + headers
MAX_BODY = 16 * 1024 * 1024  # bytes of body kept (and produced by decompression) per message
_MAX_LINE = 1024  # chunk-size / trailer line
_MAX_HEADERS = 200  # header fields per message

METHODS = (
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE", b"PROPFIND",
    b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"SEARCH", b"REPORT", b"SUBSCRIBE", b"NOTIFY",
    b"M-SEARCH",
)
_METHOD_PREFIXES = tuple(m + b" " for m in METHODS)


def looks_like_http(first_bytes: bytes) -> bool:
    """Sniffer for HTTP on a non-standard port: the stream starts with a known method or a status line.
    RTSP (cameras' stream control, TCP 554) shares HTTP's methods and syntax; its request line ends in `RTSP/1.0`
    and is not HTTP."""
    if first_bytes.startswith(b"HTTP/1."):
        return True
    return first_bytes.startswith(_METHOD_PREFIXES) and b" RTSP/" not in first_bytes.split(b"\r\n", 1)[0]


# parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _UNTIL_CLOSE, _DEAD = range(8)


class _Message:
    """One request or response being parsed. `body` holds the kept body bytes as a list of pieces (joined once
    for the scanner: appending to a bytearray and copying it out cost two extra copies of every body byte)."""

    __slots__ = ("ts", "is_response", "method", "uri", "version", "status", "reason", "headers", "body", "kept",
                 "body_len", "complete_body")

    def __init__(self, ts: float, is_response: bool, method: str = "", uri: str = "", version: str | None = None,
                 status: int | None = None, reason: str | None = None) -> None:
        self.ts = ts
        self.is_response = is_response
        self.method = method
        self.uri = uri
        self.version = version
        self.status = status
        self.reason = reason
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.kept = 0  # bytes in `body` (at most MAX_BODY)
        self.body_len = 0  # body bytes seen on the wire (after de-chunking), kept or not
        self.complete_body = True

    def keep(self, piece: bytes) -> None:
        """Count a body piece and keep it up to MAX_BODY."""
        if type(piece) is not bytes:  # never keep a reference to a caller's mutable buffer
            piece = bytes(piece)
        n = len(piece)
        self.body_len += n
        room = MAX_BODY - self.kept
        if room > 0 and n:
            if n > room:
                piece = piece[:room]
                n = room
            self.body.append(piece)
            self.kept += n


_WS = " \t\n\r\x0b\x0c"  # what bytes.strip() removes (str.strip() would also remove latin-1 NBSP etc.)


#: header block (the bytes after the start line) -> its parsed fields. why: a client sends the same header block
#: with request after request (same User-Agent, Accept, Host, cookies) and a server often answers with the same
#: fields, so most blocks were parsed before (about 2.5 µs saved per hit). The fields are a pure function of
#: those bytes, and a message's `headers` dict is never changed after parsing, so messages may share it.
#: (cap_100k is far more repetitive than real traffic: 5 distinct blocks per direction.)
_HCACHE: dict[bytes, dict[str, str]] = {}
_HCACHE_MAX = 4096
_HCACHE_KEY_MAX = 2048  # longer blocks (big cookies) are parsed each time rather than kept


def _parse_head(block: bytes, ts: float) -> _Message | None:
    """Parse a start line and header fields; None when it is not HTTP."""
    nl = block.find(b"\n")
    start = (block if nl < 0 else block[:nl]).rstrip(b"\r")
    parts = start.split(b" ", 2)
    if len(parts) < 2:
        return None
    if parts[0].startswith(b"HTTP/"):
        code = parts[1]
        if len(code) != 3 or not code.isdigit():
            return None
        m = _Message(ts, True, version=parts[0][5:].decode("latin-1"), status=int(code),
                     reason=parts[2].decode("latin-1") if len(parts) > 2 else "")
    else:
        if len(parts) < 3 or not parts[2].startswith(b"HTTP/") or not parts[0].isalpha() and parts[0] not in METHODS:
            return None
        m = _Message(ts, False, method=parts[0].decode("latin-1"), uri=parts[1].decode("latin-1"),
                     version=parts[2][5:].decode("latin-1"))
    if nl < 0:
        return m
    key = block[nl + 1:]
    hit = _HCACHE.get(key)
    if hit is not None:
        m.headers = hit
        return m
    headers = m.headers
    # the header block is decoded once (latin-1 maps byte n to code point n, so this is the same text as decoding
    # each piece); names are lower-cased as ASCII, as bytes.lower() does. Only the first _MAX_HEADERS lines count.
    if block.count(b"\n", nl + 1) < _MAX_HEADERS:
        text = block[nl + 1:].decode("latin-1")
    else:
        text = b"\n".join(block[nl + 1:].split(b"\n")[:_MAX_HEADERS]).decode("latin-1")
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip(_WS)
        key = key.lower() if key.isascii() else key.encode("latin-1").lower().decode("latin-1")
        val = value.strip(_WS)
        if key in headers:  # repeated field: combine as RFC 9110 allows for list-valued fields
            headers[key] += ", " + val
        else:
            headers[key] = val
    if len(block) - nl <= _HCACHE_KEY_MAX:
        if len(_HCACHE) >= _HCACHE_MAX:
            _HCACHE.clear()
        _HCACHE[block[nl + 1:]] = headers
    return m


def _decode_body(data: bytes, encoding: str) -> bytes:
    """Undo gzip/deflate content coding, producing at most MAX_BODY bytes; the raw bytes when it fails."""
    enc = encoding.strip().lower()
    if enc in ("gzip", "x-gzip"):
        tries = (47,)  # 32 + 15: gzip or zlib header, auto-detected
    elif enc == "deflate":
        tries = (15, -15)  # zlib-wrapped as the RFC says, or raw deflate as some servers send
    else:
        return data
    for wbits in tries:
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(data, MAX_BODY)
            return out
        except zlib.error:
            continue
    return data


def basic_username(authorization: str) -> str | None:
    """User name from an `Authorization: Basic ...` value, split on the first colon; the password is dropped."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    user, _, _password = raw.partition(b":")
    return user.decode("utf-8", "replace")


class _Side:
    """Parser state of one direction. `buf` holds only what a message boundary cut: an incomplete header block,
    chunk-size line or chunk delimiter (the parser otherwise reads each segment in place)."""

    __slots__ = ("buf", "state", "remaining", "msg", "scan_from")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.state = _HEAD
        self.remaining = 0
        self.msg: _Message | None = None
        self.scan_from = 0  # where to resume the search for the end of the header block (offset in buf)


_HTTP = builder(Http, ("ts", "sensor", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "uid", "method", "host",
                       "uri", "version", "user_agent", "referrer", "status", "status_msg", "request_body_len",
                       "response_body_len", "content_type", "username"))



def _take(side: _Side, data: bytes, p: int, n: int) -> int:
    """Consume up to `side.remaining` body bytes of data[p:n] (kept when the message keeps its body); new p."""
    k = side.remaining
    if k > n - p:
        k = n - p
    if side.msg is not None:
        side.msg.keep(data[p:p + k])
    side.remaining -= k
    return p + k

class HttpDecoder(StreamDecoder):
    service = "http"
    TCP_PORTS = TCP_PORTS

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.payloads = []
        self._sides = (_Side(), _Side())
        self._requests: deque[_Message] = deque()  # complete (or at least headed) requests awaiting a response
        self._upgraded = False

    # -- StreamDecoder ---------------------------------------------------------------------------------------

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        side = self._sides[1 if from_orig else 0]
        state = side.state
        if state == _DEAD or self._upgraded:
            return []
        if state == _LENGTH and len(data) < side.remaining and not side.buf:
            # why: the middle segments of a body are most HTTP data; count (and keep up to the cap) the segment
            # itself, with no copy and no trip through the parser loop
            msg = side.msg
            if msg is not None:
                msg.keep(data)
            side.remaining -= len(data)
            return []
        if side.buf:
            side.buf += data
            data = bytes(side.buf)
            side.buf.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        events: list[Event] = []
        try:
            self._run(side, data, ts, events)
        except (ValueError, IndexError, UnicodeError):  # defensive: garbage never escapes as an exception
            side.state = _DEAD
            side.buf.clear()
        if side.state == _DEAD:
            self._check_done()
        return events

    def _check_done(self) -> None:
        # nothing more to read: upgraded to another protocol, or both directions lost (close() still reports)
        if self._upgraded or (self._sides[0].state == _DEAD and self._sides[1].state == _DEAD):
            self.done = True

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        side = self._sides[1 if from_orig else 0]
        events: list[Event] = []
        if side.state == _LENGTH and not side.buf and size < side.remaining:
            # Hole inside a body of known length: the framing survives, only the body content is incomplete.
            side.remaining -= size
            if side.msg is not None:
                side.msg.body_len += size
                side.msg.complete_body = False
            return events
        if side.state == _UNTIL_CLOSE and side.msg is not None:
            side.msg.body_len += size
            side.msg.complete_body = False
            return events
        # Framing lost: finish what we have and stop reading this direction.
        if side.msg is not None:
            side.msg.complete_body = False
            self._finish(side, ts, events)
        side.state = _DEAD
        side.buf.clear()
        self._check_done()
        return events

    def close(self, ts: float) -> list[Event]:
        events: list[Event] = []
        for side in self._sides:
            if side.msg is not None and side.state != _HEAD:
                # A body cut short (or, for responses without framing, ended by the close as RFC 9112 says).
                if side.state != _UNTIL_CLOSE:
                    side.msg.complete_body = False
                self._finish(side, ts, events)
            side.state = _DEAD
            side.buf = bytearray()
        while self._requests:
            events += self._emit(self._requests.popleft(), None)
        return events

    # -- parsing ---------------------------------------------------------------------------------------------

    def _run(self, side: _Side, data: bytes, ts: float, events: list[Event]) -> None:
        """Parse `data` (the side's carried-over bytes already in front) from position 0 on. Whatever a message
        boundary leaves incomplete at the end goes back to `side.buf`.

        why: the parser used to append every segment to the side buffer and delete what it consumed, copying
        each byte two or three times; reading `data` in place by position copies only the pieces kept."""
        n = len(data)
        p = 0
        while p < n:
            st = side.state
            if st == _HEAD:
                c = data[p]
                if c == 0x0D or c == 0x0A:
                    # Tolerate stray CRLFs between messages (RFC 9112 section 2.2).
                    while p < n and data[p] in b"\r\n":
                        p += 1
                    side.scan_from = 0
                    continue
                end = data.find(b"\r\n\r\n", p + side.scan_from)
                sep = 4
                if end < 0:
                    end = data.find(b"\n\n", p + side.scan_from)
                    sep = 2
                if end < 0:
                    if n - p > MAX_HEADER:
                        side.state = _DEAD
                    else:
                        side.scan_from = max(0, n - p - 3)
                        side.buf += data[p:]
                    return
                if end - p > MAX_HEADER:
                    side.state = _DEAD
                    return
                msg = _parse_head(data[p:end], ts)
                p = end + sep
                side.scan_from = 0
                if msg is None:
                    side.state = _DEAD
                    return
                side.msg = msg
                self._start_body(side, ts, events)
                if side.state == _DEAD:
                    return
            elif st == _LENGTH:
                p = _take(side, data, p, n)
                if side.remaining == 0:
                    self._finish(side, ts, events)
            elif st == _UNTIL_CLOSE:
                if side.msg is not None:
                    side.msg.keep(data[p:])
                return
            elif st == _CHUNK_SIZE:
                nl = data.find(b"\n", p)
                if nl < 0:
                    if n - p > _MAX_LINE:
                        self._lose(side, ts, events)
                    else:
                        side.buf += data[p:]
                    return
                line = data[p:nl].split(b";", 1)[0].strip()
                p = nl + 1
                try:
                    size = int(line, 16)
                except ValueError:
                    self._lose(side, ts, events)
                    return
                if size < 0:
                    self._lose(side, ts, events)
                    return
                if size == 0:
                    side.state = _TRAILER
                else:
                    side.remaining = size
                    side.state = _CHUNK_DATA
            elif st == _CHUNK_DATA:
                p = _take(side, data, p, n)
                if side.remaining == 0:
                    side.state = _CHUNK_CRLF
            elif st == _CHUNK_CRLF:
                nl = data.find(b"\n", p)
                if nl < 0:
                    if n - p > 2:
                        self._lose(side, ts, events)
                    else:
                        side.buf += data[p:]
                    return
                p = nl + 1
                side.state = _CHUNK_SIZE
            elif st == _TRAILER:
                nl = data.find(b"\n", p)
                if nl < 0:
                    if n - p > _MAX_LINE:
                        self._lose(side, ts, events)
                    else:
                        side.buf += data[p:]
                    return
                empty = not data[p:nl].strip()
                p = nl + 1
                if empty:
                    self._finish(side, ts, events)
            else:  # _DEAD
                return

    def _lose(self, side: _Side, ts: float, events: list[Event]) -> None:
        """Broken framing: keep what was parsed, stop reading this direction."""
        if side.msg is not None:
            side.msg.complete_body = False
            self._finish(side, ts, events)
        side.state = _DEAD
        side.buf.clear()

    def _start_body(self, side: _Side, ts: float, events: list[Event]) -> None:
        msg = side.msg
        assert msg is not None
        h = msg.headers
        if msg.is_response:
            status = msg.status or 0
            if 100 <= status < 200 and status != 101:
                side.msg = None  # interim response (100 Continue...): the real one follows
                side.state = _HEAD
                return
            req = self._requests[0] if self._requests else None
            no_body = status in (101, 204, 304) or (req is not None and req.method == "HEAD")
            if status == 101 or (req is not None and req.method == "CONNECT" and 200 <= status < 300):
                # The connection now carries another protocol (WebSocket, a tunnel): HTTP decoding ends here.
                self._finish(side, ts, events)
                self._upgraded = True
                side.state = _DEAD
                return
            if no_body:
                self._finish(side, ts, events)
                return
        te = h.get("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            side.state = _CHUNK_SIZE
            return
        cl = h.get("content-length")
        if cl is not None:
            try:
                length = int(cl.split(",")[0].strip())
            except ValueError:
                length = -1
            if length < 0:
                self._lose(side, ts, events)
                return
            if length == 0:
                self._finish(side, ts, events)
                return
            side.remaining = length
            side.state = _LENGTH
            return
        if msg.is_response:
            side.state = _UNTIL_CLOSE  # no framing: the body runs to the end of the connection
        else:
            self._finish(side, ts, events)  # a request without framing has no body

    def _finish(self, side: _Side, ts: float, events: list[Event]) -> None:
        """A message is complete: queue a request, or pair a response with the oldest request."""
        msg = side.msg
        side.msg = None
        side.state = _HEAD
        side.remaining = 0
        if msg is None:
            return
        if msg.is_response:
            req = self._requests.popleft() if self._requests else None
            if msg.kept:
                self._payload(msg, req.uri if req is not None else "", ts)
            events += self._emit(req, msg)
        else:
            if msg.kept:
                self._payload(msg, msg.uri, ts)
            self._requests.append(msg)

    def _payload(self, msg: _Message, uri: str, ts: float) -> None:
        data = b"".join(msg.body)  # (a single piece is returned as is, without a copy)
        enc = msg.headers.get("content-encoding")
        if enc and msg.complete_body:
            data = _decode_body(data, enc)
        kind = "http-response" if msg.is_response else "http-request"
        self.payloads.append(Payload(kind + ":" + uri, data, ts, self.flow))
        msg.body = []  # the event needs only the length; free the memory now
        msg.kept = 0

    def _emit(self, req: _Message | None, resp: _Message | None) -> list[Event]:
        fl = self.flow
        if req is not None:
            h = req.headers
            auth = h.get("authorization")
            username = basic_username(auth) if auth else None
            ts = req.ts
            method, host, uri, version = req.method, h.get("host"), req.uri, req.version
            user_agent, referrer, req_len = h.get("user-agent"), h.get("referer"), req.body_len
        else:
            username = None
            ts = resp.ts if resp is not None else 0.0
            method, host, uri, version, user_agent, referrer, req_len = "", None, "", None, None, None, 0
        if resp is not None:
            status, reason, resp_len, ctype = resp.status, resp.reason, resp.body_len, resp.headers.get("content-type")
        else:
            status, reason, resp_len, ctype = None, None, 0, None
        ev: list[Event] = [_HTTP(ts, fl.sensor, fl.orig_ip, fl.orig_port, fl.resp_ip, fl.resp_port, fl.proto, fl.uid,
                                 method, host, uri, version, user_agent, referrer, status, reason, req_len, resp_len,
                                 ctype, username)]
        if username is not None:
            success = None
            if status in (401, 403):
                success = False
            elif status is not None and 200 <= status < 400:
                success = True
            ev.append(Credential(ts=ts, **fl.client_endpoints(), protocol="http-basic", username=username,
                                 success=success))
        return ev
