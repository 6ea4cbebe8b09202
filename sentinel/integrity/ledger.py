"""The ledger: an append-only hash chain of alerts, findings and actions in the store, with signed checkpoints.

Entry n stores (seq, ts, kind, ref, payload, prev_hash, hash) with
    hash = SHA-256( prev_hash (64 ASCII hex chars) || canonical JSON {"seq","ts","kind","ref","payload"} )
and prev_hash = hash of entry n-1 (64 zeros for entry 1). Editing any stored field breaks that entry's hash or the
next entry's link; removing or inserting an entry breaks the seq sequence or a link. Recomputing the whole chain
after an edit is possible for anyone with write access, which is what checkpoints are for: a checkpoint is an
Ed25519 signature over (seq, head hash), so a rewritten or truncated chain no longer matches a signed head.

Writers are serialised by the database (SQLite: BEGIN IMMEDIATE; PostgreSQL: a table lock that only writers
take), so concurrent appenders never fork the chain.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection, Engine

from ..errors import InputError, StoreError
from .canonical import canonical, sha256_hex
from .keys import KeyPair, fingerprint
from .tables import LedgerCheckpoint, LedgerEntry

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "sentinel-ledger-checkpoint/1"
CHECKPOINT_EVERY = 100
KINDS = ("alert", "finding", "action", "note")

_E = LedgerEntry.__table__
_C = LedgerCheckpoint.__table__


@dataclass
class Entry:
    seq: int
    ts: str
    kind: str
    ref: str | None
    payload: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        try:
            d["payload"] = json.loads(self.payload)
        except ValueError:
            pass  # shown as stored: a tampered payload need not be JSON
        return d


@dataclass
class Checkpoint:
    seq: int
    head_hash: str
    ts: str
    key_fingerprint: str
    signature: str


def entry_hash(prev_hash: str, seq: int, ts: str, kind: str, ref: str | None, payload: str) -> str:
    body = canonical({"seq": seq, "ts": ts, "kind": kind, "ref": ref, "payload": payload})
    return sha256_hex(prev_hash.encode("ascii", "replace") + body)


def checkpoint_message(seq: int, head_hash: str, ts: str, key_fp: str) -> bytes:
    return canonical({"format": CHECKPOINT_FORMAT, "seq": seq, "head_hash": head_hash, "ts": ts,
                      "key_fingerprint": key_fp})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _require_tables(engine: Engine) -> None:
    if not sa.inspect(engine).has_table("ledger_entry"):
        raise StoreError("the store has no ledger tables (migration 0006 missing)")


@contextmanager
def _write_txn(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the ledger's write lock from its first statement.

    why: appending reads the head then inserts after it; two writers reading the same head would fork the chain
    (or fail on the primary key). SQLite's BEGIN IMMEDIATE takes the write lock up front; on PostgreSQL a
    SHARE ROW EXCLUSIVE table lock conflicts with itself (writers queue) but not with readers.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # AUTOCOMMIT stops the driver from issuing its own deferred BEGIN, so ours is the transaction
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE ledger_entry IN SHARE ROW EXCLUSIVE MODE")
        yield conn


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(sa.select(_E.c.seq, _E.c.hash).order_by(_E.c.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def _append_in(conn: Connection, items: list[tuple[str, Any, str | None]]) -> list[Entry]:
    seq, prev = _head(conn)
    out = []
    for kind, payload, ref in items:
        if not kind or len(kind) > 32:
            raise InputError("ledger", f"bad entry kind {kind!r}")
        seq += 1
        ts = _now()
        text = canonical(payload).decode("utf-8")
        e = Entry(seq, ts, kind, ref, text, prev, entry_hash(prev, seq, ts, kind, ref, text))
        out.append(e)
        prev = e.hash
    if out:  # why one executemany: a run with tens of thousands of alerts spent half its ingest time here
        conn.execute(_E.insert(), [asdict(e) for e in out])
    return out


def _checkpoint_in(conn: Connection, key: KeyPair) -> Checkpoint | None:
    seq, head = _head(conn)
    if seq == 0:
        return None
    ts = _now()
    sig = base64.b64encode(key.private.sign(checkpoint_message(seq, head, ts, key.fingerprint))).decode("ascii")
    cp = Checkpoint(seq, head, ts, key.fingerprint, sig)
    conn.execute(_C.insert().values(**asdict(cp)))
    return cp


def _maybe_checkpoint(conn: Connection, key: KeyPair | None, every: int) -> None:
    if key is None or every <= 0:
        return
    last = conn.execute(sa.select(sa.func.max(_C.c.seq))).scalar() or 0
    if _head(conn)[0] - last >= every:
        _checkpoint_in(conn, key)


def append(engine: Engine, kind: str, payload: Any, ref: str | None = None, *, key: KeyPair | None = None,
           checkpoint_every: int = CHECKPOINT_EVERY) -> Entry:
    """Append one entry; with `key`, also write a signed checkpoint once `checkpoint_every` entries are unsigned."""
    return append_many(engine, [(kind, payload, ref)], key=key, checkpoint_every=checkpoint_every)[0]


def append_many(engine: Engine, items: list[tuple[str, Any, str | None]], *, key: KeyPair | None = None,
                checkpoint_every: int = CHECKPOINT_EVERY) -> list[Entry]:
    """Append (kind, payload, ref) items in one transaction, in order."""
    _require_tables(engine)
    with _write_txn(engine) as conn:
        out = _append_in(conn, items)
        _maybe_checkpoint(conn, key, checkpoint_every)
    return out


def checkpoint(engine: Engine, key: KeyPair) -> Checkpoint | None:
    """Sign the current head now (None when the ledger is empty)."""
    _require_tables(engine)
    with _write_txn(engine) as conn:
        return _checkpoint_in(conn, key)


def signing_key_if_available() -> KeyPair | None:
    """The local signing key when it can be used without asking anyone (present, private mode, unencrypted or with
    its passphrase in the environment), else None: the pipeline then appends without checkpointing, and
    `sentinel ledger checkpoint` anchors the chain later."""
    from .keys import PRIVATE_NAME, key_dir, load_private_key

    if not (key_dir() / PRIVATE_NAME).exists():
        return None
    try:
        return load_private_key()
    except InputError:
        return None


def record_run_alerts(engine: Engine, run_id: int) -> list[Entry]:
    """What the sensors call after storing a run's alerts: append them, and anchor the head with a signed
    checkpoint when the local key is usable (so each run that alerted ends on a checkpoint)."""
    key = signing_key_if_available()
    entries = ledger_alerts(engine, run_id, key=key)
    if key is not None and entries:
        checkpoint(engine, key)
    return entries


def ledger_alerts(engine: Engine, run_id: int, *, key: KeyPair | None = None,
                  checkpoint_every: int = CHECKPOINT_EVERY) -> list[Entry]:
    """Append every alert of run `run_id` not yet in the ledger (ref `alert:<id>`), in alert id order."""
    _require_tables(engine)
    md = sa.MetaData()
    md.reflect(engine, only=["alert", "alert_evidence"])
    a, le = md.tables["alert"], md.tables["alert_evidence"]
    with engine.connect() as conn:
        alerts = [dict(r._mapping) for r in conn.execute(sa.select(a).where(a.c.run_id == run_id).order_by(a.c.id))]
        links: dict[int, list[int]] = {}
        if alerts:
            q = sa.select(le.c.alert_id, le.c.event_id).where(le.c.alert_id.in_([x["id"] for x in alerts]))
            for aid, eid in conn.execute(q.order_by(le.c.alert_id, le.c.event_id)):
                links.setdefault(aid, []).append(eid)
    items = []
    for x in alerts:
        payload = {"alert_id": x["id"], "run_id": x["run_id"], "rule": x["rule"], "title": x["title"],
                   "level": x["level"], "layer": x["layer"], "type": x["type"], "src": x["src"], "dst": x["dst"],
                   "count": x["count"], "first_seen": x["first_seen"], "last_seen": x["last_seen"],
                   "group": x["group_key"], "evidence_events": links.get(x["id"], [])}
        items.append(("alert", payload, f"alert:{x['id']}"))
    if not items:
        return []
    with _write_txn(engine) as conn:
        # why inside the lock: a concurrent ledger_alerts for the same run must not append the alerts twice
        refs = [r for _, _, r in items]
        done = set(conn.execute(sa.select(_E.c.ref).where(_E.c.kind == "alert", _E.c.ref.in_(refs))).scalars())
        out = _append_in(conn, [i for i in items if i[2] not in done])
        _maybe_checkpoint(conn, key, checkpoint_every)
    return out


def recent(engine: Engine, limit: int = 20) -> list[Entry]:
    _require_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_E).order_by(_E.c.seq.desc()).limit(limit)).all()
    return [Entry(**r._mapping) for r in reversed(rows)]


# ---------------------------------------------------------------- verification


@dataclass
class Problem:
    seq: int
    problem: str  # edited | inserted | deleted | rewritten | checkpoint
    detail: str


@dataclass
class LedgerReport:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    checkpoints_verified: int = 0
    signer: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, seq: int, problem: str, detail: str) -> Problem:
        p = Problem(seq, problem, detail)
        self.problems.append(p)
        return p

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


@dataclass
class _Prev:
    seq: int
    hash: str  # as stored
    calc: str  # as recomputed
    problem: Problem | None
    renumbered: bool


def _check_chain(rows, rep: LedgerReport) -> None:
    prev: _Prev | None = None
    expected = 1
    for r in rows:
        rep.entries += 1
        calc = entry_hash(r.prev_hash, r.seq, r.ts, r.kind, r.ref, r.payload)
        if prev is not None and r.seq == prev.seq:
            rep.add(r.seq, "inserted", f"seq {r.seq} appears twice: an entry was inserted")
            continue
        gap = r.seq > expected
        if gap:
            span = f"seq {expected}" if r.seq - 1 == expected else f"seqs {expected}..{r.seq - 1}"
            rep.add(expected, "deleted", f"{span} missing: entries were deleted")
        target = prev.hash if prev else GENESIS
        # a link to the predecessor's *recomputed* hash means the predecessor's hash field was edited (reported)
        linked = r.prev_hash == target or (prev is not None and r.prev_hash == prev.calc)
        if prev and prev.problem and r.prev_hash == prev.calc != prev.hash:
            prev.problem.detail = f"hash field of seq {prev.seq} was changed (stored {prev.hash}, content hashes " \
                                  f"to {prev.calc})"
        problem, renumbered = None, False
        if calc != r.hash:
            if r.seq > 1 and entry_hash(r.prev_hash, r.seq - 1, r.ts, r.kind, r.ref, r.payload) == r.hash:
                renumbered = True
                if not (prev and prev.renumbered):
                    problem = rep.add(r.seq - 1, "inserted", f"an entry was inserted at seq {r.seq - 1}: the "
                                      f"entries after it were renumbered (seq {r.seq} was hashed as {r.seq - 1})")
            elif not linked and not gap and entry_hash(target, r.seq, r.ts, r.kind, r.ref, r.payload) == r.hash:
                problem = rep.add(r.seq, "edited", f"prev_hash field of seq {r.seq} was changed (does not link to "
                                  f"seq {r.seq - 1})")
            elif not linked and not gap:
                problem = rep.add(r.seq, "inserted", f"seq {r.seq} is a forged entry: neither its hash nor its "
                                  f"link to seq {r.seq - 1} verify")
            else:
                problem = rep.add(r.seq, "edited", f"hash mismatch at seq {r.seq}: the entry's content was edited")
        elif not linked and not gap:
            problem = rep.add(r.seq, "inserted", f"seq {r.seq} does not link to seq {r.seq - 1}: an entry was "
                              "inserted, or the chain was re-hashed from here")
        prev = _Prev(r.seq, r.hash, calc, problem, renumbered)
        expected = r.seq + 1
        rep.head_seq, rep.head_hash = r.seq, r.hash


def _check_checkpoints(conn: Connection, pub: Ed25519PublicKey | None, rep: LedgerReport) -> None:
    cps = conn.execute(sa.select(_C).order_by(_C.c.seq, _C.c.id)).all()
    rep.checkpoints = len(cps)
    if not cps:
        return
    if pub is None:
        raise InputError("--pubkey", "the ledger has signed checkpoints: a public key is needed to verify them")
    fp = fingerprint(pub)
    rep.signer = fp
    for cp in cps:
        if cp.key_fingerprint != fp:
            rep.add(cp.seq, "checkpoint", f"checkpoint at seq {cp.seq} is signed by key {cp.key_fingerprint}, not "
                    f"by the given public key {fp}")
            continue
        try:
            pub.verify(base64.b64decode(cp.signature, validate=True),
                       checkpoint_message(cp.seq, cp.head_hash, cp.ts, cp.key_fingerprint))
        except (InvalidSignature, binascii.Error, ValueError):
            rep.add(cp.seq, "checkpoint", f"checkpoint at seq {cp.seq}: signature does not verify (the checkpoint "
                    "was forged or altered)")
            continue
        stored = conn.execute(sa.select(_E.c.hash).where(_E.c.seq == cp.seq)).scalar()
        if stored is None and cp.seq > rep.head_seq:
            first = rep.head_seq + 1
            span = f"seq {first}" if first == cp.seq else f"seqs {first}..{cp.seq}"
            rep.add(first, "deleted", f"{span} missing: the ledger ends at seq {rep.head_seq} but a signed "
                    f"checkpoint covers seq {cp.seq} (entries deleted from the end)")
        elif stored is None:
            rep.add(cp.seq, "deleted", f"seq {cp.seq}, covered by a signed checkpoint, is missing")
        elif stored != cp.head_hash:
            rep.add(cp.seq, "rewritten", f"seq {cp.seq} has hash {stored} but the signed checkpoint says "
                    f"{cp.head_hash}: the chain up to seq {cp.seq} was rewritten")
        else:
            rep.checkpoints_verified += 1


def verify(engine: Engine, pub: Ed25519PublicKey | None = None) -> LedgerReport:
    """Recompute the chain and check every checkpoint; the report lists each problem with the seq it concerns."""
    _require_tables(engine)
    rep = LedgerReport()
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=2000).execute(sa.select(_E).order_by(_E.c.seq))
        _check_chain(rows, rep)
        _check_checkpoints(conn, pub, rep)
    rep.problems.sort(key=lambda p: p.seq)
    return rep
