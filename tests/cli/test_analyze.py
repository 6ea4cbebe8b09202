"""`sentinel analyze`: the transport sensor from the command line, against Wireshark and against bad input."""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, run_cli

SAMPLE = REPO / "samples" / "city.pcap"


def analyze(*args: str, db: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    res = run_cli("analyze", *args, "--json", "--db", db)
    out = json.loads(res.stdout) if res.stdout.strip() else None
    return res, out


def tshark_lines(path: Path, display_filter: str, field: str) -> list[str]:
    res = subprocess.run(["tshark", "-n", "-r", str(path), "-2", "-Y", display_filter, "-T", "fields", "-e", field],
                         capture_output=True, text=True, check=True)
    return [line for line in res.stdout.splitlines() if line.strip()]


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_version_and_help() -> None:
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.decode().startswith("sentinel ")
    for cmd in ("analyze", "watch"):
        res = run_cli(cmd, "--help")
        assert res.returncode == 0, res.stderr
        assert b"Usage" in res.stdout


def test_json_summary_counts_packets_and_events(tmp_path: Path, sqlite_url: str) -> None:
    events_file = tmp_path / "ev.jsonl"
    res, out = analyze(str(SAMPLE), "--events", str(events_file), db=sqlite_url)
    assert res.returncode == 0, res.stderr
    expected_packets = len(tshark_lines(SAMPLE, "frame", "frame.number"))
    assert out["packets"] == expected_packets
    evs = read_events(events_file)
    assert Counter(e["kind"] for e in evs) == Counter(out["events"])
    for kind in ("conn", "dns", "http", "tls", "arp", "icmp", "mqtt", "modbus", "coap"):
        assert out["events"].get(kind, 0) > 0, kind
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        assert c.execute(sa.text("select count(*) from event")).scalar() == len(evs)
        assert c.execute(sa.text("select status from run")).scalar() == "complete"


def test_gzip_capture_gives_the_same_result(tmp_path: Path, sqlite_url: str) -> None:
    gz = tmp_path / "city.pcap.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    _, plain = analyze(str(SAMPLE), db=sqlite_url)
    res, packed = analyze(str(gz), db=sqlite_url)
    assert res.returncode == 0, res.stderr
    assert packed["packets"] == plain["packets"] and packed["events"] == plain["events"]


@pytest.mark.tshark
def test_sample_fidelity_against_tshark(tmp_path: Path, sqlite_url: str) -> None:
    """On the bundled sample: DNS transactions, HTTP requests and TLS SNIs equal Wireshark's."""
    ev_file = tmp_path / "ev.jsonl"
    res, _ = analyze(str(SAMPLE), "--events", str(ev_file), db=sqlite_url)
    assert res.returncode == 0, res.stderr
    evs = read_events(ev_file)
    assert sum(e["kind"] == "dns" for e in evs) == len(tshark_lines(SAMPLE, "dns.flags.response == 0", "dns.id"))
    assert sum(e["kind"] == "http" for e in evs) == len(tshark_lines(SAMPLE, "http.request", "http.request.method"))
    ours = Counter(e["sni"] for e in evs if e["kind"] == "tls" and e["sni"])
    theirs = Counter(tshark_lines(SAMPLE, "tls.handshake.type == 1", "tls.handshake.extensions_server_name"))
    assert ours == theirs and sum(ours.values()) > 0


CORPUS_PROTOCOL_FILES = ["dev05_modbus_write_multiple_coils.pcap", "dev06_dns_tunnel_dns2tcp_txt.pcap",
                         "dev07_benign_dns_udp.pcap", "dev08_http_basic_auth_cleartext.pcap",
                         "dev09_benign_http_get.pcap", "dev15_smb_eicar_upload.pcap"]


@pytest.mark.tshark
@pytest.mark.parametrize("name", CORPUS_PROTOCOL_FILES)
def test_corpus_fidelity_against_tshark(name: str, corpus: Path, tmp_path: Path, sqlite_url: str) -> None:
    """Every corpus capture with DNS, HTTP or TLS: our counts equal tshark's on the same file.

    A `dns` event is one transaction per query, answered or not (a response whose query was not captured is not).
    """
    pcap = corpus / "pcaps" / name
    ev_file = tmp_path / "ev.jsonl"
    res, out = analyze(str(pcap), "--events", str(ev_file), db=sqlite_url)
    assert res.returncode == 0, res.stderr
    evs = read_events(ev_file)
    queries = tshark_lines(pcap, "dns.flags.response == 0", "dns.qry.name")
    assert Counter(e["query"] for e in evs if e["kind"] == "dns") == Counter(q.lower() for q in queries)
    assert sum(e["kind"] == "http" for e in evs) == len(tshark_lines(pcap, "http.request", "http.request.method"))
    ours = Counter(e["sni"] for e in evs if e["kind"] == "tls" and e["sni"])
    assert ours == Counter(tshark_lines(pcap, "tls.handshake.type == 1", "tls.handshake.extensions_server_name"))
    assert out["packets"] == len(tshark_lines(pcap, "frame", "frame.number"))


def test_http_basic_credentials_are_flagged_never_stored(corpus: Path, tmp_path: Path, sqlite_url: str) -> None:
    pcap = corpus / "pcaps" / "dev08_http_basic_auth_cleartext.pcap"  # raw-IPv4 link type
    ev_file = tmp_path / "ev.jsonl"
    res, _ = analyze(str(pcap), "--events", str(ev_file), db=sqlite_url)
    assert res.returncode == 0, res.stderr
    text = ev_file.read_text()
    assert "1:34" not in text and "dGVzdDoxOjM0" not in text
    creds = [e for e in read_events(ev_file) if e["kind"] == "credential"]
    assert [(c["protocol"], c["username"]) for c in creds] == [("http-basic", "test")]
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        stored = " ".join(str(r) for r in c.execute(sa.text("select * from event")).all())
    assert "1:34" not in stored and "dGVzdDoxOjM0" not in stored


# --- bad input ----------------------------------------------------------------------------------------------------
def _assert_one_line_error(res: subprocess.CompletedProcess, name: str) -> str:
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines and name in lines[0], err
    return lines[0]


def test_truncated_capture_keeps_events_before_the_damage(tmp_path: Path, sqlite_url: str) -> None:
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])  # mid-record
    res, out = analyze(str(cut), db=sqlite_url)
    line = _assert_one_line_error(res, "cut.pcap")
    assert "packet" in line and "offset" in line
    assert 0 < out["packets"] < 6005 and sum(out["events"].values()) > 0
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        status, reason = c.execute(sa.text("select status, reason from run")).one()
        stored = c.execute(sa.text("select count(*) from event")).scalar()
    assert status == "incomplete" and "cut.pcap" in reason
    assert stored == sum(out["events"].values())


def test_strict_stops_at_the_first_damage(tmp_path: Path, sqlite_url: str) -> None:
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    res = run_cli("analyze", str(cut), str(SAMPLE), "--strict", "--json", "--db", sqlite_url)
    _assert_one_line_error(res, "cut.pcap")
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        inputs_done = c.execute(sa.text("select status from run")).scalar()
    assert inputs_done == "incomplete"


@pytest.mark.parametrize("content,label", [
    (b"", "empty"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 40, "text"),
    (bytes(range(256)) * 64, "binary junk"),
    # a valid pcap header with link type 147 (user-defined), then one packet
    (bytes.fromhex("d4c3b2a1020004000000000000000000ffff000093000000") + bytes(16) + b"", "unsupported link type"),
])
def test_non_captures_get_one_line_errors(content: bytes, label: str, tmp_path: Path, sqlite_url: str) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    res, _ = analyze(str(bad), db=sqlite_url)
    _assert_one_line_error(res, "bad.pcap")


def test_missing_file_and_directory_are_bad_input(tmp_path: Path, sqlite_url: str) -> None:
    _assert_one_line_error(analyze(str(tmp_path / "nope.pcap"), db=sqlite_url)[0], "nope.pcap")
    _assert_one_line_error(analyze(str(tmp_path), db=sqlite_url)[0], str(tmp_path))


def test_existing_store_survives_a_damaged_capture(tmp_path: Path, sqlite_url: str) -> None:
    res, first = analyze(str(SAMPLE), db=sqlite_url)
    assert res.returncode == 0
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(SAMPLE.read_bytes()[:5000])
    analyze(str(bad), db=sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        n = c.execute(sa.text("select count(*) from event where run_id = 1")).scalar()
        ok = c.execute(sa.text("pragma integrity_check")).scalar()
    assert n == sum(first["events"].values()) and ok == "ok"
