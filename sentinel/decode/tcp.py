"""TCP stream reassembly for one connection, feeding one `StreamDecoder`.

The capture pipeline hands every TCP segment of a flow to `TcpStream.segment`; the stream turns them into the two
in-order byte streams the decoder expects. Sequence numbers are "unwrapped" into unbounded offsets relative to the
initial sequence number, so 32-bit wrap-around needs no special case anywhere else. Out-of-order segments wait in a
small per-direction buffer whose size is capped: a flow that never fills its hole cannot hold more than
`max_buffer` bytes; past that the hole is declared a gap (`decoder.gap`) and delivery resumes after it.

Garbage (absurd sequence numbers, data after RST, flags in any combination) never raises: at worst it is dropped.
"""

from __future__ import annotations

from ..events.base import Event
from .base import FIN, RST, SYN, StreamDecoder

_MOD = 1 << 32
_HALF = 1 << 31
DEFAULT_MAX_BUFFER = 1 << 20  # bytes of out-of-order data kept per direction


class _Direction:
    """Reassembly state of one direction. Offsets count payload bytes from the first byte after the SYN."""

    __slots__ = ("isn", "next_off", "pending", "pending_bytes", "fin_off", "closed", "started")

    def __init__(self) -> None:
        self.isn: int | None = None  # sequence number of payload offset 0
        self.next_off = 0  # offset of the next byte to deliver
        self.pending: dict[int, bytes] = {}  # offset -> bytes, segments ahead of next_off
        self.pending_bytes = 0
        self.fin_off: int | None = None
        self.closed = False  # FIN reached or RST seen: later data is ignored
        self.started = False

    def offset_of(self, seq: int) -> int:
        """Unbounded offset of `seq`, taken as the 32-bit value closest to the current delivery point."""
        expected = (self.isn + self.next_off) % _MOD  # type: ignore[operator]
        diff = ((seq - expected + _HALF) % _MOD) - _HALF
        return self.next_off + diff


class TcpStream:
    """Reassembles one TCP connection into two ordered byte streams for `decoder`."""

    def __init__(self, decoder: StreamDecoder, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.decoder = decoder
        self.max_buffer = max_buffer
        self._dirs = (_Direction(), _Direction())  # [0] = responder, [1] = originator (index by from_orig)
        self.gaps = 0  # number of gaps reported, for conn stats / tests
        self._closed = False

    def segment(self, from_orig: bool, ts: float, seq: int, flags: int, payload: bytes) -> list[Event]:
        """One captured segment: `seq` is its raw 32-bit sequence number, `flags` the TCP flag bits."""
        if self._closed:
            return []
        d = self._dirs[1 if from_orig else 0]
        if not flags & 0x07 and d.started and not d.pending and not d.closed and d.fin_off is None:
            # why: the common case (in-order data or a pure ACK on an established direction) takes this path
            # with no buffering, no copies and no helper calls; anything else goes the general way below.
            if not payload:
                return []
            if ((seq - d.isn) & 0xFFFFFFFF) == (d.next_off & 0xFFFFFFFF):
                d.next_off += len(payload)
                return self.decoder.data(from_orig, ts, payload if type(payload) is bytes else bytes(payload))
        seq &= 0xFFFFFFFF
        events: list[Event] = []
        if flags & SYN:
            if not d.started:
                d.isn = (seq + 1) % _MOD
                d.started = True
            # A retransmitted SYN carries no new data we need; a SYN with data (TFO) goes through below at offset 0.
            if not payload and not flags & (FIN | RST):
                return events
            seq = (seq + 1) % _MOD
        elif not d.started:
            # Capture began mid-connection: the first segment seen defines offset 0.
            d.isn = seq
            d.started = True
        if d.closed:
            return events
        off = d.offset_of(seq)
        if payload:
            events += self._data(d, from_orig, ts, off, payload)
        if flags & FIN:
            fin = off + len(payload)
            if d.fin_off is None or fin < d.fin_off:
                d.fin_off = fin
            if d.next_off >= d.fin_off:
                d.closed = True
        if flags & RST:
            # A reset ends both directions; what was buffered can still be delivered at close().
            for x in self._dirs:
                x.closed = True
        return events

    def close(self, ts: float) -> list[Event]:
        """End of the connection (teardown, timeout, end of input): flush buffered data across holes, then
        let the decoder emit what it still holds."""
        if self._closed:
            return []
        events: list[Event] = []
        for from_orig in (True, False):
            d = self._dirs[1 if from_orig else 0]
            while d.pending and not self.decoder.done:
                events += self._skip_to_first_pending(d, from_orig, ts)
        self._closed = True
        events += self.decoder.close(ts)
        return events

    # -- internals ---------------------------------------------------------------------------------------------

    def _data(self, d: _Direction, from_orig: bool, ts: float, off: int, payload: bytes) -> list[Event]:
        end = off + len(payload)
        if end <= d.next_off:
            return []  # pure retransmission
        if d.fin_off is not None and off >= d.fin_off:
            return []  # data beyond FIN is garbage
        if off < d.next_off:
            payload = payload[d.next_off - off:]  # overlap with what was delivered: keep only the new tail
            off = d.next_off
        if off == d.next_off:
            events = self._deliver(d, from_orig, ts, payload)
            if d.pending:
                events += self._drain(d, from_orig, ts)
            return events
        # Ahead of a hole: keep it (the longest segment wins when two start at the same offset).
        old = d.pending.get(off)
        if old is not None:
            if len(old) >= len(payload):
                return []
            d.pending_bytes -= len(old)
        d.pending[off] = bytes(payload)
        d.pending_bytes += len(payload)
        events = []
        while d.pending_bytes > self.max_buffer and d.pending:
            # The hole is not going to be filled in time: give up on it and move on.
            events += self._skip_to_first_pending(d, from_orig, ts)
        return events

    def _deliver(self, d: _Direction, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        d.next_off += len(data)
        if d.fin_off is not None and d.next_off >= d.fin_off:
            d.closed = True
        return self.decoder.data(from_orig, ts, bytes(data))

    def _drain(self, d: _Direction, from_orig: bool, ts: float) -> list[Event]:
        """Deliver buffered segments that are now contiguous with the delivery point."""
        events: list[Event] = []
        while d.pending:
            first = min(d.pending)
            if first > d.next_off:
                break
            data = d.pending.pop(first)
            d.pending_bytes -= len(data)
            end = first + len(data)
            if end <= d.next_off:
                continue  # fully covered by what was delivered meanwhile
            events += self._deliver(d, from_orig, ts, data[d.next_off - first:])
        return events

    def _skip_to_first_pending(self, d: _Direction, from_orig: bool, ts: float) -> list[Event]:
        first = min(d.pending)
        events: list[Event] = []
        if first > d.next_off:
            size = first - d.next_off
            d.next_off = first
            self.gaps += 1
            events += self.decoder.gap(from_orig, ts, size)
        events += self._drain(d, from_orig, ts)
        return events
