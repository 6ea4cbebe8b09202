"""Contracts between the capture pipeline and the protocol decoders.

The pipeline (sentinel/capture) finds flows and hands each decoder only what it needs:

* a `DatagramDecoder` gets the UDP payloads of one flow (both directions), in capture order;
* a `StreamDecoder` gets the reassembled bytes of one TCP connection, in order, per direction
  (sentinel/decode/tcp.py does the reassembly).

Decoders never read files or sockets, never touch the store and never import from capture/, so they are tested
with plain bytes. Payloads worth scanning for content (HTTP bodies, MQTT messages, file transfers) are queued on
`payloads` for the content scanner, de-chunked and decompressed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from ..events.base import Event

# TCP flag bits as in the TCP header
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


@dataclass(slots=True)
class Flow:
    """Identity of one flow as decoders see it. `orig` is the side that spoke first (sent the SYN for TCP)."""

    uid: str | None
    proto: str  # "tcp" | "udp"
    orig_ip: str
    orig_port: int
    resp_ip: str
    resp_port: int
    sensor: str = ""
    service: str | None = None  # set by the decoder that recognises the flow

    def endpoints(self, from_orig: bool = True) -> dict:
        """Event keyword arguments for a message sent by orig (from_orig) or by resp."""
        if from_orig:  # (dict displays: about twice as fast as dict(...) calls, and this runs once per event)
            return {"src_ip": self.orig_ip, "src_port": self.orig_port, "dst_ip": self.resp_ip,
                    "dst_port": self.resp_port, "proto": self.proto, "uid": self.uid, "sensor": self.sensor}
        return {"src_ip": self.resp_ip, "src_port": self.resp_port, "dst_ip": self.orig_ip,
                "dst_port": self.orig_port, "proto": self.proto, "uid": self.uid, "sensor": self.sensor}

    def client_endpoints(self) -> dict:
        """Endpoints with the client (orig) as src, for transaction events (request + response)."""
        return self.endpoints(True)


@dataclass(slots=True)
class Payload:
    """Content extracted from traffic, for the YARA scanner. `origin` says where it came from."""

    origin: str
    data: bytes
    ts: float
    flow: Flow | None = None


class _Decoder(ABC):
    #: service name put on the flow and on its conn event (dns, http, tls, mqtt, modbus, coap...)
    service: ClassVar[str] = ""
    #: Set (on the instance) once the decoder wants no more input for this flow: nothing more to learn
    #: (TLS after the ServerHello), or it gave up (not its protocol, framing lost). The pipeline then stops
    #: feeding the flow (it is still counted in its conn event) and `close` is still called at the end.
    #: why: most packets of long flows (encrypted data, bulk transfers) otherwise cost Python time for nothing.
    done: bool = False

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.payloads: list[Payload] = []

    def close(self, ts: float) -> list[Event]:
        """The flow ended (teardown, timeout or end of input): emit what is pending (unanswered requests...)."""
        return []


class DatagramDecoder(_Decoder):
    """Decodes the UDP payloads of one flow."""

    @abstractmethod
    def datagram(self, from_orig: bool, ts: float, payload: bytes) -> list[Event]:
        """One UDP payload. Malformed input yields no event (and never raises)."""


class StreamDecoder(_Decoder):
    """Decodes one TCP connection's two reassembled byte streams."""

    @abstractmethod
    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        """In-order bytes of one direction. Malformed input yields no event (and never raises)."""

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        """`size` bytes of one direction were never captured; the decoder should resynchronise or give up."""
        return []


@dataclass(slots=True)
class Registry:
    """Which decoder class takes which flow: by server port, or by sniffing the first payload bytes."""

    tcp_ports: dict[int, type[StreamDecoder]] = field(default_factory=dict)
    udp_ports: dict[int, type[DatagramDecoder]] = field(default_factory=dict)
    #: (predicate on the first payload bytes of a TCP flow, decoder) tried in order when no port matches
    tcp_sniffers: list[tuple[object, type[StreamDecoder]]] = field(default_factory=list)
