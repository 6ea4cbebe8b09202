"""The ledger's hash chain and signed checkpoints, on SQLite and on a real PostgreSQL server: an intact chain
verifies; each kind of tampering done directly with SQL is reported with the seq it concerns."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from sentinel.errors import InputError
from sentinel.integrity import ledger as lg

from tests.conftest import run_cli

from .helpers import ledger_store, make_keys


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("pg_clean")
    eng = ledger_store(url)
    yield eng
    eng.dispose()


@pytest.fixture
def key(tmp_path):
    return make_keys(tmp_path / "keys")


def fill(engine, n=10, key=None):
    for i in range(1, n + 1):
        lg.append(engine, "alert", {"alert_id": i, "rule": "ssh-bf", "level": "high", "src": f"10.0.0.{i}",
                                    "count": i * 3, "first_seen": 1770905421.0 + i}, ref=f"alert:{i}", key=key,
                  checkpoint_every=0)


def sql(engine, text, **params):
    with engine.begin() as conn:
        conn.execute(sa.text(text), params)


def problems(engine, key=None):
    rep = lg.verify(engine, key.public if key else None)
    return [(p.seq, p.problem) for p in rep.problems], rep


def test_intact_chain_verifies_and_links(engine, key):
    fill(engine)
    lg.checkpoint(engine, key)
    found, rep = problems(engine, key)
    assert found == [] and rep.ok
    assert rep.entries == 10 and rep.head_seq == 10 and rep.checkpoints_verified == 1
    entries = lg.recent(engine, 100)
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].prev_hash == lg.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert all(e.hash == lg.entry_hash(e.prev_hash, e.seq, e.ts, e.kind, e.ref, e.payload) for e in entries)


def test_edited_payload_is_reported_at_its_seq(engine):
    fill(engine)
    sql(engine, "UPDATE ledger_entry SET payload = replace(payload, '\"high\"', '\"low\"') WHERE seq = 4")
    found, rep = problems(engine)
    assert found == [(4, "edited")] and "hash mismatch at seq 4" in rep.problems[0].detail


def test_edited_hash_field_is_reported_at_its_seq(engine):
    fill(engine)
    sql(engine, "UPDATE ledger_entry SET hash = :h WHERE seq = 6", h="ab" * 32)
    found, rep = problems(engine)
    assert found == [(6, "edited")] and "hash field of seq 6" in rep.problems[0].detail


def test_edited_prev_hash_is_reported_at_its_seq(engine):
    fill(engine)
    sql(engine, "UPDATE ledger_entry SET prev_hash = :h WHERE seq = 3", h="cd" * 32)
    found, rep = problems(engine)
    assert found == [(3, "edited")] and "prev_hash field of seq 3" in rep.problems[0].detail


def test_forged_entry_is_reported_as_inserted(engine):
    fill(engine)
    sql(engine, "INSERT INTO ledger_entry (seq, ts, kind, ref, payload, prev_hash, hash) "
                "VALUES (11, '2026-11-25T00:00:00Z', 'action', NULL, '{}', :p, :h)", p="11" * 32, h="22" * 32)
    found, _ = problems(engine)
    assert found == [(11, "inserted")]


def test_entry_inserted_mid_chain_with_renumbering_is_reported(engine, key):
    """The careful forger renumbers the later entries and hashes the inserted one correctly."""
    fill(engine)
    e5 = lg.recent(engine, 100)[4]
    for seq in range(10, 5, -1):  # descending, so the primary key never collides
        sql(engine, "UPDATE ledger_entry SET seq = seq + 1 WHERE seq = :s", s=seq)
    ts, payload = "2026-11-25T00:00:00Z", '{"note":"all clear"}'
    sql(engine, "INSERT INTO ledger_entry (seq, ts, kind, ref, payload, prev_hash, hash) "
                "VALUES (6, :ts, 'note', NULL, :pl, :p, :h)", ts=ts, pl=payload, p=e5.hash,
        h=lg.entry_hash(e5.hash, 6, ts, "note", None, payload))
    found, rep = problems(engine)
    assert (6, "inserted") in found
    assert len(found) == 1, rep.problems


def test_deleted_entry_is_reported_as_missing_seq(engine):
    fill(engine)
    sql(engine, "DELETE FROM ledger_entry WHERE seq = 7")
    found, rep = problems(engine)
    assert found == [(7, "deleted")] and "seq 7 missing" in rep.problems[0].detail


def test_last_entries_deleted_after_a_checkpoint_are_reported(engine, key):
    fill(engine)
    lg.checkpoint(engine, key)
    sql(engine, "DELETE FROM ledger_entry WHERE seq >= 9")
    found, rep = problems(engine, key)
    assert found == [(9, "deleted")] and "seqs 9..10 missing" in rep.problems[0].detail


def test_rehashed_chain_is_caught_by_the_checkpoint(engine, key):
    """Editing entry 2 and recomputing every later hash leaves a self-consistent chain; the signed head does not
    match it any more."""
    fill(engine)
    lg.checkpoint(engine, key)
    sql(engine, "UPDATE ledger_entry SET payload = :p WHERE seq = 2", p='{"alert_id":2,"level":"low"}')
    prev = lg.recent(engine, 100)[0].hash
    for e in lg.recent(engine, 100)[1:]:
        h = lg.entry_hash(prev, e.seq, e.ts, e.kind, e.ref, e.payload)
        sql(engine, "UPDATE ledger_entry SET prev_hash = :p, hash = :h WHERE seq = :s", p=prev, h=h, s=e.seq)
        prev = h
    found, rep = problems(engine, key)
    assert found == [(10, "rewritten")]
    assert rep.checkpoints_verified == 0


def test_forged_checkpoint_signature_fails(engine, key):
    fill(engine)
    lg.checkpoint(engine, key)
    sql(engine, "UPDATE ledger_checkpoint SET head_hash = :h", h="ef" * 32)
    found, _ = problems(engine, key)
    assert found == [(10, "checkpoint")]


def test_checkpoints_need_the_right_public_key(engine, key, tmp_path):
    fill(engine)
    lg.checkpoint(engine, key)
    with pytest.raises(InputError, match="public key"):
        lg.verify(engine, None)
    other = make_keys(tmp_path / "other")
    found, rep = problems(engine, other)
    assert found == [(10, "checkpoint")] and key.fingerprint in rep.problems[0].detail


def test_periodic_checkpoints(engine, key):
    for i in range(25):
        lg.append(engine, "finding", {"n": i}, key=key, checkpoint_every=10)
    with engine.connect() as conn:
        seqs = conn.execute(sa.text("SELECT seq FROM ledger_checkpoint ORDER BY seq")).scalars().all()
    assert seqs == [10, 20]
    assert lg.verify(engine, key.public).checkpoints_verified == 2


def test_concurrent_writers_keep_one_chain(engine):
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(15):
                lg.append(engine, "action", {"writer": w, "i": i})
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rep = lg.verify(engine)
    assert rep.ok and rep.entries == 60 and rep.head_seq == 60


def test_ledger_alerts_appends_each_alert_of_a_run_once(engine, corpus):
    """Real alerts: the SSH brute-force log through `sentinel ingest` (the whole pipeline), which appends them to
    the ledger itself; appending the run again adds nothing."""
    url = engine.url.render_as_string(hide_password=False)
    res = run_cli("ingest", str(corpus / "logs" / "dev_log07_auth_ssh_bruteforce_user_enum.log"), "--db", url,
                  "--json")
    assert res.returncode == 0, res.stderr
    with engine.connect() as conn:
        run_id = conn.execute(sa.text("SELECT max(id) FROM run")).scalar()
        n_alerts = conn.execute(sa.text("SELECT count(*) FROM alert WHERE run_id = :r"), {"r": run_id}).scalar()
    assert n_alerts == 2  # MANIFEST.md: ssh-bf and user enumeration
    entries = [e for e in lg.recent(engine, limit=100) if e.kind == "alert"]
    assert len(entries) == n_alerts
    payloads = [e.to_dict()["payload"] for e in entries]
    assert [e.ref for e in entries] == [f"alert:{p['alert_id']}" for p in payloads]
    assert all(p["src"] == "35.188.49.176" and p["level"] == "high" and p["evidence_events"] for p in payloads)
    assert lg.ledger_alerts(engine, run_id) == []  # idempotent per run
    assert lg.verify(engine).ok
