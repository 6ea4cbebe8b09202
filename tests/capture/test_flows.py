"""Flow table: Zeek-style conn state/history, direction, timeouts, port reuse, decoder dispatch, workers."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from sentinel.decode.base import DatagramDecoder, Registry, StreamDecoder
from sentinel.events.transport import Dns

from .helpers import CLIENT, SERVER, kinds, run, tcp_session, write_pcap


def conns_of(tmp_path, pkts, **kw):
    ev, pl, st = run([write_pcap(tmp_path / "f.pcap", pkts)], **kw)
    return kinds(ev, "conn"), ev, pl, st


def test_handshake_data_fin_is_SF_with_history_and_volumes(tmp_path):
    pk = tcp_session()
    (c,), _, _, _ = conns_of(tmp_path, pk)
    assert (c.src_ip, c.src_port, c.dst_ip, c.dst_port, c.proto) == (CLIENT, 40000, SERVER, 80, "tcp")
    assert c.conn_state == "SF" and c.history == "ShADdFf" and not c.timed_out
    assert (c.orig_pkts, c.resp_pkts) == (5, 3)
    assert c.orig_bytes == sum(len(p[IP]) for p in pk if p[IP].src == CLIENT)
    assert c.resp_bytes == sum(len(p[IP]) for p in pk if p[IP].src == SERVER)
    assert abs(c.duration - (pk[-1].time - pk[0].time)) < 1e-6 and c.ts == float(pk[0].time)
    assert c.uid.startswith("C") and len(c.uid) == 18


def test_rst_syn_only_and_rejected(tmp_path):
    rst = tcp_session(sport=40001, end="rst")
    syn_only = [p for p in tcp_session(t0=1100, sport=40002)][:1]
    rej = [syn_only[0].copy(), None]
    rej[0][TCP].sport = 40003
    rej[1] = Ether() / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=40003, flags="RA")
    rej[0].time, rej[1].time = 1200, 1200.1
    conns, _, _, _ = conns_of(tmp_path, rst + syn_only + rej)
    by_port = {c.src_port: c for c in conns}
    assert by_port[40001].conn_state == "RSTO" and by_port[40001].history.endswith("R")
    assert by_port[40002].conn_state == "S0" and by_port[40002].history == "S" and by_port[40002].resp_pkts == 0
    assert by_port[40003].conn_state == "REJ" and by_port[40003].history == "Sr"


def test_orig_is_syn_sender_even_if_a_reply_is_seen_first(tmp_path):
    pk = tcp_session()
    pk[0].time, pk[1].time = pk[1].time, pk[0].time
    pk[0], pk[1] = pk[1], pk[0]  # SYN-ACK captured before the SYN
    (c,), _, _, _ = conns_of(tmp_path, pk)
    assert c.src_ip == CLIENT and c.dst_port == 80


def test_udp_flow_first_packet_is_orig(tmp_path):
    a = Ether() / IP(src=SERVER, dst=CLIENT) / UDP(sport=53, dport=3333) / b"x"
    b = Ether() / IP(src=CLIENT, dst=SERVER) / UDP(sport=3333, dport=53) / b"yy"
    a.time, b.time = 5, 6
    (c,), _, _, _ = conns_of(tmp_path, [a, b, b.copy()])
    assert (c.src_ip, c.src_port, c.orig_pkts, c.resp_pkts, c.conn_state, c.history) == (SERVER, 53, 1, 2, "OTH", "Dd")


def test_inactivity_timeout_splits_udp_and_tcp(tmp_path):
    u = [Ether() / IP(src=CLIENT, dst=SERVER) / UDP(sport=3333, dport=53) / b"x" for _ in range(3)]
    for p, t in zip(u, (0, 30, 200)):  # 170 s gap > 60 s UDP timeout
        p.time = t
    tcp = tcp_session(t0=0, sport=41000, end="none")
    late = tcp[-1].copy()
    late.time = tcp[-1].time + 400  # > 300 s TCP timeout
    conns, _, _, _ = conns_of(tmp_path, u + tcp + [late])
    udp = sorted((c for c in conns if c.proto == "udp"), key=lambda c: c.ts)
    assert [c.orig_pkts for c in udp] == [2, 1] and udp[0].timed_out  # both idle > 60 s before the end
    t = sorted((c for c in conns if c.proto == "tcp"), key=lambda c: c.ts)
    assert len(t) == 2 and t[0].conn_state == "S1" and t[0].timed_out and t[1].conn_state == "OTH"
    # a custom timeout changes the split
    conns2, _, _, _ = conns_of(tmp_path, u, timeouts={"udp": 10})
    assert sorted(c.orig_pkts for c in conns2) == [1, 1, 1]


def test_port_reuse_after_close_is_a_new_connection(tmp_path):
    first = tcp_session(t0=0)
    second = tcp_session(t0=2)  # same 5-tuple, new SYN after FIN/FIN
    conns, _, _, _ = conns_of(tmp_path, first + second)
    assert [c.conn_state for c in conns] == ["SF", "SF"] and conns[0].uid != conns[1].uid


class Echo(StreamDecoder):
    service = "echo"
    closed = []

    def data(self, from_orig, ts, data):
        if from_orig:
            self.payloads.append(__import__("sentinel.decode.base", fromlist=["Payload"]).Payload("echo", data, ts,
                                                                                               self.flow))
        return [Dns(ts=ts, query=data.decode(errors="replace")[:20], **self.flow.endpoints(from_orig))]

    def close(self, ts):
        Echo.closed.append(self.flow.uid)
        return []


class Counter(DatagramDecoder):
    service = "ctr"

    def datagram(self, from_orig, ts, payload):
        return [Dns(ts=ts, query=f"{from_orig}:{len(payload)}", **self.flow.endpoints(from_orig))]


def test_dispatch_by_port_and_by_sniffer_with_close(tmp_path):
    Echo.closed.clear()
    reg = Registry(tcp_ports={80: Echo}, udp_ports={53: Counter},
                   tcp_sniffers=[(lambda b: b.startswith(b"HELLO"), Echo)])
    pk = tcp_session(sport=40000, dport=80, data=(b"GET /a",), reply=(b"200",))
    pk += tcp_session(t0=1100, sport=40001, dport=9999, data=(b"HELLO there",), reply=(b"hi",))
    pk += tcp_session(t0=1200, sport=40002, dport=7777, data=(b"other",), reply=(b"x",))
    u = [Ether() / IP(src=CLIENT, dst=SERVER) / UDP(sport=3333, dport=53) / b"abc",
         Ether() / IP(src=SERVER, dst=CLIENT) / UDP(sport=53, dport=3333) / b"abcdef"]
    u[0].time, u[1].time = 1300, 1300.5
    conns, ev, pl, st = conns_of(tmp_path, pk + u, registry=reg)
    svc = {c.dst_port: c.service for c in conns}
    assert svc == {80: "echo", 9999: "echo", 7777: None, 53: "ctr"}
    queries = sorted(e.query for e in kinds(ev, "dns"))
    assert queries == sorted(["GET /a", "200", "HELLO there", "hi", "True:3", "False:6"])
    uid80 = next(c.uid for c in conns if c.dst_port == 80)
    assert all(e.uid in {c.uid for c in conns} for e in kinds(ev, "dns"))
    assert sorted(p.data for p in pl) == [b"GET /a", b"HELLO there"]
    assert uid80 in Echo.closed and len(Echo.closed) == 2 and st.decoder_errors == 0


def test_two_workers_give_the_same_events_as_one(tmp_path):
    pk = []
    for i in range(60):
        pk += tcp_session(t0=i * 0.5, sport=30000 + i, end="fin" if i % 2 else "rst")
    path = write_pcap(tmp_path / "w.pcap", pk)
    ev1, _, st1 = run([path], workers=1)
    ev2, _, st2 = run([path], workers=2)
    key = lambda e: (e.kind, e.uid, e.ts, getattr(e, "conn_state", None), getattr(e, "orig_bytes", None))
    assert sorted(map(key, ev1)) == sorted(map(key, ev2)) and len(ev1) == 60
    assert st1.packets == st2.packets == len(pk) and st1.top_talkers() == st2.top_talkers()


class Recorder(StreamDecoder):
    """Records what reaches it; with `stop_after` set it declares itself done after that many data calls."""

    service = "rec"
    log: list = []
    stop_after: int | None = None

    def data(self, from_orig, ts, data):
        Recorder.log.append(("data", from_orig, data))
        if self.stop_after is not None and sum(1 for x in Recorder.log if x[0] == "data") >= self.stop_after:
            self.done = True
        return []

    def gap(self, from_orig, ts, size):
        Recorder.log.append(("gap", from_orig, size))
        return []

    def close(self, ts):
        Recorder.log.append(("close",))
        return []


def test_a_done_decoder_gets_nothing_more_but_the_flow_is_still_counted_and_closed(tmp_path):
    Recorder.log = []
    Recorder.stop_after = 2
    reqs = tuple(b"req%d" % i for i in range(5))
    pk = tcp_session(sport=41000, dport=80, data=reqs, reply=tuple(b"rep%d" % i for i in range(5)))
    (conn,), _, _, st = conns_of(tmp_path, pk, registry=Registry(tcp_ports={80: Recorder}))
    assert Recorder.log == [("data", True, b"req0"), ("data", False, b"rep0"), ("close",)]
    assert conn.orig_pkts + conn.resp_pkts == len(pk) and conn.service == "rec" and conn.conn_state == "SF"
    Recorder.stop_after = None


def test_pure_acks_are_skipped_but_a_mid_connection_start_keeps_its_offsets(tmp_path):
    Recorder.log = []
    e = Ether()
    c, s = 7000, 9000
    pk = [e / IP(src=CLIENT, dst=SERVER) / TCP(sport=42000, dport=80, flags="A", seq=c, ack=s)]  # capture starts
    pk += [e / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=42000, flags="A", seq=s, ack=c) for _ in range(3)]
    # the client's first 10 bytes were not captured: the data after them waits behind a hole, then a gap
    pk += [e / IP(src=CLIENT, dst=SERVER) / TCP(sport=42000, dport=80, flags="PA", seq=c + 10, ack=s) / b"tail"]
    pk += [e / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=42000, flags="PA", seq=s, ack=c + 14) / b"resp"]
    pk += [e / IP(src=CLIENT, dst=SERVER) / TCP(sport=42000, dport=80, flags="A", seq=c + 14, ack=s + 4)
           for _ in range(5)]
    for i, p in enumerate(pk):
        p.time = 500 + i * 0.01
    (conn,), _, _, st = conns_of(tmp_path, pk, registry=Registry(tcp_ports={80: Recorder}))
    assert Recorder.log == [("data", False, b"resp"), ("gap", True, 10), ("data", True, b"tail"), ("close",)]
    assert conn.orig_pkts == 7 and conn.resp_pkts == 4
