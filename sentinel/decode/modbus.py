"""Modbus/TCP: one `Modbus` event per request, carrying the facts of its response.

Framing: each ADU is an MBAP header (transaction id, protocol id 0, length, unit id) and a PDU of length-1 bytes;
several ADUs may share a segment and one ADU may span several. The length field is the only framing, so an
impossible header (protocol id not 0, length outside 2..254) means the stream is not (or no longer) Modbus: that
direction is given up (`malformed` counts it) instead of guessing a resync point inside attacker-chosen bytes.

Roles: the server (slave) is the side on port 502; when neither side is, the originator is taken as the client.
(Knowing the roles by port matters: a capture can start with the server's SYN, as in the ITI sample captures.)

Pairing: requests wait per flow under (transaction id, unit id), first in first out since some masters reuse one
id. A response completes the oldest matching request and the event is emitted then; requests never answered are
emitted at close with `response=False`. A response without a request (capture started late, or spoofed
responses) is reported at once as its own event with `request=False, response=True` and the facts the response
itself carries (function code, exception code; the address fields of FC 5/6/15/16 echoes).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from ..events.base import Event
from ..events.perception import Modbus
from .base import Flow, StreamDecoder

TCP_PORTS = {502}

FUNC_NAMES = {
    1: "read_coils", 2: "read_discrete_inputs", 3: "read_holding_registers", 4: "read_input_registers",
    5: "write_single_coil", 6: "write_single_register", 7: "read_exception_status", 8: "diagnostics",
    11: "get_comm_event_counter", 12: "get_comm_event_log", 15: "write_multiple_coils",
    16: "write_multiple_registers", 17: "report_server_id", 20: "read_file_record", 21: "write_file_record",
    22: "mask_write_register", 23: "read_write_multiple_registers", 24: "read_fifo_queue",
    43: "encapsulated_interface_transport",
}
WRITE_FUNCS = {5, 6, 15, 16, 22, 23}
MAX_PENDING = 1024  # unanswered requests kept per flow; beyond that the oldest are reported unanswered


def func_name(code: int) -> str:
    return FUNC_NAMES.get(code, f"func_{code}")


def _u16(pdu: bytes, off: int) -> int | None:
    return int.from_bytes(pdu[off:off + 2], "big") if len(pdu) >= off + 2 else None


def request_facts(ev: Modbus, pdu: bytes) -> None:
    """Fill address/quantity/value/sub-function from a request PDU (pdu[0] is the function code)."""
    fc = pdu[0]
    if fc in (1, 2, 3, 4, 15, 16):
        ev.address, ev.quantity = _u16(pdu, 1), _u16(pdu, 3)
    elif fc in (5, 6):
        ev.address, ev.value = _u16(pdu, 1), _u16(pdu, 3)
        ev.quantity = 1
    elif fc == 22:
        ev.address, ev.quantity = _u16(pdu, 1), 1
    elif fc == 23:
        ev.read_address, ev.read_quantity = _u16(pdu, 1), _u16(pdu, 3)
        ev.address, ev.quantity = _u16(pdu, 5), _u16(pdu, 7)
    elif fc == 8:
        ev.sub_function = _u16(pdu, 1)
    elif fc == 43 and len(pdu) >= 2:
        ev.sub_function = pdu[1]


def response_facts(ev: Modbus, pdu: bytes) -> None:
    """Fill the response side: the exception code, or (for a response without request) what it echoes."""
    ev.response = True
    if pdu[0] & 0x80:
        ev.exception_code = pdu[1] if len(pdu) >= 2 else None
    elif not ev.request:
        fc = pdu[0]
        if fc in (5, 6, 15, 16, 8, 22):  # these responses echo the request's header fields
            request_facts(ev, pdu)
        elif fc == 43 and len(pdu) >= 2:
            ev.sub_function = pdu[1]


class _Direction:
    __slots__ = ("buf", "dead")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.dead = False


class ModbusDecoder(StreamDecoder):
    service = "modbus"

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        # whichever side is on 502 is the server; otherwise trust the pipeline's orig
        self.client_is_orig = not (flow.orig_port in TCP_PORTS and flow.resp_port not in TCP_PORTS)
        self._dirs = {True: _Direction(), False: _Direction()}
        self._pending: OrderedDict[tuple[int, int], deque[Modbus]] = OrderedDict()
        self._npending = 0
        self.malformed = 0
        self.adus = 0

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        d = self._dirs[from_orig]
        if d.dead:
            return []
        d.buf += data
        buf = d.buf
        events: list[Event] = []
        pos = 0
        from_client = from_orig == self.client_is_orig
        while len(buf) - pos >= 7:
            trans_id = (buf[pos] << 8) | buf[pos + 1]
            proto_id = (buf[pos + 2] << 8) | buf[pos + 3]
            length = (buf[pos + 4] << 8) | buf[pos + 5]
            if proto_id != 0 or not 2 <= length <= 254:
                self.malformed += 1
                d.dead = True
                d.buf.clear()
                return events
            if len(buf) - pos < 6 + length:
                break
            unit_id = buf[pos + 6]
            pdu = bytes(buf[pos + 7:pos + 6 + length])
            pos += 6 + length
            self.adus += 1
            if from_client:
                events += self._request(ts, trans_id, unit_id, pdu)
            else:
                events += self._response(ts, trans_id, unit_id, pdu)
        del buf[:pos]
        return events

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        d = self._dirs[from_orig]  # the ADU boundaries are lost with the bytes
        d.dead = True
        d.buf.clear()
        return []

    def close(self, ts: float) -> list[Event]:
        events = [ev for q in self._pending.values() for ev in q]
        self._pending.clear()
        self._npending = 0
        events.sort(key=lambda e: e.ts)
        return events

    def _event(self, ts: float, trans_id: int, unit_id: int, fc: int) -> Modbus:
        return Modbus(ts=ts, trans_id=trans_id, unit_id=unit_id, func_code=fc, func_name=func_name(fc),
                      is_write=fc in WRITE_FUNCS, **self.flow.endpoints(self.client_is_orig))

    def _request(self, ts: float, trans_id: int, unit_id: int, pdu: bytes) -> list[Event]:
        fc = pdu[0] & 0x7F
        ev = self._event(ts, trans_id, unit_id, fc)
        request_facts(ev, pdu)
        key = (trans_id, unit_id)
        self._pending.setdefault(key, deque()).append(ev)
        self._npending += 1
        out: list[Event] = []
        while self._npending > MAX_PENDING:  # bounded memory: the oldest request is reported unanswered
            old_key, q = next(iter(self._pending.items()))
            out.append(q.popleft())
            self._npending -= 1
            if not q:
                del self._pending[old_key]
        return out

    def _response(self, ts: float, trans_id: int, unit_id: int, pdu: bytes) -> list[Event]:
        key = (trans_id, unit_id)
        q = self._pending.get(key)
        if q:
            ev = q.popleft()
            self._npending -= 1
            if not q:
                del self._pending[key]
            ev.rtt = ts - ev.ts
        else:
            ev = self._event(ts, trans_id, unit_id, pdu[0] & 0x7F)
            ev.request = False
        response_facts(ev, pdu)
        return [ev]
