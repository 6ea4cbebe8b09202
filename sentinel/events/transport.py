"""Transport-layer (传输层) events: flows and the network protocols every smart-city segment carries."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Event, doc, event_kind


@event_kind("conn", "transport", "One flow (connection), like Zeek's conn.log: 5-tuple, duration, volume each way, TCP state.")
@dataclass(slots=True, kw_only=True)
class Conn(Event):
    duration: float = doc("Seconds from the first to the last packet of the flow.", 0.0)
    orig_pkts: int = doc("Packets sent by the originator.", 0)
    orig_bytes: int = doc("IP-level bytes sent by the originator (sum of IP total lengths).", 0)
    resp_pkts: int = doc("Packets sent by the responder.", 0)
    resp_bytes: int = doc("IP-level bytes sent by the responder.", 0)
    conn_state: str = doc(
        "Zeek-style state: S0 (SYN, no reply), S1 (established, not closed), SF (normal close), REJ (rejected), "
        "RSTO/RSTR (reset by originator/responder), SH/SHR (half-open close), OTH (no SYN seen; UDP/ICMP flows).",
        "OTH",
    )
    history: str = doc(
        "Zeek-style history: S SYN, H SYN-ACK, A ACK, D data, F FIN, R RST; upper case from the originator, "
        "lower case from the responder, each letter at its first occurrence.",
        "",
    )
    service: str | None = doc("Application protocol recognised on the flow (dns, http, tls, mqtt, modbus...).")
    timed_out: bool = doc("True when the flow was closed by an inactivity timeout rather than by TCP teardown.", False)


@event_kind("dns", "transport", "One DNS transaction (query and its response, paired by id and 5-tuple).")
@dataclass(slots=True, kw_only=True)
class Dns(Event):
    trans_id: int = doc("DNS message id.", 0)
    query: str = doc("Queried name (lower case, no trailing dot).", "")
    qtype: str = doc("Query type name (A, AAAA, TXT, ANY...) or TYPEnnn.", "")
    qclass: int = doc("Query class (1 = IN).", 1)
    rcode: str | None = doc("Response code name (NOERROR, NXDOMAIN...), none when no response was seen.")
    answers: list[str] = doc("Answer record data as text, in order.", default_factory=list)
    ttls: list[int] = doc("TTL of each answer.", default_factory=list)
    rtt: float | None = doc("Seconds between query and response.")
    qname_len: int = doc("Length of the queried name in characters.", 0)
    qname_entropy: float = doc("Shannon entropy (bits per character) of the queried name's left-most labels.", 0.0)


@event_kind("http", "application", "One HTTP request and its response, from a reassembled TCP stream.")
@dataclass(slots=True, kw_only=True)
class Http(Event):
    method: str = doc("Request method.", "")
    host: str | None = doc("Host header.")
    uri: str = doc("Request target as sent (path and query).", "")
    version: str | None = doc("HTTP version of the request (1.0, 1.1).")
    user_agent: str | None = doc("User-Agent header.")
    referrer: str | None = doc("Referer header.")
    status: int | None = doc("Response status code; none when no response was seen.")
    status_msg: str | None = doc("Response reason phrase.")
    request_body_len: int = doc("Request body length in bytes after de-chunking.", 0)
    response_body_len: int = doc("Response body length in bytes after de-chunking.", 0)
    content_type: str | None = doc("Response Content-Type.")
    username: str | None = doc("User name from an `Authorization: Basic` header (the password is never kept).")


@event_kind("tls", "transport", "One TLS handshake (ClientHello and, when seen, ServerHello).")
@dataclass(slots=True, kw_only=True)
class Tls(Event):
    sni: str | None = doc("Server Name Indication from the ClientHello.")
    version: str | None = doc("Negotiated version (TLSv1.0..TLSv1.3) from the ServerHello, else the client's offer.")
    client_version: str | None = doc("Highest version the client offered.")
    cipher: int | None = doc("Cipher suite chosen by the server (numeric).")
    alpn: list[str] = doc("ALPN protocols offered by the client.", default_factory=list)


@event_kind("arp", "transport", "One ARP packet.")
@dataclass(slots=True, kw_only=True)
class Arp(Event):
    operation: str = doc("`request` or `reply`.", "request")
    src_mac: str = doc("Sender hardware address.", "")
    dst_mac: str = doc("Target hardware address.", "")
    gratuitous: bool = doc("True when sender and target protocol addresses are equal.", False)


@event_kind("icmp", "transport", "One ICMP or ICMPv6 message.")
@dataclass(slots=True, kw_only=True)
class Icmp(Event):
    icmp_type: int = doc("ICMP type.", 0)
    icmp_code: int = doc("ICMP code.", 0)
    bytes: int = doc("IP-level length of the message.", 0)
    ttl: int | None = doc("IP TTL / hop limit.")
