"""Evidence bundles: deterministic, complete, and any changed byte, added or removed member fails verification
with the member named."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from sentinel.integrity.bundle import MANIFEST, Member, build_bundle, tar_bytes, verify_bundle, verify_bundle_bytes

from .helpers import flip, make_keys

REPORT = b"<h1>Risk report</h1><p>SSH brute force from 35.188.49.176</p>\n"
ALERTS = b'{"id": 1, "rule": "ssh-bf", "level": "high", "src": "35.188.49.176"}\n'


@pytest.fixture
def bundle(tmp_path):
    key = make_keys(tmp_path / "keys")
    out = tmp_path / "evidence.tar"
    members = [Member("files/report.html", REPORT), Member("store/alerts.jsonl", ALERTS),
               Member("rules/application/ssh.yml", b"title: SSH\n")]
    build_bundle(out, key, members)
    return out, key


def member_span(data: bytes, name: str) -> tuple[int, int]:
    """Byte range of `name`'s contents inside the archive."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        info = tar.getmember(name)
        return info.offset_data, info.offset_data + info.size


def test_valid_bundle_lists_every_member_with_hash(bundle):
    out, key = bundle
    v = verify_bundle(out, key.public)
    assert v.ok, v.reason
    names = [f["name"] for f in v.files]
    assert names == [MANIFEST, "files/report.html", "store/alerts.jsonl", "rules/application/ssh.yml",
                     "versions.json"]
    assert v.signer == key.fingerprint
    with tarfile.open(out) as tar:
        infos = tar.getmembers()
        assert [i.name for i in infos][:2] == ["MANIFEST.json", "MANIFEST.json.sig"]
        assert all(i.isreg() and i.mtime == 0 and not i.name.startswith("/") for i in infos)
        versions = json.loads(tar.extractfile("versions.json").read())
    assert versions["sentinel"] and versions["python"] and "cryptography" in versions["libraries"]


def test_same_members_give_the_same_bytes():
    members = [Member("a.txt", b"1"), Member("dir/b.txt", b"22")]
    assert tar_bytes(members)[0] == tar_bytes(list(members))[0]


def test_every_byte_of_a_member_matters(bundle):
    out, key = bundle
    data = out.read_bytes()
    start, end = member_span(data, "files/report.html")
    for offset in range(start, end):
        v = verify_bundle_bytes(flip(data, offset), "b.tar", key.public)
        assert not v.ok, f"byte {offset} changed but the bundle verified"
        assert v.member == "files/report.html" and "content changed" in v.reason


def test_any_byte_of_the_archive_matters(bundle):
    """Headers, padding and end blocks too: a sample of offsets across the whole archive (every 7th byte)."""
    out, key = bundle
    data = out.read_bytes()
    for offset in range(0, len(data), 7):
        v = verify_bundle_bytes(flip(data, offset), "b.tar", key.public)
        assert not v.ok, f"byte {offset} changed but the bundle verified"
        assert v.reason


def test_manifest_and_its_signature_are_covered(bundle):
    out, key = bundle
    data = out.read_bytes()
    start, _ = member_span(data, MANIFEST)
    v = verify_bundle_bytes(flip(data, start + 10), "b.tar", key.public)
    assert not v.ok and v.member == MANIFEST
    start, _ = member_span(data, "MANIFEST.json.sig")
    v = verify_bundle_bytes(flip(data, start + 40), "b.tar", key.public)
    assert not v.ok and v.member in (MANIFEST, "MANIFEST.json.sig")


def rebuild(data: bytes, change) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [Member(i.name, tar.extractfile(i).read()) for i in tar.getmembers()]
    return tar_bytes(change(members))[0]


def test_added_member_fails_naming_it(bundle):
    out, key = bundle
    data = rebuild(out.read_bytes(), lambda ms: [*ms, Member("files/planted.txt", b"x")])
    v = verify_bundle_bytes(data, "b.tar", key.public)
    assert not v.ok and v.member == "files/planted.txt" and "extra" in v.reason


def test_removed_member_fails_naming_it(bundle):
    out, key = bundle
    data = rebuild(out.read_bytes(), lambda ms: [m for m in ms if m.name != "store/alerts.jsonl"])
    v = verify_bundle_bytes(data, "b.tar", key.public)
    assert not v.ok and v.member == "store/alerts.jsonl" and "missing" in v.reason


def test_replaced_member_content_fails(bundle):
    out, key = bundle
    data = rebuild(out.read_bytes(), lambda ms: [Member(m.name, b"{}\n") if m.name.startswith("store/") else m
                                                 for m in ms])
    v = verify_bundle_bytes(data, "b.tar", key.public)
    assert not v.ok and v.member == "store/alerts.jsonl"


def test_symlink_member_is_rejected(bundle):
    out, key = bundle
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(out.read_bytes())) as src, tarfile.open(fileobj=buf, mode="w") as dst:
        for info in src.getmembers():
            dst.addfile(info, src.extractfile(info))
        link = tarfile.TarInfo("files/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        dst.addfile(link)
    v = verify_bundle_bytes(buf.getvalue(), "b.tar", key.public)
    assert not v.ok and v.member == "files/passwd" and "regular file" in v.reason


def test_wrong_public_key_fails(bundle, tmp_path):
    out, key = bundle
    other = make_keys(tmp_path / "other")
    v = verify_bundle(out, other.public)
    assert not v.ok and other.fingerprint in v.reason
