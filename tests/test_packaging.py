"""A built wheel is self-contained: the built-in rules and levels travel inside it (not only in a checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        pytest.fail(f"pip wheel failed: {res.stderr[-2000:]}")
    (whl,) = out.glob("sentinel-*.whl")
    return whl


def test_wheel_carries_rules_and_levels(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for sub in ("transport", "perception", "application"):
        src = {p.name for p in (REPO / "rules" / sub).glob("*.yml")}
        assert src and {f"sentinel/_data/rules/{sub}/{n}" for n in src} <= names
    assert "sentinel/_data/rules/yara/LICENSE" in names or any(n.startswith("sentinel/_data/rules/yara/") for n in names)
    assert "sentinel/_data/levels/general/level3.yaml" in names
    assert "sentinel/_data/levels/high_risk.yaml" in names


def test_installed_wheel_finds_its_data_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from sentinel.data import data_dir; from sentinel.detect import RuleSet; "
            "from sentinel.compliance.catalogue import load_catalogue; "
            "print(data_dir('rules')); print(len(RuleSet.load([], builtin=True).rules)); "
            "print(len(load_catalogue().requirements))")
    # the extracted wheel comes first on the path; the checkout is not importable from tmp_path
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    where, rules, reqs = res.stdout.split()
    assert where.startswith(str(site))
    assert int(rules) > 50
    assert int(reqs) > 100
