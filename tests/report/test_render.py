"""Rendering: message catalogues complete in both languages, no label of the other language in a report, pictures
as inline SVG, every format from the same data, broken templates reported in one line."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timezone
from html.parser import HTMLParser

import pytest

from sentinel.compliance.assess import Finding, Observations, System, evaluate
from sentinel.compliance.catalogue import load_catalogue
from sentinel.compliance.model import Result
from sentinel.errors import InputError, SentinelError
from sentinel.report import render as R
from sentinel.report import svg
from sentinel.report.data import assemble
from sentinel.report.i18n import messages

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp()
ASSETS = [{"name": "plc-1", "ip": "10.20.1.2", "layer": "perception", "criticality": 5},
          {"name": "broker<b>", "ip": "10.30.0.1", "layer": "transport", "criticality": 4}]
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


class _Text(HTMLParser):
    """Visible text of an HTML document (what a reader sees; attribute values and CSS excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(p.parts)


@pytest.fixture(scope="module")
def data():
    cat = load_catalogue()
    alerts = [{"id": 1, "rule": "r1", "title": "Modbus Write Request", "level": "low", "layer": "perception",
               "src": "10.20.0.5", "dst": "10.20.1.2", "count": 4, "first_seen": T0, "last_seen": T0 + 60,
               "controls": ["8.1.3.2"], "attack": [], "type": "x"},
              {"id": 2, "rule": "r2", "title": "MQTT Credentials in Cleartext", "level": "medium",
               "layer": "transport", "src": "10.30.0.9", "dst": "10.30.0.1", "count": 2, "first_seen": T0 + 86400,
               "last_seen": T0 + 86500, "controls": ["8.1.2.2.b"], "attack": [], "type": "x"}]
    obs = Observations(alerts=alerts, unknown_devices=[{"key": "10.20.1.99", "ips": ["10.20.1.99"]}],
                       silent_assets=["plc-1"])
    findings = [Finding("L3-CNS1-07", Result.NONCONFORM, "broker<b>", "MQTT login seen in clear", "Li Wei")]
    a = evaluate(cat, System("city-ops", 3, ("general", "iot"), "S3A2"), ASSETS, findings, [], obs, method="2025",
                 when=date(2026, 11, 25))
    inv = {"unknown": [{"key": "10.20.1.99", "ips": ["10.20.1.99"], "macs": [], "vendor": None, "role": None,
                        "last_seen": "2026-11-21T00:00:00Z"}],
           "silent": [{"name": "plc-1", "ip": "10.20.1.2", "mac": None, "last_seen": None}]}
    return assemble(a, cat, alerts, inv, "Li Wei", datetime(2026, 11, 25, 8, tzinfo=timezone.utc))


def test_both_catalogues_have_the_same_keys_and_no_empty_label():
    zh, en = messages("zh"), messages("en")
    assert set(zh) == set(en)
    assert all(v.strip() for v in (*zh.values(), *en.values()))
    assert not any(CJK.search(v) for v in en.values())
    # every zh label that says something (not an id or a format) is Chinese
    assert all(CJK.search(v) for k, v in zh.items() if not re.fullmatch(r"[A-Za-z0-9/ ().,:-]+", en[k]) or
               len(en[k]) > 3), [k for k, v in zh.items() if not CJK.search(v)]


def test_unknown_language_is_bad_input():
    with pytest.raises(InputError, match="--lang"):
        messages("fr")


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_zh_report_has_no_english_label(data, fmt):
    out = R.render(data, fmt, "zh").decode()
    text = visible(out) if fmt == "html" else out
    zh, en = messages("zh"), messages("en")
    # labels of 4+ characters that differ between languages (shorter ones such as "low" can be part of data)
    leaked = [v for k, v in en.items() if v != zh[k] and len(v) >= 4 and "{" not in v
              and re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text)]
    assert leaked == []
    assert zh["summary"] in text and zh["highrisk_list"] in text and "第3级" in text


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_en_report_has_no_chinese_at_all(data, fmt):
    out = R.render(data, fmt, "en").decode()
    text = visible(out) if fmt == "html" else out
    assert CJK.findall(text) == []
    assert "Level 3" in text and "High-risk findings and remediation" in text


def test_html_is_self_contained_with_inline_svg_pictures(data):
    html = R.render(data, "html", "zh").decode()
    assert html.count("<svg") == 3  # risk matrix, family bars, alerts over time
    assert not re.search(r"<script|<link|@import|url\(|src=", html, re.I)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    assert "broker&lt;b&gt;" in html and "broker<b>" not in html  # user data is escaped, in tables and in SVG


def test_html_sections_carry_the_assessment(data):
    text = visible(R.render(data, "html", "en").decode())
    assert f"{data['summary']['score']}%" in text
    assert data["summary"]["conclusion_en"] in text
    assert "6.2.2.1" in text  # the high-risk case of the cleartext finding, with its remediation advice
    assert "Use encrypted channels such as TLS or IPsec" in text
    assert "MQTT login seen in clear" in text  # assessor evidence
    assert "10.20.1.99" in text  # the unknown device


def test_csv_has_one_row_per_item_in_the_report_language(data):
    rows = list(csv.reader(io.StringIO(R.render(data, "csv", "zh").decode())))
    assert rows[0][0] == messages("zh")["unit"] and rows[0][4] == messages("zh")["result"]
    assert len(rows) - 1 == len(data["items"])
    cns = next(r for r in rows if r[0] == "L3-CNS1-07")
    assert cns[4] == "不符合" and "broker<b>: 不符合" in cns[5]


def test_json_is_the_report_data(data):
    j = json.loads(R.render(data, "json", "en"))
    assert j["lang"] == "en" and j["format"] == "sentinel-report/1"
    assert j["summary"]["score"] == data["summary"]["score"]
    assert j["alerts"]["by_layer"]["transport"]["medium"] == 1


def test_risk_matrix_places_each_asset_in_its_cell():
    assets = [{"asset": "a1", "likelihood": 2, "loss": 5}, {"asset": "a2", "likelihood": 2, "loss": 5},
              {"asset": "a3", "likelihood": 4.4, "loss": 1.2}]
    out = svg.risk_matrix(assets, [[1] * 5] * 5, "L", "I")
    # x = 60 + (likelihood - 1) * 96 + 48, first line 18 below the top of row (5 - impact)
    assert '<text x="204.0" y="32" text-anchor="middle">a1</text>' in out
    assert '<text x="204.0" y="47" text-anchor="middle">a2</text>' in out
    assert '<text x="396.0" y="416" text-anchor="middle">a3</text>' in out


def test_broken_template_is_one_line_error(data, monkeypatch, tmp_path):
    import jinja2

    (tmp_path / "report.html.j2").write_text("{% for x in %}", encoding="utf-8")
    monkeypatch.setattr(R, "_env", lambda autoescape: jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path)))
    with pytest.raises(SentinelError, match=r"report template report.html.j2 line 1 is broken") as e:
        R.render(data, "html", "en")
    assert "\n" not in str(e.value)


def test_pdf_contains_the_key_figures(data, tmp_path):
    pytest.importorskip("weasyprint", reason="WeasyPrint (and Pango) not installed")
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(R.render(data, "pdf", "zh"))
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("网络安全等级保护测评报告", "city-ops", "第3级", f"{data['summary']['score']}%",
                   data["summary"]["conclusion_zh"]):
        assert needle in text
