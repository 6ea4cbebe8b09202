"""Application-layer (应用层) events: portal and authentication logs, and content scanned with YARA."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Event, doc, event_kind


@event_kind("http_access", "application", "One web server access-log line (Apache/nginx combined or common).")
@dataclass(slots=True, kw_only=True)
class HttpAccess(Event):
    vhost: str | None = doc("Virtual host, when the format carries it.")
    ident: str | None = doc("RFC 1413 identity (usually `-`).")
    user: str | None = doc("Authenticated user.")
    method: str | None = doc("Request method.")
    uri: str | None = doc("Request target (path and query).")
    version: str | None = doc("Protocol, e.g. HTTP/1.1.")
    status: int | None = doc("Response status.")
    bytes: int | None = doc("Response size.")
    referrer: str | None = doc("Referer.")
    user_agent: str | None = doc("User-Agent.")
    line: str = doc("The original log line.", "")
    source: str = doc("Log file and line number, `path:line`.", "")


@event_kind("auth", "application", "An authentication attempt from a log (sshd, sudo, web basic auth...).")
@dataclass(slots=True, kw_only=True)
class Auth(Event):
    outcome: str = doc(
        "`success`, `failure`, or `attempt`: a step that decides nothing by itself (a public key of a valid user "
        "not accepted while others are tried, PAM's line for a failure sshd logs again, a failure logged before "
        "the client address was known).",
        "failure",
    )
    user: str | None = doc("User name attempted.")
    method: str | None = doc("password, publickey, keyboard-interactive, basic, sudo...")
    service: str | None = doc("Program that logged it (sshd, sudo, nginx...).")
    reason: str | None = doc("Why it failed, as logged (invalid user, bad password...).")
    line: str = doc("The original log line.", "")
    source: str = doc("Log file and line number, `path:line`.", "")


@event_kind("syslog", "application", "A syslog line (RFC 3164 or 5424) that is not more specific.")
@dataclass(slots=True, kw_only=True)
class Syslog(Event):
    host: str | None = doc("Host name from the header.")
    program: str | None = doc("Program (tag / APP-NAME).")
    pid: int | None = doc("Process id.")
    facility: int | None = doc("Facility number, from the PRI when present.")
    severity: int | None = doc("Severity number, from the PRI when present.")
    message: str = doc("Message text.", "")
    line: str = doc("The original log line.", "")
    source: str = doc("Log file and line number, `path:line`.", "")


@event_kind("yara_match", "application", "A YARA rule matched a file or a payload.")
@dataclass(slots=True, kw_only=True)
class YaraMatch(Event):
    rule: str = doc("Rule name.", "")
    namespace: str | None = doc("Rule namespace (the rule file).")
    tags: list[str] = doc("Rule tags.", default_factory=list)
    meta: dict = doc("Rule meta fields.", default_factory=dict)
    sha256: str = doc("SHA-256 of the scanned data.", "")
    offset: int | None = doc("Offset of the first matching string.")
    origin: str = doc("Where the data came from: a path, or `pcap:FILE:flow UID:http-response` and the like.", "")
    size: int = doc("Size of the scanned data in bytes.", 0)


@event_kind("file", "application", "A file carried over the network, reassembled by Wireshark's dissectors (like Zeek's files.log).")
@dataclass(slots=True, kw_only=True)
class FileTransfer(Event):
    protocol: str = doc("Protocol that carried it: smb, smb2, tftp.", "")
    filename: str = doc("File name as the protocol named it.", "")
    direction: str | None = doc("`upload` (client to server) or `download`, when the protocol says.")
    size: int = doc("Bytes extracted.", 0)
    sha256: str | None = doc("SHA-256 of the extracted content.")
    source: str = doc("Capture file it was extracted from.", "")
