"""Canonical JSON: the one byte encoding that signatures and hashes are computed over.

why: a signature over "a JSON object" is only checkable if signer and verifier produce the same bytes; sorted
keys, no whitespace and UTF-8 make the encoding a function of the value alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=str).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
