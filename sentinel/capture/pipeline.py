"""The transport sensor's entry points: analyse capture files or a live interface into events.

API (what `sentinel analyze` / `sentinel watch` call)::

    run = analyze_files(paths, registry=default_registry(), sensor="pcap", workers=None, strict=False,
                        timeouts=None, progress=None, scan=None, prepare=None, watch_ports=(), on_watch=None)
    for events, payloads in run:        # batches: list[Event], list[Payload]
        store(events); scan(payloads)   # with scan=f: payloads are scanned where they are decoded (see below)
    for d in run.delivered():           # the same batches as Delivered(events, payloads, prepared)
        store(d.events, d.prepared)
    run.stats                           # Stats, complete once the iteration has ended
    run.close()                         # giving up early: stops the workers (a `with`-less caller's duty)

    run = watch("eth0", duration=30, bpf="tcp port 80", registry=..., sensor="live:eth0")
    for events, payloads in run: ...    # same outputs; run.stats also has kernel drop counts

* Files are read in bounded chunks (plain or gzip, pcap or pcapng, detected by content), several files are one
  continuous stream (flows may span rotated files).
* `workers` processes (default: 2 for files over 8 MiB, else 1 in-process) each read every file from the page
  cache and own the flows whose hash % workers == k; ARP and non-flow packets belong to worker 0. They are forked
  when `analyze_files` returns, so they decode while the caller gets ready (`sentinel analyze` loads its rules and
  opens the store meanwhile); a caller that gives up before iterating to the end calls `run.close()`. Events of one
  batch are not globally time-ordered: consumers that need order sort by `ts`.
* `timeouts`: {"tcp": 300, "udp": 60, "icmp": 60, "tcp_closed": 5} seconds (inactivity; closed = after FIN/RST).
* `progress(bytes_done, bytes_total)` is called as the files are read (bytes of the files on disk).
* `scan(payloads) -> events`: when given, payloads (HTTP bodies, MQTT messages...) are handed to it inside the
  worker that decoded them and its events are delivered instead of the payloads (always an empty list then).
  why: content scanning is the costliest per-payload step; in the workers it runs on both cores, and the payload
  bytes no longer cross the pipe. With fork, `scan` may close over objects such as compiled YARA rules.
* `prepare(events) -> list`: when given, runs in the worker on each batch's events (after `scan`) and its result
  is delivered with them (`Delivered.prepared`; iterate `run.delivered()`). why: the parent is the pipeline's
  bottleneck (evaluation is serial there); per-event work that needs no shared state, such as serialising the
  store's rows, is cheaper done on both cores before the events cross the pipe.
* `watch_ports` / `on_watch()`: `on_watch` is called once, as soon as a TCP flow on one of `watch_ports` starts
  (in the consumer's thread, while the batches go on). why: a follow-up that reads the capture again (the
  Wireshark path for SMB) can start beside the fast path instead of after it; a flow's events come only when the
  flow ends, which for a long SMB session is the end of the capture.
* Damage: non-strict (default) keeps every event decoded before the damage, records the CaptureError in
  `stats.files[i].error` (with packet number and byte offset) and goes on with the next file; strict raises the
  first CaptureError after delivering the events before it. A missing/unreadable/non-capture file is damage too.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from ..decode.base import Registry
from ..errors import CaptureError
from ..events.transport import Arp
from ..gcpause import gc_paused
from .extract import ETH_ARP, ICMP, ICMP6, TCP, UDP, Fields, extract
from .flows import FlowTable, _Out, flow_hash, ip_str
from .formats import SUPPORTED_LINKTYPES
from .source import DEFAULT_CHUNK, Batch, file_size, read_batches
from .wire import dumps_batch, loads_message

Progress = Callable[[int, int], None]
_PARALLEL_MIN_BYTES = 8 << 20


@dataclass
class FileResult:
    path: str
    packets: int = 0
    complete: bool = True
    error: CaptureError | None = None


@dataclass
class Stats:
    packets: int = 0
    bytes: int = 0  # wire bytes
    first_ts: float | None = None
    last_ts: float | None = None
    linktypes: dict[str, int] = field(default_factory=dict)  # packets per link type name
    talker_bytes: dict[str, int] = field(default_factory=dict)  # IP bytes sent per source address
    files: list[FileResult] = field(default_factory=list)
    decoder_errors: int = 0
    flows: int = 0
    events: int = 0
    # live capture only
    kernel_packets: int | None = None
    kernel_drops: int | None = None

    @property
    def errors(self) -> list[CaptureError]:
        return [f.error for f in self.files if f.error is not None]

    def top_talkers(self, n: int = 10) -> list[tuple[str, int]]:
        return sorted(self.talker_bytes.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def add_talkers(self, other: dict[str, int]) -> None:
        for k, v in other.items():
            self.talker_bytes[k] = self.talker_bytes.get(k, 0) + v

    def to_dict(self) -> dict:
        return {"packets": self.packets, "bytes": self.bytes, "first_ts": self.first_ts, "last_ts": self.last_ts,
                "linktypes": self.linktypes, "top_talkers": [{"ip": k, "bytes": v} for k, v in self.top_talkers()],
                "flows": self.flows, "events": self.events, "decoder_errors": self.decoder_errors,
                "kernel_packets": self.kernel_packets, "kernel_drops": self.kernel_drops,
                "files": [{"path": f.path, "packets": f.packets, "complete": f.complete,
                           "error": str(f.error) if f.error else None,
                           "error_packet": f.error.packet if f.error else None,
                           "error_offset": f.error.offset if f.error else None} for f in self.files]}


class Analyzer:
    """Batches in, events out: extraction + flow table + ARP events + statistics for one partition."""

    def __init__(self, registry: Registry | None, sensor: str = "pcap", timeouts: dict | None = None,
                 part: int = 0, parts: int = 1) -> None:
        self.flows = FlowTable(registry, sensor, timeouts, part, parts)
        self.sensor = sensor
        self.part, self.parts = part, parts
        self.stats = Stats()
        self._talk_keys: list[np.ndarray] = []
        self._talk_vals: list[np.ndarray] = []

    def feed(self, batch: Batch) -> _Out:
        out = _Out([], [])
        f = extract(batch.buf, batch.rec)
        h, src_le = flow_hash(f)
        flowpk = f.l4ok & ((f.proto == TCP) | (f.proto == UDP) | (f.proto == ICMP) | (f.proto == ICMP6))
        owned = self.flows.owned(h)
        # packets outside flows (ARP, other protocols, fragments) belong to partition 0
        mine = np.where(flowpk, owned, self.part == 0)
        self._stats(f, mine)
        self.flows.process(f, batch.buf, h, src_le, np.flatnonzero(flowpk & owned), out)
        if self.part == 0:
            self._arp(f, batch.buf, out)
        self.stats.events += len(out.events)
        return out

    def finish(self) -> _Out:
        out = _Out([], [])
        self.flows.flush(out)
        self.stats.events += len(out.events)
        self.stats.decoder_errors = self.flows.decoder_errors
        self._fold_talkers()
        return out

    def _stats(self, f: Fields, mine: np.ndarray) -> None:
        st = self.stats
        if self.part == 0:  # every worker reads every record: count them once
            st.packets += len(f.ts)
            st.bytes += int(f.wirelen.sum())
            if len(f.ts):
                lo, hi = float(f.ts.min()), float(f.ts.max())
                st.first_ts = lo if st.first_ts is None else min(st.first_ts, lo)
                st.last_ts = hi if st.last_ts is None else max(st.last_ts, hi)
                lts, cnts = np.unique(f.linktype, return_counts=True)
                for lt, c in zip(lts.tolist(), cnts.tolist()):
                    name = SUPPORTED_LINKTYPES.get(lt, str(lt))
                    st.linktypes[name] = st.linktypes.get(name, 0) + c
        ip = mine & (f.ipver > 0)
        if ip.any():
            self._talk_keys.append(np.stack([f.src_hi[ip], f.src_lo[ip]], axis=1))
            self._talk_vals.append(f.ip_len[ip])
            if sum(len(v) for v in self._talk_vals) > 200_000:  # fold often: bounded memory, the sort is cheap
                self._fold_talkers()

    def _fold_talkers(self) -> None:
        if not self._talk_vals:
            return
        keys = np.concatenate(self._talk_keys)
        vals = np.concatenate(self._talk_vals)
        self._talk_keys.clear()
        self._talk_vals.clear()
        o = np.lexsort((keys[:, 1], keys[:, 0]))
        k = keys[o]
        starts = np.flatnonzero(np.concatenate(([True], (k[1:] != k[:-1]).any(axis=1))))
        sums = np.add.reduceat(vals[o], starts)
        self.stats.add_talkers({ip_str(int(a), int(b)): int(s)
                                for (a, b), s in zip(k[starts].tolist(), sums.tolist())})

    def _arp(self, f: Fields, buf: np.ndarray, out: _Out) -> None:
        k = np.flatnonzero((f.ethertype == ETH_ARP) & (f.l3 + 28 <= f.end))
        if not len(k):
            return
        l3 = f.l3[k]
        # only Ethernet/IPv4 ARP has the fixed layout read here
        ok = (buf[l3 + 4] == 6) & (buf[l3 + 5] == 4)
        k, l3 = k[ok], l3[ok]
        if not len(k):
            return
        op = (buf[l3 + 6].astype(np.int64) << 8) | buf[l3 + 7]
        idx = l3[:, None] + np.arange(28)
        rows = buf[idx]  # (n, 28) bytes of the ARP body
        for ts, o, r in zip(f.ts[k].tolist(), op.tolist(), rows):
            b = r.tobytes()
            spa, tpa = ".".join(map(str, b[14:18])), ".".join(map(str, b[24:28]))
            out.events.append(Arp(ts=ts, sensor=self.sensor, src_ip=spa, dst_ip=tpa, proto="arp",
                                  operation="reply" if o == 2 else "request", src_mac=b[8:14].hex(":"),
                                  dst_mac=b[18:24].hex(":"), gratuitous=spa == tpa))


@dataclass(slots=True)
class Delivered:
    """One batch as it leaves the pipeline: its events, the payloads not scanned yet, and `prepare(events)`."""

    events: list
    payloads: list
    prepared: list | None = None
    seq: int = 0  # the batch's place in the input (every partition reads the same batches): the merge order


class Analysis:
    """Iterable of (events, payloads) batches (or `delivered()`); `stats` is final once the iteration is over.

    Capture workers start when the Analysis is made, not when it is first iterated: the caller can get ready to
    consume (load rules, open the store) while they decode. `close()` stops them if it gives up before the end."""

    def __init__(self, gen: Iterator[Delivered], stats: Stats, workers: "_Workers | None" = None) -> None:
        self._gen = gen
        self.stats = stats
        self._workers = workers

    def close(self) -> None:
        """Stop any capture worker still running and the iteration (idempotent; harmless after the end)."""
        if self._workers is not None:
            self._workers.stop(grace=0.0)  # first: a worker blocked on a full pipe would make the next wait 5 s
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def delivered(self) -> Iterator[Delivered]:
        return self._gen

    def __iter__(self) -> Iterator[tuple[list, list]]:
        return ((d.events, d.payloads) for d in self._gen)


# -- files ------------------------------------------------------------------------------------------------------
Scan = Callable[[list], list]
Prepare = Callable[[list], list]


def _delivered(out: _Out, scan: Scan | None, prepare: Prepare | None, seq: int) -> Delivered:
    events, payloads = out.events, out.payloads
    if scan is not None and payloads:
        events, payloads = events + scan(payloads), []
    return Delivered(events, payloads, prepare(events) if prepare is not None else None, seq)


def _run_files(paths: list[str], an: Analyzer, strict: bool, chunk: int, progress: Callable[[int], None] | None,
               scan: Scan | None = None, prepare: Prepare | None = None) -> Iterator[Delivered]:
    """Single-partition loop over the files; yields batches and records per-file results."""
    done = 0
    seq = 0
    for path in paths:
        fr = FileResult(path)
        an.stats.files.append(fr)
        cb = (lambda pos, base=done: progress(base + pos)) if progress else None
        try:
            for batch in read_batches(path, chunk, cb):
                seq += 1
                fr.packets += len(batch)
                out = an.feed(batch)
                if out.events or out.payloads:
                    yield _delivered(out, scan, prepare, seq)
        except CaptureError as e:
            fr.complete = False
            fr.error = e
            if strict:
                break
        done += file_size(path)
    out = an.finish()
    yield _delivered(out, scan, prepare, seq + 1)


def _worker(conn, paths, registry, sensor, timeouts, part, parts, strict, chunk, scan, prepare, watch_ports) -> None:
    # why: a worker allocates millions of short-lived, acyclic objects (payload bytes, events, parser state) and
    # keeps thousands of long-lived flow states; the default gen-0 threshold (700) made the cyclic collector
    # rescan those over and over. Objects inherited from the parent are frozen out of collection altogether.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    an = Analyzer(registry, sensor, timeouts, part, parts)
    send = conn.send_bytes
    if watch_ports:
        an.flows.watch_ports = frozenset(watch_ports)
        an.flows.on_watch = lambda: send(pickle.dumps(("w",), 5))
    prog = (lambda pos: send(pickle.dumps(("p", pos), 5))) if part == 0 else None
    try:
        for d in _run_files(paths, an, strict, chunk, prog, scan, prepare):
            if d.events or d.payloads:
                send(dumps_batch(d.events, d.payloads, d.prepared, d.seq))
            # why: what survives a batch is mostly the flow table, which the collector would otherwise rescan at
            # every full collection (≈20 % of a worker's CPU on cap_100k). Frozen objects are still freed by
            # reference counting; only cyclic garbage would stay, and this short-lived process makes none.
            gc.freeze()
        send(pickle.dumps(("s", an.stats), 5))
    except Exception as e:  # report, never hang the parent
        send(pickle.dumps(("x", repr(e)), 5))
    finally:
        conn.close()


def analyze_files(paths: Iterable[str], *, registry: Registry | None = None, sensor: str = "pcap",
                  workers: int | None = None, strict: bool = False, timeouts: dict | None = None,
                  progress: Progress | None = None, chunk_size: int = DEFAULT_CHUNK, scan: Scan | None = None,
                  prepare: Prepare | None = None, watch_ports: Iterable[int] = (),
                  on_watch: Callable[[], None] | None = None) -> Analysis:
    paths = [str(p) for p in paths]
    total = sum(file_size(p) for p in paths)
    if workers is None:
        workers = min(os.cpu_count() or 1, 2) if total >= _PARALLEL_MIN_BYTES else 1
    stats = Stats()
    watch = (frozenset(watch_ports), on_watch) if on_watch is not None and watch_ports else (frozenset(), None)
    if workers <= 1:
        return Analysis(_single(paths, registry, sensor, timeouts, strict, chunk_size, progress, total, stats, scan,
                                prepare, watch), stats)
    started = _Workers(paths, registry, sensor, timeouts, strict, chunk_size, workers, scan, prepare, watch[0])
    return Analysis(_parallel(started, progress, total, stats, strict, watch), stats, started)


def _finalise(stats: Stats, part_stats: list[Stats], strict: bool) -> None:
    base = part_stats[0]
    for name in ("packets", "bytes", "first_ts", "last_ts", "linktypes", "files"):
        setattr(stats, name, getattr(base, name))
    for s in part_stats:
        stats.add_talkers(s.talker_bytes)
        stats.decoder_errors += s.decoder_errors
        stats.events += s.events
    if strict and stats.errors:
        raise stats.errors[0]


def _single(paths, registry, sensor, timeouts, strict, chunk, progress, total, stats, scan, prepare,
            watch) -> Iterator:
    an = Analyzer(registry, sensor, timeouts)
    an.flows.watch_ports, an.flows.on_watch = watch
    cb = (lambda pos: progress(pos, total)) if progress else None
    yield from _run_files(paths, an, strict, chunk, cb, scan, prepare)
    _finalise(stats, [an.stats], strict)


class _Workers:
    """The forked capture workers of one analysis and what reads their pipes."""

    def __init__(self, paths, registry, sensor, timeouts, strict, chunk, n, scan, prepare, watch_ports) -> None:
        ctx = mp.get_context("fork")  # children inherit the registry and imported decoders
        self.procs, self.conns = [], []
        for k in range(n):
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker, args=(w, paths, registry, sensor, timeouts, k, n, strict, chunk, scan,
                                                  prepare, watch_ports), daemon=True)
            p.start()
            w.close()
            self.procs.append(p)
            self.conns.append(r)
        # reading starts now, not at the first next(): see _Inbox (threads only after the last fork)
        self.inboxes = [_Inbox(c) for c in self.conns]

    def stop(self, grace: float) -> None:
        """Wait up to `grace` seconds for each worker to end, then kill it (one blocked on a full pipe never ends)."""
        for p in self.procs:
            p.join(timeout=grace)
            if p.is_alive():
                p.kill()
                p.join()
        for inbox in self.inboxes:
            inbox.close()


class _Inbox:
    """Messages of one worker, read from its pipe by a thread up to LIMIT bytes ahead of the consumer.

    why: a batch message is larger than a pipe's 64 KiB, so a worker whose output nobody reads stops at its first
    batch. Read ahead, the workers go on decoding while the consumer is busy elsewhere: loading rules and opening
    the store at the start of `sentinel analyze` (~1.7 s), or evaluating a slice of the reorder buffer. The limit
    keeps the memory bounded and the backpressure: past it, the thread stops reading and the worker blocks."""

    LIMIT = 8 << 20

    def __init__(self, conn) -> None:
        self._conn = conn
        self._q: deque[bytes | None] = deque()  # None: the worker's end of the pipe is closed
        self._bytes = 0
        self._closed = False
        self._cv = threading.Condition()
        threading.Thread(target=self._read, name="sentinel-inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            with self._cv:
                while self._bytes >= self.LIMIT and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
            try:
                raw: bytes | None = self._conn.recv_bytes()
            except (EOFError, OSError):
                raw = None
            with self._cv:
                self._q.append(raw)
                self._bytes += len(raw) if raw else 0
                self._cv.notify_all()
            if raw is None:
                return

    def get(self) -> bytes | None:
        """The next message, waiting for it; None once the worker has closed its pipe."""
        with self._cv:
            while not self._q:
                self._cv.wait()
            raw = self._q.popleft()
            if raw:
                self._bytes -= len(raw)
                self._cv.notify_all()
            return raw

    def close(self) -> None:
        """No more reading (the worker is gone or given up): a thread waiting for room ends."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()


def _parallel(workers: _Workers, progress, total, stats, strict, watch) -> Iterator:
    n = len(workers.procs)
    watch_ports, on_watch = watch
    part_stats: list[Stats | None] = [None] * n
    heads: list[Delivered | None] = [None] * n  # each worker's next batch, read but not yet delivered
    inboxes = workers.inboxes
    live = set(range(n))  # workers still sending
    failure = None
    try:
        while live or any(h is not None for h in heads):
            # why merge by `seq`: delivering batches as they happen to arrive made the order of events across
            # workers depend on timing, and with it the evaluation of late events (a flow's conn event comes when
            # the flow ends): the same capture gave alerts with other first_seen/evidence from run to run. Every
            # worker reads the same batches, so (seq, worker) orders the deliveries the same way every time.
            waiting = [k for k in sorted(live) if heads[k] is None]
            if not waiting:
                k = min((h.seq, k) for k, h in enumerate(heads) if h is not None)[1]
                d, heads[k] = heads[k], None
                yield d
                continue
            for k in waiting:  # a head from each is needed before the next delivery: wait for them in turn
                raw = inboxes[k].get()
                if raw is None:
                    live.discard(k)
                    continue
                # building a batch's events creates tens of thousands of objects, none cyclic: keep the
                # collector from rescanning the consumer's heap several times per batch
                with gc_paused():
                    msg = loads_message(raw)
                tag = msg[0]
                if tag == "b":
                    heads[k] = Delivered(msg[1], msg[2], msg[3], msg[4])
                elif tag == "p":
                    if progress:
                        progress(msg[1], total)
                elif tag == "w":
                    if on_watch is not None:
                        on_watch, call = None, on_watch
                        call()
                elif tag == "s":
                    part_stats[k] = msg[1]
                elif tag == "x":
                    failure = msg[1]
    finally:
        workers.stop(grace=5.0)
    if failure or any(s is None for s in part_stats):
        raise RuntimeError(f"capture worker failed: {failure or 'exited without result'}")
    _finalise(stats, part_stats, strict)  # type: ignore[arg-type]


# -- live -------------------------------------------------------------------------------------------------------
def watch(iface: str, *, duration: float | None = None, bpf: str | None = None, registry: Registry | None = None,
          sensor: str | None = None, timeouts: dict | None = None, max_packets: int | None = None,
          ring_mb: int = 32) -> Analysis:
    """Capture on `iface` (root) for `duration` seconds (None: until interrupted) and analyse as it arrives."""
    from .live import LiveCapture

    stats = Stats()

    def gen() -> Iterator[Delivered]:
        an = Analyzer(registry, sensor or f"live:{iface}", timeouts)
        an.stats = stats
        cap = LiveCapture(iface, bpf=bpf, ring_mb=ring_mb)
        try:
            for batch in cap.batches(duration=duration, max_packets=max_packets):
                out = an.feed(batch)
                if out.events or out.payloads:
                    yield Delivered(out.events, out.payloads)
        finally:
            cap.close()
            stats.kernel_packets, stats.kernel_drops = cap.kernel_packets, cap.kernel_drops
        out = an.finish()
        yield Delivered(out.events, out.payloads)

    return Analysis(gen(), stats)
