"""`sentinel ledger checkpoint|verify|show` through the real CLI, on SQLite and PostgreSQL: exit 0 intact,
exit 1 naming the tampered seq."""

from __future__ import annotations

import json

import pytest

from sentinel.integrity import ledger as lg
from sentinel.integrity.keys import init_keys
from sentinel.store import open_store
from tests.conftest import run_cli


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_clean")
    e = {"SENTINEL_KEY_DIR": str(tmp_path / "keys"), "SENTINEL_KEY_PASSPHRASE": "", "SENTINEL_DB": url}
    init_keys(tmp_path / "keys")  # the CLI's `keys init` is tested in test_keys.py
    engine = open_store(url)
    for i in range(1, 6):
        lg.append(engine, "alert", {"alert_id": i, "level": "high"}, ref=f"alert:{i}")
    yield engine, e
    engine.dispose()


def test_checkpoint_verify_show(store):
    engine, e = store
    cp = run_cli("ledger", "checkpoint", "--json", env=e)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["checkpoint"]["seq"] == 5
    res = run_cli("ledger", "verify", "--json", env=e)
    assert res.returncode == 0, res.stdout + res.stderr
    rep = json.loads(res.stdout)
    assert rep["ok"] and rep["entries"] == 5 and rep["checkpoints_verified"] == 1
    show = run_cli("ledger", "show", "--limit", "2", "--json", env=e)
    assert [x["seq"] for x in json.loads(show.stdout)["entries"]] == [4, 5]


@pytest.mark.parametrize("tamper,seq,kind", [
    ("UPDATE ledger_entry SET payload = '{\"alert_id\":3,\"level\":\"low\"}' WHERE seq = 3", 3, "edited"),
    ("DELETE FROM ledger_entry WHERE seq = 2", 2, "deleted"),
    ("DELETE FROM ledger_entry WHERE seq = 5", 5, "deleted"),  # the last one, after the checkpoint
])
def test_tampering_exits_1_naming_the_seq(store, tamper, seq, kind):
    engine, e = store
    assert run_cli("ledger", "checkpoint", env=e).returncode == 0
    with engine.begin() as conn:
        conn.exec_driver_sql(tamper)
    js = run_cli("ledger", "verify", "--json", env=e)
    assert js.returncode == 1
    first = json.loads(js.stdout)["problems"][0]
    assert (first["seq"], first["problem"]) == (seq, kind)
    assert js.stderr.decode().startswith(f"error: ledger seq {seq}: {kind}") and js.stderr.count(b"\n") == 1


def test_wrong_pubkey_fails_checkpoints(store, tmp_path):
    engine, e = store
    run_cli("ledger", "checkpoint", env=e)
    other = tmp_path / "other"
    init_keys(other)
    res = run_cli("ledger", "verify", "--pubkey", str(other / "ed25519.pub.pem"), env=e)
    assert res.returncode == 1 and b"FAIL seq 5: checkpoint" in res.stdout


def test_runs_that_alert_end_on_a_signed_checkpoint_when_a_key_is_usable(tmp_path, corpus) -> None:
    """The sensors append their alerts and anchor the chain themselves; verify then checks the signature."""
    import json

    from tests.conftest import run_cli as cli

    env = {"SENTINEL_KEY_DIR": str(tmp_path / "keys")}
    assert cli("keys", "init", env=env).returncode == 0
    db = f"sqlite:///{tmp_path / 's.db'}"
    res = cli("ingest", str(corpus / "logs" / "dev_log07_auth_ssh_bruteforce_user_enum.log"), "--db", db, env=env)
    assert res.returncode == 0, res.stderr
    res = cli("ledger", "verify", "--db", db, "--json", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    rep = json.loads(res.stdout)
    assert rep["checkpoints"] == 1 and rep["checkpoints_verified"] == 1 and rep["entries"] == 2
