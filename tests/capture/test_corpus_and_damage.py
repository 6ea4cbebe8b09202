"""Real corpus captures cross-checked with tshark; damaged input; fuzzing of the readers."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.capture.pipeline import analyze_files
from sentinel.capture.source import read_batches
from sentinel.errors import CaptureError

from .helpers import kinds, mixed_packets, run, write_pcap

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "pcaps"


def corpus(name: str) -> Path:
    p = CORPUS / name
    if not p.exists():
        pytest.skip(f"corpus capture {p} missing")
    return p


def tshark(*args: str) -> list[str]:
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    out = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=60, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


@pytest.mark.tshark
def test_dev10_syn_scan_is_S0_conns_to_three_hosts():
    p = corpus("dev10_portscan_tcp_syn_3hosts.pcap")
    ev, _, st = run([p])
    conns = kinds(ev, "conn")
    syns = tshark("-r", str(p), "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields", "-e", "ip.src")
    assert st.packets == len(tshark("-r", str(p), "-T", "fields", "-e", "frame.number")) == 4993
    assert sum(c.orig_pkts for c in conns) == len(syns) == 4993
    assert {c.src_ip for c in conns} == {"10.0.0.140"} and {c.conn_state for c in conns} == {"S0"}
    assert {c.dst_ip for c in conns} == {"10.0.0.254", "10.0.0.1", "10.0.0.2"}
    # one conn per distinct 5-tuple, as tshark's TCP conversation table counts them
    convs = [l for l in tshark("-r", str(p), "-q", "-z", "conv,tcp") if "<->" in l]
    assert len(conns) == len(convs)


@pytest.mark.tshark
def test_dev12_arp_sweep_gives_one_event_per_request():
    p = corpus("dev12_hostscan_arp_sweep.pcap")
    ev, _, _ = run([p])
    arps = kinds(ev, "arp")
    rows = tshark("-r", str(p), "-Y", "arp.opcode==1", "-T", "fields", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4")
    assert len(arps) == len(rows) == 509
    assert sorted((a.src_ip, a.dst_ip) for a in arps) == sorted(tuple(r.split("\t")) for r in rows)
    assert {a.operation for a in arps} == {"request"}


@pytest.mark.tshark
@pytest.mark.parametrize("name, linktype", [("dev15_smb_eicar_upload.pcap", "linux_sll"),
                                             ("dev08_http_basic_auth_cleartext.pcap", "ipv4")])
def test_sll_and_raw_ipv4_corpus_match_tshark_conversations(name, linktype):
    p = corpus(name)
    ev, _, st = run([p])
    assert set(st.linktypes) == {linktype}
    conns = kinds(ev, "conn")
    convs = [l.split() for l in tshark("-r", str(p), "-q", "-z", "conv,tcp") if "<->" in l]
    assert len(conns) == len(convs) == 1
    total_frames = sum(c.orig_pkts + c.resp_pkts for c in conns)
    assert total_frames == len(tshark("-r", str(p), "-Y", "tcp", "-T", "fields", "-e", "frame.number"))


def packet_offsets(raw: bytes) -> list[int]:
    offs, pos = [], 24
    while pos + 16 <= len(raw):
        offs.append(pos)
        pos += 16 + struct.unpack_from("<I", raw, pos + 8)[0]
    return offs


def test_truncation_at_many_offsets_keeps_earlier_packets(tmp_path):
    raw = write_pcap(tmp_path / "ok.pcap", mixed_packets()).read_bytes()
    offs = packet_offsets(raw)
    for cut in range(25, len(raw), 37):
        p = tmp_path / "cut.pcap"
        p.write_bytes(raw[:cut])
        complete = sum(1 for i, o in enumerate(offs) if (offs[i + 1] if i + 1 < len(offs) else len(raw)) <= cut)
        if cut in offs or cut == len(raw):
            continue
        a = analyze_files([p])
        for _ in a:
            pass
        (err,) = a.stats.errors
        assert a.stats.packets == complete and not a.stats.files[0].complete
        assert err.packet == complete + 1 and err.offset == offs[complete]
        with pytest.raises(CaptureError) as ei:
            for _ in analyze_files([p], strict=True):
                pass
        assert ei.value.packet == complete + 1


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"this is not a capture file at all", "not a pcap"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147), "unsupported link type 147"),
])
def test_bad_files_are_capture_errors(tmp_path, content, message):
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError) as ei:
        list(read_batches(str(p)))
    assert message in str(ei.value) and ei.value.offset is not None


def test_corrupt_record_header_and_damage_in_second_file(tmp_path):
    raw = bytearray(write_pcap(tmp_path / "ok.pcap", mixed_packets()).read_bytes())
    offs = packet_offsets(bytes(raw))
    struct.pack_into("<I", raw, offs[3] + 8, 0x7FFFFFFF)  # absurd captured length in packet 4
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(raw))
    good = tmp_path / "good.pcap.gz"
    good.write_bytes(gzip.compress((tmp_path / "ok.pcap").read_bytes()))
    ev, _, st = run([bad, good])
    assert [f.complete for f in st.files] == [False, True]
    assert st.files[0].packets == 3 and st.files[0].error.packet == 4 and st.files[0].error.offset == offs[3]
    assert "corrupt record header" in str(st.files[0].error)
    assert st.packets == 3 + len(offs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
       fmt=st.sampled_from(["pcap", "pcapng", "junk"]))
def test_fuzz_readers_raise_only_capture_errors(tmp_path_factory, data, flips, fmt):
    d = tmp_path_factory.mktemp("fz")
    if fmt == "junk":
        raw = bytearray(data)
    else:
        base = d / "b"
        if fmt == "pcap":
            write_pcap(base, mixed_packets())
        else:
            from scapy.utils import PcapNgWriter
            w = PcapNgWriter(str(base))
            for p in mixed_packets():
                w.write(p)
            w.close()
        raw = bytearray(base.read_bytes()) + data
    for pos, val in flips:
        if raw:
            raw[pos % len(raw)] = val
    p = d / "f"
    p.write_bytes(bytes(raw))
    t = time.monotonic()
    try:
        for _ in analyze_files([p], strict=True):
            pass
    except CaptureError:
        pass
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("cut", ["middle", "junk"])
def test_damage_found_by_capture_workers_reaches_the_parent(tmp_path, cut):
    """With worker processes (captures over 8 MiB), the damage report crosses a process boundary: it must arrive
    whole (packet number, offset), not as a crash of the pipeline."""
    raw = write_pcap(tmp_path / "ok.pcap", mixed_packets()).read_bytes()
    offs = packet_offsets(raw)
    p = tmp_path / "bad.pcap"
    p.write_bytes(raw[:offs[5] + 7] if cut == "middle" else raw[:offs[5]] + b"\xff" * 64)
    a = analyze_files([p], workers=2)
    for _ in a:
        pass
    (err,) = a.stats.errors
    assert err.packet == 6 and err.offset == offs[5] and a.stats.packets == 5
    with pytest.raises(CaptureError) as ei:
        for _ in analyze_files([p], workers=2, strict=True):
            pass
    assert ei.value.packet == 6 and "bad.pcap" in str(ei.value)


def test_input_errors_survive_pickling():
    import pickle

    e = pickle.loads(pickle.dumps(CaptureError("x.pcap", "truncated record", packet=3, offset=99)))
    assert (e.source, e.message, e.packet, e.offset, str(e)) == ("x.pcap", "truncated record", 3, 99,
                                                                 str(CaptureError("x.pcap", "truncated record", 3, 99)))
