"""Evidence bundles: one deterministic tar of a report, the alerts and events it cites, the rules in use and the
tool versions, with a signed manifest.

Layout (member order is fixed; every member is a regular file, mode 0644, mtime 0, owner 0/0, no links):

    MANIFEST.json          {"format", "created", "tool", "key_fingerprint", "members": [{"name","sha256","size"}]}
    MANIFEST.json.sig      signature document (signing.py) over MANIFEST.json
    files/<name>           the files given with --file (e.g. a rendered report)
    store/runs.jsonl       the runs cited
    store/alerts.jsonl     their alerts
    store/events.jsonl     the evidence events those alerts are linked to
    store/assets.jsonl     with --system: the assets of that system
    rules/**, levels/**    the rule and level files in use
    versions.json          sentinel, python and key library versions

Verification re-serialises the members with the same writer and compares bytes, so a change to any byte of the
archive (tar headers and padding included, not only member contents) fails.
"""

from __future__ import annotations

import io
import json
import platform
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import __version__
from ..errors import InputError
from .canonical import sha256_hex
from .keys import KeyPair
from .signing import Verification, check_bytes, now_iso, sig_bytes, sign_bytes

BUNDLE_FORMAT = "sentinel-bundle/1"
MANIFEST = "MANIFEST.json"
MANIFEST_SIG = "MANIFEST.json.sig"
_LIBS = ("cryptography", "sqlalchemy", "sqlmodel", "alembic", "typer", "yara-python", "pysigma", "scapy", "pyshark",
         "orjson", "pyyaml", "psycopg")


@dataclass
class Member:
    name: str
    data: bytes


# ---------------------------------------------------------------- writing


def tar_bytes(members: list[Member]) -> tuple[bytes, list[tuple[int, int, str]]]:
    """The archive bytes for `members` in order, and each member's (start, end, name) byte span.

    why deterministic: the same members always give the same bytes, which is what lets verification compare the
    whole archive and not only the member contents.
    """
    buf = io.BytesIO()
    spans: list[tuple[int, int, str]] = []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            start = buf.tell()
            info = tarfile.TarInfo(m.name)
            info.size, info.mode, info.mtime = len(m.data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(m.data))
            spans.append((start, buf.tell(), m.name))
    return buf.getvalue(), spans


def versions() -> dict[str, Any]:
    libs = {}
    for name in _LIBS:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"sentinel": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "libraries": libs}


def tree_members(root: Path, prefix: str) -> list[Member]:
    """Every regular file under `root` as `prefix/relative/path`, sorted; symlinks are skipped (no links out)."""
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file() or "__pycache__" in p.parts:
            continue
        out.append(Member(f"{prefix}/{p.relative_to(root).as_posix()}", p.read_bytes()))
    return out


def file_members(paths: Iterable[Path]) -> list[Member]:
    out: list[Member] = []
    used: set[str] = set()
    for i, p in enumerate(paths):
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InputError(str(p), f"cannot read file for the bundle: {exc.strerror}") from None
        name = f"files/{p.name}"
        if name in used:  # two --file with the same base name: keep both
            name = f"files/{i}-{p.name}"
        used.add(name)
        out.append(Member(name, data))
    return out


def jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True, default=str, ensure_ascii=False).encode() + b"\n" for r in rows)


def build_bundle(out: Path, key: KeyPair, members: list[Member], created: str | None = None) -> dict[str, Any]:
    """Write the bundle of `members` (plus versions.json) to `out`, with the signed manifest. Returns the manifest."""
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise InputError(str(out), "duplicate member names in the bundle")
    members = [*members, Member("versions.json", json.dumps(versions(), indent=2, sort_keys=True).encode() + b"\n")]
    manifest = {"format": BUNDLE_FORMAT, "created": created or now_iso(), "tool": f"sentinel {__version__}",
                "key_fingerprint": key.fingerprint,
                "members": [{"name": m.name, "sha256": sha256_hex(m.data), "size": len(m.data)} for m in members]}
    mbytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    sig = sig_bytes(sign_bytes(mbytes, MANIFEST, key, manifest["created"]))
    data, _ = tar_bytes([Member(MANIFEST, mbytes), Member(MANIFEST_SIG, sig), *members])
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        raise InputError(str(out), f"cannot write bundle: {exc.strerror}") from None
    return manifest


# ---------------------------------------------------------------- reading


def looks_like_bundle(head: bytes) -> bool:
    """A tar whose first member is the manifest; robust to any single damaged byte in the first header."""
    return head[257:262] == b"ustar" or MANIFEST.encode() in head[:512]


def _read_members(data: bytes, v: Verification) -> list[Member] | None:
    members: list[Member] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for info in tar:
                name = info.name
                p = PurePosixPath(name)
                if p.is_absolute() or ".." in p.parts:
                    v.fail(f"member {name!r}: unsafe path (absolute or with ..)", name)
                    continue
                if not info.isreg():
                    v.fail(f"member {name!r}: not a regular file (links and devices are not allowed)", name)
                    continue
                f = tar.extractfile(info)
                members.append(Member(name, f.read() if f else b""))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        v.fail(f"bundle damaged: the tar archive cannot be read ({exc})")
        return None
    return members


def verify_bundle(path: Path, pub: Ed25519PublicKey) -> Verification:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read bundle: {exc.strerror}") from None
    return verify_bundle_bytes(data, str(path), pub)


def verify_bundle_bytes(data: bytes, target: str, pub: Ed25519PublicKey) -> Verification:
    v = Verification(ok=True, target=target, kind="bundle")
    members = _read_members(data, v)
    if members is None:
        return v
    by_name: dict[str, Member] = {}
    for m in members:
        if m.name in by_name:
            v.fail(f"member {m.name!r}: appears twice", m.name)
        by_name[m.name] = m
    if MANIFEST not in by_name or MANIFEST_SIG not in by_name:
        missing = MANIFEST if MANIFEST not in by_name else MANIFEST_SIG
        return v.fail(f"member {missing!r}: missing", missing)
    mbytes = by_name[MANIFEST].data
    check_bytes(mbytes, by_name[MANIFEST_SIG].data, pub, v, MANIFEST, MANIFEST_SIG)
    if not v.ok:
        return v
    manifest = json.loads(mbytes)  # signed, so it is the JSON we wrote
    listed = {e["name"]: e for e in manifest["members"]}
    for name in [n for n in by_name if n not in listed and n not in (MANIFEST, MANIFEST_SIG)]:
        v.fail(f"member {name!r}: extra (not in the signed manifest)", name)
    for name, entry in listed.items():
        m = by_name.get(name)
        if m is None:
            v.fail(f"member {name!r}: missing (listed in the signed manifest)", name)
            continue
        digest = sha256_hex(m.data)
        if len(m.data) != entry["size"]:
            v.fail(f"member {name!r}: size {len(m.data)} differs from the manifest's {entry['size']}", name)
        elif digest != entry["sha256"]:
            v.fail(f"member {name!r}: content changed (sha256 {digest} differs from the manifest's "
                   f"{entry['sha256']})", name)
        else:
            v.files.append({"name": name, "sha256": digest, "size": len(m.data)})
    if v.ok:
        _check_layout(data, members, v)
    return v


def _check_layout(data: bytes, members: list[Member], v: Verification) -> None:
    """Every member verified: the archive bytes must still be exactly what the writer produces for them."""
    expected, spans = tar_bytes(members)
    if expected == data:
        return
    n = min(len(expected), len(data))
    at = next((i for i in range(n) if expected[i] != data[i]), n)
    where = next((name for start, end, name in spans if start <= at < end), "end-of-archive blocks")
    v.fail(f"bundle bytes changed at offset {at} (tar header or padding of {where!r}; member contents intact)",
           where)
