"""Key pairs: file modes, refusal of exposed private keys, passphrase encryption, fingerprints."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from sentinel.errors import InputError
from sentinel.integrity.keys import (PRIVATE_NAME, PUBLIC_NAME, init_keys, key_dir, load_private_key,
                                     load_public_key)


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_init_writes_private_0600_in_0700_dir_and_public_0644(tmp_path):
    d = tmp_path / "cfg" / "keys"
    old = os.umask(0o022)  # a permissive umask must not leak into the key's mode
    try:
        fp, priv, pub = init_keys(d)
    finally:
        os.umask(old)
    assert mode(d) == 0o700
    assert mode(priv) == 0o600
    assert mode(pub) == 0o644
    assert priv.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
    raw = load_public_key(pub).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert fp == hashlib.sha256(raw).hexdigest()
    assert load_private_key(d).fingerprint == fp


def test_init_refuses_to_overwrite_without_force(tmp_path):
    fp, priv, _ = init_keys(tmp_path / "k")
    before = priv.read_bytes()
    with pytest.raises(InputError, match="--force"):
        init_keys(tmp_path / "k")
    assert priv.read_bytes() == before
    fp2, priv2, _ = init_keys(tmp_path / "k", force=True)
    assert fp2 != fp and mode(priv2) == 0o600


@pytest.mark.parametrize("bad", [0o644, 0o640, 0o604, 0o660])
def test_private_key_with_group_or_other_access_is_refused(tmp_path, bad):
    _, priv, _ = init_keys(tmp_path / "k")
    os.chmod(priv, bad)
    with pytest.raises(InputError, match=f"mode {bad:04o}") as exc:
        load_private_key(tmp_path / "k")
    assert exc.value.exit_code == 2


def test_missing_key_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="keys init"):
        load_private_key(tmp_path / "none")
    with pytest.raises(InputError, match="no public key"):
        load_public_key(tmp_path / "none" / PUBLIC_NAME)


def test_passphrase_encrypts_the_private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_KEY_PASSPHRASE", "correct horse")
    fp, priv, _ = init_keys(tmp_path / "k")
    assert b"ENCRYPTED PRIVATE KEY" in priv.read_bytes()
    assert load_private_key(tmp_path / "k").fingerprint == fp
    monkeypatch.setenv("SENTINEL_KEY_PASSPHRASE", "wrong")
    with pytest.raises(InputError, match="passphrase"):
        load_private_key(tmp_path / "k")
    monkeypatch.delenv("SENTINEL_KEY_PASSPHRASE")
    with pytest.raises(InputError, match="encrypted"):
        load_private_key(tmp_path / "k")


def test_key_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTINEL_KEY_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert key_dir() == tmp_path / "xdg" / "sentinel" / "keys"
    monkeypatch.setenv("SENTINEL_KEY_DIR", str(tmp_path / "env"))
    assert key_dir() == tmp_path / "env"
    assert key_dir(tmp_path / "flag") == tmp_path / "flag"
    assert (key_dir() / PRIVATE_NAME).name == PRIVATE_NAME
