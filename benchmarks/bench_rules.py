"""Rules engine throughput: Sentinel's streaming engine vs Sigma-to-SQL in SQLite (Zircolite's approach).

    .venv/bin/python benchmarks/bench_rules.py [--events 1000000] [--corpus PATH]

Generates N deterministic events of mixed kinds (conn, dns, http, http_access, auth, syslog, mqtt, modbus, with a
sprinkling of attack-like values so rules do match), then
  1. streams them through `Engine.process` with every rule in rules/ plus the corpus Sigma rules (correlations
     included), and
  2. converts the same detection rules with pysigma-backend-sqlite (after Sentinel's field-mapping pipeline), loads
     the events into an in-memory SQLite table and runs one query per rule (time = load + queries).
Event generation is timed separately and excluded from both figures. Prints events/s for both and the ratio.
Rules the SQLite backend cannot convert (keyword searches on unmapped text, some modifiers) are counted and skipped
there, which only makes the SQLite side cheaper.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sentinel.detect import Engine, RuleSet  # noqa: E402
from sentinel.events import KINDS  # noqa: E402
from sentinel.detect.logsources import kind_fields, sentinel_pipeline  # noqa: E402

UAS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "Mozilla/5.00 (Nikto/2.1.5)", "sqlmap/1.7", "python-requests/2.31"]
URIS = ["/", "/index.html", "/login", "/api/v1/status?id=7", "/.git/HEAD", "/cgi-bin/../../../etc/passwd",
        "/shell.jsp?cmd=whoami", "/wp-login.php", "/static/app.js", "/search?q=%27+or+1%3D1--"]


def templates(n: int, seed: int = 42) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    kinds = ["conn"] * 35 + ["dns"] * 15 + ["http_access"] * 15 + ["http"] * 5 + ["auth"] * 10 + ["syslog"] * 5 + \
            ["mqtt"] * 8 + ["modbus"] * 7
    for i in range(n):
        k = rnd.choice(kinds)
        d = {f: None for f in KINDS[k]().to_dict()}
        d.update(kind=k, layer=KINDS[k].LAYER, sensor="bench", src_ip=f"10.{rnd.randrange(4)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
                 dst_ip=f"192.168.1.{rnd.randrange(1, 40)}", src_port=rnd.randrange(1024, 65535), proto="tcp")
        if k == "conn":
            d.update(dst_port=rnd.choice([22, 23, 80, 443, 502, 1883, 3389, 8080]), conn_state=rnd.choice(["SF", "S0", "REJ", "SF", "SF"]),
                     duration=rnd.random(), orig_pkts=rnd.randrange(1, 20), resp_pkts=rnd.randrange(0, 20), history="ShADadFf",
                     orig_bytes=rnd.randrange(40, 5000), resp_bytes=rnd.randrange(0, 50000), service=None, timed_out=False)
        elif k == "dns":
            q = rnd.choice(["example.com", "iot.city.gov.cn", "a" * 40 + ".t.evil.example", "time.windows.com"])
            d.update(proto="udp", dst_port=53, query=q, qtype=rnd.choice(["A", "AAAA", "TXT"]), qclass=1, rcode="NOERROR",
                     answers=["1.2.3.4"], ttls=[60], qname_len=len(q), qname_entropy=rnd.random() * 5, trans_id=i)
        elif k in ("http_access", "http"):
            uri = rnd.choice(URIS)
            ua = rnd.choice(UAS)
            d.update(dst_port=80, method=rnd.choice(["GET", "GET", "POST"]), uri=uri, status=rnd.choice([200, 404, 403, 500]),
                     user_agent=ua, referrer="-", version="HTTP/1.1")
            if k == "http_access":
                d.update(line=f'{d["src_ip"]} - - [25/Nov/2026:10:00:00 +0800] "{d["method"]} {uri} HTTP/1.1" {d["status"]} 512 "-" "{ua}"',
                         source=f"access.log:{i}", bytes=512)
            else:
                d.update(host="portal.city.gov.cn", request_body_len=0, response_body_len=512)
        elif k == "auth":
            d.update(dst_port=22, outcome=rnd.choice(["failure", "failure", "success"]), user=rnd.choice(["root", "admin", "pi", "ops"]),
                     method="password", service="sshd", reason="bad password", source=f"auth.log:{i}",
                     line=f"Nov 25 10:00:00 gw sshd[{i}]: Failed password for root from {d['src_ip']} port 4242 ssh2")
        elif k == "syslog":
            d.update(proto=None, host="gw", program=rnd.choice(["sshd", "cron", "kernel"]), pid=i, facility=4, severity=6,
                     message="session opened for user root", line="Nov 25 10:00:00 gw cron[1]: session opened for user root",
                     source=f"syslog:{i}")
        elif k == "mqtt":
            d.update(dst_port=1883, msg_type=rnd.choice(["CONNECT", "PUBLISH", "SUBSCRIBE"]), protocol_version=4,
                     client_id=f"dev{i}", username=rnd.choice([None, "sensor"]), password_sent=rnd.choice([True, False]),
                     topics=[rnd.choice(["city/light/1", "#", "city/+/status"])], wildcard=False, qos=0, return_code=0)
        elif k == "modbus":
            fc = rnd.choice([3, 3, 4, 5, 6, 8, 16])
            d.update(dst_port=502, trans_id=i, unit_id=1, func_code=fc, func_name={3: "read_holding_registers"}.get(fc, "other"),
                     is_write=fc in (5, 6, 15, 16), address=rnd.randrange(100), quantity=1, response=True)
        out.append(d)
    return out


def events(n: int, pool: list[dict]):
    m = len(pool)
    for i in range(n):
        d = dict(pool[i % m])
        d["ts"] = 1_790_000_000.0 + i * 0.001
        yield d


def sqlite_side(rule_dirs: list[Path], n: int, pool: list[dict]) -> tuple[float, int, int, int]:
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    from sentinel.detect.logsources import LogsourceError, resolve

    cols = sorted(set().union(*(kind_fields(k) for k in KINDS)) | {"uri_path", "uri_query"})
    queries: list[str] = []
    failed = 0
    for d in rule_dirs:
        for p in sorted(d.rglob("*.yml")):
            if "yara" in p.parts:
                continue
            try:
                coll = SigmaCollection.from_yaml(p.read_text())
            except Exception:
                failed += 1
                continue
            for r in coll.rules:
                if not isinstance(r, SigmaRule):
                    continue
                try:
                    kinds = resolve(r.logsource).kinds
                    sql = sqliteBackend(processing_pipeline=sentinel_pipeline()).convert(SigmaCollection([r]))[0]
                except (LogsourceError, Exception):
                    failed += 1
                    continue
                where = sql.split(" WHERE ", 1)[1] if " WHERE " in sql else "1"
                ks = ",".join(f"'{k}'" for k in kinds)
                queries.append(f"SELECT count(*) FROM logs WHERE kind IN ({ks}) AND ({where})")
    t0 = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE logs (" + ", ".join(f"`{c}`" for c in cols) + ")")
    ins = "INSERT INTO logs VALUES (" + ",".join("?" * len(cols)) + ")"
    batch = []
    for ev in events(n, pool):
        batch.append(tuple(json.dumps(ev.get(c)) if isinstance(ev.get(c), (list, dict)) else ev.get(c) for c in cols))
        if len(batch) >= 50_000:
            db.executemany(ins, batch)
            batch = []
    db.executemany(ins, batch)
    db.commit()
    t_load = time.perf_counter() - t0
    hits = 0
    ok = 0
    for q in queries:
        try:
            hits += db.execute(q).fetchone()[0]
            ok += 1
        except sqlite3.Error:
            failed += 1
    return time.perf_counter() - t0, hits, ok, failed, t_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "sigma")
    a = ap.parse_args()
    dirs = [REPO / "rules"] + ([a.corpus] if a.corpus.is_dir() else [])
    rs = RuleSet.load([a.corpus] if a.corpus.is_dir() else [], builtin=True)
    print(f"rules: {len(rs.rules)} detection + {len(rs.correlations)} correlation")
    pool = templates(20_000)

    t0 = time.perf_counter()
    for _ in events(a.events, pool):
        pass
    t_gen = time.perf_counter() - t0

    eng = Engine(rs)
    t0 = time.perf_counter()
    for ev in events(a.events, pool):
        eng.process(ev)
    alerts = eng.finish()
    t_eng = time.perf_counter() - t0 - t_gen
    st = eng.stats()
    print(f"streaming engine: {a.events / t_eng:,.0f} events/s ({t_eng:.2f} s; {st['matches']:,} rule matches, "
          f"{len(alerts):,} alerts after aggregation)")

    t_sql, hits, ok, failed, t_load = sqlite_side(dirs, a.events, pool)
    t_sql -= t_gen
    t_load -= t_gen
    print(f"sqlite (pysigma-backend-sqlite): {a.events / t_sql:,.0f} events/s ({t_sql:.2f} s = load {t_load:.2f} s + "
          f"{ok} queries {t_sql - t_load:.2f} s; {hits:,} matching rows; {failed} rules not convertible/runnable)")
    print(f"ratio streaming/sqlite: {t_sql / t_eng:.2f}x   (event generation {t_gen:.2f} s excluded from both)")


if __name__ == "__main__":
    main()
