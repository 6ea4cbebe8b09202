"""TLS handshake decoding: ClientHello/ServerHello fields, record and handshake reassembly, odd inputs."""

from __future__ import annotations

import random

from scapy.layers.tls.all import TLS, TLSClientHello, TLSServerHello
from scapy.layers.tls.extensions import (ProtocolName, ServerName, TLS_Ext_ALPN, TLS_Ext_ServerName,
                                         TLS_Ext_SupportedVersion_CH, TLS_Ext_SupportedVersion_SH)

from sentinel.decode.base import Flow
from sentinel.decode.tls import TCP_PORTS, TlsDecoder, looks_like_tls
from sentinel.events.transport import Tls

FLOW = Flow("T1", "tcp", "10.2.0.7", 51000, "10.2.0.1", 8883, sensor="test")


def client_hello(sni: str | None = "broker.city.example", alpn=("mqtt",), versions=(0x0A0A, 0x0304, 0x0303)) -> bytes:
    ext = []
    if sni:
        ext.append(TLS_Ext_ServerName(servernames=[ServerName(servername=sni.encode())]))
    if alpn:
        ext.append(TLS_Ext_ALPN(protocols=[ProtocolName(protocol=a.encode()) for a in alpn]))
    if versions:
        ext.append(TLS_Ext_SupportedVersion_CH(versions=list(versions)))
    return bytes(TLS(msg=[TLSClientHello(version=0x0303, ciphers=[0x1301, 0xC02F], ext=ext)]))


def server_hello(cipher=0x1301, tls13=True) -> bytes:
    ext = [TLS_Ext_SupportedVersion_SH(version=0x0304)] if tls13 else None
    return bytes(TLS(msg=[TLSServerHello(version=0x0303, cipher=cipher, ext=ext)]))


def run(chunks: list[tuple[bool, bytes]]) -> list:
    d = TlsDecoder(FLOW)
    events = []
    for i, (from_orig, data) in enumerate(chunks):
        events += d.data(from_orig, 1.0 + i, data)
    return events + d.close(50.0)


def test_tls13_handshake_gives_one_event_with_sni_alpn_versions_and_cipher():
    (ev,) = run([(True, client_hello()), (False, server_hello())])
    assert isinstance(ev, Tls)
    assert (ev.sni, ev.alpn, ev.client_version, ev.version, ev.cipher) == (
        "broker.city.example", ["mqtt"], "TLSv1.3", "TLSv1.3", 0x1301)
    assert (ev.src_ip, ev.dst_port, ev.ts) == ("10.2.0.7", 8883, 1.0)


def test_tls12_server_hello_without_supported_versions():
    (ev,) = run([(True, client_hello(versions=None, alpn=("h2", "http/1.1"))), (False, server_hello(0xC02F, False))])
    assert (ev.client_version, ev.version, ev.cipher, ev.alpn) == ("TLSv1.2", "TLSv1.2", 0xC02F, ["h2", "http/1.1"])


def test_client_hello_alone_is_emitted_at_close_with_the_offered_version():
    (ev,) = run([(True, client_hello(sni=None))])
    assert (ev.sni, ev.version, ev.cipher) == (None, "TLSv1.3", None)


def test_records_split_at_every_byte_boundary_reassemble():
    ch = client_hello()
    for cut in range(len(ch) + 1):
        (ev,) = run([(True, ch[:cut]), (True, ch[cut:]), (False, server_hello())])
        assert ev.sni == "broker.city.example" and ev.cipher == 0x1301, cut


def test_handshake_message_split_across_two_records():
    ch = client_hello()
    hs = ch[5:]  # the handshake message
    half = len(hs) // 2
    rec = lambda p: b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p  # noqa: E731
    (ev,) = run([(True, rec(hs[:half]) + rec(hs[half:])), (False, server_hello())])
    assert ev.sni == "broker.city.example"


def test_sslv2_compatible_hello_is_ignored_gracefully():
    sslv2 = bytes.fromhex("8046010301002d0000001000000500000400000a0000640000620000030000060100800700c0030080")
    assert looks_like_tls(sslv2)
    d = TlsDecoder(FLOW)
    assert d.data(True, 1.0, sslv2) == []
    assert d.close(2.0) == []


def test_encrypted_or_non_tls_data_stops_parsing_without_events():
    assert run([(True, b"\x17\x03\x03\x00\x05hello"), (False, b"SSH-2.0-OpenSSH_9.6\r\n")]) == []


def test_garbage_never_raises():
    rng = random.Random(11)
    ch = client_hello()
    for _ in range(300):
        data = bytearray(ch)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        run([(True, bytes(data)), (False, rng.randbytes(rng.randrange(60)))])


def test_sniffer_and_ports():
    assert looks_like_tls(client_hello())
    assert not looks_like_tls(b"GET / HTTP/1.1")
    assert not looks_like_tls(b"\x16\x03")
    assert {443, 8883, 993, 995, 465, 636, 8443} <= TCP_PORTS


def test_decoder_is_done_after_the_server_hello_or_when_both_directions_stop():
    d = TlsDecoder(FLOW)
    d.data(True, 1.0, client_hello())
    assert not d.done  # still waiting for the ServerHello
    d.data(False, 2.0, server_hello())
    assert d.done  # the pipeline stops feeding: the rest of the connection is encrypted
    d2 = TlsDecoder(FLOW)
    d2.data(True, 1.0, client_hello())
    d2.gap(False, 2.0, 100)  # the server's framing is lost...
    assert not d2.done
    d2.data(True, 3.0, b"\x17\x03\x03\x00\x10" + bytes(16))  # ...and the client sends application data
    assert d2.done and [e.sni for e in d2.close(4.0)] == ["broker.city.example"]
