"""`sentinel assets`: the asset inventory, reconciled with the devices observed in traffic.

list [--unknown] [--silent]   inventory and unknown devices, with the silent/unknown flags
show KEY                      one asset (by name) or observed device (by key, MAC or IP), with role evidence
import FILE [--replace]       load a YAML or CSV inventory (validated: errors name file, line and field)
export [--format] [--out]     write the inventory as YAML or CSV
set NAME field=value...       change fields of one asset
observe EVENTS.jsonl          feed events (one JSON object a line, as `Event.to_dict()`) to device discovery
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, emit_json, print_table

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.I)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

SILENCE_OPTION = typer.Option("24h", "--silence", envvar="SENTINEL_ASSET_SILENCE",
                              help="An inventory asset unseen this long before the newest observation is silent "
                                   "(seconds, or 30m, 24h, 7d).")


def parse_duration(text: str, option: str = "--silence") -> float:
    m = _DURATION.match(text)
    if not m:
        raise InputError(option, f"not a duration: {text!r} (e.g. 3600, 30m, 24h, 7d)")
    return float(m[1]) * _SECONDS[m[2].lower()]


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Asset inventory and passively observed devices.", no_args_is_help=True)
    app.add_typer(sub, name="assets")

    @sub.command("list")
    def list_(
        unknown: bool = typer.Option(False, "--unknown", help="Only observed devices that are not in the inventory."),
        silent: bool = typer.Option(False, "--silent", help="Only inventory assets not seen for the silence period."),
        silence: str = SILENCE_OPTION,
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """List inventory assets and unknown observed devices."""
        from ..assets.registry import reconcile
        from ..store import open_store

        period = parse_duration(silence)
        rec = reconcile(open_store(db), period)
        assets = [a for a in rec["assets"] if a["silent"]] if silent else rec["assets"]
        unknown_devs = rec["unknown"]
        if silent and not unknown:
            unknown_devs = []
        if unknown and not silent:
            assets = []
        if json_out:
            emit_json({"newest_observation": rec["newest_observation"], "silence_period": period,
                       "assets": assets, "unknown": unknown_devs,
                       "counts": {"assets": len(rec["assets"]), "silent": sum(a["silent"] for a in rec["assets"]),
                                  "devices": len(rec["devices"]), "unknown": len(rec["unknown"])}})
            return
        if assets or not (unknown or silent):
            print_table("Inventory", ["name", "layer", "crit", "level", "mac", "ip", "role", "last seen", "flags"],
                   [[a["name"], a["layer"], a["criticality"], a["protection_level"], a["mac"], a["ip"], a["role"],
                     _when(a["last_seen"]), "silent" if a["silent"] else ""] for a in assets])
        if unknown_devs or not (unknown or silent):
            print_table("Unknown devices (not in the inventory)", ["key", "ips", "vendor", "role", "last seen"],
                   [[d["key"], ", ".join(d["ips"][:3]), d["vendor"], d["role"], _when(d["last_seen"])]
                    for d in unknown_devs])

    @sub.command("show")
    def show(
        key: str = typer.Argument(..., help="Asset name, or an observed device's key, MAC or IP."),
        silence: str = SILENCE_OPTION,
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Show one asset or observed device, with the evidence behind its role."""
        from ..assets.registry import show as show_one
        from ..store import open_store

        res = show_one(open_store(db), key, parse_duration(silence))
        if json_out:
            emit_json(res)
            return
        a = res["asset"]
        if a:
            typer.echo(f"asset {a['name']}" + (" [silent]" if a["silent"] else ""))
            for f in ("owner", "location", "system", "layer", "criticality", "protection_level", "mac", "ip", "notes"):
                if a.get(f) is not None:
                    typer.echo(f"  {f}: {a[f]}")
        else:
            typer.echo("not in the inventory [unknown]")
        for d in res["devices"]:
            typer.echo(f"device {d['key']}: ips {', '.join(d['ips'])}; vendor {d['vendor'] or '-'}; "
                       f"seen {_when(d['first_seen'])} .. {_when(d['last_seen'])}")
            if d.get("interval"):
                typer.echo(f"  reports every {d['interval']:.1f} s")
            typer.echo(f"  protocols: {', '.join(d['protocols']) or '-'}; serves: {', '.join(d['server_ports']) or '-'}")
            typer.echo(f"  role: {d['role'] or 'unknown'}")
            for role, reasons in (d["roles"] or {}).items():
                typer.echo(f"    {role}: " + "; ".join(reasons))

    @sub.command("import")
    def import_(
        file: Path = typer.Argument(..., help="Inventory file, .yaml/.yml or .csv."),
        replace: bool = typer.Option(False, "--replace", help="Remove stored assets that the file does not list."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Import (upsert by name) assets from a YAML or CSV file."""
        from ..assets.inventory import load
        from ..assets.registry import import_assets
        from ..store import open_store

        assets = load(file)  # validate everything before touching the store
        counts = import_assets(open_store(db), assets, replace=replace)
        if json_out:
            emit_json({"file": str(file), "assets": len(assets), **counts})
        else:
            typer.echo(f"{file}: {len(assets)} assets ({counts['added']} added, {counts['updated']} updated, "
                       f"{counts['removed']} removed)")

    @sub.command("export")
    def export(
        fmt: str = typer.Option(None, "--format", help="yaml or csv (default: from --out's extension, else yaml)."),
        out: Path = typer.Option(None, "--out", help="Write to this file instead of stdout."),
        db: str = DB_OPTION,
    ) -> None:
        """Export the inventory as YAML or CSV (re-importable)."""
        from ..assets.inventory import dump_csv, dump_yaml
        from ..assets.registry import list_assets
        from ..store import open_store

        if fmt is None:
            fmt = "csv" if out is not None and out.suffix.lower() == ".csv" else "yaml"
        if fmt not in ("yaml", "csv"):
            raise InputError("--format", f"unknown format {fmt!r} (use yaml or csv)")
        assets = list_assets(open_store(db))
        text = dump_csv(assets) if fmt == "csv" else dump_yaml(assets)
        if out is None:
            typer.echo(text, nl=False)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(out), f"cannot write: {exc.strerror}") from None
        typer.echo(f"{out}: {len(assets)} assets", err=True)

    @sub.command("observe")
    def observe(
        file: Path = typer.Argument(..., help="Events as JSON lines (one `Event.to_dict()` object a line)."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Discover devices in already-decoded events and update the observed devices in the store."""
        from ..assets.registry import observe_run
        from ..store import open_store

        events = _read_jsonl(file)  # read and check all of it first: bad input never half-updates the store
        res = observe_run(open_store(db), events)
        if json_out:
            emit_json({"file": str(file), "events": len(events), **res.counts,
                       "heartbeat_lost": [e.to_dict() for e in res.heartbeat_lost]})
        else:
            typer.echo(f"{file}: {len(events)} events, {res.counts['devices']} devices "
                       f"({res.counts['new']} new), {len(res.heartbeat_lost)} heartbeat_lost")

    @sub.command("set")
    def set_(
        name: str = typer.Argument(..., help="Asset name."),
        assignments: list[str] = typer.Argument(None, help="field=value ... (an empty value unsets the field)."),
        create: bool = typer.Option(False, "--create", help="Create the asset when it does not exist."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Set fields of one asset, e.g. `assets set pump-3 criticality=4 layer=perception`."""
        from ..assets.inventory import coerce, parse_assignments
        from ..assets.registry import set_asset
        from ..store import open_store

        coerce("name", name)
        fields = parse_assignments(list(assignments or []))
        asset = set_asset(open_store(db), name, fields, create=create)
        if json_out:
            emit_json({"asset": asset})
        else:
            typer.echo(", ".join(f"{k}={v}" for k, v in asset.items() if v is not None))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    from ..events import KINDS

    out: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(str(path), f"not JSON: {exc.msg}", f"line {n}") from None
                if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
                    raise InputError(str(path), "not an event (an object with a known `kind`)", f"line {n}")
                ts = obj.get("ts")
                if not isinstance(ts, (int, float)) or isinstance(ts, bool):
                    raise InputError(str(path), "`ts` must be a number", f"line {n}, field 'ts'")
                out.append(obj)
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    return out
