"""Inline SVG pictures for the report, drawn here (no JS, no fonts to fetch, no network): a 5x5 risk matrix,
compliance bars per family, alerts over time per layer. Every text goes through `esc` (asset names are user data).
"""

from __future__ import annotations

from html import escape
from typing import Any

#: risk level 1..5 -> fill colour (green to red)
BAND_COLOURS = ("#d8f0d2", "#eef3b8", "#ffe08a", "#ffb070", "#f07a6a")
LAYER_COLOURS = {"perception": "#2f7ebc", "transport": "#e08a1e", "application": "#3a9d5d", "other": "#888888"}
FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif\""


def esc(s: Any) -> str:
    return escape(str(s), quote=True)


def text_width(s: str, size: float = 11) -> float:
    """Rough rendered width: CJK glyphs are about one em wide, Latin ones about 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else 0.6 * size for ch in s)


def risk_matrix(assets: list[dict[str, Any]], matrix: list[list[int]], x_label: str, y_label: str) -> str:
    """Likelihood (x) x impact (y) on 1..5, cells coloured by the configured matrix, asset names in their cell."""
    cell, left, top = 96, 60, 14
    cells: dict[tuple[int, int], list[str]] = {}
    for a in assets:
        x = max(1, min(5, round(float(a["likelihood"]))))
        y = max(1, min(5, round(float(a["loss"]))))
        cells.setdefault((x, y), []).append(a["asset"])
    w, h = left + 5 * cell + 10, top + 5 * cell + 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" {FONT} '
           f'font-size="11" role="img" aria-label="{esc(x_label)} / {esc(y_label)}">']
    for x in range(1, 6):
        for y in range(1, 6):
            lv = matrix[x - 1][y - 1] if matrix else max(1, min(5, round((x * y) ** 0.5)))
            px, py = left + (x - 1) * cell, top + (5 - y) * cell
            out.append(f'<rect x="{px}" y="{py}" width="{cell}" height="{cell}" fill="{BAND_COLOURS[lv - 1]}" '
                       f'stroke="#ffffff" stroke-width="2"/>')
            names = cells.get((x, y), [])
            shown = names[:5] + ([f"+{len(names) - 5}"] if len(names) > 5 else [])
            for i, n in enumerate(shown):
                label = n if len(n) <= 14 else n[:13] + "…"
                out.append(f'<text x="{px + cell / 2}" y="{py + 18 + i * 15}" text-anchor="middle">{esc(label)}'
                           f'</text>')
    for i in range(1, 6):
        out.append(f'<text x="{left + (i - 0.5) * cell}" y="{top + 5 * cell + 16}" text-anchor="middle">{i}</text>')
        out.append(f'<text x="{left - 10}" y="{top + (5 - i + 0.5) * cell + 4}" text-anchor="end">{i}</text>')
    out.append(f'<text x="{left + 2.5 * cell}" y="{top + 5 * cell + 38}" text-anchor="middle" font-weight="bold">'
               f'{esc(x_label)}</text>')
    out.append(f'<text x="16" y="{top + 2.5 * cell}" text-anchor="middle" font-weight="bold" '
               f'transform="rotate(-90 16 {top + 2.5 * cell})">{esc(y_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def family_bars(families: list[dict[str, Any]], name_key: str, result_labels: dict[str, str]) -> str:
    """One stacked bar per family: conform / partial / nonconform / not applicable / not assessed items."""
    order = (("conform", "#3a9d5d"), ("partial", "#f0b429"), ("nonconform", "#d64545"),
             ("not_applicable", "#9fb3c8"), ("not_assessed", "#e4e7eb"))
    label_w = 16 + max((text_width(str(f[name_key])) for f in families), default=100)
    bar_w, row_h, top = 460, 24, 30
    w, h = label_w + bar_w + 70, top + row_h * len(families) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" {FONT} '
           f'font-size="11" role="img">']
    x = label_w
    for key, colour in order:  # legend
        out.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="13">{esc(result_labels[key])}</text>')
        x += 14 + text_width(result_labels[key]) + 16
    for i, f in enumerate(families):
        c = f["item_counts"]
        total = sum(c.values()) or 1
        y = top + i * row_h
        out.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{esc(f[name_key])}</text>')
        x = float(label_w)
        for key, colour in order:
            seg = bar_w * c[key] / total
            if seg > 0:
                out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{seg:.1f}" height="{row_h - 8}" fill="{colour}">'
                           f'<title>{esc(result_labels[key])}: {c[key]}</title></rect>')
            x += seg
        rate = "-" if f.get("rate") is None else f"{100 * f['rate']:.0f}%"
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{rate}</text>')
    out.append("</svg>")
    return "".join(out)


def alerts_timeline(series: dict[str, Any], layer_labels: dict[str, str]) -> str:
    """Alerts per bucket, one line per layer, with the bucket dates under the axis."""
    buckets = series.get("buckets") or []
    layers = series.get("layers") or {}
    left, top, pw, ph = 44, 24, 640, 180
    w, h = left + pw + 20, top + ph + 50
    peak = max((v for vals in layers.values() for v in vals), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" {FONT} '
           f'font-size="11" role="img">',
           f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
           f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
           f'<text x="{left - 6}" y="{top + ph + 4}" text-anchor="end">0</text>']
    n = len(buckets)
    step = pw / max(1, n - 1) if n > 1 else 0

    def px(i: int) -> float:
        return left + (i * step if n > 1 else pw / 2)

    lx = left
    for layer, vals in layers.items():
        colour = LAYER_COLOURS.get(layer, LAYER_COLOURS["other"])
        pts = " ".join(f"{px(i):.1f},{top + ph - ph * v / peak:.1f}" for i, v in enumerate(vals))
        if n > 1:
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(vals):
            if v:
                out.append(f'<circle cx="{px(i):.1f}" cy="{top + ph - ph * v / peak:.1f}" r="3" fill="{colour}">'
                           f'<title>{esc(buckets[i])}: {v}</title></circle>')
        name = layer_labels.get(layer, layer)
        out.append(f'<rect x="{lx}" y="4" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="13">{esc(name)}</text>')
        lx += 14 + text_width(name) + 20
    every = max(1, n // 6)
    for i in range(0, n, every):
        out.append(f'<text x="{px(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{esc(buckets[i])}</text>')
    out.append("</svg>")
    return "".join(out)
