"""`sentinel assess`: MLPS assessment of a system — findings, evaluation from evidence, risk and score.

assess --system NAME [--method auto|2021|2025] [--date D] [--from D --to D] [--risk-method matrix|multiply] [--json]
assess system add NAME --level N [--parts general,iot] [--sa S3A2] [--grading TEXT] [--description TEXT]
assess system list | assess system show NAME
assess record ITEM --system NAME --result RESULT --evidence TEXT [--object ASSET] [--assessor NAME]
              [--mitigation TEXT [--mitigation-lowers]]
assess remediate ITEM --system NAME [--object ASSET]
assess worksheet --system NAME --out FILE.yaml|FILE.csv
assess import FILE [--assessor NAME]

ITEM is a GB/T 28448 unit id (L3-ABS1-07) or an item key ("8.1.3.3 a"); RESULT is conform, partial, nonconform,
not_applicable or 符合, 部分符合, 不符合, 不适用. A system's assets are the inventory assets whose `system` is its name.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError, SentinelError
from .common import DB_OPTION, JSON_OPTION, emit_json, print_table

SYSTEM_OPTION = typer.Option(..., "--system", help="Name of the assessed system.")
WORKSHEET_FIELDS = ("system", "unit", "key", "title", "object", "observed", "result", "evidence", "assessor",
                    "mitigation", "mitigation_lowers")
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否", ""}


def load_catalogue():
    try:
        from ..compliance.catalogue import load_catalogue as load
    except ImportError:
        raise SentinelError("the requirement catalogue (sentinel.compliance.catalogue) is not installed") from None
    return load()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(option, f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _instant(text: str | None, option: str, end: bool = False) -> float | None:
    """YYYY-MM-DD (a whole day: --to means its end) or an ISO date-time; UTC unless it says otherwise."""
    if text is None:
        return None
    t = text.strip()
    try:
        if len(t) == 10:
            d = date.fromisoformat(t)
            dt = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
            return dt.timestamp() + (86400 - 1e-6 if end else 0)
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise InputError(option, f"not a date or date-time: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _parts(text: str) -> tuple[str, ...]:
    from ..compliance.model import PARTS

    parts = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    for p in parts:
        if p not in PARTS:
            raise InputError("--parts", f"unknown part {p!r} (known: {', '.join(PARTS)})")
    if "general" not in parts:
        parts = ("general", *parts)  # the general requirements always apply; extensions add to them
    return parts


def _object(engine, system: str, obj: str | None, source: str = "--object", position: str | None = None) -> str:
    from ..compliance.assess import SYSTEM, system_assets

    if obj is None or not obj.strip() or obj.strip() == "(system)":
        return SYSTEM
    names = [a["name"] for a in system_assets(engine, system)]
    if obj.strip() not in names:
        raise InputError(source, f"{obj!r} is not an asset of system {system!r} "
                                 f"(its assets: {', '.join(names) or 'none'})", position)
    return obj.strip()


def _print_assessment(out: dict[str, Any]) -> None:
    typer.echo(f"system {out['system']} (level {out['level']}, parts {', '.join(out['parts'])}), "
               f"assets: {', '.join(out['assets']) or 'none'}")
    rows = []
    for f in out["families"]:
        c = f["item_counts"]
        rows.append([f["key"], f"{f['name_zh']} / {f['name_en']}", f["result_zh"], c["conform"], c["partial"],
                     c["nonconform"], c["not_applicable"], c["not_assessed"]])
    print_table("Results by family (items)", ["class", "family", "result", "符合", "部分符合", "不符合", "不适用", "未测评"],
           rows)
    bad = [i for i in out["items"] if i["result"] in ("nonconform", "partial")]
    if bad:
        print_table("Deficient items", ["unit", "item", "result", "objects", "high risk"],
               [[i["unit"], i["key"], i["result_zh"],
                 ", ".join(o for o, r in i["objects"].items() if r in ("nonconform", "partial")),
                 ", ".join(h["case"] + (" (mitigated)" if h["mitigated"] else "") for h in i["high_risk"])]
                for i in bad])
    risks = out["risk"]["assets"]
    if risks:
        print_table("Risk by asset (GB/T 20984, " + out["risk"]["system"]["method"] + ")",
               ["asset", "Ia", "T", "V", "likelihood", "loss", "risk"],
               [[r["asset"], r["factors"]["asset_value"]["value"], r["factors"]["threat"]["value"],
                 r["factors"]["vulnerability"]["value"], r["likelihood"], r["loss"],
                 f"{r['band_zh']} ({r['band_en']})"] for r in risks])
    s = out["scoring"]
    c = out["counts"]
    typer.echo(f"items: {c['conform']} 符合, {c['partial']} 部分符合, {c['nonconform']} 不符合, "
               f"{c['not_applicable']} 不适用, {c['not_assessed']} 未测评")
    typer.echo(f"high-risk findings: {len(out['high_risks'])} "
               f"({sum(1 for h in out['high_risks'] if h['mitigated'])} mitigated)")
    if s["method"] == "2025":
        typer.echo(f"重大风险隐患: {s['major_hazards']['text']}")
        typer.echo(f"method 2025 (v{s['version']}): 符合率 {s['score']}% -> {s['conclusion']} ({s['conclusion_en']})")
    else:
        typer.echo(f"method 2021 (v{s['version']}): score {s['score']} -> {s['conclusion']} ({s['conclusion_en']})")
    if not out["complete"]:
        typer.echo(f"incomplete: {c['not_assessed']} items not assessed (counted as not conforming)")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="MLPS assessment: systems, findings, evaluation from evidence, risk and score.",
                      invoke_without_command=True)
    app.add_typer(sub, name="assess")
    systems = typer.Typer(help="Systems under assessment (level, parts, S/A code).", no_args_is_help=True)
    sub.add_typer(systems, name="system")

    @sub.callback()
    def assess(
        ctx: typer.Context,
        system: str = typer.Option(None, "--system", help="Name of the assessed system."),
        method: str = typer.Option("auto", "--method", help="auto (by --date: 2025 after 2025-03-20), 2021 or 2025."),
        when: str = typer.Option(None, "--date", help="Assessment (report) date YYYY-MM-DD; default today."),
        start: str = typer.Option(None, "--from", help="Only evidence from this date/time on (UTC)."),
        end: str = typer.Option(None, "--to", help="Only evidence up to this date/time (UTC; a date means its end); "
                                                   "default: the end of --date."),
        risk_method: str = typer.Option("matrix", "--risk-method", help="GB/T 20984 calculation: matrix or multiply."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Assess a system: per-family results, high risks, risk per asset and the overall conclusion."""
        if ctx.invoked_subcommand is not None:
            return
        if not system:
            raise InputError("--system", "name the system to assess (sentinel assess --system NAME)")
        from dataclasses import replace

        from ..compliance.assess import run
        from ..compliance.config import RiskConfig
        from ..compliance.scoring import choose_method
        from ..store import open_store

        day = _day(when, "--date") or date.today()
        choose_method(method, day)  # validate before any work
        if risk_method not in ("matrix", "multiply"):
            raise InputError("--risk-method", f"unknown risk method {risk_method!r} (use matrix or multiply)")
        t0, t1 = _instant(start, "--from"), _instant(end, "--to", end=True)
        if t1 is None:  # a report dated D speaks about evidence up to the end of D, never after
            t1 = _instant(day.isoformat(), "--date", end=True)
        if t0 is not None and t1 is not None and t0 > t1:
            raise InputError("--from", "the period starts after it ends")
        out = run(open_store(db), load_catalogue(), system, method=method, when=day, start=t0, end=t1,
                  risk_cfg=replace(RiskConfig(), method=risk_method))
        if json_out:
            emit_json(out)
        else:
            _print_assessment(out)

    @systems.command("add")
    def system_add(
        name: str = typer.Argument(..., help="System name (the `system` field of its inventory assets)."),
        level: int = typer.Option(..., "--level", help="MLPS protection level 1-4."),
        parts: str = typer.Option("general", "--parts", help="Comma list: general plus iot, cloud, mobile, ics."),
        sa_code: str = typer.Option(None, "--sa", help="S/A code, e.g. S3A2."),
        grading: str = typer.Option(None, "--grading", help="Grading reasoning."),
        description: str = typer.Option(None, "--description", help="What the system does."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Add or update a system."""
        import re

        from ..compliance.assess import System, save_system
        from ..store import open_store

        if not name.strip():
            raise InputError("NAME", "the system name is empty")
        if not 1 <= level <= 4:
            raise InputError("--level", f"level {level} out of range 1-4 (level 5 systems are not assessed this way)")
        if sa_code is not None and not re.fullmatch(r"S[1-4]A[1-4]", sa_code.strip().upper()):
            raise InputError("--sa", f"not an S/A code: {sa_code!r} (e.g. S3A2)")
        sa = sa_code.strip().upper() if sa_code else None
        if sa and max(int(sa[1]), int(sa[3])) != level:
            raise InputError("--sa", f"{sa} gives level {max(int(sa[1]), int(sa[3]))}, not {level}")
        sysobj = System(name.strip(), level, _parts(parts), sa, grading, description)
        status = save_system(open_store(db), sysobj)
        if json_out:
            emit_json({"system": sysobj.name, "status": status, "level": level, "parts": list(sysobj.parts),
                       "sa_code": sa})
        else:
            typer.echo(f"system {sysobj.name} {status}: level {level}, parts {', '.join(sysobj.parts)}")

    @systems.command("list")
    def system_list(json_out: bool = JSON_OPTION, db: str = DB_OPTION) -> None:
        """List systems with their asset counts."""
        from ..compliance.assess import list_systems, system_assets
        from ..store import open_store

        engine = open_store(db)
        rows = [{**s, "assets": len(system_assets(engine, s["name"]))} for s in list_systems(engine)]
        if json_out:
            emit_json({"systems": rows})
            return
        print_table("Systems", ["name", "level", "S/A", "parts", "assets", "description"],
               [[r["name"], r["level"], r["sa_code"], ", ".join(r["parts"]), r["assets"], r["description"]]
                for r in rows])

    @systems.command("show")
    def system_show(name: str = typer.Argument(...), json_out: bool = JSON_OPTION, db: str = DB_OPTION) -> None:
        """One system: level, parts, grading, assets and current findings."""
        from ..compliance.assess import current_findings, get_system, system_assets
        from ..store import open_store

        engine = open_store(db)
        s = get_system(engine, name)
        assets = system_assets(engine, name)
        findings = current_findings(engine, name)
        if json_out:
            emit_json({"system": s.name, "level": s.level, "parts": list(s.parts), "sa_code": s.sa_code,
                       "grading": s.grading, "description": s.description, "assets": assets,
                       "findings": [{"unit": f.unit, "object": f.object, "result": f.result.value,
                                     "evidence": f.evidence, "assessor": f.assessor, "remediated": f.remediated}
                                    for f in findings]})
            return
        typer.echo(f"system {s.name}: level {s.level}, S/A {s.sa_code or '-'}, parts {', '.join(s.parts)}")
        for label, v in (("grading", s.grading), ("description", s.description)):
            if v:
                typer.echo(f"  {label}: {v}")
        typer.echo(f"  assets ({len(assets)}): {', '.join(a['name'] for a in assets) or 'none'}")
        typer.echo(f"  findings: {len(findings)}")

    @sub.command("record")
    def record(
        item: str = typer.Argument(..., help="Unit id (L3-ABS1-07) or item key ('8.1.3.3 a')."),
        system: str = SYSTEM_OPTION,
        result: str = typer.Option(..., "--result", help="conform, partial, nonconform, not_applicable (or 中文)."),
        evidence: str = typer.Option(..., "--evidence", help="What was checked and seen."),
        obj: str = typer.Option(None, "--object", help="Asset the finding is about (default: the whole system)."),
        assessor: str = typer.Option(None, "--assessor", help="Who judged it."),
        mitigation: str = typer.Option(None, "--mitigation", help="A compensating measure in place."),
        lowers: bool = typer.Option(False, "--mitigation-lowers",
                                    help="The mitigation is strong enough to lower a (mitigable) high-risk finding."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Record an assessor finding (stored, and appended to the ledger)."""
        from ..compliance.assess import Result, applicable, get_system, parse_result, record_finding, resolve_item
        from ..store import open_store

        res = parse_result(result)
        if res is Result.NOT_ASSESSED:
            raise InputError("--result", "a finding needs a result (conform, partial, nonconform, not_applicable)")
        if not evidence.strip():
            raise InputError("--evidence", "say what was checked")
        if lowers and not mitigation:
            raise InputError("--mitigation-lowers", "needs --mitigation TEXT")
        engine = open_store(db)
        s = get_system(engine, system)
        req = resolve_item(applicable(load_catalogue(), s), item)
        o = _object(engine, s.name, obj)
        rec = record_finding(engine, s, req, res, evidence.strip(), o, assessor, "cli", mitigation, lowers)
        if json_out:
            emit_json(rec)
        else:
            typer.echo(f"{s.name}: {req.unit} ({req.key}) on {o or '(system)'}: {res.zh} ({res.value})"
                       + ("" if rec["ledger"] else " [ledger not available]"))

    @sub.command("remediate")
    def remediate(
        item: str = typer.Argument(..., help="Unit id or item key."),
        system: str = SYSTEM_OPTION,
        obj: str = typer.Option(None, "--object", help="Only this asset's finding (default: all of the item)."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Mark the current deficient findings of an item as remediated (已整改)."""
        from ..compliance.assess import applicable, get_system, mark_remediated, resolve_item
        from ..store import open_store

        engine = open_store(db)
        s = get_system(engine, system)
        req = resolve_item(applicable(load_catalogue(), s), item)
        o = None if obj is None else _object(engine, s.name, obj)
        n = mark_remediated(engine, s.name, req, o)
        if n == 0:
            raise InputError(item, "no deficient assessor finding to mark remediated")
        if json_out:
            emit_json({"system": s.name, "unit": req.unit, "remediated": n})
        else:
            typer.echo(f"{s.name}: {req.unit} ({req.key}): {n} finding(s) marked remediated")

    @sub.command("worksheet")
    def worksheet(
        system: str = SYSTEM_OPTION,
        out: Path = typer.Option(..., "--out", help="FILE.yaml or FILE.csv"),
        db: str = DB_OPTION,
    ) -> None:
        """Export every applicable item x object with the observed result and the current finding, to fill in."""
        from ..compliance.assess import run
        from ..store import open_store

        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("yaml", "yml", "csv"):
            raise InputError(str(out), "the worksheet must be .yaml, .yml or .csv")
        engine = open_store(db)
        res = run(engine, load_catalogue(), system)
        rows = _worksheet_rows(engine, res)
        text = _dump_csv(rows) if fmt == "csv" else _dump_yaml(system, rows)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(out), f"cannot write: {exc.strerror}") from None
        typer.echo(f"{out}: {len(rows)} rows ({len(res['items'])} items)", err=True)

    @sub.command("import")
    def import_(
        file: Path = typer.Argument(..., help="A filled worksheet (.yaml/.yml/.csv)."),
        assessor: str = typer.Option(None, "--assessor", help="Assessor for rows that name none."),
        json_out: bool = JSON_OPTION,
        db: str = DB_OPTION,
    ) -> None:
        """Import a filled worksheet: every row is validated first (file, line, field), then new or changed
        findings are recorded."""
        from ..store import open_store

        engine = open_store(db)
        records = _read_worksheet(file)
        checked = _validate_rows(engine, records, str(file), assessor)  # all of it before any write
        counts = _apply_rows(engine, checked, str(file))
        if json_out:
            emit_json({"file": str(file), "rows": len(records), **counts})
        else:
            typer.echo(f"{file}: {len(records)} rows, {counts['recorded']} findings recorded, "
                       f"{counts['unchanged']} unchanged, {counts['blank']} left blank")


# ---- worksheet files --------------------------------------------------------------------------------------------

def _worksheet_rows(engine, res: dict[str, Any]) -> list[dict[str, Any]]:
    from ..compliance.assess import SYSTEM, current_findings, load_mitigations

    findings = {(f.unit, f.object): f for f in current_findings(engine, res["system"])}
    mitig = {(m.unit, m.object): m for m in load_mitigations(engine, res["system"])}
    rows = []
    for it in res["items"]:
        for obj, observed in it["objects"].items():
            o = SYSTEM if obj == "(system)" else obj
            f = findings.get((it["unit"], o))
            m = mitig.get((it["unit"], o))
            rows.append({"system": res["system"], "unit": it["unit"], "key": it["key"], "title": it["title"],
                         "object": obj, "observed": observed, "result": f.result.value if f else "",
                         "evidence": f.evidence if f else "", "assessor": (f.assessor or "") if f else "",
                         "mitigation": m.text if m else "", "mitigation_lowers": bool(m and m.lowers)})
    return rows


def _dump_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(WORKSHEET_FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "mitigation_lowers": "yes" if r["mitigation_lowers"] else "no"})
    return buf.getvalue()


def _dump_yaml(system: str, rows: list[dict[str, Any]]) -> str:
    import yaml

    head = ("# Worksheet: fill `result` (conform/partial/nonconform/not_applicable or 符合/部分符合/不符合/不适用),\n"
            "# `evidence`, `assessor`, optionally `mitigation` and `mitigation_lowers`; `observed` is what the\n"
            "# evidence in the store says and is not imported. Then: sentinel assess import FILE\n")
    return head + yaml.safe_dump({"system": system, "rows": rows}, allow_unicode=True, sort_keys=False)


def _read_worksheet(path: Path) -> list[tuple[dict[str, Any], dict[str, int], int]]:
    """(row, field -> line, row line) triples."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    src = str(path)
    if path.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader, [])]
        for h in header:
            if h not in WORKSHEET_FIELDS:
                raise InputError(src, f"unknown column {h!r} (known: {', '.join(WORKSHEET_FIELDS)})",
                                 f"line 1, field '{h}'")
        for need in ("system", "unit", "result"):
            if need not in header:
                raise InputError(src, f"the header has no `{need}` column", "line 1")
        out = []
        line = reader.line_num
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(src, f"{len(row)} cells, the header has {len(header)}", f"line {start}")
            out.append((dict(zip(header, row)), {h: start for h in header}, start))
        return out
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(src, "a worksheet is .yaml, .yml or .csv")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(src, f"malformed YAML: {getattr(exc, 'problem', None) or exc}",
                         f"line {mark.line + 1}" if mark else None) from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise InputError(src, "expected a mapping with `system:` and a `rows:` list",
                         f"line {node.start_mark.line + 1}" if node is not None else None)
    rows_node = next(v for k, v in node.value if k.value == "rows")
    out = []
    for item, item_node in zip(data["rows"], rows_node.value):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            raise InputError(src, "each row must be a mapping of field: value", f"line {line}")
        lines = {k.value: k.start_mark.line + 1 for k, _v in item_node.value}
        row = {str(k): ("" if v is None else v) for k, v in item.items()}
        row.setdefault("system", data.get("system") or "")
        out.append((row, lines, line))
    return out


def _validate_rows(engine, records, src: str, default_assessor: str | None) -> list[dict[str, Any]]:
    from ..compliance.assess import Result, applicable, get_system, parse_result, resolve_item

    cat = load_catalogue()
    systems: dict[str, Any] = {}
    out = []
    for row, lines, rec_line in records:
        def pos(field: str) -> str:
            return f"line {lines.get(field, rec_line)}, field '{field}'"

        for k in row:
            if k not in WORKSHEET_FIELDS:
                raise InputError(src, f"unknown field {k!r} (known: {', '.join(WORKSHEET_FIELDS)})", pos(k))
        name = str(row.get("system") or "").strip()
        if not name:
            raise InputError(src, "no system", pos("system"))
        if name not in systems:
            try:
                systems[name] = get_system(engine, name)
            except InputError as exc:
                raise InputError(src, exc.message, pos("system")) from None
        s = systems[name]
        unit = str(row.get("unit") or row.get("key") or "").strip()
        try:
            req = resolve_item(applicable(cat, s), unit, src)
        except InputError as exc:
            raise InputError(src, exc.message, pos("unit")) from None
        res = parse_result(str(row.get("result", "")), src, pos("result"))
        evidence = str(row.get("evidence") or "").strip()
        lowers_txt = str(row.get("mitigation_lowers", "")).strip().lower()
        if lowers_txt not in _TRUE | _FALSE:
            raise InputError(src, f"mitigation_lowers must be yes or no, not {row['mitigation_lowers']!r}",
                             pos("mitigation_lowers"))
        mitigation = str(row.get("mitigation") or "").strip() or None
        if res is not Result.NOT_ASSESSED and not evidence:
            raise InputError(src, "a result needs evidence (what was checked)", pos("evidence"))
        obj = _object(engine, s.name, str(row.get("object") or ""), src, pos("object"))
        out.append({"system": s, "req": req, "result": res, "evidence": evidence, "object": obj,
                    "assessor": str(row.get("assessor") or "").strip() or default_assessor,
                    "mitigation": mitigation, "lowers": lowers_txt in _TRUE, "line": rec_line})
    return out


def _apply_rows(engine, rows: list[dict[str, Any]], src: str) -> dict[str, int]:
    from ..compliance.assess import Result, current_findings, load_mitigations, record_finding

    counts = {"recorded": 0, "unchanged": 0, "blank": 0}
    current: dict[str, dict] = {}
    for r in rows:
        if r["result"] is Result.NOT_ASSESSED:
            counts["blank"] += 1
            continue
        name = r["system"].name
        if name not in current:
            current[name] = {"f": {(f.unit, f.object): f for f in current_findings(engine, name)},
                             "m": {(m.unit, m.object, m.text, m.lowers) for m in load_mitigations(engine, name)}}
        f = current[name]["f"].get((r["req"].unit, r["object"]))
        new_mitigation = r["mitigation"] and (r["req"].unit, r["object"], r["mitigation"], r["lowers"]) \
            not in current[name]["m"]
        if f is not None and f.result is r["result"] and f.evidence == r["evidence"] and not new_mitigation:
            counts["unchanged"] += 1
            continue
        record_finding(engine, r["system"], r["req"], r["result"], r["evidence"], r["object"], r["assessor"],
                       f"{src}:{r['line']}", r["mitigation"] if new_mitigation else None, r["lowers"])
        counts["recorded"] += 1
    return counts
