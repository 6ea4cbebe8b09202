"""Exceptions that reach users.

Every error a user can cause with their input carries *where* it happened (file and a position: line, packet
number or byte offset) so the CLI can print one line and exit 2 without a traceback.
"""

from __future__ import annotations


class SentinelError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = 1


class InputError(SentinelError):
    """Bad user input: a file, a flag value, a rule, a log line.

    `source` names the input (a path, "--db", "stdin"); `position` says where in it ("line 12",
    "packet 3 (byte offset 4096)", "field 'level'").
    """

    exit_code = 2

    def __init__(self, source: str, message: str, position: str | None = None) -> None:
        self.source = source
        self.position = position
        self.message = message
        super().__init__(self.oneline())

    def __reduce__(self):
        return type(self), (self.source, self.message, self.position)

    def oneline(self) -> str:
        where = f"{self.source}: {self.position}" if self.position else self.source
        return f"{where}: {self.message}"


class CaptureError(InputError):
    """A capture file is damaged or unsupported.

    `packet` is the 1-based number of the first packet that could not be read, `offset` its byte offset in the
    (decompressed) file.
    """

    def __init__(self, source: str, message: str, packet: int | None = None, offset: int | None = None) -> None:
        self.packet = packet
        self.offset = offset
        parts = []
        if packet is not None:
            parts.append(f"packet {packet}")
        if offset is not None:
            parts.append(f"byte offset {offset}")
        super().__init__(source, message, ", ".join(parts) or None)

    def __reduce__(self):
        # why: capture workers send their per-file results (with this error) to the parent pickled; the default
        # rebuilds an exception from its one-line text and failed on this signature
        return type(self), (self.source, self.message, self.packet, self.offset)


class StoreError(SentinelError):
    """The store cannot be opened, migrated or written."""
