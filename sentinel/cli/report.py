"""`sentinel report`: the report command group.

verify FILE [--pubkey KEY]    check a signed file (FILE + FILE.sig) or an evidence bundle; exit 1 on any change
bundle --out FILE.tar ...     write a signed evidence bundle (see sentinel/integrity/bundle.py for the layout)

Other modules add commands to `report_app` (e.g. `report_app.command("render")(render)` from their own
`register`); main.py mounts it once, here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, emit_json

report_app = typer.Typer(help="Reports: rendering, signed evidence bundles and their verification.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


@report_app.command("verify")
def verify(
    target: Path = typer.Argument(..., help="A signed file (with FILE.sig beside it) or an evidence bundle (.tar)."),
    pubkey: Optional[str] = typer.Option(None, "--pubkey", help="Signer's public key PEM (default: local key)."),
    sig: Optional[Path] = typer.Option(None, "--sig", help="Detached signature (default: FILE.sig)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Verify a signed file or an evidence bundle: exit 0 intact, 1 changed, 2 unreadable input."""
    # why lazy: cryptography and tarfile cost ~0.25 s of start-up that other commands should not pay
    from ..integrity.bundle import looks_like_bundle, verify_bundle
    from ..integrity.keys import load_public_key
    from ..integrity.signing import verify_file

    if not target.is_file():
        raise InputError(str(target), "no such file")
    pub = load_public_key(pubkey)
    sig_path = sig or target.with_name(target.name + ".sig")
    if sig_path.exists():
        v = verify_file(target, sig_path, pub)
    else:
        try:
            with open(target, "rb") as f:
                head = f.read(512)
        except OSError as exc:
            raise InputError(str(target), f"cannot read: {exc.strerror}") from None
        if not looks_like_bundle(head):
            raise InputError(str(target), f"neither an evidence bundle nor a signed file (no {sig_path.name})")
        v = verify_bundle(target, pub)
    _print(v, json_out)
    if not v.ok:
        raise typer.Exit(1)


def _print(v, json_out: bool) -> None:
    if json_out:
        emit_json(v.to_dict())
        if not v.ok:
            typer.echo(f"error: {v.reason}", err=True)
        return
    if not v.ok:
        typer.echo(f"FAILED {v.target}: {v.reason}")
        for p in v.problems[1:]:
            typer.echo(f"  also: {p}")
        return
    typer.echo(f"OK {v.kind} {v.target}")
    typer.echo(f"signer {v.signer}  signed {v.signed}  by {v.tool}")
    for f in v.files:
        typer.echo(f"  {f['sha256']}  {f['size']:>10}  {f['name']}")


@report_app.command("bundle")
def bundle(
    out: Path = typer.Option(..., "--out", help="Bundle to write (a tar archive)."),
    runs: list[int] = typer.Option([], "--run", help="Include this run's alerts and evidence events; repeatable."),
    system: Optional[str] = typer.Option(None, "--system", help="Only alerts touching assets of this system."),
    files: list[Path] = typer.Option([], "--file", help="A file to include (e.g. a rendered report); repeatable."),
    levels: Optional[Path] = typer.Option(None, "--levels", help="Level files directory (default: ./levels or the "
                                                                 "repository's levels/ if present)."),
    key_dir: Optional[str] = typer.Option(None, "--key-dir", help="Private key directory (default: local keys)."),
    db: Optional[str] = DB_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write a signed evidence bundle: files, cited alerts and events, rules, levels, versions, signed manifest."""
    from ..detect.ruleset import builtin_dir
    from ..integrity.bundle import build_bundle, file_members, tree_members
    from ..integrity.evidence import store_members
    from ..integrity.keys import load_private_key

    key = load_private_key(key_dir)  # before any work: no key, no bundle
    members = file_members(files)
    if runs or system:
        from ..store import open_store

        members += store_members(open_store(db), list(runs), system)
    members += tree_members(builtin_dir(), "rules")
    lv = levels or next((p for p in (Path("levels"), builtin_dir().parent / "levels") if p.is_dir()), None)
    if lv is not None:
        if not lv.is_dir():
            raise InputError(str(lv), "--levels is not a directory")
        members += tree_members(lv, "levels")
    manifest = build_bundle(out, key, members)
    if json_out:
        emit_json({"bundle": str(out), "key_fingerprint": key.fingerprint, "members": manifest["members"]})
        return
    typer.echo(f"bundle {out}: {len(manifest['members'])} members + signed manifest, key {key.fingerprint}")
