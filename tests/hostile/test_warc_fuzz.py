"""Generated WARC files (tests/hostile/warcgen.py: record kinds, HTTP headers in any case,
content encodings stacked, raw or lying, chunked transfer, wrong Content-Lengths, CRLF or LF,
with or without ids, plain or gzip): every record ends in exactly one of document, error or
skipped, the one its shape calls for, and no record's bytes end up in another's text. Bounded
here; `bench/fuzz.py --warc` runs it longer.
"""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcgen import Record, build, build_record, records

from tamis.extract import ExtractOptions, extract_text
from tamis.io.records import RawRecord, ReadError, Skipped
from tamis.io.warc import read_warc

HTML_TYPES = ("text/html", "application/xhtml+xml")
TOKEN = re.compile(r"tok\d{3}q")


def expected(record: Record) -> str:
    """What a record must become: `document`, `error` or `skipped`."""
    if record.length_error:
        return "error"
    if record.kind == "conversion":
        return "document"
    if record.kind == "response":
        mime = record.content_type.split(";")[0].strip().lower()
        return "document" if mime in HTML_TYPES else "skipped"
    return "skipped"


def outcome(item: RawRecord | ReadError | Skipped) -> str:
    return {RawRecord: "document", ReadError: "error", Skipped: "skipped"}[type(item)]


def check(found: list[Record], newline: str, gzipped: bool) -> None:
    data = build(found, newline, gzipped)
    items = list(read_warc(io.BytesIO(data), file="f.warc"))
    assert [outcome(item) for item in items] == [expected(record) for record in found]
    offsets = []
    position = 0
    for index, record in enumerate(found):
        offsets.append(position)
        part = build_record(record, index, newline)
        position += len(__import__("gzip").compress(part, mtime=0)) if gzipped else len(part)
    for item, record, offset in zip(items, found, offsets, strict=True):
        if isinstance(item, Skipped):
            continue
        assert item.source["offset"] == offset
        if isinstance(item, RawRecord):
            text = item.text if item.text is not None else extract_text(
                item.html or b"", ExtractOptions())
            assert set(TOKEN.findall(text)) == {record.token}, (record, text[:300])
            if record.record_id is None:
                assert item.id == f"f.warc:{offset}"
            else:
                assert item.id == f"<urn:uuid:{record.token}>"


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["CRLF", "LF"])
# Derandomized: the suite runs the same examples every time (bench/fuzz.py draws new ones).
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(found=records(max_size=6))
def test_every_generated_record_ends_once_and_alone(found: list[Record], newline: str,
                                                    gzipped: bool) -> None:
    check(found, newline, gzipped)


def test_a_length_running_over_a_whole_record_of_the_same_size_is_caught() -> None:
    """Found by bench/fuzz.py: a request whose Content-Length is 40 too long, followed by a
    record whose gzip member holds exactly the size the request claims; the gzip trailer's
    size alone cannot tell them apart."""
    found = [Record("tok000q"),
             Record("tok001q", kind="request", content_type="application/pdf",
                    encoding="gzip,deflate-zlib", chunked=True, length_error=40),
             Record("tok002q", kind="metadata", record_id=None), Record("tok003q")]
    check(found, "\r\n", gzipped=True)


@pytest.mark.parametrize(("record", "becomes"), [
    (Record("tok001q", content_type="TEXT/HTML; charset=UTF-8"), "document"),
    (Record("tok001q", content_type="Text/Html", encoding="gzip", header_case="upper"),
     "document"),
    (Record("tok001q", encoding="deflate-raw"), "document"),
    (Record("tok001q", encoding="deflate-zlib"), "document"),
    (Record("tok001q", encoding="gzip,deflate-zlib"), "document"),
    (Record("tok001q", encoding="lying-gzip"), "document"),
    (Record("tok001q", chunked=True, header_case="upper"), "document"),
    (Record("tok001q", record_id=None), "document"),
    (Record("tok001q", length_error=40), "error"),
    (Record("tok001q", length_error=-7), "error"),
])
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["CRLF", "LF"])
def test_http_variants_found_in_real_crawls(record: Record, becomes: str, newline: str,
                                            gzipped: bool) -> None:
    """Each variant between two good records: read as it should be, the neighbours intact."""
    found = [Record("tok000q"), record, Record("tok002q", kind="conversion")]
    assert expected(record) == becomes
    check(found, newline, gzipped)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(found=records(max_size=6), cut=st.integers(min_value=1, max_value=4000))
def test_byte_ranges_of_a_generated_warc_read_each_record_once(found: list[Record],
                                                               cut: int) -> None:
    """Cut into two ranges anywhere: together they give what the whole file gives."""
    data = build(found)
    whole = [outcome(item) for item in read_warc(io.BytesIO(data), file="f.warc")]
    cut = min(cut, len(data) - 1)
    parts = [outcome(item) for item in read_warc(io.BytesIO(data), file="f.warc", end=cut)]
    parts += [outcome(item) for item in read_warc(io.BytesIO(data), file="f.warc", start=cut)]
    assert parts == whole
