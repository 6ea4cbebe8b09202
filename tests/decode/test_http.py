"""HTTP/1.x decoding on reassembled streams: framing, pairing, content decoding, credentials, limits."""

from __future__ import annotations

import base64
import gzip
import json
import random
import zlib

from sentinel.decode.base import Flow
from sentinel.decode.http import MAX_HEADER, HttpDecoder, looks_like_http
from sentinel.events.perception import Credential
from sentinel.events.transport import Http

FLOW = Flow("H1", "tcp", "10.1.1.5", 50123, "10.1.1.80", 80, sensor="test")


def run(exchanges: list[tuple[bool, bytes]], close_ts: float = 99.0) -> tuple[list, HttpDecoder]:
    d = HttpDecoder(FLOW)
    events = []
    for i, (from_orig, data) in enumerate(exchanges):
        events += d.data(from_orig, float(i), data)
    events += d.close(close_ts)
    return events, d


def https(events):
    return [e for e in events if isinstance(e, Http)]


def test_get_with_content_length_response_pairs_into_one_event_and_queues_the_body():
    req = (b"GET /status?id=1 HTTP/1.1\r\nHost: cam.city.local\r\nUser-Agent: probe/1.0\r\n"
           b"Referer: http://portal/\r\n\r\n")
    resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    events, d = run([(True, req), (False, resp)])
    (ev,) = https(events)
    assert (ev.method, ev.uri, ev.host, ev.version) == ("GET", "/status?id=1", "cam.city.local", "1.1")
    assert (ev.user_agent, ev.referrer, ev.status, ev.status_msg) == ("probe/1.0", "http://portal/", 200, "OK")
    assert (ev.response_body_len, ev.content_type, ev.username) == (5, "text/plain", None)
    assert (ev.src_ip, ev.dst_port) == ("10.1.1.5", 80)
    assert [(p.origin, p.data) for p in d.payloads] == [("http-response:/status?id=1", b"hello")]


def test_pipelined_requests_pair_with_responses_in_order():
    reqs = b"".join(f"GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n".encode() for i in range(3))
    resps = b"".join(f"HTTP/1.1 {200 + i} X\r\nContent-Length: {i}\r\n\r\n{'x' * i}".encode() for i in range(3))
    events, _ = run([(True, reqs), (False, resps)])
    assert [(e.uri, e.status, e.response_body_len) for e in https(events)] == [
        ("/0", 200, 0), ("/1", 201, 1), ("/2", 202, 2)]


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")


def test_chunked_body_is_dechunked_whatever_the_segment_boundaries():
    req = b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n"
    for cut in range(len(CHUNKED) + 1):
        events, d = run([(True, req), (False, CHUNKED[:cut]), (False, CHUNKED[cut:])])
        (ev,) = https(events)
        assert ev.status == 200 and ev.response_body_len == 12, cut
        assert [p.data for p in d.payloads] == [b"hello, world"], cut


def test_chunked_body_delivered_one_byte_at_a_time():
    d = HttpDecoder(FLOW)
    events = d.data(True, 0.0, b"GET /c HTTP/1.1\r\n\r\n")
    for i in range(len(CHUNKED)):
        events += d.data(False, 1.0, CHUNKED[i:i + 1])
    assert [(e.status, e.response_body_len) for e in https(events)] == [(200, 12)]


def test_responses_without_bodies_head_204_304_and_interim_100():
    reqs = (b"HEAD /a HTTP/1.1\r\n\r\n" b"GET /b HTTP/1.1\r\n\r\n" b"GET /c HTTP/1.1\r\n\r\n"
            b"POST /d HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
    resps = (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # HEAD: the length describes a body not sent
             b"HTTP/1.1 204 No Content\r\n\r\n"
             b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
             b"HTTP/1.1 100 Continue\r\n\r\n"
             b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    events, d = run([(True, reqs), (False, resps)])
    assert [(e.method, e.uri, e.status, e.request_body_len, e.response_body_len) for e in https(events)] == [
        ("HEAD", "/a", 200, 0, 0), ("GET", "/b", 204, 0, 0), ("GET", "/c", 304, 0, 0), ("POST", "/d", 201, 3, 2)]
    assert [p.origin for p in d.payloads] == ["http-request:/d", "http-response:/d"]


def test_response_without_framing_ends_at_close():
    events, d = run([(True, b"GET /old HTTP/1.0\r\n\r\n"), (False, b"HTTP/1.0 200 OK\r\n\r\nall of "),
                     (False, b"this until close")])
    (ev,) = https(events)
    assert ev.response_body_len == len(b"all of this until close") and ev.version == "1.0"
    assert d.payloads[0].data == b"all of this until close"


def test_gzip_and_deflate_bodies_are_decoded_for_the_scanner_but_lengths_are_wire_lengths():
    text = b"<?php eval($_POST['x']); ?>" * 50
    for enc, body in (("gzip", gzip.compress(text)), ("deflate", zlib.compress(text)),
                      ("deflate", zlib.compress(text)[2:-4])):  # raw deflate, as some servers send
        resp = f"HTTP/1.1 200 OK\r\nContent-Encoding: {enc}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        events, d = run([(True, b"GET /s HTTP/1.1\r\n\r\n"), (False, resp)])
        assert https(events)[0].response_body_len == len(body)
        assert d.payloads[0].data == text


def test_request_body_goes_to_the_scanner():
    body = b"cmd=whoami"
    req = b"POST /shell.php HTTP/1.1\r\nContent-Length: 10\r\n\r\n" + body
    events, d = run([(True, req)])
    (ev,) = https(events)
    assert ev.status is None and ev.request_body_len == 10  # no response: emitted at close
    assert [(p.origin, p.data) for p in d.payloads] == [("http-request:/shell.php", body)]


def test_basic_auth_keeps_user_only_and_reports_a_credential_with_success_from_status():
    token = base64.b64encode(b"admin:pa:ss:word").decode()
    for status, success in ((200, True), (302, True), (401, False), (403, False), (500, None)):
        req = f"GET /admin HTTP/1.1\r\nAuthorization: Basic {token}\r\n\r\n".encode()
        resp = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()
        events, _ = run([(True, req), (False, resp)])
        (ev,) = https(events)
        (cred,) = [e for e in events if isinstance(e, Credential)]
        assert ev.username == "admin" and cred.username == "admin"
        assert cred.protocol == "http-basic" and cred.success is success
        dumped = json.dumps([e.to_dict() for e in events])
        assert "pa:ss:word" not in dumped and token not in dumped


def test_a_huge_header_stops_the_direction_without_holding_the_bytes():
    d = HttpDecoder(FLOW)
    d.data(True, 0.0, b"GET / HTTP/1.1\r\nX-Big: ")
    chunk = b"A" * 65536
    for _ in range(8):
        d.data(True, 0.0, chunk)
    assert len(d._sides[1].buf) <= MAX_HEADER + len(chunk)
    assert d.data(True, 0.0, b"\r\n\r\n") == []
    assert https(d.close(1.0)) == []


def test_non_http_and_random_bytes_never_raise():
    rng = random.Random(3)
    for _ in range(300):
        d = HttpDecoder(FLOW)
        for _ in range(5):
            d.data(rng.random() < 0.5, 0.0, rng.randbytes(rng.randrange(200)))
        d.gap(True, 0.0, 10)
        d.close(1.0)
    # valid start, broken framing
    events, _ = run([(True, b"GET / HTTP/1.1\r\n\r\n"),
                     (False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n")])
    assert [(e.status) for e in https(events)] == [200]


def test_gap_inside_a_known_length_body_keeps_the_stream_in_sync():
    d = HttpDecoder(FLOW)
    events = d.data(True, 0.0, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    events += d.data(False, 1.0, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    events += d.gap(False, 1.0, 80)
    events += d.data(False, 1.0, b"y" * 10 + b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert [(e.uri, e.status, e.response_body_len) for e in https(events)] == [("/1", 200, 100), ("/2", 404, 0)]
    assert d.payloads[0].data == b"x" * 10 + b"y" * 10  # what was captured


def test_upgrade_to_websocket_ends_http_decoding():
    events, _ = run([(True, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
                     (False, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"),
                     (True, b"\x81\x85garbage")])
    assert [(e.uri, e.status) for e in https(events)] == [("/ws", 101)]


def test_sniffer():
    assert looks_like_http(b"GET / HTTP/1.1\r\n")
    assert looks_like_http(b"POST /api HTTP/1.1")
    assert looks_like_http(b"HTTP/1.1 200 OK")
    assert not looks_like_http(b"\x16\x03\x01\x02\x00")
    assert not looks_like_http(b"GETX / HTTP/1.1")
    assert not looks_like_http(b"")


def test_rtsp_camera_control_is_not_taken_for_http() -> None:
    """RTSP borrows HTTP's methods (OPTIONS, GET_PARAMETER...) but its request line ends in RTSP/1.0."""
    assert not looks_like_http(b"OPTIONS rtsp://10.40.1.7:554/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert not looks_like_http(b"DESCRIBE rtsp://10.40.1.7/s RTSP/1.0\r\n")
    assert not looks_like_http(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n")
    assert looks_like_http(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n")  # an HTTP OPTIONS still is HTTP


def test_decoder_is_done_after_an_upgrade_but_close_still_reports():
    d = HttpDecoder(FLOW)
    d.data(True, 1.0, b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")
    assert not d.done
    d.data(False, 1.1, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    assert d.done
    ev = d.close(2.0)
    assert ev == []  # the pair was emitted at the 101 already


def test_body_segments_are_counted_and_kept_across_many_segments():
    d = HttpDecoder(FLOW)
    body = bytes(range(256)) * 40
    ev = d.data(True, 1.0, b"POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 1000):
        ev += d.data(True, 1.0 + i, body[i:i + 1000])
    ev += d.data(False, 9.0, b"HTTP/1.1 204 No Content\r\n\r\n")
    (h,) = [e for e in ev if e.kind == "http"]
    assert (h.request_body_len, h.status) == (len(body), 204)
    assert [p.data for p in d.payloads] == [body]
