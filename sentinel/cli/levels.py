"""`sentinel levels`: browse the MLPS 2.0 requirement catalogue, grade a system, validate catalogue edits."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, emit_json

levels_app = typer.Typer(help="MLPS 2.0 requirement catalogue (GB/T 22239) and grading (GB/T 22240).",
                         no_args_is_help=True)

DIR_OPTION = typer.Option(None, "--dir", help="Catalogue directory (default: the built-in levels/).")
LEVEL_OPTION = typer.Option(3, "--level", "-l", help="Protection level 1-4.")


def _catalogue(path: str | None):
    from ..compliance.catalogue import load_catalogue

    return load_catalogue(path)


def _check_level(level: int) -> int:
    if not 1 <= level <= 4:
        raise InputError("--level", f"level must be 1, 2, 3 or 4 (got {level})")
    return level


def _req_dict(r: Any, cases: list[Any] | None = None) -> dict[str, Any]:
    d = asdict(r)
    d["key"] = r.key
    d["evidence"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["evidence"].items()}
    if cases is not None:
        d["high_risk"] = [{"id": c.id, "min_level": c.min_level, "title_zh": c.title_zh, "title_en": c.title_en,
                           "mitigable": c.mitigable, "mitigation_en": c.mitigation_en,
                           "remediation_en": c.remediation_en} for c in cases]
    return d


@levels_app.command("list")
def list_items(
    level: int = LEVEL_OPTION,
    part: str = typer.Option(None, "--part", help="general, iot or cloud (default: all parts)."),
    family: str = typer.Option(None, "--family", help="Class code: PES CNS ABS CES SMC PSS ORS HRS CMS MMS."),
    layer: str = typer.Option(None, "--layer", help="perception, transport, application, physical, management."),
    evidence: str = typer.Option(None, "--evidence", help="observation, asset or assessor."),
    importance: str = typer.Option(None, "--importance", help="general, important or key."),
    directory: str = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List requirement items of a level, filtered."""
    from ..compliance.catalogue import EVIDENCE_KINDS, IMPORTANCE, LAYERS
    from ..compliance.model import FAMILIES, PARTS

    _check_level(level)
    for name, value, allowed in (("--part", part, PARTS), ("--family", family and family.upper(), FAMILIES),
                                 ("--layer", layer, LAYERS), ("--evidence", evidence, EVIDENCE_KINDS),
                                 ("--importance", importance, IMPORTANCE)):
        if value is not None and value not in allowed:
            raise InputError(name, f"{value!r} is not one of {', '.join(allowed)}")
    cat = _catalogue(directory)
    items = [r for r in cat.requirements if r.level == level and (part is None or r.part == part)
             and (family is None or r.family == family.upper()) and (layer is None or r.layer == layer)
             and (evidence is None or r.evidence.kind == evidence)
             and (importance is None or r.importance == importance)]
    if as_json:
        emit_json({"level": level, "count": len(items),
                   "control_points": len({(r.part, r.clause) for r in items}),
                   "requirements": [_req_dict(r) for r in items]})
        return
    for r in items:
        typer.echo(f"{r.unit:11} {r.key:12} {r.tag} {r.layer:11} {r.importance:9} {r.evidence.kind:11} "
                   f"{r.control_point_zh}: {r.title_zh} / {r.title_en}")
    typer.echo(f"{len(items)} items in {len({(r.part, r.clause) for r in items})} control points", err=True)


@levels_app.command("show")
def show(
    ref: str = typer.Argument(..., help="Unit id (L3-ABS1-07), item key ('8.1.3.3 a' or 8.1.3.3.a) or clause."),
    level: int = LEVEL_OPTION,
    directory: str = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one requirement item (or all items of a control point) with its evidence and high-risk cases."""
    from ..compliance.catalogue import cases_for, find

    _check_level(level)
    cat = _catalogue(directory)
    found = find(cat, ref, level)
    if not found:
        raise InputError(ref, f"no requirement item or control point with this id at level {level}")
    if as_json:
        emit_json({"ref": ref, "level": level, "requirements": [_req_dict(r, cases_for(cat, r)) for r in found]})
        return
    for r in found:
        e = r.evidence
        typer.echo(f"{r.unit}  {r.key}  level {r.level} {r.part}  [{r.tag}] {r.family} {r.control_point_zh} "
                   f"({r.control_point_en})")
        typer.echo(f"  {r.title_zh}\n  {r.title_en}")
        typer.echo(f"  layer {r.layer}, importance {r.importance}, evidence {e.kind}"
                   + (f", rule tags {' '.join(e.rule_tags)}" if e.rule_tags else "")
                   + (f", events {' '.join(e.event_kinds)}" if e.event_kinds else "")
                   + (f", asset facts {' '.join(e.asset_facts)}" if e.asset_facts else ""))
        if r.l3_key:
            typer.echo(f"  level-3 equivalent: {r.l3_key}")
        for c in cases_for(cat, r):
            typer.echo(f"  high risk {c.id} (level {c.min_level}+, {'mitigable' if c.mitigable else 'not mitigable'})"
                       f": {c.title_zh} / {c.title_en}")
            if c.mitigable:
                typer.echo(f"    mitigation: {c.mitigation_en}")
            typer.echo(f"    remediation: {c.remediation_en}")
        typer.echo(f"  defined at {r.source}")


@levels_app.command("grade")
def grade_cmd(
    s_object: str = typer.Option(..., "--s-object", help="Object harmed via business information: national, "
                                                         "society or rights (国家安全/社会秩序/合法权益)."),
    s_degree: str = typer.Option(..., "--s-degree", help="general, serious or particularly-serious (一般/严重/特别严重)."),
    a_object: str = typer.Option(..., "--a-object", help="Object harmed via system service (same values)."),
    a_degree: str = typer.Option(..., "--a-degree", help="Degree of harm via system service (same values)."),
    public_big_data: bool = typer.Option(False, "--public-big-data",
                                         help="Big-data platform with many citizens' personal data serving the "
                                              "public (in principle level 3 or higher)."),
    system: str = typer.Option(None, "--system", help="Record the result (level, S/A code, reasoning) on this "
                                                      "system, creating it if needed."),
    parts: str = typer.Option(None, "--parts", help="With --system: parts in use (general,iot,cloud...)."),
    db: str = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Grade a system (GB/T 22240-2020): level = max(S-level, A-level)."""
    from ..compliance.grading import LEVEL_ZH, grade

    g = grade(s_object, s_degree, a_object, a_degree, public_big_data=public_big_data)
    recorded = None
    if system:
        recorded = _record_grading(db, system, g, parts)
    if as_json:
        emit_json({**g.to_dict(), "system": system, "recorded": recorded})
        return
    if recorded:
        typer.echo(f"system {system} {recorded}: level {g.level}, {g.full_code}")
    typer.echo(f"{LEVEL_ZH[g.level]} / level {g.level}  {g.full_code}")
    for zh, en in zip(g.reasons_zh, g.reasons_en):
        typer.echo(f"  {zh}\n  {en}")


def _record_grading(db: str | None, name: str, g, parts: str | None) -> str:
    """Store the grading on the system (its level, S/A code and both languages' reasoning)."""
    from dataclasses import replace

    from ..compliance.assess import System, get_system, save_system
    from ..errors import InputError
    from ..store import open_store

    engine = open_store(db)
    reasoning = "\n".join([*g.reasons_zh, *g.reasons_en])
    try:
        current = get_system(engine, name)
    except InputError:
        current = System(name, g.level)
    new_parts = tuple(p.strip() for p in parts.split(",") if p.strip()) if parts else current.parts
    return save_system(engine, replace(current, level=g.level, sa_code=g.code, grading=reasoning, parts=new_parts))


@levels_app.command("validate")
def validate(
    directory: str = typer.Argument(None, help="Catalogue directory or file (default: the built-in levels/)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load and check a catalogue; exit 2 with file:line and field on the first error."""
    from ..compliance.catalogue import counts

    cat = _catalogue(directory)
    table = counts(cat)
    if as_json:
        emit_json({"ok": True, "items": len(cat.requirements), "high_risk": len(cat.high_risk),
                   "counts": [{"level": lv, "part": p, "control_points": c, "items": n}
                              for (lv, p), (c, n) in table.items()]})
        return
    for (lv, p), (c, n) in table.items():
        typer.echo(f"level {lv} {p:8} {c:3} control points {n:4} items")
    typer.echo(f"ok: {len(cat.requirements)} items, {len(cat.high_risk)} high-risk cases")


def register(app: typer.Typer) -> None:
    app.add_typer(levels_app, name="levels")
