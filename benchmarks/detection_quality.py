"""Measure detection quality on the public corpus and print the Markdown tables of docs/detection.md.

    python benchmarks/detection_quality.py [--corpus ../shared/corpus]

Runs the real CLI with the built-in packs on every corpus capture and log, compares the alerts with the ground
truth encoded in tests/test_corpus_detection.py (taken from the corpus MANIFEST), and prints per-item results,
per-category recall and the alerts that are not ground truth (with their level).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.test_corpus_detection import BENIGN_PCAPS, LOGS, PCAPS  # noqa: E402

CATEGORY = {
    "dev01": "MQTT abuse", "dev02": "MQTT abuse", "dev03": "Cleartext credentials", "dev04": "Modbus writes / unusual FCs",
    "dev05": "Modbus writes / unusual FCs", "dev06": "DNS tunnelling", "dev08": "Cleartext credentials",
    "dev10": "Port scan", "dev11": "Port scan", "dev12": "Host discovery", "dev13": "SYN flood",
    "dev14": "Brute force", "dev15": "Malware / webshell files", "dev16": "CoAP",
    "dev_log01": "Web attacks", "dev_log02": "Web attacks", "dev_log03": "Web attacks", "dev_log04": "Web attacks",
    "dev_log05": "Web attacks", "dev_log07": "Brute force", "dev_log08": "Brute force", "dev_log09": "Web attacks",
    "dev_log10": "Web attacks", "dev_log11": "Web attacks",
}


def alerts(cmd: str, path: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-m", "sentinel.cli.main", cmd, str(path), "--json", "--db",
                              f"sqlite:///{tmp}/s.db"], capture_output=True, check=True)
    return json.loads(res.stdout)["alerts"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    a = ap.parse_args()
    rows, per_cat, extras = [], {}, []
    items = [("analyze", a.corpus / "pcaps" / n, exp) for n, exp in PCAPS.items()]
    items += [("analyze", a.corpus / "pcaps" / n, set()) for n in BENIGN_PCAPS]
    items += [("ingest", a.corpus / "logs" / n, exp) for n, exp in LOGS.items()]
    for cmd, path, expected in sorted(items, key=lambda i: i[1].name):
        got = alerts(cmd, path)
        titles = {x["title"] for x in got}
        hit = expected <= titles
        key = path.name[:9] if path.name.startswith("dev_log") else path.name[:5]
        if expected:
            cat = CATEGORY.get(key, "other")
            n, k = per_cat.get(cat, (0, 0))
            per_cat[cat] = (n + 1, k + int(hit))
        other = sorted({(x["level"], x["title"]) for x in got if x["title"] not in expected})
        extras += [(path.name, lvl, t) for lvl, t in other]
        rows.append((path.name, ", ".join(sorted(expected)) or "(benign: none)", "yes" if hit else "**no**",
                     len(got), len(other)))
    print("| item | expected alert(s) | raised | alerts | other alerts |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")
    print("\n| category | items | detected | recall |\n|---|---|---|---|")
    for cat, (n, k) in sorted(per_cat.items()):
        print(f"| {cat} | {n} | {k} | {k / n:.0%} |")
    print("\n| item | level | other alert (not in the ground truth) |\n|---|---|---|")
    for name, lvl, t in extras:
        print(f"| {name} | {lvl} | {t} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
