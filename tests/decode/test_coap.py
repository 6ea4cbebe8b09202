"""CoAP decoder: header, token, options with extended deltas/lengths, payload, DTLS detection."""

from __future__ import annotations

import random

import pytest
from scapy.contrib.coap import CoAP

from sentinel.decode.base import Flow
from sentinel.decode.coap import UDP_PORTS, CoapDecoder, parse

try:
    from .pcapfeed_iot import corpus_pcap, feed, tshark_values
except ImportError:  # tests/decode is not a package
    from pcapfeed_iot import corpus_pcap, feed, tshark_values


def flow(port: int = 5683) -> Flow:
    return Flow(uid="Ccoap", proto="udp", orig_ip="10.1.1.9", orig_port=50000, resp_ip="10.1.1.1", resp_port=port)


def test_ports():
    assert UDP_PORTS == {5683, 5684}


def test_request_with_token_path_query_and_payload():
    msg = bytes(CoAP(type=0, code=2, msg_id=0x1234, token=b"\xab\xcd",
                     options=[("Uri-Host", b"gw.city"), ("Uri-Path", b"sensors"), ("Uri-Path", b"temp"),
                              ("Content-Format", b"\x32"), ("Uri-Query", b"u=c"), ("Uri-Query", b"n=3")],
                     paymark=b"\xff") / b'{"t":21.5}')
    dec = CoapDecoder(flow())
    (ev,) = dec.datagram(True, 5.0, msg)
    assert (ev.msg_type, ev.code, ev.is_request, ev.message_id, ev.token) == ("CON", "POST", True, 0x1234, "abcd")
    assert (ev.uri_host, ev.uri_path, ev.uri_query, ev.content_format) == ("gw.city", "/sensors/temp", "u=c&n=3", 50)
    assert (ev.payload_len, ev.dtls, ev.src_ip, ev.dst_port) == (10, False, "10.1.1.9", 5683)
    assert [p.data for p in dec.payloads] == [b'{"t":21.5}']


def test_response_codes_and_empty_messages():
    dec = CoapDecoder(flow())
    (ack,) = dec.datagram(False, 1.0, bytes([0x60, 0x44, 0x00, 0x07]))  # ACK 2.04
    assert (ack.msg_type, ack.code, ack.is_request, ack.src_port) == ("ACK", "2.04", False, 5683)
    (nf,) = dec.datagram(False, 1.0, bytes([0x50, 0x84, 0x00, 0x08]))  # NON 4.04
    assert nf.code == "4.04"
    (rst,) = dec.datagram(True, 1.0, bytes([0x70, 0x00, 0x00, 0x09]))  # RST, empty
    assert (rst.msg_type, rst.code, rst.is_request) == ("RST", "0.00", False)


def test_extended_option_deltas_and_lengths():
    long_seg = b"p" * 300  # length 300: nibble 14 with a 2-byte extension
    msg = (bytes([0x40, 0x01, 0, 1]) + bytes([0xB4]) + b"logs"  # Uri-Path "logs" (delta 11)
           + bytes([0x0E]) + (300 - 269).to_bytes(2, "big") + long_seg  # Uri-Path again, 300 bytes
           + bytes([0xD1, 60 - 11 - 13, 0x05])  # Size1 (60): delta 49 via nibble 13
           + bytes([0xE0]) + (2100 - 60 - 269).to_bytes(2, "big")  # option 2100: delta via nibble 14
           + bytes([0x40]) + b"")  # option 2104, empty
    fields, body = parse(msg)
    assert fields["uri_path"] == "/logs/" + long_seg.decode() and fields["code"] == "GET" and body == b""


@pytest.mark.parametrize("bad", [
    b"\x40\x01\x00",  # short header
    b"\x80\x01\x00\x01",  # version 2
    b"\x49\x01\x00\x01" + bytes(9),  # token length 9
    b"\x44\x01\x00\x01\xaa",  # token cut short
    b"\x40\x01\x00\x01\xb9abc",  # option value runs past the end
    b"\x40\x01\x00\x01\xf1x",  # delta nibble 15 outside the payload marker
    b"\x40\x01\x00\x01\xd0",  # extended delta byte missing
])
def test_malformed_datagrams_yield_nothing(bad):
    dec = CoapDecoder(flow())
    assert dec.datagram(True, 0.0, bad) == [] and dec.malformed == 1


def test_random_bytes_never_raise():
    rng = random.Random(11)
    dec = CoapDecoder(flow())
    for _ in range(2000):
        dec.datagram(True, 0.0, bytes([0x40 | rng.randrange(16)]) + rng.randbytes(rng.randrange(0, 40)))


def test_dtls_is_flagged_once_per_flow_and_not_decoded():
    hello = bytes([22, 0xFE, 0xFD]) + bytes(8) + (10).to_bytes(2, "big") + bytes(10)
    dec = CoapDecoder(flow(5684))
    (ev,) = dec.datagram(True, 1.0, hello)
    assert ev.dtls and ev.code == "" and ev.uri_path is None
    assert dec.datagram(False, 1.1, hello) == [] and dec.dtls_records == 2
    other = CoapDecoder(flow(5683))  # DTLS on the plain port is recognised by its record header
    assert [e.dtls for e in other.datagram(True, 1.0, hello)] == [True]


@pytest.mark.tshark
def test_corpus_dev16_matches_tshark():
    path = corpus_pcap("dev16")
    events = feed(path, udp={5683: CoapDecoder}).events
    codes = tshark_values(path, "coap", "coap.code")
    assert len(events) == len(codes) == 2
    names = {"3": "PUT", "68": "2.04"}
    assert [e.code for e in events] == [names[c] for c in codes]
    put, ack = events
    assert (put.msg_type, put.uri_path, put.content_format, put.payload_len) == ("CON", "/test", 0, 20)
    assert (ack.msg_type, ack.message_id == put.message_id, ack.dtls) == ("ACK", True, False)
    assert tshark_values(path, "coap", "coap.mid") == [str(put.message_id), str(ack.message_id)]
