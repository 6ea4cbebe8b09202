"""`sentinel report bundle|verify` through the real CLI: exit 0 intact, 1 on any change naming what changed,
2 on unreadable input; verification needs only the file and the public key."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from sentinel.integrity.keys import init_keys, load_private_key
from sentinel.integrity.signing import sign_file
from tests.conftest import run_cli


@pytest.fixture
def setup(tmp_path):
    e = {"SENTINEL_KEY_DIR": str(tmp_path / "keys"), "SENTINEL_KEY_PASSPHRASE": "",
         "SENTINEL_DB": f"sqlite:///{tmp_path / 's.db'}"}
    init_keys(tmp_path / "keys")  # the CLI's `keys init` is tested in test_keys.py
    return tmp_path, e


def test_signed_file_verifies_and_any_change_fails(setup):
    tmp, e = setup
    f = tmp / "report.md"
    data = b"# Report\nSSH brute force from 35.188.49.176: high\n"
    f.write_bytes(data)
    sign_file(f, load_private_key(tmp / "keys"))
    ok = run_cli("report", "verify", str(f), "--json", env=e)
    assert ok.returncode == 0, ok.stderr
    v = json.loads(ok.stdout)
    assert v["ok"] and v["kind"] == "file" and v["files"][0]["size"] == len(data)
    for offset in (0, 10, len(data) - 1):  # a sample through the subprocess; every byte in tests/integrity
        f.write_bytes(data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:])
        bad = run_cli("report", "verify", str(f), env=e)
        assert bad.returncode == 1 and b"content changed" in bad.stdout and str(f).encode() in bad.stdout


def test_verify_with_only_the_public_key(setup, tmp_path):
    """A third party: the bundle and a copy of the public key, no local key directory."""
    tmp, e = setup
    out = tmp / "ev.tar"
    assert run_cli("report", "bundle", "--out", str(out), env=e).returncode == 0
    pub = tmp / "signer.pub.pem"
    pub.write_bytes((tmp / "keys" / "ed25519.pub.pem").read_bytes())
    third = {"SENTINEL_KEY_DIR": str(tmp / "nowhere")}
    assert run_cli("report", "verify", str(out), env=third).returncode == 2  # no key given, none local
    res = run_cli("report", "verify", str(out), "--pubkey", str(pub), env=third)
    assert res.returncode == 0, res.stdout + res.stderr
    assert b"OK bundle" in res.stdout and b"MANIFEST.json" in res.stdout


def test_bundle_of_a_real_run_and_tampering(setup, corpus):
    tmp, e = setup
    ing = run_cli("ingest", str(corpus / "logs" / "dev_log07_auth_ssh_bruteforce_user_enum.log"), env=e)
    assert ing.returncode == 0, ing.stderr
    report = tmp / "report.html"
    report.write_text("<h1>SSH brute force</h1>")
    out = tmp / "ev.tar"
    res = run_cli("report", "bundle", "--out", str(out), "--run", "1", "--file", str(report), "--json", env=e)
    assert res.returncode == 0, res.stderr
    names = [m["name"] for m in json.loads(res.stdout)["members"]]
    assert {"files/report.html", "store/runs.jsonl", "store/alerts.jsonl", "store/events.jsonl",
            "versions.json"} <= set(names)
    assert any(n.startswith("rules/") for n in names)
    with tarfile.open(out) as tar:
        alerts = [json.loads(x) for x in tar.extractfile("store/alerts.jsonl").read().splitlines()]
        events = [json.loads(x) for x in tar.extractfile("store/events.jsonl").read().splitlines()]
    assert len(alerts) == 2 and all(a["src"] == "35.188.49.176" for a in alerts)
    assert events and all(ev["run_id"] == 1 for ev in events)
    ok = run_cli("report", "verify", str(out), env=e)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # change one byte inside store/alerts.jsonl
    data = out.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        at = tar.getmember("store/alerts.jsonl").offset_data + 5
    out.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
    bad = run_cli("report", "verify", str(out), env=e)
    assert bad.returncode == 1 and b"store/alerts.jsonl" in bad.stdout


def test_unknown_run_and_garbage_input_exit_2(setup):
    tmp, e = setup
    res = run_cli("report", "bundle", "--out", str(tmp / "x.tar"), "--run", "99", env=e)
    assert res.returncode == 2 and b"no run 99" in res.stderr
    junk = tmp / "junk.bin"
    junk.write_bytes(b"\x00garbage" * 10)
    res = run_cli("report", "verify", str(junk), env=e)
    assert res.returncode == 2 and res.stderr.count(b"\n") == 1
    res = run_cli("report", "verify", str(tmp / "missing.tar"), env=e)
    assert res.returncode == 2
