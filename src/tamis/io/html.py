"""Standalone HTML files: one page, one record, extracted like a WARC response.

The page's bytes go to the extractor untouched: decoding belongs to extraction, which reads the
page's `<meta charset>` and falls back to detection (a saved page has no HTTP header to ask).
"""

from __future__ import annotations

from tamis.io.records import RawRecord


def read_html_file(data: bytes, *, id: str, file: str) -> RawRecord:
    """The record of one `.html` file; `id` is its path relative to the input folder."""
    return RawRecord(id, {"file": file}, html=data, metadata={"content_type": "text/html"},
                     size=len(data))
