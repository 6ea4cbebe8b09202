"""`sentinel keys init|show` through the real CLI: modes, refusals, exit codes; key material is never printed."""

from __future__ import annotations

import json
import os
import stat

from tests.conftest import run_cli


def env(tmp_path, **extra):
    return {"SENTINEL_KEY_DIR": str(tmp_path / "keys"), "SENTINEL_KEY_PASSPHRASE": "", **extra}


def secrets(d) -> list[str]:
    """Lines of the key files' base64 bodies: none may ever appear in output."""
    out = []
    for p in d.iterdir():
        out += [line for line in p.read_text().splitlines() if not line.startswith("-----")]
    return out


def test_init_then_show(tmp_path):
    res = run_cli("keys", "init", env=env(tmp_path))
    assert res.returncode == 0, res.stderr
    d = tmp_path / "keys"
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(d / "ed25519.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "ed25519.pub.pem").st_mode) == 0o644
    fp = res.stdout.decode().split("fingerprint")[1].split()[0]
    assert len(fp) == 64
    show = run_cli("keys", "show", "--json", env=env(tmp_path))
    assert show.returncode == 0, show.stderr
    info = json.loads(show.stdout)
    assert info["fingerprint"] == fp and info["private_mode"] == "0600" and info["encrypted"] is False
    text = (res.stdout + res.stderr + show.stdout + show.stderr).decode()
    assert "PRIVATE KEY" not in text
    assert not any(s in text for s in secrets(d))


def test_init_with_dir_refuses_overwrite_without_force(tmp_path):
    d = tmp_path / "elsewhere"
    assert run_cli("keys", "init", "--dir", str(d), env=env(tmp_path)).returncode == 0
    before = (d / "ed25519.pem").read_bytes()
    again = run_cli("keys", "init", "--dir", str(d), env=env(tmp_path))
    assert again.returncode == 2 and b"--force" in again.stderr and len(again.stderr.splitlines()) == 1
    assert (d / "ed25519.pem").read_bytes() == before
    forced = run_cli("keys", "init", "--dir", str(d), "--force", "--json", env=env(tmp_path))
    assert forced.returncode == 0 and (d / "ed25519.pem").read_bytes() != before
    assert json.loads(forced.stdout)["fingerprint"]


def test_world_readable_private_key_is_refused(tmp_path):
    run_cli("keys", "init", env=env(tmp_path))
    os.chmod(tmp_path / "keys" / "ed25519.pem", 0o644)
    res = run_cli("keys", "show", env=env(tmp_path))
    assert res.returncode == 2
    assert res.stderr.decode().count("\n") == 1 and "mode 0644" in res.stderr.decode()
    assert b"Traceback" not in res.stderr


def test_missing_key_is_one_line_exit_2(tmp_path):
    res = run_cli("keys", "show", env=env(tmp_path))
    assert res.returncode == 2 and b"keys init" in res.stderr and res.stderr.count(b"\n") == 1


def test_passphrase_encrypts(tmp_path):
    e = env(tmp_path, SENTINEL_KEY_PASSPHRASE="s3cret pass")
    assert run_cli("keys", "init", env=e).returncode == 0
    assert b"ENCRYPTED" in (tmp_path / "keys" / "ed25519.pem").read_bytes()
    assert json.loads(run_cli("keys", "show", "--json", env=e).stdout)["encrypted"] is True
    wrong = run_cli("keys", "show", env=env(tmp_path, SENTINEL_KEY_PASSPHRASE="nope"))
    assert wrong.returncode == 2 and b"passphrase" in wrong.stderr
