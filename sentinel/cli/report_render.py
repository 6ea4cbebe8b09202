"""`sentinel report render`: a graded evaluation report of one system (HTML, PDF, Markdown, JSON or CSV; zh or en),
signed with the local key unless --no-sign.

report render --system NAME --format html|pdf|md|json|csv --lang zh|en --out FILE [--db URL] [--date D]
              [--from D --to D] [--method auto|2021|2025] [--assessor NAME] [--no-sign] [--key-dir DIR]
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, emit_json


def render(
    system: str = typer.Option(..., "--system", help="Name of the assessed system."),
    fmt: str = typer.Option("html", "--format", help="html, pdf, md, json or csv."),
    lang: str = typer.Option("zh", "--lang", help="Report language: zh or en."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    when: Optional[str] = typer.Option(None, "--date", help="Report date YYYY-MM-DD; default today."),
    start: Optional[str] = typer.Option(None, "--from", help="Only evidence from this date/time on (UTC)."),
    end: Optional[str] = typer.Option(None, "--to", help="Only evidence up to this date/time "
                                                                       "(default: the end of --date)."),
    method: str = typer.Option("auto", "--method", help="auto (by --date), 2021 or 2025."),
    assessor: Optional[str] = typer.Option(None, "--assessor", help="Assessor named on the cover."),
    no_sign: bool = typer.Option(False, "--no-sign", help="Do not sign the rendered file."),
    key_dir: Optional[str] = typer.Option(None, "--key-dir", help="Private key directory (default: local keys)."),
    db: Optional[str] = DB_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Render a graded evaluation report: cover, summary, items per family, high risks, asset risk, alerts,
    inventory discrepancies; signed (FILE.sig) unless --no-sign."""
    from ..compliance.scoring import choose_method
    from ..report.i18n import LANGS
    from ..report.render import FORMATS
    from .assess import _day, _instant, load_catalogue

    fmt, lang = fmt.lower().strip(), lang.lower().strip()
    if fmt not in FORMATS:
        raise InputError("--format", f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if lang not in LANGS:
        raise InputError("--lang", f"unknown language {lang!r} (use {' or '.join(LANGS)})")
    day = _day(when, "--date") or date.today()
    choose_method(method, day)
    t0, t1 = _instant(start, "--from"), _instant(end, "--to", end=True)
    if t1 is None:  # a report dated D speaks about evidence up to the end of D (as `sentinel assess` does)
        t1 = _instant(day.isoformat(), "--date", end=True)
    if t0 is not None and t1 is not None and t0 > t1:
        raise InputError("--from", "the period starts after it ends")
    if not out.parent.is_dir():
        raise InputError(str(out), f"cannot write: no directory {out.parent}")
    key = None
    if not no_sign:
        from ..integrity.keys import PRIVATE_NAME, key_dir as resolve_key_dir, load_private_key

        if not (resolve_key_dir(key_dir) / PRIVATE_NAME).exists():
            raise InputError("--no-sign", f"no signing key in {resolve_key_dir(key_dir)}: run `sentinel keys init` "
                                          "or pass --no-sign")
        key = load_private_key(key_dir)  # before any work: a report that should be signed and cannot be is no use

    from ..report.data import gather
    from ..report.render import render as render_report, write
    from ..store import open_store

    data = gather(open_store(db), load_catalogue(), system, method=method, when=day, start=t0, end=t1,
                  assessor=assessor)
    write(out, render_report(data, fmt, lang))
    sig = None
    if key is not None:
        from ..integrity.signing import sign_file

        sig = sign_file(out, key)
    s = data["summary"]
    if json_out:
        emit_json({"report": str(out), "format": fmt, "lang": lang, "system": system, "score": s["score"],
                   "conclusion": s["conclusion_zh"], "conclusion_en": s["conclusion_en"],
                   "signature": str(sig) if sig else None, "bytes": out.stat().st_size})
        return
    typer.echo(f"{out}: {fmt} report ({lang}) of {system}: score {s['score']}, {s['conclusion_zh']} "
               f"({s['conclusion_en']})" + (f"; signed {sig}" if sig else "; not signed"))


def register(app: typer.Typer) -> None:
    from .report import report_app

    report_app.command("render")(render)
