"""Files carried over SMB, extracted by Wireshark, as `file` events and payloads for the content scanner.

Why Wireshark here: SMB1/SMB2 file transfers need reassembly of chunked reads and writes keyed by file ids across
many commands; tshark's dissector and its `--export-objects` do that well, and SMB is where smart-city malware moves
laterally (file shares of control rooms and engineering workstations). The fast path (sentinel/capture) finds the
flows; this module runs only when a capture had SMB flows:

1. tcpdump writes the SMB packets alone to a private temporary capture (BPF, no dissection, fast);
2. `tshark --export-objects smb` reassembles the files into a private temporary directory;
3. pyshark reads the SMB commands that name files, for endpoints, time and direction.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..decode.base import Flow, Payload
from ..events.application import FileTransfer
from ..events.base import Event

SMB_PORTS = frozenset({139, 445})
BPF = "tcp port 445 or tcp port 139"
MAX_FILE = 64 << 20  # larger extracted files are reported but not scanned
_WRITE_CMDS = {"0x2f", "0x0b", "9"}  # SMB1 Write AndX / Write, SMB2 WRITE
_READ_CMDS = {"0x2e", "0x0a", "8"}


@dataclass
class DeepResult:
    events: list[Event] = field(default_factory=list)
    payloads: list[Payload] = field(default_factory=list)
    skipped: str | None = None  # why the deep path did not run


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def select_packets(capture: Path, out: Path, bpf: str = BPF) -> None:
    """Copy the packets matching `bpf` to `out` with tcpdump (argument list, never a shell; gzip through a pipe)."""
    cmd = ["tcpdump", "-n", "-r", "-" if _is_gzip(capture) else str(capture), "-w", str(out), bpf]
    if not _is_gzip(capture):
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        return
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def feed() -> None:
        try:
            with gzip.open(capture, "rb") as src:
                shutil.copyfileobj(src, proc.stdin, 1 << 20)
        except (OSError, EOFError):
            pass  # damaged gzip: the fast path already reported it; tcpdump gets what could be read
        finally:
            proc.stdin.close()

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    proc.wait(timeout=600)
    t.join(timeout=5)


def export_objects(selected: Path, outdir: Path) -> dict[str, Path]:
    """Files tshark reassembles from SMB, by the name SMB used (tshark percent-encodes it for the file system)."""
    subprocess.run(["tshark", "-n", "-r", str(selected), "-q", "--export-objects", f"smb,{outdir}"],
                   check=True, capture_output=True, timeout=600)
    return {urllib.parse.unquote(p.name): p for p in outdir.iterdir() if p.is_file()}


@dataclass
class _Seen:
    ts: float
    client: str
    client_port: int
    server: str
    server_port: int
    direction: str | None = None
    protocol: str = "smb"


def smb_file_commands(selected: Path) -> dict[str, _Seen]:
    """File name -> first request naming it (client, server, time) and whether it was written or read."""
    import pyshark

    seen: dict[str, _Seen] = {}
    cap = pyshark.FileCapture(str(selected), display_filter="smb.file || smb2.filename", keep_packets=False)
    try:
        for pkt in cap:
            layer = getattr(pkt, "smb", None) or getattr(pkt, "smb2", None)
            if layer is None:
                continue
            name = layer.get_field("file") or layer.get_field("filename")
            response = layer.get_field("flags_response") in ("1", "True")
            if not name or response or "ip" not in pkt and "ipv6" not in pkt:
                continue
            ip = pkt.ip if "ip" in pkt else pkt.ipv6
            cmd = str(layer.get_field("cmd") or "")
            protocol = "smb" if hasattr(pkt, "smb") else "smb2"
            s = seen.get(name)
            if s is None:
                s = seen[name] = _Seen(float(pkt.sniff_timestamp), str(ip.src), int(pkt.tcp.srcport), str(ip.dst),
                                       int(pkt.tcp.dstport), protocol=protocol)
            if cmd in _WRITE_CMDS:
                s.direction = "upload"
            elif cmd in _READ_CMDS and s.direction is None:
                s.direction = "download"
    finally:
        cap.close()
    return seen


def dissect(captures: Iterable[Path], sensor: str = "pcap") -> DeepResult:
    """Run the deep path over `captures`; needs tcpdump and tshark (else `skipped` says why)."""
    missing = [t for t in ("tcpdump", "tshark") if shutil.which(t) is None]
    if missing:
        return DeepResult(skipped=f"deep dissection skipped: {' and '.join(missing)} not installed")
    result = DeepResult()
    with tempfile.TemporaryDirectory(prefix="sentinel-deep-") as tmp:  # 0700: extracted files may be malware
        for i, capture in enumerate(captures):
            selected = Path(tmp) / f"sel{i}.pcap"
            objdir = Path(tmp) / f"obj{i}"
            objdir.mkdir(mode=0o700)
            try:
                select_packets(Path(capture), selected)
                if not selected.exists() or selected.stat().st_size <= 24:
                    continue
                files = export_objects(selected, objdir)
                commands = smb_file_commands(selected) if files else {}
            except (subprocess.SubprocessError, OSError) as exc:
                result.skipped = f"deep dissection of {capture} failed: {exc}"
                continue
            for name, path in sorted(files.items()):
                _add_file(result, name, path, commands.get(name), str(capture), sensor)
    return result


def _add_file(result: DeepResult, name: str, path: Path, seen: _Seen | None, capture: str, sensor: str) -> None:
    size = path.stat().st_size
    data = path.read_bytes() if size <= MAX_FILE else None
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    ends: dict = {}
    flow = None
    if seen is not None:
        flow = Flow(uid=None, proto="tcp", orig_ip=seen.client, orig_port=seen.client_port, resp_ip=seen.server,
                    resp_port=seen.server_port, sensor=sensor, service=seen.protocol)
        ends = flow.client_endpoints()
    else:
        ends = {"sensor": sensor}
    ts = seen.ts if seen else 0.0
    result.events.append(FileTransfer(ts=ts, **ends, protocol=seen.protocol if seen else "smb", filename=name,
                                      direction=seen.direction if seen else None, size=size, sha256=digest,
                                      source=capture))
    if data is not None:
        result.payloads.append(Payload(origin=f"{capture}:smb:{name}", data=data, ts=ts, flow=flow))


__all__ = ["DeepResult", "dissect", "select_packets", "SMB_PORTS"]
