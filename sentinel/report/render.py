"""Report data (data.py) -> a file: HTML and Markdown through jinja2 templates (package data), PDF from the HTML
through WeasyPrint, JSON as the data itself, CSV as one row per requirement item.

Every label comes from the language's message catalogue (i18n.py); every value from the data.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..errors import InputError, SentinelError
from . import svg
from .i18n import Labels

FORMATS = ("html", "pdf", "md", "json", "csv")
CSV_FIELDS = ("unit", "key", "family", "title", "result", "objects", "evidence")
MAX_EVIDENCE_LINES = 6


def _env(autoescape: bool):
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("sentinel.report", "templates"),
                              autoescape=autoescape, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def evidence_lines(item: dict[str, Any], t: Labels) -> list[str]:
    """Short readable lines for an item's evidence (alerts of one rule on one IP are merged)."""
    lines: list[str] = []
    merged: dict[tuple, int] = {}
    for e in item.get("evidence") or []:
        src = e.get("source")
        if src == "alert":
            k = (e.get("object"), e.get("title"), e.get("level"), e.get("ip"))
            merged[k] = merged.get(k, 0) + int(e.get("count") or 1)
        elif src == "event":
            lines.append(f"{obj_name(e['object'], t)}: {t.ev_event} {e['kind']} ×{e['count']} ({e['ip']})")
        elif src == "asset":
            fact = str(e.get("fact"))
            lines.append(f"{obj_name(e['object'], t)}: {t.ev_asset}: {t.get('fact_' + fact, fact)}")
        elif src == "assessor":
            who = f" ({e['assessor']})" if e.get("assessor") else ""
            lines.append(f"{obj_name(e['object'], t)}: {t.ev_assessor}{who}: {e.get('text') or ''}")
    alert_lines = [f"{obj_name(o, t)}: {t.ev_alert} {title} [{t.alert_level_of(lv)}] ×{n} ({ip})"
                   for (o, title, lv, ip), n in merged.items()]
    out = alert_lines + lines
    if len(out) > MAX_EVIDENCE_LINES:
        out = out[:MAX_EVIDENCE_LINES - 1] + [f"… +{len(out) - MAX_EVIDENCE_LINES + 1}"]
    return out


_BASIS = re.compile(r"^(?P<unit>\S+) \((?P<key>[^)]*)\) (?P<result>\w+)(?P<high> high-risk)? -> (?P<v>\d+)$")


def basis_line(text: str, t: Labels) -> str:
    """A vulnerability basis line of compliance.risk ("L3-ABS1-05 (8.1.3.2 a) partial high-risk -> 5") in the
    report language; a line of another shape is shown as it is."""
    m = _BASIS.match(text)
    if not m:
        return text
    high = f" {t.high_risk_tag}" if m["high"] else ""
    return f"{m['unit']} ({m['key']}) {t.result_of(m['result'])}{high} → {m['v']}"


def obj_name(name: str, t: Labels) -> str:
    """The assessment names the whole system "(system)"; the report says it in its language."""
    return t.whole_system if name in ("(system)", "") else name


def objects_text(item: dict[str, Any], t: Labels) -> str:
    return "; ".join(f"{obj_name(o, t)}: {t.result_of(r)}" for o, r in item["objects"].items())


def _context(data: dict[str, Any], lang: str) -> dict[str, Any]:
    t = Labels(lang)
    zh = lang == "zh"
    results = {k: t.result_of(k) for k in ("conform", "partial", "nonconform", "not_applicable", "not_assessed")}
    pictures = {
        "matrix": Markup(svg.risk_matrix(data["risk"]["assets"], data["risk"]["system"]["constants"].get("matrix"),
                                         t.likelihood, t.impact)) if data["risk"]["assets"] else None,
        "families": Markup(svg.family_bars(data["families"], "name_zh" if zh else "name_en", results)),
        "alerts": Markup(svg.alerts_timeline(data["alerts"]["series"],
                                             {k: t.layer_of(k) for k in (*data["alerts"]["series"]["layers"],)}))
        if data["alerts"]["total"] else None,
    }
    return {"d": data, "t": t, "lang": lang, "zh": zh, "pic": pictures, "results": results,
            "ev": lambda item: evidence_lines(item, t), "objs": lambda item: objects_text(item, t),
            "basis": lambda text: basis_line(text, t),
            "objnames": lambda names: ", ".join(obj_name(n, t) for n in names),
            "pick": lambda obj, key: obj.get(f"{key}_zh" if zh else f"{key}_en") or obj.get(key, ""),
            "title_of": lambda it: it["title_zh"] if zh else it["title"],
            "fam_name": lambda f: f["name_zh"] if zh else f["name_en"],
            "pct": lambda x: "-" if x is None else f"{100 * x:.0f}%"}


def _template(name: str, autoescape: bool, ctx: dict[str, Any]) -> str:
    import jinja2

    try:
        return _env(autoescape).get_template(name).render(**ctx)
    except jinja2.TemplateNotFound:
        raise SentinelError(f"report template {name} is missing from the installation") from None
    except jinja2.TemplateError as exc:
        where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise SentinelError(f"report template {name}{where} is broken: {exc.message or exc}") from None


def render_html(data: dict[str, Any], lang: str) -> str:
    return _template("report.html.j2", True, _context(data, lang))


def render_md(data: dict[str, Any], lang: str) -> str:
    return _template("report.md.j2", False, _context(data, lang))


def render_json(data: dict[str, Any], lang: str) -> str:
    return json.dumps({**data, "lang": lang}, ensure_ascii=False, indent=2, default=str) + "\n"


def render_csv(data: dict[str, Any], lang: str) -> str:
    """One row per applicable item; headers and results in the report language, ids as they are."""
    t = Labels(lang)
    fams = {f["key"]: f["name_zh"] if lang == "zh" else f["name_en"] for f in data["families"]}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([getattr(t, {"key": "item", "title": "title_col"}.get(k, k)) for k in CSV_FIELDS])
    for it in data["items"]:
        w.writerow([it["unit"], it["key"], fams.get(it["family"], it["family"]),
                    it["title_zh"] if lang == "zh" else it["title"], t.result_of(it["result"]), objects_text(it, t),
                    " | ".join(evidence_lines(it, t))])
    return buf.getvalue()


def render_pdf(data: dict[str, Any], lang: str) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise SentinelError(f"PDF output needs WeasyPrint and Pango (pip install weasyprint; apt-get install "
                            f"libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk): {exc}") from None
    return HTML(string=render_html(data, lang), base_url=None).write_pdf()


def render(data: dict[str, Any], fmt: str, lang: str) -> bytes:
    if fmt not in FORMATS:
        raise InputError("--format", f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if fmt == "pdf":
        return render_pdf(data, lang)
    text = {"html": render_html, "md": render_md, "json": render_json, "csv": render_csv}[fmt](data, lang)
    return text.encode("utf-8")


def write(out: Path, content: bytes) -> None:
    try:
        out.write_bytes(content)
    except OSError as exc:
        raise InputError(str(out), f"cannot write: {exc.strerror}") from None
