"""Integrity: Ed25519 keys, detached file signatures, signed evidence bundles and the tamper-evident ledger.

Data flows one way into this package: it reads the store's runs, alerts and events and never writes to them;
the ledger keeps its own tables (store/migrations/versions/0006_ledger.py).
"""

from .keys import KeyPair, fingerprint, load_private_key, load_public_key
from .signing import Verification, sign_file, verify_file

__all__ = ["KeyPair", "Verification", "fingerprint", "load_private_key", "load_public_key", "sign_file", "verify_file"]
