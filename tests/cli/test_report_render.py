"""`sentinel report render` end to end: a real store built by `sentinel analyze` of samples/city.pcap, `sentinel
ingest` of the sample logs, `sentinel assets import` and `sentinel assess system add`; reports in every format and
both languages, signed and verified, opened in headless Chromium and turned into text from the PDF."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
INVENTORY = """\
assets:
  - {name: hmi-1, system: city-ops, layer: application, criticality: 4, ip: 10.20.0.5}
  - {name: plc-2, system: city-ops, layer: perception, criticality: 5, ip: 10.20.1.2}
  - {name: plc-4, system: city-ops, layer: perception, criticality: 5, ip: 10.20.1.4}
  - {name: mqtt-broker, system: city-ops, layer: transport, criticality: 4, ip: 10.30.0.1}
  - {name: portal, system: city-ops, layer: application, criticality: 3, ip: 10.0.1.10}
"""
DATE = "2026-11-25"


def sentinel(*args: str, env: dict, check: bool = False) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "sentinel.cli.main", *args], capture_output=True, text=True, env=env,
                       timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr}")
    return p


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    for name in ("city.pcap", "auth.log", "portal-access.log"):
        if not (SAMPLES / name).is_file():
            pytest.skip(f"sample {name} not found under {SAMPLES}")
    d = tmp_path_factory.mktemp("report")
    env = {**os.environ, "SENTINEL_DB": f"sqlite:///{d / 's.db'}", "SENTINEL_KEY_DIR": str(d / "keys")}
    env.pop("SENTINEL_DEBUG", None)
    env.pop("SENTINEL_KEY_PASSPHRASE", None)
    sentinel("analyze", str(SAMPLES / "city.pcap"), "--json", env=env, check=True)
    sentinel("ingest", str(SAMPLES / "auth.log"), str(SAMPLES / "portal-access.log"), "--json", env=env, check=True)
    (d / "inv.yaml").write_text(INVENTORY)
    sentinel("assets", "import", str(d / "inv.yaml"), env=env, check=True)
    sentinel("assess", "system", "add", "city-ops", "--level", "3", "--parts", "general,iot", "--sa", "S3A2",
             env=env, check=True)
    sentinel("assess", "system", "add", "empty-sys", "--level", "2", env=env, check=True)
    sentinel("keys", "init", env=env, check=True)
    assessed = json.loads(sentinel("assess", "--system", "city-ops", "--json", "--date", DATE, env=env,
                                   check=True).stdout)
    return {"dir": d, "env": env, "assessed": assessed}


def render(store, fmt: str, lang: str, name: str | None = None, *extra: str) -> tuple[Path, dict]:
    out = store["dir"] / (name or f"r_{lang}.{fmt}")
    p = sentinel("report", "render", "--system", "city-ops", "--format", fmt, "--lang", lang, "--out", str(out),
                 "--date", DATE, "--assessor", "Li Wei", "--json", *extra, env=store["env"], check=True)
    return out, json.loads(p.stdout)


def text_of(dom: str) -> str:
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium): the browser test cannot run here")
    return exe


def run_chromium(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    # why these flags: root in a container needs --no-sandbox; the rest keep Chromium off the network and fast
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp / 'chromium-profile'}", *args], capture_output=True, text=True,
                          timeout=120)


def test_the_report_states_the_assessment(store):
    out, summary = render(store, "json", "en")
    a = store["assessed"]
    data = json.loads(out.read_text())
    assert summary["score"] == a["score"] == data["summary"]["score"]
    assert data["summary"]["conclusion_zh"] == a["conclusion"]
    assert data["summary"]["counts"] == a["counts"]
    assert data["cover"]["system"] == "city-ops" and data["cover"]["sa_code"] == "S3A2"
    assert data["cover"]["assessor"] == "Li Wei" and data["cover"]["method"] == a["method"]
    assert [r["asset"] for r in data["risk"]["assets"]] == [r["asset"] for r in a["risk"]["assets"]]
    assert len(data["high_risks"]) == len(a["high_risks"]) > 0
    assert all(h["remediation_en"] for h in data["high_risks"])  # every built-in case carries advice
    assert data["alerts"]["total"] == a["observations"]["alerts"]
    assert set(data["alerts"]["by_layer"]) <= {"perception", "transport", "application"}


def test_html_in_headless_chromium(store, tmp_path):
    exe = chromium()
    out, _ = render(store, "html", "zh")
    png = tmp_path / "report.png"
    p = run_chromium(exe, tmp_path, f"--screenshot={png}", "--window-size=1280,4000", out.resolve().as_uri())
    assert png.is_file(), p.stderr[-2000:]
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(raw) > 100_000  # a blank 1280x4000 page compresses to a few kB; the report is dense
    dom = run_chromium(exe, tmp_path, "--dump-dom", out.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = text_of(dom.stdout)
    a = store["assessed"]
    for needle in ("city-ops", "第3级", "S3A2", f"{a['score']}%", a["conclusion"], "网络安全等级保护测评报告"):
        assert needle in text, needle
    assert dom.stdout.count("<svg") == 3


def test_pdf_text_has_the_key_figures(store):
    pytest.importorskip("weasyprint", reason="WeasyPrint (and Pango) not installed")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    a = store["assessed"]
    # zh (CJK fonts) is covered from hand-made data in tests/report/test_render.py; here the real store, in en
    for lang, level, title, conclusion in (("en", "Level 3", "Graded Protection Evaluation Report",
                                            a["conclusion_en"]),):
        out, _ = render(store, "pdf", lang)
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout
        for needle in ("city-ops", level, title, f"{a['score']}%", conclusion):
            assert needle in text, (lang, needle)


def test_signed_by_default_and_verifiable(store):
    out, summary = render(store, "md", "en")
    assert summary["signature"] == f"{out}.sig"
    ok = sentinel("report", "verify", str(out), env=store["env"])
    assert ok.returncode == 0 and ok.stdout.startswith("OK")
    out.write_text(out.read_text() + "tampered\n")
    bad = sentinel("report", "verify", str(out), env=store["env"])
    assert bad.returncode == 1


def test_no_sign_writes_no_signature(store):
    out, summary = render(store, "csv", "zh", "unsigned.csv", "--no-sign")
    assert summary["signature"] is None and not Path(f"{out}.sig").exists()
    assert out.read_text().splitlines()[0].startswith("测评单元,")


def test_missing_key_is_one_line_with_the_fix(store, tmp_path):
    env = {**store["env"], "SENTINEL_KEY_DIR": str(tmp_path / "nokeys")}
    p = sentinel("report", "render", "--system", "city-ops", "--format", "html", "--out", str(tmp_path / "r.html"),
                 env=env)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "sentinel keys init" in p.stderr and "--no-sign" in p.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("args, code, message", [
    (("--system", "nope"), 2, "no system named 'nope'"),
    (("--system", "city-ops", "--format", "docx"), 2, "unknown format 'docx'"),
    (("--system", "city-ops", "--lang", "fr"), 2, "unknown language 'fr'"),
    (("--system", "city-ops", "--out", "/nonexistent-dir/r.html"), 2, "cannot write"),
    (("--system", "city-ops", "--from", "2026-12-01", "--to", "2026-11-01"), 2, "starts after it ends"),
])
def test_bad_input_is_one_line_error(store, tmp_path, args, code, message):
    argv = ["report", "render", "--out", str(tmp_path / "r.html"), "--no-sign", *args]
    p = sentinel(*argv, env=store["env"])
    assert p.returncode == code, p.stderr
    assert message in p.stderr and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1
    assert "Traceback" not in p.stderr


def test_unwritable_output_is_one_line_error(store, tmp_path):
    target = tmp_path / "dir-not-file"
    target.mkdir()
    p = sentinel("report", "render", "--system", "city-ops", "--out", str(target), "--no-sign", env=store["env"])
    assert p.returncode == 2 and "cannot write" in p.stderr and p.stderr.count("\n") == 1


def test_a_system_without_evidence_says_so(store, tmp_path):
    for lang, sentence in (("en", "No evidence has been recorded or observed"), ("zh", "没有任何记录或观测到的证据")):
        out = tmp_path / f"empty_{lang}.md"
        sentinel("report", "render", "--system", "empty-sys", "--format", "md", "--lang", lang, "--out", str(out),
                 "--no-sign", "--date", DATE, env=store["env"], check=True)
        text = out.read_text()
        assert sentence in text
        assert "| L2-" not in text  # no per-item rows of nothing
