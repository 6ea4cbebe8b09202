"""Detached signatures: any changed byte of the file or its .sig fails, a wrong key fails, intact files pass."""

from __future__ import annotations

import json

import pytest

from sentinel.integrity.signing import sign_file, verify_file

from .helpers import flip, make_keys

REPORT = b"# Risk report\nsystem: SCADA\nalerts: 2 high (SSH brute force from 35.188.49.176)\n"


@pytest.fixture
def signed(tmp_path):
    key = make_keys(tmp_path / "keys")
    f = tmp_path / "report.md"
    f.write_bytes(REPORT)
    return f, sign_file(f, key), key


def test_valid_signature_says_what_was_verified(signed):
    f, sig, key = signed
    assert sig.name == "report.md.sig"
    doc = json.loads(sig.read_text())
    assert doc["algorithm"] == "ed25519" and doc["key_fingerprint"] == key.fingerprint
    v = verify_file(f, pubkey=key.public)
    assert v.ok, v.reason
    assert v.signer == key.fingerprint and v.signed == doc["signed"]
    assert v.files == [{"name": str(f), "sha256": doc["sha256"], "size": len(REPORT)}]


def test_every_byte_of_the_signed_file_matters(signed):
    f, sig, key = signed
    for offset in range(len(REPORT)):
        f.write_bytes(flip(REPORT, offset))
        v = verify_file(f, sig, key.public)
        assert not v.ok, f"byte {offset} changed but verification passed"
        assert v.member == str(f) and "content changed" in v.reason
    f.write_bytes(REPORT + b"\n")
    assert "size" in verify_file(f, sig, key.public).reason
    f.write_bytes(REPORT)
    assert verify_file(f, sig, key.public).ok


def test_every_byte_of_the_signature_document_matters(signed):
    f, sig, key = signed
    original = sig.read_bytes()
    for offset in range(len(original)):  # inverted whitespace is invalid UTF-8, so even layout bytes count
        sig.write_bytes(flip(original, offset))
        v = verify_file(f, sig, key.public)
        assert not v.ok, f"signature byte {offset} changed but verification passed"
        assert v.member in (str(sig), str(f))


def test_wrong_public_key_fails(signed, tmp_path):
    f, sig, key = signed
    other = make_keys(tmp_path / "other")
    v = verify_file(f, sig, other.public)
    assert not v.ok and other.fingerprint in v.reason and key.fingerprint in v.reason


def test_forged_signature_with_recomputed_hash_fails(signed, tmp_path):
    """An attacker edits the file and rewrites sha256/size in the .sig: the Ed25519 signature no longer verifies."""
    f, sig, key = signed
    import hashlib

    forged = REPORT.replace(b"2 high", b"0 high")
    f.write_bytes(forged)
    doc = json.loads(sig.read_text())
    doc["sha256"], doc["size"] = hashlib.sha256(forged).hexdigest(), len(forged)
    sig.write_text(json.dumps(doc))
    v = verify_file(f, sig, key.public)
    assert not v.ok and "signature does not verify" in v.reason
