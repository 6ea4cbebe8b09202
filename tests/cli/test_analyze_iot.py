"""`sentinel analyze` on the perception layer: MQTT, CoAP and Modbus event counts equal Wireshark's dissectors.

These go through the whole pipeline (capture, flow table, TCP reassembly, decoders), unlike the decoder tests.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.tshark

MQTT_TYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 8: "SUBSCRIBE", 10: "UNSUBSCRIBE", 14: "DISCONNECT", 15: "AUTH"}


def tshark_values(pcap: Path, display_filter: str, field: str) -> list[str]:
    """One value per protocol message: tshark joins the messages of one frame with commas."""
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-e", field],
                         capture_output=True, text=True, check=True).stdout
    return [v for line in out.splitlines() for v in line.split(",") if v]


def events_of(pcap: Path, tmp_path: Path) -> list[dict]:
    ev_file = tmp_path / "ev.jsonl"
    res = run_cli("analyze", str(pcap), "--events", str(ev_file), "--json", "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert res.returncode == 0, res.stderr.decode()
    return [json.loads(line) for line in ev_file.read_text().splitlines()]


@pytest.mark.parametrize("name", ["dev01_mqtt_anonymous_pubsub.pcap", "dev02_mqtt_wildcard_subscribe_large_publish.pcap",
                                  "dev03_mqtt5_cleartext_creds_publish.pcap"])
def test_mqtt_messages_match_tshark(name: str, corpus: Path, tmp_path: Path) -> None:
    pcap = corpus / "pcaps" / name
    theirs = Counter(MQTT_TYPES[int(v)] for v in tshark_values(pcap, "mqtt", "mqtt.msgtype") if int(v) in MQTT_TYPES)
    ours = Counter(e["msg_type"] for e in events_of(pcap, tmp_path) if e["kind"] == "mqtt")
    assert ours == theirs and sum(ours.values()) > 0


@pytest.mark.parametrize("name", ["dev04_modbus_diagnostics_and_writes.pcap", "dev05_modbus_write_multiple_coils.pcap"])
def test_modbus_requests_match_tshark(name: str, corpus: Path, tmp_path: Path) -> None:
    pcap = corpus / "pcaps" / name
    theirs = Counter(int(v) for v in tshark_values(pcap, "mbtcp && tcp.dstport == 502", "modbus.func_code"))
    ours = Counter(e["func_code"] for e in events_of(pcap, tmp_path) if e["kind"] == "modbus" and e["request"])
    assert ours == theirs and sum(ours.values()) > 0


def test_modbus_exceptions_match_the_manifest(corpus: Path, tmp_path: Path) -> None:
    evs = [e for e in events_of(corpus / "pcaps" / "dev04_modbus_diagnostics_and_writes.pcap", tmp_path)
           if e["kind"] == "modbus"]
    assert Counter((e["func_code"], e["exception_code"]) for e in evs if e["exception_code"]) == {(1, 6): 5, (8, 11): 4}
    assert sum(e["is_write"] for e in evs) == 3


def test_coap_messages_match_tshark(corpus: Path, tmp_path: Path) -> None:
    pcap = corpus / "pcaps" / "dev16_coap_put.pcap"
    theirs = tshark_values(pcap, "coap", "coap.mid")
    evs = [e for e in events_of(pcap, tmp_path) if e["kind"] == "coap"]
    assert sorted(str(e["message_id"]) for e in evs) == sorted(theirs)
    put = [e for e in evs if e["is_request"]]
    assert [(e["code"], e["uri_path"], e["dtls"]) for e in put] == [("PUT", "/test", False)]
