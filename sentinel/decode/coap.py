"""CoAP (RFC 7252) over UDP: one `Coap` event per message.

A datagram is a 4-byte header (version 1, type, token length, code, message id), the token, options encoded as
deltas (with the 13/14 extended forms for delta and length) and, after a 0xFF marker, the payload. A datagram
that breaks these rules yields no event and is counted in `malformed`.

CoAPS (DTLS, port 5684, or a first byte that is a DTLS record content type 20-23 with a DTLS version) cannot be
decoded: the flow gets a single `Coap` event with `dtls=True` at its first such datagram, the others are counted
in `dtls_records`.
"""

from __future__ import annotations

from ..events.base import Event
from ..events.perception import Coap
from .base import DatagramDecoder, Flow, Payload

UDP_PORTS = {5683, 5684}
DTLS_PORTS = {5684}

TYPES = ("CON", "NON", "ACK", "RST")
METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
OPT_URI_HOST, OPT_URI_PATH, OPT_CONTENT_FORMAT, OPT_URI_QUERY = 3, 11, 12, 15


class Malformed(ValueError):
    pass


def looks_like_dtls(payload: bytes) -> bool:
    """A DTLS record: content type 20-23 (change_cipher_spec, alert, handshake, application_data), version 0xFExx."""
    return len(payload) >= 13 and 20 <= payload[0] <= 23 and payload[1] == 0xFE


def _ext(nibble: int, b: bytes, pos: int) -> tuple[int, int]:
    """Decode an option delta/length nibble with its extended bytes; returns (value, new position)."""
    if nibble < 13:
        return nibble, pos
    if nibble == 13:
        if pos + 1 > len(b):
            raise Malformed("truncated extended option field")
        return b[pos] + 13, pos + 1
    if nibble == 14:
        if pos + 2 > len(b):
            raise Malformed("truncated extended option field")
        return int.from_bytes(b[pos:pos + 2], "big") + 269, pos + 2
    raise Malformed("reserved option nibble 15")


def parse(payload: bytes) -> tuple[dict, bytes]:
    """Header fields and options of one CoAP message, and its payload. Raises Malformed."""
    if len(payload) < 4:
        raise Malformed("shorter than the header")
    first = payload[0]
    if first >> 6 != 1:
        raise Malformed("version is not 1")
    tkl = first & 0x0F
    if tkl > 8:
        raise Malformed("token length over 8")
    code = payload[1]
    pos = 4 + tkl
    if pos > len(payload):
        raise Malformed("truncated token")
    f: dict = {
        "msg_type": TYPES[(first >> 4) & 3],
        "message_id": int.from_bytes(payload[2:4], "big"),
        "token": payload[4:pos].hex() or None,
        "is_request": code >> 5 == 0 and code != 0,
    }
    f["code"] = METHODS.get(code, f"0.{code & 31:02d}") if f["is_request"] else f"{code >> 5}.{code & 31:02d}"
    path: list[str] = []
    query: list[str] = []
    number = 0
    body = b""
    while pos < len(payload):
        byte = payload[pos]
        pos += 1
        if byte == 0xFF:
            body = payload[pos:]
            break
        delta, pos = _ext(byte >> 4, payload, pos)
        length, pos = _ext(byte & 0x0F, payload, pos)
        if pos + length > len(payload):
            raise Malformed("option value runs past the datagram")
        number += delta
        value = payload[pos:pos + length]
        pos += length
        if number == OPT_URI_PATH:
            path.append(value.decode("utf-8", "replace"))
        elif number == OPT_URI_QUERY:
            query.append(value.decode("utf-8", "replace"))
        elif number == OPT_URI_HOST:
            f["uri_host"] = value.decode("utf-8", "replace")
        elif number == OPT_CONTENT_FORMAT:
            f["content_format"] = int.from_bytes(value, "big")
    if path:
        f["uri_path"] = "/" + "/".join(path)
    if query:
        f["uri_query"] = "&".join(query)
    f["payload_len"] = len(body)
    return f, body


class CoapDecoder(DatagramDecoder):
    service = "coap"

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self.dtls_port = flow.resp_port in DTLS_PORTS or flow.orig_port in DTLS_PORTS
        self.dtls_records = 0
        self.malformed = 0

    def datagram(self, from_orig: bool, ts: float, payload: bytes) -> list[Event]:
        if self.dtls_port or looks_like_dtls(payload):
            self.dtls_records += 1
            if self.dtls_records > 1:
                return []
            return [Coap(ts=ts, dtls=True, **self.flow.endpoints(from_orig))]
        try:
            fields, body = parse(payload)
        except Malformed:
            self.malformed += 1
            return []
        if body:
            origin = f"flow {self.flow.uid}:coap:{fields.get('uri_path') or fields['code']}"
            self.payloads.append(Payload(origin=origin, data=body, ts=ts, flow=self.flow))
        return [Coap(ts=ts, **fields, **self.flow.endpoints(from_orig))]
