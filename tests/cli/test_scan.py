"""`sentinel scan`: JSON summary, stored yara_match events, exit codes, and the walk's skip counts, end to end."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def samples() -> Path:
    d = CORPUS / "yara" / "samples"
    if not d.is_dir():
        pytest.skip(f"YARA corpus not found at {d}")
    return d


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("SENTINEL_YARA_RULES", "SENTINEL_DB")}
    e["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return e


def sentinel(*args: str, env: dict[str, str], user: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120, user=user)


def scan_json(*args: str, env: dict[str, str]) -> dict:
    r = sentinel("scan", *args, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # exactly one JSON object


def test_scanning_the_samples_reports_and_stores_every_match(samples: Path, tmp_path: Path, env) -> None:
    db = tmp_path / "s.db"
    out = scan_json(str(samples), "--db", f"sqlite:///{db}", env=env)
    assert out["files"] == 3
    by_file: dict[str, set[str]] = {}
    for m in out["matches"]:
        assert {"path", "rule", "tags", "sha256", "offset"} <= m.keys()
        by_file.setdefault(Path(m["path"]).name, set()).add(m["rule"])
    assert by_file["eicar_extracted_from_dev15_smb.txt"] == {"SUSP_Just_EICAR"}
    assert by_file["caidao_chopper_404.php.txt"] == {"webshell_caidao_shell_404"}
    assert len(by_file["c99shell.php.txt"]) == 18
    assert out["skipped"]["special"] == 0 and out["unreadable"] == []

    with sqlite3.connect(db) as conn:
        run = conn.execute("SELECT id, command, status FROM run").fetchall()
        assert run == [(out["run_id"], "scan", "complete")]
        rows = conn.execute("SELECT kind, layer, json_extract(data, '$.rule'), json_extract(data, '$.origin'), "
                            "json_extract(data, '$.sha256') FROM event WHERE run_id = ?", (out["run_id"],)).fetchall()
    assert len(rows) == len(out["matches"]) == 20
    assert {(k, l) for k, l, *_ in rows} == {("yara_match", "application")}
    assert {(r, Path(o).name, s) for *_, r, o, s in rows} == {
        (m["rule"], Path(m["path"]).name, m["sha256"]) for m in out["matches"]}


def test_a_clean_scan_exits_0_and_the_second_run_loads_the_rules_from_the_cache(tmp_path: Path, env) -> None:
    (tmp_path / "f.txt").write_text("nothing to see\n")
    args = (str(tmp_path / "f.txt"), "--db", f"sqlite:///{tmp_path / 's.db'}")
    first, second = scan_json(*args, env=env), scan_json(*args, env=env)  # scan_json asserts exit 0
    assert (first["files"], first["matches"]) == (1, [])
    assert (first["rules"]["cached"], second["rules"]["cached"]) == (False, True)
    assert first["rules"]["key"] == second["rules"]["key"]
    assert first["rules"]["count"] == second["rules"]["count"] > 600


def test_broken_rule_file_exits_2_naming_file_and_line(tmp_path: Path, env) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    bad = rules / "bad.yar"
    bad.write_text('rule fine { condition: true }\nrule bad {\n  condition: true and\n}\n')
    (tmp_path / "f.txt").write_text("x")
    r = sentinel("scan", str(tmp_path / "f.txt"), "--rules", str(rules), "--db", f"sqlite:///{tmp_path / 's.db'}",
                 env=env)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {bad}: line 4: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_missing_path_exits_2_before_touching_the_store(tmp_path: Path, env) -> None:
    r = sentinel("scan", str(tmp_path / "nope"), "--db", f"sqlite:///{tmp_path / 's.db'}", env=env)
    assert r.returncode == 2
    assert r.stderr == f"error: {tmp_path / 'nope'}: no such file or directory\n"
    assert not (tmp_path / "s.db").exists()


def test_bad_max_size_exits_2(tmp_path: Path, env) -> None:
    r = sentinel("scan", str(tmp_path), "--max-size", "lots", "--db", f"sqlite:///{tmp_path / 's.db'}", env=env)
    assert r.returncode == 2 and "--max-size" in r.stderr


def test_repeated_rules_options_use_only_those_rules(samples: Path, tmp_path: Path, env) -> None:
    r1, r2 = tmp_path / "r1", tmp_path / "r2"
    r1.mkdir(), r2.mkdir()
    (r1 / "one.yar").write_text('rule php_open { strings: $p = "<?php" condition: $p }\n')
    (r2 / "two.yara").write_text('rule post_param { strings: $e = "$_POST" condition: $e }\n')
    out = scan_json(str(samples / "caidao_chopper_404.php.txt"), "--rules", str(r1), "--rules", str(r2),
                    "--db", f"sqlite:///{tmp_path / 's.db'}", env=env)
    assert sorted((m["rule"], m["offset"]) for m in out["matches"]) == sorted(
        [("php_open", 0), ("post_param", (samples / "caidao_chopper_404.php.txt").read_bytes().index(b"$_POST"))])
    assert out["rules"]["count"] == 2


def test_tree_walk_limits_in_the_summary(samples: Path, tmp_path: Path, env) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(samples / "eicar_extracted_from_dev15_smb.txt", tree / "eicar.txt")
    shutil.copy(samples / "c99shell.php.txt", tree / "big.php")  # 141 KB: over the limit below
    os.mkfifo(tree / "fifo")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(samples / "caidao_chopper_404.php.txt", outside / "shell.php")
    (tree / "escape").symlink_to(outside / "shell.php")
    db = f"sqlite:///{tmp_path / 's.db'}"

    out = scan_json(str(tree), "--max-size", "100K", "--db", db, env=env)
    assert out["files"] == 1
    assert [m["rule"] for m in out["matches"]] == ["SUSP_Just_EICAR"]
    assert out["skipped"]["special"] == 1
    assert out["skipped"]["too_large"] == 1
    assert out["skipped"]["link_outside"] == 1

    followed = scan_json(str(tree), "--max-size", "100K", "--follow-links", "--db", db, env=env)
    assert sorted(m["rule"] for m in followed["matches"]) == ["SUSP_Just_EICAR", "webshell_caidao_shell_404"]
    assert [Path(m["path"]).name for m in followed["matches"] if m["rule"].startswith("webshell")] == ["escape"]


def test_human_output_has_a_table_and_a_summary_line(samples: Path, tmp_path: Path, env) -> None:
    r = sentinel("scan", str(samples / "eicar_extracted_from_dev15_smb.txt"), "--db",
                 f"sqlite:///{tmp_path / 's.db'}", env={**env, "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "SUSP_Just_EICAR" in r.stdout
    assert "Scanned 1 files" in r.stdout and "1 matches in 1 files" in r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the scan as another user")
def test_unreadable_files_are_counted_and_reported_not_fatal(tmp_path: Path, env) -> None:
    # why: as root every file is readable, so the scan runs as `nobody` over a world-readable scratch tree
    base = Path(tempfile.mkdtemp(prefix="sentinel-scan-"))
    try:
        base.chmod(0o777)
        tree = base / "tree"
        tree.mkdir(mode=0o755)
        (tree / "ok.txt").write_text("fine")
        locked = tree / "locked.txt"
        locked.write_text("secret")
        locked.chmod(0)
        (tree / "ok.txt").chmod(0o644)
        try:
            r = sentinel("scan", str(tree), "--json", "--db", f"sqlite:///{base / 's.db'}",
                         env={**env, "XDG_CACHE_HOME": str(base / "cache"), "HOME": str(base)}, user="nobody")
        except PermissionError:
            pytest.skip(f"{sys.executable} cannot be run by nobody")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["files"] == 1
        assert out["skipped"]["unreadable"] == 1
        assert out["unreadable"] == [{"path": str(locked), "reason": out["unreadable"][0]["reason"]}]
    finally:
        shutil.rmtree(base, ignore_errors=True)
