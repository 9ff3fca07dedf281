"""What readers yield: raw records, read errors and skipped records.

A reader turns one shard of one input into a stream of these. It never raises for bad input:
a record it cannot read becomes a `ReadError` carrying where it was and what went wrong, so the
run goes on and nothing is lost (invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RAW_PREVIEW_BYTES = 1024


@dataclass(slots=True)
class RawRecord:
    """One input record before it becomes a `Document`.

    Exactly one of `text` and `html` is set: HTML goes through the pipeline's extractor first.
    `signals` carries what reading learnt about the record (invalid UTF-8 bytes replaced...);
    `size` is the record's size in bytes as read (0 when the reader cannot tell).
    """

    id: str
    source: dict[str, Any]
    text: str | None = None
    html: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    size: int = 0


@dataclass(slots=True)
class ReadError:
    """A record that could not be read; it becomes a line in `errors/`."""

    source: dict[str, Any]
    error: str
    raw: str = ""
    id: str | None = None
    url: str | None = None  # where known (an extraction or step failure), for the report

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"source": self.source, "error": self.error, "raw": self.raw}
        if self.id is not None:
            record["id"] = self.id
        if self.url is not None:
            record["url"] = self.url
        return record


@dataclass(slots=True)
class Skipped:
    """A record that is not a document (a WARC request or metadata record): counted by kind."""

    kind: str


def preview(raw: bytes) -> str:
    """The first KB of a record as text, invalid bytes escaped, for error records."""
    return raw[:RAW_PREVIEW_BYTES].decode("utf-8", errors="backslashreplace")
