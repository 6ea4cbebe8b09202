"""The inventory in the store: upserting observations after a run, editing assets, and reconciling the two.

Reconciliation: an observed device matches an asset when the asset's MAC is one of the device's MACs or the
asset's IP is one of its IPs. Observed devices that match no asset are *unknown*; assets with a MAC or IP that no
device matched within `silence` seconds before the newest observation are *silent* (relative to the newest
observation, not the wall clock, so analysing an old capture gives the same answer today and next year).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError
from ..events.perception import DeviceUnknown, HeartbeatLost
from ..gcpause import gc_paused
from .observe import Observer, ObserverConfig, judge
from .oui import normalize_mac
from .tables import ASSET_FIELDS, Asset, ObservedDevice

_DEV = ObservedDevice.__table__
_ASSET = Asset.__table__

DEFAULT_SILENCE = 24 * 3600.0

_DEVICE_COLS = ("key", "macs", "ips", "vendor", "first_seen", "last_seen", "protocols", "server_ports",
                "client_ports", "evidence", "role", "roles", "interval", "events", "run_id")


@dataclass
class ObserveResult:
    devices: list[dict[str, Any]]
    heartbeat_lost: list[HeartbeatLost]
    counts: dict[str, int] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _add_counts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def _merge_row(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A stored device and this run's view of it -> the stored device after this run."""
    evidence = {r: dict(c) for r, c in (old.get("evidence") or {}).items()}
    for role, reasons in (new.get("evidence") or {}).items():
        evidence[role] = _add_counts(evidence.get(role, {}), reasons)
    judged = judge(evidence, new.get("derived"))
    return {
        "key": new["key"],
        "macs": list(dict.fromkeys([*(new.get("macs") or []), *(old.get("macs") or [])])),
        "ips": list(dict.fromkeys([*(new.get("ips") or []), *(old.get("ips") or [])]))[:64],
        "vendor": new.get("vendor") or old.get("vendor"),
        "first_seen": min(old["first_seen"], new["first_seen"]),
        "last_seen": max(old["last_seen"], new["last_seen"]),
        "protocols": _add_counts(old.get("protocols") or {}, new.get("protocols") or {}),
        "server_ports": _add_counts(old.get("server_ports") or {}, new.get("server_ports") or {}),
        "client_ports": _add_counts(old.get("client_ports") or {}, new.get("client_ports") or {}),
        "evidence": evidence,
        "role": judged["role"],
        "roles": judged["roles"],
        "interval": new.get("interval") if new.get("interval") is not None else old.get("interval"),
        "events": (old.get("events") or 0) + (new.get("events") or 0),
        "run_id": new.get("run_id") if new.get("run_id") is not None else old.get("run_id"),
        "derived": new.get("derived"),
    }


def upsert_devices(engine: Engine, devices: Iterable[dict[str, Any]], run_id: int | None = None,
                   new_keys: list[str] | None = None) -> dict[str, int]:
    """Write this run's observed devices, merged into what the store has. IP-keyed rows whose MAC is now known
    fold into the MAC's row. One transaction; existing rows are read in bulk (a capture can show thousands of
    devices: one query per device measured ~2 ms each)."""
    counts = {"new": 0, "updated": 0, "merged": 0}
    # why paused: a few containers per device and no cycle among them (see gc_paused); in a whole `sentinel
    # analyze` of cap_1M, collections were 0.4 of the 1.4 s this took
    with gc_paused():
        devices = [{**dev, "run_id": run_id} for dev in devices]
        wanted = {d["key"] for d in devices} | {ip for d in devices if d.get("macs") for ip in d.get("ips") or []}
        inserts: list[tuple] = []
        updates: list[tuple] = []
        updated = _now()
        with engine.begin() as conn:
            existing = _rows_by_key(conn, wanted)
            for dev in devices:
                current = existing.get(dev["key"])
                merged = _merge_row(current, dev) if current is not None else dev
                if dev.get("macs"):
                    # why: a device first stored under its IP and now known by MAC is one device, not two
                    for ip in dev.get("ips") or []:
                        old = existing.get(ip)
                        if old is not None and ip != dev["key"]:
                            merged = _merge_row(old, merged)
                            conn.execute(_DEV.delete().where(_DEV.c.id == old["id"]))
                            del existing[ip]
                            counts["merged"] += 1
                row = _row(merged)
                if current is not None:
                    updates.append((*row, current["id"]))
                    counts["updated"] += 1
                else:
                    inserts.append(row)
                    counts["new"] += 1
                    if new_keys is not None:
                        new_keys.append(merged["key"])
            if inserts:
                _write(conn, inserts, updated)
            if updates:  # one executemany, not one round trip per device
                _write(conn, updates, updated, update=True)
    return counts


def _row(d: dict[str, Any]) -> tuple:
    """The stored columns of a device, in `_DEVICE_COLS` order (missing JSON values and counts stored empty)."""
    get = d.get
    return (get("key"), get("macs") or [], get("ips") or [], get("vendor"), get("first_seen"), get("last_seen"),
            get("protocols") or {}, get("server_ports") or {}, get("client_ports") or {}, get("evidence") or {},
            get("role"), get("roles") or {}, get("interval"), get("events") or 0, get("run_id"))


_QUOTED = [f'"{c}"' for c in (*_DEVICE_COLS, "updated")]


def _driver_sql(dialect: sa.Dialect, update: bool) -> str | None:
    """The driver-level INSERT (or UPDATE by id) that `_write` binds rows to itself, for SQLite; None elsewhere
    (PostgreSQL's JSONB columns, another parameter style): SQLAlchemy's executemany then. Parameters: a row's
    `_DEVICE_COLS`, then `updated`, then (to update) its id."""
    if dialect.name != "sqlite":
        return None
    if update:
        return f"UPDATE {_DEV.name} SET {', '.join(q + ' = ?' for q in _QUOTED)} WHERE id = ?"
    return f"INSERT INTO {_DEV.name} ({', '.join(_QUOTED)}) VALUES ({', '.join(['?'] * len(_QUOTED))})"


def _write(conn: sa.Connection, rows: list[tuple], updated: datetime, update: bool = False) -> None:
    """Insert device rows (`_row`), or with `update` rewrite the stored ones whose id ends each row; all of them
    `updated` now.

    why driver-level on SQLite: SQLAlchemy's executemany builds and binds a parameter dict per row; without it
    upsert_devices took 0.43 s instead of 0.80 s for cap_1M's 19,510 new devices. Each value still goes through
    its column's own bind processor (the engine's JSON serialiser, float, the time's text), so SQLite stores what
    SQLAlchemy stored (tests/assets/test_registry.py compares the two).
    """
    dialect = conn.dialect
    sql = _driver_sql(dialect, update)
    if sql is None:
        if update:
            conn.execute(_DEV.update().where(_DEV.c.id == sa.bindparam("_id")),
                         [dict(zip(_DEVICE_COLS, r), updated=updated, _id=r[-1]) for r in rows])
        else:
            conn.execute(_DEV.insert(), [dict(zip(_DEVICE_COLS, r), updated=updated) for r in rows])
        return
    columns: list[Iterable[Any]] = list(zip(*rows))
    for i, c in enumerate(_DEVICE_COLS):
        process = _DEV.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:  # a column at a time: one map, not a Python loop over rows and values
            columns[i] = map(process, columns[i])
    process = _DEV.c.updated.type.dialect_impl(dialect).bind_processor(dialect)
    stamp = repeat(process(updated) if process is not None else updated)  # the same for every row: bound once
    n = len(_DEVICE_COLS)
    conn.exec_driver_sql(sql, list(zip(*columns[:n], stamp, *columns[n:])))


#: rows by key, for a list of keys; why a bound list: a select built per chunk coerced each of its 500 literals,
#: 0.03 s of the 0.09 s it took to find none of cap_1M's 19,510 keys in an empty store
_BY_KEYS = sa.select(_DEV).where(_DEV.c.key.in_(sa.bindparam("keys", expanding=True)))


def _rows_by_key(conn: sa.Connection, keys: set[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):  # bounded IN lists
        for row in conn.execute(_BY_KEYS, {"keys": ordered[i:i + 500]}).mappings():
            out[row["key"]] = dict(row)
    return out


def observe_run(engine: Engine, events: Iterable[Any], run_id: int | None = None,
                config: ObserverConfig | None = None) -> ObserveResult:
    """Feed one run's events (Event objects or flat dicts) through an Observer and upsert the devices it saw.

    Returns the devices and the heartbeat_lost events (the caller stores those with the run's other events).
    """
    obs = Observer(config)
    lost = obs.observe_all(events)
    devices = obs.devices()
    counts = upsert_devices(engine, devices, run_id)
    counts.update(devices=len(devices), heartbeat_lost=len(lost), dropped=obs.dropped)
    return ObserveResult(devices, lost, counts)


# ---------------------------------------------------------------------------------------------- inventory


def list_assets(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_ASSET).order_by(_ASSET.c.name)).mappings().all()
    return [{f: r[f] for f in ASSET_FIELDS} for r in rows]


def import_assets(engine: Engine, assets: list[dict[str, Any]], replace: bool = False) -> dict[str, int]:
    """Upsert validated assets by name (fields absent from a record are left as they were). One transaction."""
    counts = {"added": 0, "updated": 0, "removed": 0}
    names = {a["name"] for a in assets}
    with engine.begin() as conn:
        existing = {r["name"]: r for r in conn.execute(sa.select(_ASSET)).mappings().all()}
        if replace:
            gone = [n for n in existing if n not in names]
            if gone:
                conn.execute(_ASSET.delete().where(_ASSET.c.name.in_(gone)))
            counts["removed"] = len(gone)
        _check_keys_free(existing, assets, replace)
        for a in assets:
            if a["name"] in existing:
                conn.execute(_ASSET.update().where(_ASSET.c.name == a["name"]).values(**a, updated=_now()))
                counts["updated"] += 1
            else:
                conn.execute(_ASSET.insert().values(**a, updated=_now()))
                counts["added"] += 1
    return counts


def _check_keys_free(existing: dict[str, Any], assets: list[dict[str, Any]], replace: bool) -> None:
    """A MAC or IP names one asset: refuse one that another stored asset (not in this import) already has."""
    incoming = {a["name"] for a in assets}
    for a in assets:
        for f in ("mac", "ip"):
            v = a.get(f)
            if v is None:
                continue
            for name, row in existing.items():
                if name in incoming or replace:
                    continue
                if row[f] == v:
                    raise InputError("inventory", f"{f} {v} is already the {f} of asset {name!r}",
                                     f"asset {a['name']!r}, field '{f}'")


def set_asset(engine: Engine, name: str, fields: dict[str, Any], create: bool = False) -> dict[str, Any]:
    """Change fields of one asset (or create it with `create`). Returns the asset after the change."""
    if "name" in fields and fields["name"] != name:
        raise InputError("arguments", "renaming is not supported; export, edit and import instead", "field 'name'")
    fields = {k: v for k, v in fields.items() if k != "name"}
    with engine.begin() as conn:
        row = conn.execute(sa.select(_ASSET).where(_ASSET.c.name == name)).mappings().first()
        others = {r["name"]: r for r in conn.execute(sa.select(_ASSET).where(_ASSET.c.name != name)).mappings()}
        _check_keys_free(others, [{"name": name, **fields}], False)
        if row is None:
            if not create:
                raise InputError("arguments", f"no asset named {name!r} (add --create to create it)", "NAME")
            conn.execute(_ASSET.insert().values(name=name, **fields, updated=_now()))
        elif fields:
            conn.execute(_ASSET.update().where(_ASSET.c.name == name).values(**fields, updated=_now()))
        row = conn.execute(sa.select(_ASSET).where(_ASSET.c.name == name)).mappings().first()
    return {f: row[f] for f in ASSET_FIELDS}


def list_devices(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_DEV).order_by(_DEV.c.key)).mappings().all()
    return [{c: r[c] for c in _DEVICE_COLS} for r in rows]


#: roles of devices that belong to the perception layer (sensor nodes, gateways, controllers, cameras)
FIELD_ROLES = frozenset({"mqtt_client", "mqtt_broker", "modbus_master", "modbus_slave", "coap_server", "camera",
                         "gateway"})


def unknown_device_events(engine: Engine, devices: list[dict[str, Any]], new_keys: list[str],
                          sensor: str = "assets") -> list[DeviceUnknown]:
    """`device_unknown` events for devices first seen now that match no inventory asset.

    Why only with an inventory: before one is imported every device is "unknown" and the events would be noise;
    `sentinel assets list --unknown` shows them all anyway. Why only field devices (IoT roles): the control is
    about nodes joining the perception layer; a citizen's phone reaching the portal is a client, not a node.
    """
    assets = list_assets(engine)
    if not assets or not new_keys:
        return []
    fresh = set(new_keys)
    out = []
    for dev in devices:
        if dev["key"] not in fresh or not FIELD_ROLES & set(dev.get("roles") or {}) or any(_matches(a, dev)
                                                                                          for a in assets):
            continue
        ips = dev.get("ips") or []
        out.append(DeviceUnknown(ts=dev.get("first_seen") or 0.0, sensor=sensor, src_ip=ips[0] if ips else None,
                                 device=dev["key"], vendor=dev.get("vendor"), roles=sorted(dev.get("roles") or {}),
                                 protocols=sorted(dev.get("protocols") or {})))
    return out


def _matches(asset: dict[str, Any], dev: dict[str, Any]) -> bool:
    return bool((asset.get("mac") and asset["mac"] in (dev.get("macs") or []) or asset.get("mac") == dev["key"])
                or (asset.get("ip") and asset["ip"] in (dev.get("ips") or [])))


def reconcile(engine: Engine, silence: float = DEFAULT_SILENCE) -> dict[str, Any]:
    """Inventory and observations side by side, with the `unknown` and `silent` flags."""
    assets = list_assets(engine)
    devices = list_devices(engine)
    newest = max((d["last_seen"] for d in devices), default=None)
    matched_keys: set[str] = set()
    asset_rows = []
    for a in assets:
        devs = [d for d in devices if _matches(a, d)]
        matched_keys.update(d["key"] for d in devs)
        last = max((d["last_seen"] for d in devs), default=None)
        keyed = bool(a.get("mac") or a.get("ip"))
        silent = keyed and newest is not None and (last is None or newest - last > silence)
        asset_rows.append({**a, "devices": [d["key"] for d in devs], "last_seen": last,
                           "role": next((d["role"] for d in devs if d["role"]), None),
                           "vendor": next((d["vendor"] for d in devs if d["vendor"]), None), "silent": silent})
    unknown = [{**d, "unknown": True} for d in devices if d["key"] not in matched_keys]
    return {"newest_observation": newest, "silence_period": silence, "assets": asset_rows, "unknown": unknown,
            "devices": devices}


def show(engine: Engine, key: str, silence: float = DEFAULT_SILENCE) -> dict[str, Any]:
    """One asset (by name) with its devices, or one observed device (by key, MAC or IP) with its asset."""
    rec = reconcile(engine, silence)
    by_key = {d["key"]: d for d in rec["devices"]}
    for a in rec["assets"]:
        if a["name"] == key:
            return {"asset": a, "devices": [by_key[k] for k in a["devices"]]}
    mac = normalize_mac(key)
    for d in rec["devices"]:
        if key == d["key"] or key in (d.get("ips") or []) or (mac and mac in (d.get("macs") or [])):
            owner = next((a for a in rec["assets"] if d["key"] in a["devices"]), None)
            return {"asset": owner, "devices": [d], "unknown": owner is None}
    raise InputError("KEY", f"no asset or observed device {key!r}")
