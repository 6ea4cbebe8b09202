"""Ed25519 signing keys: where they live, creating them, loading them safely.

The private key is PKCS8 PEM (encrypted when SENTINEL_KEY_PASSPHRASE is set) with mode 0600 in a 0700 directory;
a private key that group or others can read is refused, like ssh does, because a key others could have copied
proves nothing. Keys are identified by their fingerprint: SHA-256 of the 32 raw public key bytes, in hex.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InputError
from .canonical import sha256_hex

PRIVATE_NAME = "ed25519.pem"
PUBLIC_NAME = "ed25519.pub.pem"
PASSPHRASE_ENV = "SENTINEL_KEY_PASSPHRASE"


def key_dir(override: str | Path | None = None) -> Path:
    """--dir, else SENTINEL_KEY_DIR, else $XDG_CONFIG_HOME/sentinel/keys, else ~/.config/sentinel/keys."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("SENTINEL_KEY_DIR"):
        return Path(os.environ["SENTINEL_KEY_DIR"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "sentinel" / "keys"


def fingerprint(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


@dataclass(frozen=True)
class KeyPair:
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    fingerprint: str


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def _write_exclusive(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Write `data` with `mode` from the first byte (never briefly world-readable), replacing only with force."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        os.fchmod(fd, mode)  # why: os.open's mode is filtered by the umask; the key's mode must not be
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not force and path.exists():
        tmp.unlink()
        raise InputError(str(path), "already exists: pass --force to replace the key pair")
    os.replace(tmp, path)


def init_keys(directory: Path, force: bool = False) -> tuple[str, Path, Path]:
    """Create a key pair in `directory`; returns (fingerprint, private path, public path)."""
    priv_path, pub_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if not force:
        for p in (priv_path, pub_path):
            if p.exists():
                raise InputError(str(p), "already exists: pass --force to replace the key pair")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        key = Ed25519PrivateKey.generate()
        secret = _passphrase()
        enc = (serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption())
        priv_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        _write_exclusive(priv_path, priv_pem, 0o600, force)
        _write_exclusive(pub_path, pub_pem, 0o644, force)
    except PermissionError as exc:
        raise InputError(str(directory), f"cannot write keys: {exc.strerror}") from None
    return fingerprint(key.public_key()), priv_path, pub_path


def check_private_mode(path: Path) -> int:
    """The file's permission bits; refuses a private key that group or others can access."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(str(path), "no private key: run `sentinel keys init`") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise InputError(str(path), f"private key is accessible by group/others (mode {mode:04o}): "
                                    "refusing to use it; chmod 600 it or create a new key pair")
    return mode


def load_private_key(directory: str | Path | None = None) -> KeyPair:
    path = key_dir(directory) / PRIVATE_NAME
    check_private_mode(path)
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase())
    except TypeError:
        # why: cryptography raises TypeError both for "encrypted but no password" and the reverse
        if _passphrase() is None:
            raise InputError(str(path), f"private key is encrypted: set {PASSPHRASE_ENV}") from None
        raise InputError(str(path), f"private key is not encrypted: unset {PASSPHRASE_ENV}") from None
    except ValueError:
        raise InputError(str(path), "cannot load private key (wrong passphrase or not a PEM key)") from None
    except UnsupportedAlgorithm:
        raise InputError(str(path), "unsupported private key algorithm") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(str(path), "not an Ed25519 private key")
    return KeyPair(key, key.public_key(), fingerprint(key.public_key()))


def private_key_encrypted(directory: str | Path | None = None) -> bool:
    return b"ENCRYPTED" in (key_dir(directory) / PRIVATE_NAME).read_bytes()[:64]


def load_public_key(path: str | Path | None = None) -> Ed25519PublicKey:
    """A public key PEM file (`--pubkey`), or the local key directory's public key."""
    p = Path(path).expanduser() if path else key_dir() / PUBLIC_NAME
    if p.is_dir():
        p = p / PUBLIC_NAME
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        hint = "" if path else ": pass --pubkey or run `sentinel keys init`"
        raise InputError(str(p), f"no public key{hint}") from None
    except OSError as exc:
        raise InputError(str(p), f"cannot read public key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(str(p), "not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(str(p), "not an Ed25519 public key")
    return key
