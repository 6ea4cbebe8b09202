"""Detached signatures: `FILE.sig` next to `FILE`, a JSON document signed with Ed25519.

The signature covers the canonical JSON of every other field of the document (format, algorithm, file name,
size, sha256, key fingerprint, signed time, tool version), so changing any of them, or any byte of the file,
fails verification. Verification needs only the file, its .sig and the signer's public key.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .. import __version__
from ..errors import InputError
from .canonical import canonical, sha256_hex
from .keys import KeyPair, fingerprint, load_public_key

SIG_FORMAT = "sentinel-signature/1"
ALGORITHM = "ed25519"
_FIELDS = ("format", "algorithm", "file", "size", "sha256", "key_fingerprint", "signed", "tool")


@dataclass
class Verification:
    """What a verification established, or exactly what failed (`reason`, and the `member` it concerns)."""

    ok: bool
    target: str
    kind: str  # "file" or "bundle"
    signer: str | None = None
    signed: str | None = None
    tool: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # name, sha256, size of what was checked
    reason: str | None = None
    member: str | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, reason: str, member: str | None = None) -> "Verification":
        self.problems.append(reason)
        if self.ok:  # the first problem is the headline
            self.ok, self.reason, self.member = False, reason, member
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def sign_bytes(data: bytes, name: str, key: KeyPair, signed: str | None = None) -> dict[str, Any]:
    """The signature document for `data` (named `name`)."""
    doc = {"format": SIG_FORMAT, "algorithm": ALGORITHM, "file": name, "size": len(data), "sha256": sha256_hex(data),
           "key_fingerprint": key.fingerprint, "signed": signed or now_iso(), "tool": f"sentinel {__version__}"}
    doc["signature"] = base64.b64encode(key.private.sign(canonical(doc))).decode("ascii")
    return doc


def sig_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def sign_file(path: str | Path, key: KeyPair) -> Path:
    """Write `PATH.sig` for the file at `path`; returns the signature's path."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read file to sign: {exc.strerror}") from None
    sig_path = path.with_name(path.name + ".sig")
    sig_path.write_bytes(sig_bytes(sign_bytes(data, path.name, key)))
    return sig_path


def parse_sig(raw: bytes) -> dict[str, Any] | str:
    """The signature document, or why it is not one (a damaged .sig is a failed verification, not bad usage)."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(doc, dict):
        return "not a JSON object"
    missing = [f for f in (*_FIELDS, "signature") if f not in doc]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    extra = sorted(set(doc) - {*_FIELDS, "signature"})
    if extra:
        return f"unexpected field(s) {', '.join(extra)}"
    if doc["format"] != SIG_FORMAT or doc["algorithm"] != ALGORITHM:
        return f"unsupported format/algorithm {doc['format']!r}/{doc['algorithm']!r}"
    return doc


def check_bytes(data: bytes, doc_raw: bytes, pub: Ed25519PublicKey, v: Verification, label: str,
                sig_label: str) -> Verification:
    """Check `data` against the signature document `doc_raw`, recording the outcome in `v`."""
    doc = parse_sig(doc_raw)
    if isinstance(doc, str):
        return v.fail(f"{sig_label}: signature file damaged: {doc}", sig_label)
    v.signer, v.signed, v.tool = doc["key_fingerprint"], doc["signed"], doc["tool"]
    expected = fingerprint(pub)
    if doc["key_fingerprint"] != expected:
        return v.fail(f"{sig_label}: signed by key {doc['key_fingerprint']}, not by the given public key {expected}",
                      sig_label)
    try:
        sig = base64.b64decode(doc["signature"], validate=True)
        body = {k: doc[k] for k in _FIELDS}
        pub.verify(sig, canonical(body))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return v.fail(f"{sig_label}: signature does not verify (the signature document was altered or forged)",
                      sig_label)
    digest = sha256_hex(data)
    if len(data) != doc["size"]:
        return v.fail(f"{label}: size {len(data)} differs from signed size {doc['size']}", label)
    if digest != doc["sha256"]:
        return v.fail(f"{label}: content changed (sha256 {digest} differs from signed {doc['sha256']})", label)
    v.files.append({"name": label, "sha256": digest, "size": len(data)})
    return v


def verify_file(path: str | Path, sig_path: str | Path | None = None,
                pubkey: Ed25519PublicKey | str | Path | None = None) -> Verification:
    """Verify `path` against its detached signature (default `PATH.sig`) with `pubkey` (default: local key)."""
    path = Path(path)
    sig_path = Path(sig_path) if sig_path else path.with_name(path.name + ".sig")
    pub = pubkey if isinstance(pubkey, Ed25519PublicKey) else load_public_key(pubkey)
    data = _read(path, "file")
    raw = _read(sig_path, "signature")
    return check_bytes(data, raw, pub, Verification(ok=True, target=str(path), kind="file"), str(path), str(sig_path))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), f"no such {what}") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read {what}: {exc.strerror}") from None
