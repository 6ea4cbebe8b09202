"""MQTT 3.1 / 3.1.1 / 5.0 over TCP: one `Mqtt` event per control packet of interest, `Credential` for logins.

Reported as events: CONNECT, CONNACK, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT and AUTH. Acknowledgements and
keep-alives (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGREQ, PINGRESP) carry nothing a rule needs
beyond their existence, so they are only counted in `MqttDecoder.counts` (per packet type name).

A CONNECT that carries a user name or a password queues a `Credential` (protocol `mqtt`); it is emitted when the
CONNACK arrives (success = return code 0) or, unanswered, when the flow closes (success unknown). The password is
skipped over and never stored: only `password_sent` says it was there.

Framing: every packet is a fixed header (type/flags byte, remaining length as a 1-4 byte varint) and a body.
Packets may be split across segments or packed several to a segment, so each direction keeps a buffer. MQTT has no
resynchronisation marker, so a byte stream that stops making sense (reserved type, wrong fixed flags, a fifth
length byte) is given up for the rest of that direction. Bodies up to `MAX_BUFFER` bytes are buffered whole; a
larger PUBLISH is reported from its first `PEEK` bytes (topic, payload size) and the rest is skipped as it
streams past; any other oversized packet gives the direction up. Memory per flow is therefore bounded.
"""

from __future__ import annotations

from collections import Counter

from ..events.base import Event
from ..events.perception import Credential, Mqtt
from .base import Flow, Payload, StreamDecoder

TCP_PORTS = {1883}

TYPE_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
    8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}
#: types whose fixed-header flags are fixed by the spec (PUBLISH's flags are its own); anything else is garbage
_FIXED_FLAGS = {t: (2 if t in (6, 8, 10) else 0) for t in TYPE_NAMES if t != 3}
_REPORTED = {1, 2, 3, 8, 10, 14, 15}

MAX_BUFFER = 256 * 1024  # largest body buffered whole
PEEK = 65536 + 16  # enough of an oversized PUBLISH for its topic (<= 65535 bytes) and packet id


class _Short(Exception):
    """The body ended before a field did: the packet is malformed."""


class _Reader:
    """Bounds-checked reads over one packet body."""

    __slots__ = ("b", "pos", "end")

    def __init__(self, b: bytes | memoryview, end: int | None = None) -> None:
        self.b = b
        self.pos = 0
        self.end = len(b) if end is None else end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _Short
        v = bytes(self.b[self.pos:self.pos + n])
        self.pos += n
        return v

    def u8(self) -> int:
        if self.pos >= self.end:
            raise _Short
        self.pos += 1
        return self.b[self.pos - 1]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def varint(self) -> int:
        value = 0
        for i in range(4):
            byte = self.u8()
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value
        raise _Short

    def binary(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        return self.binary().decode("utf-8", "replace")

    def skip_binary(self) -> None:
        n = self.u16()
        if self.pos + n > self.end:
            raise _Short
        self.pos += n

    def skip_properties(self) -> None:
        """MQTT 5 property block: a varint length, then that many bytes (their contents are not needed)."""
        n = self.varint()
        if self.pos + n > self.end:
            raise _Short
        self.pos += n

    def left(self) -> int:
        return self.end - self.pos


def fixed_header(buf: bytes | bytearray | memoryview) -> tuple[int, int, int] | None | bool:
    """(type_flags byte, remaining length, header size), None when more bytes are needed, False when malformed."""
    if not buf:
        return None
    first = buf[0]
    ptype, flags = first >> 4, first & 0x0F
    if ptype == 0 or (ptype in _FIXED_FLAGS and flags != _FIXED_FLAGS[ptype]) or (ptype == 3 and flags & 6 == 6):
        return False
    value = 0
    for i in range(4):
        if 1 + i >= len(buf):
            return None
        byte = buf[1 + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return first, value, 2 + i
    return False


def looks_like_mqtt(data: bytes) -> bool:
    """Sniffer: the client's first bytes are a CONNECT naming protocol `MQTT` (3.1.1/5) or `MQIsdp` (3.1)."""
    head = fixed_header(data[:5])
    if not head or head[0] != 0x10:
        return False
    name = data[head[2]:head[2] + 8]
    return name[:6] == b"\x00\x04MQTT" or name == b"\x00\x06MQIsdp"


class _Direction:
    __slots__ = ("buf", "skip", "dead")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0  # bytes of an oversized PUBLISH still to discard
        self.dead = False


class MqttDecoder(StreamDecoder):
    service = "mqtt"

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self._dirs = {True: _Direction(), False: _Direction()}
        self.version: int | None = None  # from CONNECT; v5 changes several layouts
        self.counts: Counter[str] = Counter()
        self.malformed = 0
        self._pending_cred: tuple[bool, Credential] | None = None  # (client is orig, credential)

    # -- stream plumbing -------------------------------------------------------------------------------------

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        d = self._dirs[from_orig]
        if d.dead:
            return []
        if d.skip:
            n = min(d.skip, len(data))
            d.skip -= n
            data = data[n:]
        d.buf += data
        events: list[Event] = []
        pos = 0
        buf = d.buf
        while pos < len(buf):
            head = fixed_header(memoryview(buf)[pos:pos + 5])
            if head is None:
                break
            if head is False:
                self._give_up(d)
                return events
            first, length, hsize = head
            body_start = pos + hsize
            if length <= MAX_BUFFER:
                if body_start + length > len(buf):
                    break
                self._packet(from_orig, ts, first, memoryview(buf)[body_start:body_start + length], length, events)
                pos = body_start + length
                continue
            if first >> 4 != 3:  # only a PUBLISH may legitimately be that large (a firmware image, say)
                self._give_up(d)
                return events
            avail = len(buf) - body_start
            if avail < PEEK:
                break
            self._packet(from_orig, ts, first, memoryview(buf)[body_start:body_start + PEEK], length, events)
            if avail >= length:
                pos = body_start + length
                continue
            d.skip = length - avail  # the rest of this PUBLISH, discarded as it arrives
            pos = len(buf)
        del d.buf[:pos]
        return events

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        d = self._dirs[from_orig]
        if d.skip >= size and not d.buf:  # the gap fell inside a payload we were skipping anyway
            d.skip -= size
            return []
        self._give_up(d)
        return []

    def close(self, ts: float) -> list[Event]:
        if self._pending_cred is None:
            return []
        _, cred = self._pending_cred
        self._pending_cred = None
        return [cred]

    def _give_up(self, d: _Direction) -> None:
        self.malformed += 1
        d.dead = True
        d.buf.clear()
        d.skip = 0

    # -- packets ---------------------------------------------------------------------------------------------

    def _packet(self, from_orig: bool, ts: float, first: int, body: memoryview, length: int,
                events: list[Event]) -> None:
        ptype = first >> 4
        name = TYPE_NAMES[ptype]
        self.counts[name] += 1
        if ptype not in _REPORTED:
            return
        r = _Reader(body)
        ev = Mqtt(ts=ts, msg_type=name, **self.flow.endpoints(from_orig))
        try:
            if ptype == 1:
                if self._pending_cred is not None:  # a second CONNECT before any CONNACK: the first stays unanswered
                    events.append(self._pending_cred[1])
                    self._pending_cred = None
                self._connect(r, ev, from_orig)
            elif ptype == 2:
                self._connack(r, ev)
            elif ptype == 3:
                self._publish(r, ev, first, length, ts)
            elif ptype in (8, 10):
                self._subscribe(r, ev, ptype == 8)
            elif r.left():  # DISCONNECT / AUTH: v5 reason code, when present
                ev.return_code = r.u8()
        except _Short:
            self.malformed += 1
            return
        ev.protocol_version = self.version
        events.append(ev)
        if ptype == 2 and self._pending_cred is not None:
            _, cred = self._pending_cred
            self._pending_cred = None
            cred.success = ev.return_code == 0
            events.append(cred)

    def _connect(self, r: _Reader, ev: Mqtt, from_orig: bool) -> None:
        ev.protocol_name = r.text()
        self.version = r.u8()
        flags = r.u8()
        ev.keep_alive = r.u16()
        v5 = self.version == 5
        if v5:
            r.skip_properties()
        ev.client_id = r.text()
        if flags & 0x04:  # will flag: (v5 properties), topic, message
            if v5:
                r.skip_properties()
            ev.will_topic = r.text()
            r.skip_binary()
        if flags & 0x80:
            ev.username = r.text()
        ev.password_sent = bool(flags & 0x40)
        if flags & 0x40:
            r.skip_binary()  # the password: checked for framing, never kept
        ev.clean_session = bool(flags & 0x02)
        if ev.username is not None or ev.password_sent:
            cred = Credential(ts=ev.ts, protocol="mqtt", username=ev.username, method="CONNECT",
                              **self.flow.endpoints(from_orig))
            self._pending_cred = (from_orig, cred)

    def _connack(self, r: _Reader, ev: Mqtt) -> None:
        r.u8()  # acknowledge flags (session present)
        ev.return_code = r.u8()

    def _publish(self, r: _Reader, ev: Mqtt, first: int, length: int, ts: float) -> None:
        ev.qos = (first >> 1) & 3
        ev.retain = bool(first & 1)
        topic = r.text()
        ev.topics = [topic]
        if ev.qos:
            r.u16()  # packet id
        if self.version == 5:
            r.skip_properties()
        ev.payload_len = length - r.pos
        payload = bytes(r.b[r.pos:r.end])
        if payload:
            self.payloads.append(Payload(origin=f"flow {self.flow.uid}:mqtt-publish:{topic}", data=payload, ts=ts,
                                         flow=self.flow))

    def _subscribe(self, r: _Reader, ev: Mqtt, subscribe: bool) -> None:
        r.u16()  # packet id
        if self.version == 5:
            r.skip_properties()
        while r.left():
            topic = r.text()
            if subscribe:
                r.u8()  # requested QoS / subscription options
            ev.topics.append(topic)
        if not ev.topics:
            raise _Short
        ev.wildcard = subscribe and any("#" in t or "+" in t for t in ev.topics)
