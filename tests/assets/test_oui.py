"""MAC vendor lookup from Wireshark's manuf file, checked against tshark's own resolution."""

from __future__ import annotations

import logging
import shutil
import subprocess

import pytest

from sentinel.assets.oui import MANUF_PATHS, OuiDb, normalize_mac, parse_manuf

from .corpus_events import CORPUS

MANUF = MANUF_PATHS[0]
needs_manuf = pytest.mark.skipif(not MANUF.is_file(), reason="Wireshark manuf file not installed (tshark package)")


def test_mac_spellings_normalise_to_lower_case_colons():
    assert normalize_mac("00-1B-C5-00-10-22") == "00:1b:c5:00:10:22"
    assert normalize_mac("001b.c500.1022") == "00:1b:c5:00:10:22"
    assert normalize_mac("001BC5001022") == "00:1b:c5:00:10:22"
    assert normalize_mac("00:1b:c5:00:10") is None
    assert normalize_mac("zz:1b:c5:00:10:22") is None


def test_parser_handles_masks_short_only_names_and_comments():
    text = [
        "# comment\n",
        "00:40:8C\tAxisComm\tAxis Communications AB\n",
        "00:00:09\tPowerpip\n",  # no long name: the short one is all there is
        "00:00:18\tWebsterC\tWebster Computer Corporation\t# Appletalk/Ethernet Gateway\n",
        "70:B3:D5:00:00:00/28\tIEEEReg\tSome MA-M Owner\n",
        "00:1B:C5:00:10:00/36\tOpenRBco\tOpenRB.com, Direct SIA\n",
    ]
    t = parse_manuf(text)
    assert t[24][0x00408C] == "Axis Communications AB"
    assert t[24][0x000009] == "Powerpip"
    assert t[24][0x000018] == "Webster Computer Corporation"
    assert t[28][0x70B3D50] == "Some MA-M Owner"
    assert t[36][0x001BC5001] == "OpenRB.com, Direct SIA"


@needs_manuf
def test_36_bit_blocks_win_over_their_24_bit_parent():
    text = MANUF.read_text(encoding="utf-8", errors="replace")
    if "00:1B:C5:00:10:00/36\tOpenRBco" not in text or "00:1B:C5:00:00:00/36\tConvergi" not in text:
        pytest.skip("this manuf version lacks the reference /36 entries")
    db = OuiDb(MANUF)
    # the two blocks share the first 32 bits and differ in bits 33-36
    assert db.lookup("00:1b:c5:00:10:ff") == "OpenRB.com, Direct SIA"
    assert db.lookup("00:1b:c5:00:0f:ff") == "Converging Systems Inc."


@needs_manuf
def test_28_bit_blocks_resolve():
    text = MANUF.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.split("\t")[0].endswith("/28")]
    assert lines, "the manuf file should contain MA-M (/28) blocks"
    db = OuiDb(MANUF)
    for line in lines[:50]:
        prefix, short, *rest = line.split("\t")
        name = rest[0] if rest and not rest[0].startswith("#") else short
        # keep the block's 28 bits (7 hex digits) and set every bit after them
        hexs = prefix.split("/")[0].replace(":", "").lower()[:7] + "fffff"
        inside = ":".join(hexs[i:i + 2] for i in range(0, 12, 2))
        assert db.lookup(inside) == name.strip(), line


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@needs_manuf
def test_vendor_matches_tshark_for_every_source_mac_in_the_corpus():
    pcaps = sorted((CORPUS / "pcaps").glob("*.pcap"))
    if not pcaps:
        pytest.skip(f"corpus missing: {CORPUS}")
    db = OuiDb()
    checked = 0
    for p in pcaps:
        out = subprocess.run(["tshark", "-n", "-r", str(p), "-T", "fields", "-e", "eth.src",
                              "-e", "eth.src.oui_resolved"], capture_output=True, text=True, check=True).stdout
        for line in set(out.splitlines()):
            mac, _, resolved = line.partition("\t")
            if not mac:
                continue
            assert db.lookup(mac) == (resolved or None), (p.name, mac)
            checked += 1
    assert checked >= 15  # Apple, Intel, 3com, Cisco, Dell, VMware, locally administered...


def test_missing_database_gives_no_vendor_and_one_warning(tmp_path, caplog):
    db = OuiDb(tmp_path / "no-such-manuf")
    with caplog.at_level(logging.WARNING, logger="sentinel.assets.oui"):
        assert db.lookup("00:40:8c:01:02:03") is None
        assert db.lookup("00:0c:29:20:a8:7f") is None
    assert len([r for r in caplog.records if "vendor" in r.message]) == 1
