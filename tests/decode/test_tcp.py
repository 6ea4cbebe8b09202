"""TcpStream: ordered, de-duplicated, bounded delivery of both directions of a TCP connection."""

from __future__ import annotations

import random

from sentinel.decode.base import ACK, FIN, PSH, RST, SYN, Flow, StreamDecoder
from sentinel.decode.tcp import TcpStream

FLOW = Flow("C1", "tcp", "10.0.0.1", 40000, "10.0.0.2", 80, sensor="test")


class Recorder(StreamDecoder):
    """A real StreamDecoder that keeps what it is given, so tests can compare the delivered streams."""

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self.streams = {True: bytearray(), False: bytearray()}
        self.calls: list[tuple] = []
        self.closed_at: float | None = None

    def data(self, from_orig, ts, data):
        self.streams[from_orig] += data
        self.calls.append(("data", from_orig, bytes(data)))
        return []

    def gap(self, from_orig, ts, size):
        self.calls.append(("gap", from_orig, size))
        return []

    def close(self, ts):
        self.closed_at = ts
        return []


def new(max_buffer: int = 1 << 20) -> tuple[TcpStream, Recorder]:
    rec = Recorder(FLOW)
    return TcpStream(rec, max_buffer=max_buffer), rec


def handshake(s: TcpStream, isn_c: int = 1000, isn_s: int = 5000) -> None:
    s.segment(True, 0.0, isn_c, SYN, b"")
    s.segment(False, 0.0, isn_s, SYN | ACK, b"")
    s.segment(True, 0.0, isn_c + 1, ACK, b"")


def test_in_order_segments_are_delivered_per_direction():
    s, rec = new()
    handshake(s)
    s.segment(True, 1.0, 1001, PSH | ACK, b"GET / ")
    s.segment(True, 1.1, 1007, PSH | ACK, b"HTTP/1.1\r\n")
    s.segment(False, 1.2, 5001, PSH | ACK, b"HTTP/1.1 200 OK\r\n")
    assert bytes(rec.streams[True]) == b"GET / HTTP/1.1\r\n"
    assert bytes(rec.streams[False]) == b"HTTP/1.1 200 OK\r\n"


def test_out_of_order_segments_wait_for_the_hole_then_flow_in_order():
    s, rec = new()
    handshake(s)
    s.segment(True, 1.0, 1011, ACK, b"KLMNO")
    s.segment(True, 1.0, 1006, ACK, b"FGHIJ")
    assert bytes(rec.streams[True]) == b""
    s.segment(True, 1.0, 1001, ACK, b"ABCDE")
    assert bytes(rec.streams[True]) == b"ABCDEFGHIJKLMNO"


def test_retransmissions_and_overlaps_are_trimmed():
    s, rec = new()
    handshake(s)
    s.segment(True, 1.0, 1001, ACK, b"ABCDE")
    s.segment(True, 1.0, 1001, ACK, b"ABCDE")  # exact retransmission
    s.segment(True, 1.0, 1004, ACK, b"DEFGH")  # overlaps the tail
    s.segment(True, 1.0, 1012, ACK, b"LM")  # ahead
    s.segment(True, 1.0, 1012, ACK, b"LMNO")  # longer copy of a buffered segment
    s.segment(True, 1.0, 1009, ACK, b"IJKL")  # fills the hole, overlaps the buffered one
    assert bytes(rec.streams[True]) == b"ABCDEFGHIJKLMNO"


def test_sequence_numbers_wrap_around_2_pow_32():
    s, rec = new()
    isn = 0xFFFFFFFF - 3  # payload starts 3 bytes before the wrap
    handshake(s, isn_c=isn)
    data = b"0123456789"
    s.segment(True, 1.0, (isn + 1 + 5) % 2**32, ACK, data[5:])  # after the wrap, out of order
    s.segment(True, 1.0, isn + 1, ACK, data[:5])  # straddles the wrap
    s.segment(True, 1.0, isn + 1, ACK, data[:5])  # retransmission across the wrap is recognised
    assert bytes(rec.streams[True]) == data


def test_a_stream_whose_syn_was_not_captured_starts_at_its_first_segment():
    s, rec = new()
    s.segment(False, 1.0, 777, ACK, b"world")
    s.segment(False, 1.0, 782, ACK, b"!")
    s.segment(False, 1.0, 770, ACK, b"ignored")  # older than the first byte seen: a retransmission
    assert bytes(rec.streams[False]) == b"world!"


def test_buffer_cap_turns_an_unfilled_hole_into_a_gap():
    s, rec = new(max_buffer=100)
    handshake(s)
    s.segment(True, 1.0, 1001, ACK, b"a" * 10)
    # bytes 10..19 are never captured; 150 bytes after the hole exceed the 100-byte cap
    for i in range(15):
        s.segment(True, 1.0, 1001 + 20 + 10 * i, ACK, bytes([65 + i]) * 10)
    assert ("gap", True, 10) in rec.calls
    assert bytes(rec.streams[True]) == b"a" * 10 + b"".join(bytes([65 + i]) * 10 for i in range(15))
    assert s.gaps == 1


def test_close_flushes_buffered_data_across_holes_then_closes_the_decoder():
    s, rec = new()
    handshake(s)
    s.segment(True, 1.0, 1001, ACK, b"head")
    s.segment(True, 1.0, 1011, ACK, b"tail")
    s.close(9.0)
    assert rec.calls[-2:] == [("gap", True, 6), ("data", True, b"tail")]
    assert rec.closed_at == 9.0
    assert s.close(10.0) == [] and rec.closed_at == 9.0  # closing twice is harmless


def test_data_after_fin_or_rst_is_ignored():
    s, rec = new()
    handshake(s)
    s.segment(True, 1.0, 1001, FIN | ACK, b"bye")
    s.segment(True, 1.0, 1004, ACK, b"late")
    s.segment(False, 1.0, 5001, ACK, b"ok")
    s.segment(False, 1.0, 5003, RST, b"")
    s.segment(False, 1.0, 5003, ACK, b"after reset")
    assert bytes(rec.streams[True]) == b"bye"
    assert bytes(rec.streams[False]) == b"ok"


def test_syn_with_data_delivers_the_data():
    s, rec = new()
    s.segment(True, 0.0, 42, SYN, b"fastopen")
    assert bytes(rec.streams[True]) == b"fastopen"


def test_random_garbage_never_raises_and_never_delivers_a_byte_twice():
    rng = random.Random(1234)
    for _ in range(200):
        s, rec = new(max_buffer=rng.choice([16, 1000]))
        for _ in range(40):
            s.segment(rng.random() < 0.5, rng.random(), rng.getrandbits(32) if rng.random() < 0.3 else rng.randrange(100),
                      rng.getrandbits(6), rng.randbytes(rng.randrange(30)))
        s.close(1.0)
        delivered = sum(len(c[2]) for c in rec.calls if c[0] == "data")
        assert delivered == len(rec.streams[True]) + len(rec.streams[False])


def test_shuffled_segments_reassemble_to_the_original_stream():
    rng = random.Random(7)
    payload = rng.randbytes(5000)
    isn = 0xFFFFF000  # wraps during the stream
    segs = []
    pos = 0
    while pos < len(payload):
        n = rng.randrange(1, 200)
        segs.append(((isn + 1 + pos) % 2**32, payload[pos:pos + n]))
        pos += n
    dupes = rng.sample(segs, 20)
    rest = segs[1:] + dupes
    rng.shuffle(rest)
    s, rec = new()
    s.segment(True, 0.0, isn, SYN, b"")
    s.segment(True, 0.0, segs[0][0], ACK, segs[0][1])
    for seq, data in rest:
        s.segment(True, 0.0, seq, ACK, data)
    assert bytes(rec.streams[True]) == payload
