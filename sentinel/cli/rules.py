"""`sentinel rules`: list, show, validate and test detection rules (Sigma, with correlations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from .common import JSON_OPTION, emit_json

rules_app = typer.Typer(help="List, show, validate and test detection rules (Sigma).", no_args_is_help=True)

RULES_OPTION = typer.Option(None, "--rules", "-r", help="Extra rule directory or file (repeatable).")
NO_BUILTIN = typer.Option(False, "--no-builtin", help="Do not load the built-in rules/ directory.")


def _load(dirs: list[str] | None, no_builtin: bool):
    from ..detect import RuleSet

    return RuleSet.load(dirs or [], builtin=not no_builtin)


def _meta_dict(m: Any, kind: str) -> dict[str, Any]:
    return {
        "id": m.id, "name": m.name, "title": m.title, "type": kind, "level": m.level, "layer": m.layer,
        "kinds": list(m.kinds), "attack": m.attack, "controls": m.controls, "tags": m.tags, "status": m.status,
        "logsource": m.logsource, "path": m.path, "falsepositives": m.falsepositives, "description": m.description,
    }


@rules_app.command("list")
def list_rules(
    layer: str = typer.Option(None, "--layer", help="perception, transport or application."),
    tag: str = typer.Option(None, "--tag", help="Only rules with this tag (e.g. attack.t1046, mlps.8.1.3.3)."),
    level: str = typer.Option(None, "--level", help="Only rules of this level."),
    rules: list[str] = RULES_OPTION,
    no_builtin: bool = NO_BUILTIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """List loaded rules."""
    rs = _load(rules, no_builtin)
    items = [_meta_dict(r.meta, "detection") for r in rs.rules] + [_meta_dict(c.meta, c.type) for c in rs.correlations]
    if layer:
        items = [i for i in items if i["layer"] == layer]
    if level:
        items = [i for i in items if i["level"] == level.lower()]
    if tag:
        t = tag.lower()
        items = [i for i in items if t in i["tags"] or t.removeprefix("mlps.") in i["controls"]
                 or t.removeprefix("attack.").upper() in i["attack"]]
    if as_json:
        emit_json({"rules": items, "count": len(items)})
        return
    for i in items:
        typer.echo(f"{i['id'][:36]:36}  {i['level']:13} {i['layer']:11} {i['type']:16} {i['title']}")
    typer.echo(f"{len(items)} rules", err=True)


@rules_app.command("show")
def show(
    rule_id: str = typer.Argument(..., help="Rule id, name, or a unique id prefix."),
    rules: list[str] = RULES_OPTION,
    no_builtin: bool = NO_BUILTIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one rule: metadata and the file it came from."""
    from ..detect.ruleset import Correlation

    rs = _load(rules, no_builtin)
    item = rs.find(rule_id)
    if item is None:
        raise InputError("ID", f"no rule with id or name {rule_id!r}")
    d = _meta_dict(item.meta, item.type if isinstance(item, Correlation) else "detection")
    if isinstance(item, Correlation):
        d.update(rules=[r.meta.id for r in item.rules], group_by=item.group_by, timespan=item.timespan,
                 condition={item.op: item.count} if item.op else None)
    else:
        d["tests"] = [{"selection": l.selection, "field": l.field or "<keywords>", "test": l.description}
                      for l in item.compiled.leaves]
    if as_json:
        emit_json(d)
        return
    for k, v in d.items():
        if k != "tests":
            typer.echo(f"{k:15} {v}")
    for t in d.get("tests", []):
        typer.echo(f"  [{t['selection']}] {t['field']}: {t['test'][:200]}")


@rules_app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(..., help="Rule files or directories."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load rules and report every error as file:line; exit 2 when there is any."""
    from ..detect.ruleset import load_files, rule_files

    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InputError(str(p), "no such file or directory")
        files.extend(rule_files(p))
    rs = load_files(files)
    errors = [{"file": e.source, "position": e.position, "message": e.message} for e in rs.errors]
    if as_json:
        emit_json({"files": len(files), "rules": len(rs.rules), "correlations": len(rs.correlations), "errors": errors})
    else:
        for e in rs.errors:
            typer.echo(f"{e.oneline()}", err=True)
        typer.echo(f"{len(files)} files, {len(rs.rules)} rules, {len(rs.correlations)} correlations, {len(errors)} errors")
    if errors:
        raise typer.Exit(2)


@rules_app.command("test")
def test(
    target: Path = typer.Argument(..., help="Rule file or directory."),
    events: Path = typer.Option(None, "--events", help="Events, one JSON object per line (as written by --events)."),
    capture: Path = typer.Option(None, "--capture", help="A capture file (pcap/pcapng), decoded as `analyze` does."),
    log: Path = typer.Option(None, "--log", help="A log file, parsed as `ingest` does (format sniffed per line)."),
    builtin: bool = typer.Option(False, "--builtin", help="Also load the built-in rules."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run rules over events (from an events file, a capture or a log; nothing is stored) and show what matched and
    why (selection, field, value), then the alerts."""
    from ..detect import Engine, RuleSet

    if not target.exists():
        raise InputError(str(target), "no such file or directory")
    given = [x for x in (events, capture, log) if x is not None]
    if len(given) != 1:
        raise InputError("rules test", "give exactly one of --events, --capture, --log")
    if not given[0].exists():
        raise InputError(str(given[0]), "no such file")
    rs = RuleSet.load([target], builtin=builtin)
    eng = Engine(rs)
    matches: list[dict[str, Any]] = []
    source = _events_file(events) if events else _capture_events(capture) if capture else _log_events(log)
    for line, where, ev in source:
        for rule, why in eng.explain(ev):
            matches.append({"line": line, "where": where, "rule": rule.meta.id, "title": rule.meta.title, "why": why})
        eng.process(ev)
    alerts = [a.to_dict() for a in eng.finish()]
    if as_json:
        emit_json({"events": eng.events, "matches": matches, "alerts": alerts})
        return
    for m in matches:
        typer.echo(f"{m['where']}: {m['title']} ({m['rule']})")
        for w in m["why"]:
            typer.echo(f"    [{w['selection']}] {w['field']} = {str(w['value'])[:160]!r}  <- {w['test'][:160]}")
    for a in alerts:
        typer.echo(f"ALERT {a['level']:8} {a['title']}  src={a['src']} count={a['count']} group={a['group']}")
    typer.echo(f"{eng.events} events, {len(matches)} matches, {len(alerts)} alerts", err=True)


def _events_file(path: Path):
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(path), f"not JSON: {exc.msg}", f"line {n}") from None
            if not isinstance(ev, dict) or "kind" not in ev:
                raise InputError(str(path), "an event must be a JSON object with a `kind`", f"line {n}")
            yield n, f"line {n}", ev


def _capture_events(path: Path):
    from ..capture.pipeline import analyze_files
    from ..decode.registry import default_registry

    run = analyze_files([path], registry=default_registry(), strict=True)
    evs = sorted((e for batch, _ in run for e in batch), key=lambda e: e.ts)  # correlations need time order
    for e in evs:
        yield None, f"{e.kind} {e.src_ip}:{e.src_port} -> {e.dst_ip}:{e.dst_port}", e.to_dict()


def _log_events(path: Path):
    from ..logs.reader import Stats, read_file

    evs: list = []
    read_file(str(path), "auto", Stats(), evs.append)
    for e in sorted(evs, key=lambda e: e.ts):
        yield None, getattr(e, "source", "") or e.kind, e.to_dict()


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
