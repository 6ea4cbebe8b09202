"""MQTT decoder: framing over a byte stream, the packets reported, credentials without their secrets."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from scapy.contrib.mqtt import MQTT, MQTTConnack, MQTTConnect, MQTTPublish, MQTTSubscribe, MQTTTopicQOS

from sentinel.decode import mqtt as mqtt_mod
from sentinel.decode.base import Flow
from sentinel.decode.mqtt import TCP_PORTS, MqttDecoder, looks_like_mqtt
from sentinel.events.perception import Credential, Mqtt

try:
    from .pcapfeed_iot import corpus_pcap, feed, tshark_values
except ImportError:  # tests/decode is not a package
    from pcapfeed_iot import corpus_pcap, feed, tshark_values


def flow() -> Flow:
    return Flow(uid="Cmqtt", proto="tcp", orig_ip="10.0.0.5", orig_port=40000, resp_ip="10.0.0.1", resp_port=1883,
                sensor="test")


def s(text: str) -> bytes:
    b = text.encode()
    return len(b).to_bytes(2, "big") + b


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_v4(user: bytes | None = b"alice", password: bytes | None = b"s3cret-pw") -> bytes:
    return bytes(MQTT() / MQTTConnect(protoname=b"MQTT", protolevel=4, cleansess=1, klive=30, clientId=b"dev-17",
                                      usernameflag=int(user is not None), username=user or b"",
                                      passwordflag=int(password is not None), password=password or b""))


def connack(code: int = 0) -> bytes:
    return bytes(MQTT() / MQTTConnack(retcode=code))


def subscribe(*topics: bytes) -> bytes:
    # the fixed-header flags of SUBSCRIBE must be 0010, which scapy only sets with QOS=1
    return bytes(MQTT(QOS=1) / MQTTSubscribe(msgid=1, topics=[MQTTTopicQOS(topic=t, QOS=0) for t in topics]))


def publish(topic: bytes, value: bytes, qos: int = 0, retain: int = 0) -> bytes:
    return bytes(MQTT(QOS=qos, RETAIN=retain) / MQTTPublish(topic=topic, msgid=7 if qos else None, value=value))


def connect_v5() -> bytes:
    """Hand-built MQTT 5 CONNECT with connect properties, a will with will properties, user name and password."""
    props = bytes([0x11]) + (3600).to_bytes(4, "big") + bytes([0x21]) + (10).to_bytes(2, "big")  # expiry, rcv max
    will_props = bytes([0x18]) + (5).to_bytes(4, "big")  # will delay interval
    flags = 0x80 | 0x40 | 0x04 | 0x02  # user, password, will, clean start
    body = (s("MQTT") + bytes([5, flags]) + (60).to_bytes(2, "big") + varint(len(props)) + props + s("cam-9")
            + varint(len(will_props)) + will_props + s("status/cam-9") + s("offline") + s("operator")
            + s("hunter2-secret"))
    return packet(0x10, body)


def decode_chunks(chunks: list[tuple[bool, bytes]]) -> tuple[MqttDecoder, list]:
    dec = MqttDecoder(flow())
    events = []
    for i, (from_orig, chunk) in enumerate(chunks):
        events += dec.data(from_orig, float(i), chunk)
    events += dec.close(99.0)
    return dec, events


def summary(events) -> list[tuple]:
    return [(e.kind, getattr(e, "msg_type", None), getattr(e, "username", None), getattr(e, "success", None),
             tuple(getattr(e, "topics", ())), getattr(e, "payload_len", None)) for e in events]


def test_ports_and_sniffer():
    assert TCP_PORTS == {1883}
    assert looks_like_mqtt(connect_v4())
    assert looks_like_mqtt(connect_v5())
    assert looks_like_mqtt(packet(0x10, s("MQIsdp") + bytes([3, 0]) + b"\x00\x05" + s("x")))
    assert not looks_like_mqtt(b"GET / HTTP/1.1\r\n")
    assert not looks_like_mqtt(publish(b"a", b"b"))
    assert not looks_like_mqtt(packet(0x10, s("AMQP") + bytes([4, 0])))


def test_connect_v311_with_credentials_is_reported_when_connack_arrives():
    dec = MqttDecoder(flow())
    (conn,) = dec.data(True, 1.0, connect_v4())
    assert isinstance(conn, Mqtt) and conn.msg_type == "CONNECT"
    assert (conn.protocol_name, conn.protocol_version, conn.client_id) == ("MQTT", 4, "dev-17")
    assert (conn.username, conn.password_sent, conn.clean_session, conn.keep_alive) == ("alice", True, True, 30)
    assert (conn.src_ip, conn.dst_port, conn.uid) == ("10.0.0.5", 1883, "Cmqtt")
    ack, cred = dec.data(False, 2.0, connack(0))
    assert ack.msg_type == "CONNACK" and ack.return_code == 0 and ack.src_ip == "10.0.0.1"
    assert isinstance(cred, Credential)
    assert (cred.protocol, cred.username, cred.success, cred.ts, cred.src_ip) == ("mqtt", "alice", True, 1.0, "10.0.0.5")
    assert dec.close(3.0) == []  # reported once
    assert "s3cret-pw" not in repr([conn.to_dict(), ack.to_dict(), cred.to_dict()])


def test_refused_connect_is_a_failed_login_and_unanswered_one_is_reported_at_close():
    _, events = decode_chunks([(True, connect_v4(user=b"bob")), (False, connack(5))])
    assert [(e.kind, e.success) for e in events if e.kind == "credential"] == [("credential", False)]
    assert [e.return_code for e in events if e.kind == "mqtt" and e.msg_type == "CONNACK"] == [5]
    _, events = decode_chunks([(True, connect_v4(user=b"carol"))])
    creds = [e for e in events if e.kind == "credential"]
    assert [(c.username, c.success) for c in creds] == [("carol", None)]


def test_anonymous_connect_yields_no_credential():
    _, events = decode_chunks([(True, connect_v4(user=None, password=None)), (False, connack(0))])
    assert [e.kind for e in events] == ["mqtt", "mqtt"]
    assert events[0].username is None and events[0].password_sent is False


def test_v5_connect_skips_properties_and_keeps_no_password():
    _, events = decode_chunks([(True, connect_v5()), (False, packet(0x20, b"\x00\x86\x00"))])  # 0x86 bad user/pw
    conn, ack, cred = events
    assert (conn.protocol_version, conn.client_id, conn.will_topic, conn.username) == (5, "cam-9", "status/cam-9",
                                                                                       "operator")
    assert conn.password_sent is True and conn.clean_session is True and conn.keep_alive == 60
    assert ack.return_code == 0x86 and ack.protocol_version == 5
    assert cred.success is False and cred.username == "operator"
    assert "hunter2" not in repr([e.to_dict() for e in events])


def test_v5_publish_and_subscribe_have_property_blocks():
    pub_props = bytes([0x01, 0x01])  # payload format indicator
    pub = packet(0x32, s("plant/line1/temp") + b"\x00\x09" + varint(len(pub_props)) + pub_props + b"21.5")
    sub = packet(0x82, b"\x00\x0a" + varint(0) + s("plant/+/temp") + b"\x01" + s("alarms") + b"\x02")
    dec, events = decode_chunks([(True, connect_v5()), (True, pub), (True, sub)])
    by = {e.msg_type: e for e in events if e.kind == "mqtt"}
    assert (by["PUBLISH"].topics, by["PUBLISH"].qos, by["PUBLISH"].payload_len) == (["plant/line1/temp"], 1, 4)
    assert by["SUBSCRIBE"].topics == ["plant/+/temp", "alarms"] and by["SUBSCRIBE"].wildcard is True
    assert [p.data for p in dec.payloads] == [b"21.5"]


def test_publish_subscribe_unsubscribe_disconnect_and_counted_acks():
    stream = (connect_v4() + subscribe(b"sensors/#", b"cmd") + publish(b"sensors/t1", b"23.4", qos=1, retain=1)
              + packet(0xA2, b"\x00\x02" + s("cmd")) + packet(0xC0, b"") + packet(0xE0, b""))
    replies = connack() + packet(0x90, b"\x00\x01\x00\x00") + packet(0x40, b"\x00\x07") + packet(0xD0, b"")
    dec, events = decode_chunks([(True, stream), (False, replies)])
    kinds = [e.msg_type if e.kind == "mqtt" else e.kind for e in events]
    assert kinds == ["CONNECT", "SUBSCRIBE", "PUBLISH", "UNSUBSCRIBE", "DISCONNECT", "CONNACK", "credential"]
    sub, pub, unsub = events[1], events[2], events[3]
    assert sub.topics == ["sensors/#", "cmd"] and sub.wildcard
    assert (pub.topics, pub.qos, pub.retain, pub.payload_len) == (["sensors/t1"], 1, True, 4)
    assert unsub.topics == ["cmd"] and not unsub.wildcard
    assert dec.counts == Counter({"CONNECT": 1, "SUBSCRIBE": 1, "PUBLISH": 1, "UNSUBSCRIBE": 1, "PINGREQ": 1,
                                  "DISCONNECT": 1, "CONNACK": 1, "SUBACK": 1, "PUBACK": 1, "PINGRESP": 1})
    assert len(dec.payloads) == 1 and dec.payloads[0].data == b"23.4"
    assert "sensors/t1" in dec.payloads[0].origin


def test_every_split_point_gives_the_same_events():
    stream = connect_v5() + publish(b"a/b", b"x" * 300, qos=2) + subscribe(b"#") + packet(0xE0, b"")
    whole = summary(decode_chunks([(True, stream)])[1])
    assert len(whole) == 4
    for cut in range(1, len(stream)):
        assert summary(decode_chunks([(True, stream[:cut]), (True, stream[cut:])])[1]) == whole, cut
    bytewise = [(True, stream[i:i + 1]) for i in range(len(stream))]
    assert summary(decode_chunks(bytewise)[1]) == whole


def test_garbage_gives_up_without_raising_and_without_events():
    for junk in (b"\x00\x01\x02", b"\x80\x00", b"\x30\xff\xff\xff\xff\x01", b"\x36\x00", b"\xf1\x00"):
        dec, events = decode_chunks([(True, junk + publish(b"t", b"v"))])
        assert events == [] and dec.malformed == 1, junk
    rng = random.Random(7)
    for _ in range(300):
        blob = rng.randbytes(rng.randrange(1, 200))
        dec = MqttDecoder(flow())
        dec.data(True, 0.0, blob)
        dec.data(False, 0.0, blob)
        dec.close(1.0)
        assert all(len(d.buf) <= 200 for d in dec._dirs.values())


def test_truncated_fields_inside_a_packet_are_malformed_not_fatal():
    bad_connect = packet(0x10, s("MQTT") + bytes([4, 0xC2]) + b"\x00\x3c" + s("id") + b"\x00\x10ab")  # user runs out
    dec, events = decode_chunks([(True, bad_connect + publish(b"after", b"1"))])
    assert dec.malformed == 1
    assert [(e.msg_type, e.topics) for e in events] == [("PUBLISH", ["after"])]


def test_oversized_publish_is_reported_and_skipped_with_bounded_memory(monkeypatch):
    monkeypatch.setattr(mqtt_mod, "MAX_BUFFER", 1000)
    monkeypatch.setattr(mqtt_mod, "PEEK", 100)
    big = publish(b"fw/image", os.urandom(50_000), qos=1)
    stream = big + publish(b"after", b"ok")
    dec = MqttDecoder(flow())
    events = []
    for i in range(0, len(stream), 1460):
        events += dec.data(True, 0.0, stream[i:i + 1460])
        assert len(dec._dirs[True].buf) <= 1460 + 100
    assert [(e.topics, e.payload_len) for e in events] == [(["fw/image"], 50_000), (["after"], 2)]
    assert dec.malformed == 0


# --- the corpus, against tshark's MQTT dissector -----------------------------------------------------------------

REPORTED = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 8: "SUBSCRIBE", 10: "UNSUBSCRIBE", 14: "DISCONNECT"}


@pytest.mark.tshark
@pytest.mark.parametrize("prefix", ["dev01", "dev02", "dev03"])
def test_corpus_packet_counts_equal_tsharks(prefix):
    path = corpus_pcap(prefix)
    tshark_types = Counter(mqtt_mod.TYPE_NAMES[int(v)] for v in tshark_values(path, "mqtt", "mqtt.msgtype"))
    result = feed(path, tcp={1883: MqttDecoder})
    ours = Counter(e.msg_type for e in result.events if e.kind == "mqtt")
    assert ours == Counter({k: v for k, v in tshark_types.items() if k in REPORTED.values()})
    counted = sum((d.counts for d in result.decoders), Counter())
    assert counted == tshark_types  # acks and pings are counted too
    assert all(d.malformed == 0 for d in result.decoders)


def test_corpus_dev01_anonymous_31():
    events = feed(corpus_pcap("dev01"), tcp={1883: MqttDecoder}).events
    connects = [e for e in events if e.kind == "mqtt" and e.msg_type == "CONNECT"]
    assert {e.client_id for e in connects} == {"paho/34AAE54A75D839566E", "paho/DDE4DDAF4108D3E363"}
    assert all(e.protocol_version == 3 and e.protocol_name == "MQIsdp" and e.username is None for e in connects)
    assert [e.return_code for e in events if e.kind == "mqtt" and e.msg_type == "CONNACK"] == [0, 0]
    assert not any(e.kind == "credential" for e in events)
    pubs = [e for e in events if e.kind == "mqtt" and e.msg_type == "PUBLISH"]
    assert sorted(e.payload_len for e in pubs) == sorted([len("Hello from the Paho blocking client"), 10, 10])


def test_corpus_dev02_wildcard_no_password_large_payloads():
    result = feed(corpus_pcap("dev02"), tcp={1883: MqttDecoder})
    events = result.events
    (conn,) = [e for e in events if e.kind == "mqtt" and e.msg_type == "CONNECT"]
    assert (conn.client_id, conn.username, conn.password_sent, conn.will_topic) == ("test-client-123", "testuser",
                                                                                     False, "will/topic")
    (sub,) = [e for e in events if e.kind == "mqtt" and e.msg_type == "SUBSCRIBE"]
    assert "test/#" in sub.topics and sub.wildcard
    (cred,) = [e for e in events if e.kind == "credential"]
    assert (cred.username, cred.success) == ("testuser", True)
    pubs = {e.topics[0]: e for e in events if e.kind == "mqtt" and e.msg_type == "PUBLISH"}
    big = {"test/bigdata", "server/bigdata", "test/interleaved"}
    sizes = {t: pubs[t].payload_len for t in big}
    # the manifest gives each message's remaining length: topic (2 + n bytes), packet id if QoS > 0, payload
    remaining = {t: sizes[t] + 2 + len(t) + (2 if pubs[t].qos else 0) for t in big}
    assert remaining == {"test/bigdata": 12016, "server/bigdata": 15018, "test/interleaved": 11018}
    assert {p.origin.rsplit(":", 1)[1]: len(p.data) for p in result.decoders[0].payloads if
            p.origin.endswith(tuple(big))} == {t: sizes[t] for t in big}


def test_corpus_dev03_v5_password_never_leaks():
    events = feed(corpus_pcap("dev03"), tcp={1883: MqttDecoder}).events
    (conn,) = [e for e in events if e.kind == "mqtt" and e.msg_type == "CONNECT"]
    assert (conn.protocol_version, conn.username, conn.password_sent, conn.client_id) == (5, "user", True,
                                                                                         "myvoiceismypassport")
    (cred,) = [e for e in events if e.kind == "credential"]
    assert (cred.username, cred.success, cred.protocol) == ("user", True, "mqtt")
    for e in events:
        for value in e.to_dict().values():
            assert "pass" not in str(value).replace("myvoiceismypassport", ""), e
    (pub,) = [e for e in events if e.kind == "mqtt" and e.msg_type == "PUBLISH"]
    assert pub.topics == ["topicX"]
