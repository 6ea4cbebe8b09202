"""Modbus/TCP decoder: MBAP framing, request/response pairing, function facts, exceptions."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scapy.contrib.modbus import (
    ModbusADURequest,
    ModbusADUResponse,
    ModbusPDU01ReadCoilsRequest,
    ModbusPDU01ReadCoilsResponse,
    ModbusPDU03ReadHoldingRegistersRequest,
    ModbusPDU05WriteSingleCoilRequest,
    ModbusPDU06WriteSingleRegisterError,
    ModbusPDU06WriteSingleRegisterRequest,
    ModbusPDU0FWriteMultipleCoilsRequest,
    ModbusPDU10WriteMultipleRegistersRequest,
)

from sentinel.decode.base import Flow
from sentinel.decode.modbus import TCP_PORTS, ModbusDecoder
from sentinel.events.perception import Modbus

try:
    from .pcapfeed_iot import corpus_pcap, feed, tshark_fields
except ImportError:  # tests/decode is not a package
    from pcapfeed_iot import corpus_pcap, feed, tshark_fields


def flow(server_is_orig: bool = False) -> Flow:
    if server_is_orig:
        return Flow(uid="Cmb", proto="tcp", orig_ip="10.0.0.8", orig_port=502, resp_ip="10.0.0.57", resp_port=4446)
    return Flow(uid="Cmb", proto="tcp", orig_ip="10.0.0.57", orig_port=4446, resp_ip="10.0.0.8", resp_port=502)


def req(tid: int, pdu, unit: int = 1) -> bytes:
    return bytes(ModbusADURequest(transId=tid, unitId=unit) / pdu)


def resp(tid: int, pdu, unit: int = 1) -> bytes:
    return bytes(ModbusADUResponse(transId=tid, unitId=unit) / pdu)


def raw_adu(tid: int, unit: int, pdu: bytes) -> bytes:
    return tid.to_bytes(2, "big") + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu


def run(chunks, f: Flow | None = None) -> tuple[ModbusDecoder, list[Modbus]]:
    dec = ModbusDecoder(f or flow())
    events = []
    for i, (from_orig, data) in enumerate(chunks):
        events += dec.data(from_orig, float(i), data)
    events += dec.close(100.0)
    return dec, events


def facts(e: Modbus) -> tuple:
    return (e.trans_id, e.unit_id, e.func_code, e.func_name, e.is_write, e.address, e.quantity, e.value,
            e.sub_function, e.exception_code, e.request, e.response)


def test_ports():
    assert TCP_PORTS == {502}


def test_request_is_reported_with_its_response():
    dec, events = run([
        (True, req(1, ModbusPDU03ReadHoldingRegistersRequest(startAddr=100, quantity=10))),
        (False, resp(1, bytes([3, 20]) + bytes(20))),
    ])
    (ev,) = events
    assert facts(ev) == (1, 1, 3, "read_holding_registers", False, 100, 10, None, None, None, True, True)
    assert ev.ts == 0.0 and ev.rtt == 1.0
    assert (ev.src_ip, ev.dst_port) == ("10.0.0.57", 502)


def test_writes_and_their_values():
    _, events = run([
        (True, req(1, ModbusPDU05WriteSingleCoilRequest(outputAddr=7, outputValue=0xFF00))
         + req(2, ModbusPDU06WriteSingleRegisterRequest(registerAddr=40, registerValue=1234))
         + req(3, ModbusPDU0FWriteMultipleCoilsRequest(startAddr=0, quantityOutput=3, outputsValue=[5]))
         + req(4, ModbusPDU10WriteMultipleRegistersRequest(startAddr=10, quantityRegisters=2, outputsValue=[1, 2]))
         + raw_adu(5, 1, bytes([22]) + (9).to_bytes(2, "big") + b"\x00\xf2\x00\x25")
         + raw_adu(6, 1, bytes([23]) + b"\x00\x03\x00\x06\x00\x0e\x00\x03\x06" + bytes(6))),
    ])
    got = {e.func_code: (e.is_write, e.address, e.quantity, e.value) for e in events}
    assert got == {5: (True, 7, 1, 0xFF00), 6: (True, 40, 1, 1234), 15: (True, 0, 3, None),
                   16: (True, 10, 2, None), 22: (True, 9, 1, None), 23: (True, 14, 3, None)}
    (rw,) = [e for e in events if e.func_code == 23]
    assert (rw.read_address, rw.read_quantity, rw.func_name) == (3, 6, "read_write_multiple_registers")
    assert all(not e.response for e in events)  # unanswered, so reported at close


def test_diagnostics_and_mei_sub_functions():
    _, events = run([(True, raw_adu(1, 10, b"\x08\x00\x04\x00\x00") + raw_adu(2, 10, b"\x2b\x0e\x01\x00"))])
    assert [(e.func_name, e.sub_function) for e in events] == [("diagnostics", 4),
                                                               ("encapsulated_interface_transport", 14)]


def test_exception_response_sets_the_code_and_keeps_the_request_function():
    _, events = run([
        (True, req(9, ModbusPDU06WriteSingleRegisterRequest(registerAddr=1, registerValue=2), unit=3)),
        (False, resp(9, ModbusPDU06WriteSingleRegisterError(exceptCode=2), unit=3)),
    ])
    (ev,) = events
    assert (ev.func_code, ev.exception_code, ev.response, ev.unit_id) == (6, 2, True, 3)


def test_pairing_is_by_transaction_and_unit_in_any_order():
    r1 = req(1, ModbusPDU01ReadCoilsRequest(startAddr=0, quantity=8), unit=1)
    r2 = req(1, ModbusPDU01ReadCoilsRequest(startAddr=8, quantity=8), unit=2)
    r3 = req(2, ModbusPDU03ReadHoldingRegistersRequest(startAddr=0, quantity=1), unit=1)
    a2 = resp(1, ModbusPDU01ReadCoilsResponse(coilStatus=[1]), unit=2)
    a3 = resp(2, bytes([0x83, 4]), unit=1)
    _, events = run([(True, r1 + r2 + r3), (False, a3 + a2)])
    answered = {(e.trans_id, e.unit_id): (e.response, e.exception_code) for e in events}
    assert answered == {(2, 1): (True, 4), (1, 2): (True, None), (1, 1): (False, None)}
    assert [e.trans_id for e in events][-1] == 1 and events[-1].unit_id == 1  # the unanswered one, at close


def test_reused_transaction_ids_pair_first_in_first_out():
    r = raw_adu(0, 10, b"\x08\x00\x01\x00\x00")
    _, events = run([(True, r), (True, r), (False, raw_adu(0, 10, b"\x88\x0b")), (False, raw_adu(0, 10, b"\x08\x00\x01\x00\x00"))])
    assert [(e.ts, e.exception_code, e.response) for e in events] == [(0.0, 11, True), (1.0, None, True)]


def test_response_without_request_is_reported_on_its_own():
    f = flow(server_is_orig=True)  # the capture shows the server's SYN first: roles still come from port 502
    _, events = run([(True, raw_adu(1, 10, b"\x81\x06")), (True, raw_adu(2, 10, b"\x05\x00\x02\xff\x00"))], f)
    assert [facts(e) for e in events] == [
        (1, 10, 1, "read_coils", False, None, None, None, None, 6, False, True),
        (2, 10, 5, "write_single_coil", True, 2, 1, 0xFF00, None, None, False, True),
    ]
    assert all((e.src_ip, e.src_port, e.dst_port) == ("10.0.0.57", 4446, 502) for e in events)


def test_every_split_point_and_packing_give_the_same_events():
    client = (req(1, ModbusPDU03ReadHoldingRegistersRequest(startAddr=5, quantity=2))
              + req(2, ModbusPDU05WriteSingleCoilRequest(outputAddr=1, outputValue=0)))
    server = resp(1, bytes([3, 4, 0, 1, 0, 2])) + resp(2, bytes([0x85, 1]))
    whole = [facts(e) for e in run([(True, client), (False, server)])[1]]
    assert len(whole) == 2
    for cut in range(1, len(client)):
        assert [facts(e) for e in run([(True, client[:cut]), (True, client[cut:]), (False, server)])[1]] == whole
    for cut in range(1, len(server)):
        assert [facts(e) for e in run([(True, client), (False, server[:cut]), (False, server[cut:])])[1]] == whole


def test_impossible_headers_give_the_direction_up():
    for bad in (bytes.fromhex("000100008804050708091000"), bytes.fromhex("0001001000060a0100010003"),
                bytes.fromhex("000100000001ff")):
        dec, events = run([(True, bad + raw_adu(2, 1, b"\x03\x00\x00\x00\x01"))])
        assert events == [] and dec.malformed == 1 and not dec._dirs[True].buf
    rng = random.Random(3)
    for _ in range(300):
        dec = ModbusDecoder(flow())
        dec.data(True, 0.0, rng.randbytes(rng.randrange(1, 300)))
        dec.data(False, 0.0, rng.randbytes(rng.randrange(1, 300)))
        dec.close(1.0)


# --- the corpus, against tshark's Modbus dissector and the manifest ---------------------------------------------

def tshark_modbus(path):
    """(is_response, func_code, exception_code) per Modbus PDU, roles by port 502 as tshark decides them."""
    rows = tshark_fields(path, "modbus", "tcp.srcport", "modbus.func_code", "modbus.exception_code")
    return [(src == "502", int(fc), int(exc) if exc else None) for src, fc, exc in rows]


@pytest.mark.tshark
def test_corpus_dev04_matches_tshark_and_manifest():
    path = corpus_pcap("dev04")
    ts_rows = tshark_modbus(path)
    result = feed(path, tcp={502: ModbusDecoder})
    events = result.events
    assert Counter(fc for is_resp, fc, _ in ts_rows if not is_resp) == Counter(e.func_code for e in events if e.request)
    assert Counter((fc, exc) for is_resp, fc, exc in ts_rows if is_resp) == Counter(
        (e.func_code, e.exception_code) for e in events if e.response)
    requests = Counter(e.func_code for e in events if e.request)
    assert requests == Counter({8: 8, 43: 2, 17: 2, 1: 2, 3: 1, 5: 2, 6: 1})
    assert sum(requests.values()) == 18 and all(e.unit_id == 10 for e in events)
    assert Counter(e.sub_function for e in events if e.func_code == 8) == Counter({4: 3, 1: 3, 10: 2})
    assert Counter(e.exception_code for e in events if e.exception_code) == Counter({6: 5, 11: 4})
    assert sum(e.is_write for e in events if e.request) == 3
    orphans = [e for e in events if not e.request]
    assert len(orphans) == 5 and all(e.func_code == 1 and e.src_port == 4446 and e.dst_port == 502 for e in orphans)
    assert sum(d.malformed for d in result.decoders) == 1  # the 34,820-byte MBAP length on 10.0.0.57:2585


@pytest.mark.tshark
def test_corpus_dev05_write_multiple_coils():
    path = corpus_pcap("dev05")
    events = feed(path, tcp={502: ModbusDecoder}).events
    assert Counter(e.func_code for e in events) == Counter(fc for r, fc, _ in tshark_modbus(path) if not r)
    assert Counter((e.func_code, e.address, e.quantity) for e in events) == Counter({(15, 0, 3): 8, (1, 0, 3): 8})
    assert all(e.response and e.request for e in events)
