"""`sentinel keys`: the Ed25519 key pair that signs reports, evidence bundles and ledger checkpoints.

init [--dir DIR] [--force]   create the pair (private 0600 in a 0700 directory; SENTINEL_KEY_PASSPHRASE encrypts it)
show [--dir DIR] [--json]    where the keys are and the public key's fingerprint (keys themselves are never printed)
"""

from __future__ import annotations

import stat
from typing import Optional

import typer

from .common import JSON_OPTION, emit_json

DIR_OPTION = typer.Option(None, "--dir", help="Key directory (default: SENTINEL_KEY_DIR, else "
                                               "$XDG_CONFIG_HOME/sentinel/keys or ~/.config/sentinel/keys).")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Signing keys (Ed25519) for reports, evidence bundles and the ledger.",
                      no_args_is_help=True)
    app.add_typer(sub, name="keys")

    @sub.command("init")
    def init(
        directory: Optional[str] = DIR_OPTION,
        force: bool = typer.Option(False, "--force", help="Replace an existing key pair (the old one is lost)."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Create a key pair; prints the public key fingerprint (SHA-256 of the raw public key)."""
        from ..integrity.keys import init_keys, key_dir, private_key_encrypted  # why lazy: cryptography start-up

        d = key_dir(directory)
        fp, priv, pub = init_keys(d, force=force)
        info = {"fingerprint": fp, "private_key": str(priv), "public_key": str(pub),
                "encrypted": private_key_encrypted(d)}
        if json_out:
            emit_json(info)
            return
        typer.echo(f"private key  {priv} (mode 0600{', encrypted' if info['encrypted'] else ''})")
        typer.echo(f"public key   {pub}")
        typer.echo(f"fingerprint  {fp}")

    @sub.command("show")
    def show(directory: Optional[str] = DIR_OPTION, json_out: bool = JSON_OPTION) -> None:
        """Show the key pair's paths and fingerprint (refuses a private key readable by group/others)."""
        from ..integrity.keys import (PASSPHRASE_ENV, PRIVATE_NAME, PUBLIC_NAME, key_dir, load_private_key,
                                      private_key_encrypted)

        d = key_dir(directory)
        key = load_private_key(d)  # checks presence, mode and passphrase: show fails exactly when signing would
        priv = d / PRIVATE_NAME
        info = {"directory": str(d), "fingerprint": key.fingerprint, "private_key": str(priv),
                "private_mode": f"{stat.S_IMODE(priv.stat().st_mode):04o}", "public_key": str(d / PUBLIC_NAME),
                "encrypted": private_key_encrypted(d), "algorithm": "ed25519"}
        if json_out:
            emit_json(info)
            return
        for k, v in info.items():
            typer.echo(f"{k:<12} {v}")
        if not info["encrypted"]:
            typer.echo(f"note: the private key is not encrypted (set {PASSPHRASE_ENV} before `keys init` to encrypt)",
                       err=True)
