"""`sentinel ledger`: the tamper-evident hash chain of alerts, findings and actions.

verify [--pubkey KEY] [--json]   recompute the chain and the signed checkpoints; exit 1 naming each problem
checkpoint                       sign the current head with the local private key
show [--limit N] [--json]        the newest entries
"""

from __future__ import annotations

from typing import Optional

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, emit_json

PUBKEY_OPTION = typer.Option(None, "--pubkey", help="Public key PEM (default: the local key directory's).")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Tamper-evident ledger (hash chain with signed checkpoints).", no_args_is_help=True)
    app.add_typer(sub, name="ledger")

    @sub.command("verify")
    def verify(db: Optional[str] = DB_OPTION, pubkey: Optional[str] = PUBKEY_OPTION,
               json_out: bool = JSON_OPTION) -> None:
        """Recompute the chain and checkpoints; exit 1 if any entry was edited, inserted or deleted."""
        from ..store import open_store

        from ..integrity import ledger as lg

        engine = open_store(db)
        pub = _pubkey_if_any(pubkey)
        rep = lg.verify(engine, pub)
        if json_out:
            emit_json(rep.to_dict())
        else:
            for p in rep.problems:
                typer.echo(f"FAIL seq {p.seq}: {p.problem}: {p.detail}")
            state = "intact" if rep.ok else f"{len(rep.problems)} problem(s)"
            typer.echo(f"ledger {state}: {rep.entries} entries, head seq {rep.head_seq} {rep.head_hash}, "
                       f"{rep.checkpoints_verified}/{rep.checkpoints} checkpoints verified"
                       + (f" (signer {rep.signer})" if rep.signer else ""))
        if not rep.ok:
            first = rep.problems[0]
            if json_out:
                typer.echo(f"error: ledger seq {first.seq}: {first.problem}: {first.detail}", err=True)
            raise typer.Exit(1)

    @sub.command("checkpoint")
    def checkpoint(db: Optional[str] = DB_OPTION, key_dir: Optional[str] = typer.Option(
            None, "--key-dir", help="Private key directory (default: the local key directory)."),
            json_out: bool = JSON_OPTION) -> None:
        """Sign the ledger's current head (seq and hash) with the private key."""
        from ..store import open_store

        from ..integrity import ledger as lg

        from ..integrity.keys import load_private_key

        key = load_private_key(key_dir)
        cp = lg.checkpoint(open_store(db), key)
        if cp is None:
            if json_out:
                emit_json({"checkpoint": None})
            else:
                typer.echo("ledger is empty: nothing to checkpoint")
            return
        if json_out:
            emit_json({"checkpoint": {"seq": cp.seq, "head_hash": cp.head_hash, "ts": cp.ts,
                                      "key_fingerprint": cp.key_fingerprint}})
        else:
            typer.echo(f"checkpoint seq {cp.seq} head {cp.head_hash} signed by {cp.key_fingerprint}")

    @sub.command("show")
    def show(db: Optional[str] = DB_OPTION, limit: int = typer.Option(20, "--limit", min=1, help="Newest N entries."),
             json_out: bool = JSON_OPTION) -> None:
        """The newest ledger entries."""
        from ..store import open_store

        from ..integrity import ledger as lg

        entries = lg.recent(open_store(db), limit)
        if json_out:
            emit_json({"entries": [e.to_dict() for e in entries]})
            return
        for e in entries:
            payload = e.payload if len(e.payload) <= 100 else e.payload[:97] + "..."
            typer.echo(f"{e.seq:>6} {e.ts} {e.kind:<8} {e.ref or '-':<14} {e.hash[:16]} {payload}")


def _pubkey_if_any(path: str | None):
    """--pubkey, else the local public key if there is one (needed only when checkpoints exist)."""
    from ..integrity.keys import load_public_key

    if path:
        return load_public_key(path)
    try:
        return load_public_key(None)
    except InputError:  # no local key: verify reports it only if a checkpoint needs one
        return None
