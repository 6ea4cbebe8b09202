"""Observations in the store: upsert per run, IP rows folding into MAC rows, reconciliation with the inventory."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sentinel.assets import registry
from sentinel.assets.registry import import_assets, list_devices, observe_run, reconcile, set_asset, upsert_devices
from sentinel.errors import InputError
from sentinel.store import open_store


@pytest.fixture
def engine(tmp_path):
    return open_store(f"sqlite:///{tmp_path / 's.db'}")


def _modbus(ts, master, slave):
    return dict(ts=ts, kind="modbus", src_ip=master, src_port=40000, dst_ip=slave, dst_port=502, proto="tcp",
                func_code=3, func_name="read_holding_registers", response=True)


def test_runs_accumulate_evidence_and_widen_the_seen_window(engine):
    r1 = observe_run(engine, [_modbus(100.0, "10.0.0.57", "10.0.0.3")], run_id=None)
    assert r1.counts["new"] == 2 and r1.counts["updated"] == 0
    r2 = observe_run(engine, [_modbus(50.0, "10.0.0.57", "10.0.0.3"), _modbus(300.0, "10.0.0.57", "10.0.0.3")])
    assert r2.counts["new"] == 0 and r2.counts["updated"] == 2
    slave = {d["key"]: d for d in list_devices(engine)}["10.0.0.3"]
    assert (slave["first_seen"], slave["last_seen"]) == (50.0, 300.0)
    assert slave["evidence"]["modbus_slave"]["answered modbus requests on tcp/502"] == 3
    assert slave["role"] == "modbus_slave" and slave["events"] == 3


def test_ip_row_folds_into_the_mac_row_once_arp_names_it(engine):
    observe_run(engine, [_modbus(10.0, "10.0.0.57", "10.0.0.3")])
    res = observe_run(engine, [dict(ts=20.0, kind="arp", src_ip="10.0.0.3", dst_ip="10.0.0.57", proto="arp",
                                    operation="reply", src_mac="00:02:b3:ce:70:51", dst_mac="00:20:78:00:62:0d")])
    assert res.counts["merged"] == 1
    devs = {d["key"]: d for d in list_devices(engine)}
    assert "10.0.0.3" not in devs
    d = devs["00:02:b3:ce:70:51"]
    assert d["ips"] == ["10.0.0.3"] and d["role"] == "modbus_slave" and d["first_seen"] == 10.0


def test_reconcile_matches_by_mac_or_ip(engine):
    observe_run(engine, [dict(ts=1000.0, kind="arp", src_ip="10.0.0.3", dst_ip="10.0.0.1", proto="arp",
                              operation="request", src_mac="00:02:b3:ce:70:51", dst_mac="00:00:00:00:00:00"),
                         _modbus(1000.0, "10.0.0.57", "10.0.0.8")])
    import_assets(engine, [{"name": "by-mac", "mac": "00:02:b3:ce:70:51"}, {"name": "by-ip", "ip": "10.0.0.8"},
                           {"name": "paper-only", "layer": "application"}])
    rec = reconcile(engine, silence=60)
    flags = {a["name"]: (a["devices"], a["silent"]) for a in rec["assets"]}
    assert flags["by-mac"] == (["00:02:b3:ce:70:51"], False)
    assert flags["by-ip"] == (["10.0.0.8"], False)
    assert flags["paper-only"] == ([], False)  # no MAC or IP: nothing to be silent on
    assert [d["key"] for d in rec["unknown"]] == ["10.0.0.57"]


def test_set_refuses_a_key_owned_by_another_asset(engine):
    import_assets(engine, [{"name": "a", "ip": "10.0.0.1"}, {"name": "b"}])
    with pytest.raises(InputError, match="already the ip of asset 'a'"):
        set_asset(engine, "b", {"ip": "10.0.0.1"})
    assert set_asset(engine, "b", {"ip": "10.0.0.2"})["ip"] == "10.0.0.2"


def test_sqlite_driver_level_writes_store_what_sqlalchemy_stores(tmp_path, monkeypatch):
    """On SQLite, upsert_devices binds its rows for the driver's executemany itself: every stored value (JSON text,
    floats from ints, the time's text) must be what SQLAlchemy's own executemany stores, for new, updated and
    folded rows alike."""
    monkeypatch.setattr(registry, "_now", lambda: datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc))
    first = [
        {"key": "10.0.0.3", "ips": ["10.0.0.3"], "first_seen": 10, "last_seen": 20.5, "protocols": {"modbus": 3},
         "server_ports": {"tcp/502": 3}, "evidence": {"modbus_slave": {"answered modbus requests on tcp/502": 3}},
         "role": "modbus_slave", "roles": {"modbus_slave": ["answered modbus requests on tcp/502 (x3)"]},
         "events": 3},
        {"key": "10.0.0.9", "macs": None, "ips": None, "vendor": "Société ☃ \"Générale\"", "first_seen": 1.0,
         "last_seen": 1.0, "interval": 30, "events": None},
    ]
    second = [  # 10.0.0.3 folds into its MAC's new row, 10.0.0.9 is updated, 10.0.0.10 is new
        {"key": "00:02:b3:ce:70:51", "macs": ["00:02:b3:ce:70:51"], "ips": ["10.0.0.3"], "vendor": "Intel Corporate",
         "first_seen": 30.0, "last_seen": 40.0, "protocols": {"arp": 1}, "events": 1, "derived": {}},
        {"key": "10.0.0.9", "first_seen": 0.5, "last_seen": 2.0, "client_ports": {"udp/53": 2}, "events": 2},
        {"key": "10.0.0.10", "first_seen": 5, "last_seen": 6},
    ]

    def stored(name: str) -> tuple[list, list]:
        engine = open_store(f"sqlite:///{tmp_path / name}")
        counts = [upsert_devices(engine, first, 1), upsert_devices(engine, second, None)]
        with engine.connect() as conn:
            return counts, conn.exec_driver_sql("SELECT * FROM observed_device ORDER BY id").fetchall()

    driver = stored("driver.db")
    monkeypatch.setattr(registry, "_driver_sql", lambda dialect, update: None)  # SQLAlchemy's executemany
    plain = stored("plain.db")
    assert driver == plain
    assert driver[0][1] == {"new": 2, "updated": 1, "merged": 1} and len(driver[1]) == 3
