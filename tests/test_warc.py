"""The WARC/WET reader on real Common Crawl files: every record accounted for, ranges exact."""

from __future__ import annotations

import gzip
import io
import itertools
import random
import zlib
from collections import Counter
from pathlib import Path

import fsspec
import pytest
from conftest import (
    DATA,
    assert_conserved,
    need_shared,
    output_bytes,
    read_output,
    tamis_command,
)
from fastwarc.warc import ArchiveIterator

from tamis.extract import ExtractOptions, extract_text
from tamis.io.records import RawRecord, ReadError, Skipped
from tamis.io.warc import read_warc

SAMPLES = DATA / "raw" / "cc-raw-samples"
EXCERPT = SAMPLES / "resiliparse" / "CC-MAIN-2020-34-excerpt.warc.gz"
WHIRLWIND = SAMPLES / "whirlwind"


def _read(data: bytes, **kwargs) -> list:
    return list(read_warc(io.BytesIO(data), file="test.warc.gz", **kwargs))


def _kinds(items: list) -> Counter[str]:
    return Counter(item.kind if isinstance(item, Skipped) else type(item).__name__
                   for item in items)


def _identity(items: list) -> list[str]:
    return [item.kind if isinstance(item, Skipped) else f"{type(item).__name__}:{item.id}"
            for item in items]


@pytest.fixture(scope="module")
def excerpt() -> bytes:
    return need_shared(EXCERPT).read_bytes()


def test_every_record_of_the_excerpt_is_accounted_for(excerpt: bytes) -> None:
    items = _read(excerpt)
    # SOURCE.md: 1 warcinfo, 17 request, 16 response, 16 metadata; every response is HTML.
    assert _kinds(items) == {"warcinfo": 1, "request": 17, "RawRecord": 16, "metadata": 16}
    bare = [(record.record_id, record.headers.get("WARC-Target-URI"), record.stream_pos)
            for record in ArchiveIterator(io.BytesIO(excerpt))
            if record.headers.get("WARC-Type") == "response"]
    records = [item for item in items if isinstance(item, RawRecord)]
    assert [(r.id, r.metadata["url"], r.source["offset"]) for r in records] == bare
    for record in records:
        assert record.id.startswith("<urn:uuid:") and record.text is None
        assert record.size == len(record.html)
        assert record.html and b"<" in record.html[:2000]
        assert record.source["file"] == "test.warc.gz"
        assert record.metadata["content_type"] == "text/html"
        assert record.metadata["http_status"] == 200
        assert record.metadata["date"].startswith("2020-08-08T")
    charsets = {r.metadata["url"]: r.metadata.get("charset") for r in records}
    assert charsets["http://01spb.ru/company/"] == "windows-1251"
    assert charsets["http://037426.cn/"] == "gb2312"


def _record(warc_type: str, content_type: str, block: bytes, number: int) -> bytes:
    header = (f"WARC/1.0\r\nWARC-Type: {warc_type}\r\n"
              f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>\r\n"
              f"WARC-Target-URI: http://example.org/{number}\r\n"
              f"WARC-Date: 2024-01-01T00:00:00Z\r\nContent-Type: {content_type}\r\n"
              f"Content-Length: {len(block)}\r\n\r\n")
    return header.encode() + block + b"\r\n\r\n"


def test_non_html_and_non_http_responses_are_counted_by_type() -> None:
    http = "application/http; msgtype=response"
    data = b"".join([
        _record("response", http, b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
                b"\r\n%PDF-1.4", 1),
        _record("response", http, b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; "
                b"charset=iso-8859-1\r\n\r\n<p>caf\xe9</p>", 2),
        _record("response", http, b"HTTP/1.1 200 OK\r\n\r\nno content type", 3),
        _record("response", "text/dns", b"20240101000000\nexample.org. 60 IN A 1.2.3.4", 4),
        _record("revisit", http, b"HTTP/1.1 304 Not Modified\r\n\r\n", 5),
    ])
    items = _read(data)
    assert [item.kind for item in items if isinstance(item, Skipped)] == [
        "response:application/pdf", "response:unknown", "response:text/dns", "revisit"]
    [page] = [item for item in items if isinstance(item, RawRecord)]
    assert page.id == "<urn:uuid:00000000-0000-0000-0000-000000000002>"
    assert page.metadata == {"url": "http://example.org/2", "date": "2024-01-01T00:00:00Z",
                             "content_type": "text/html", "http_status": 404,
                             "charset": "iso-8859-1"}
    assert page.html == b"<p>caf\xe9</p>"


_BODY = b"<html><body><p>" + b"hello world " * 50 + b"</p></body></html>"


def _http(headers: bytes, payload: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + headers + b"\r\n" + payload


def _chunked(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(("headers", "payload"), [
    (b"Content-Encoding: gzip\r\n", gzip.compress(_BODY)),
    (b"Content-Encoding: deflate\r\n", zlib.compress(_BODY)),
    (b"Transfer-Encoding: chunked\r\n", _chunked(_BODY)),
    (b"Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n",
     _chunked(gzip.compress(_BODY))),
    # Common Crawl keeps payloads decoded; a header that does not match changes nothing.
    (b"Content-Encoding: gzip\r\n", _BODY),
    (b"Transfer-Encoding: chunked\r\n", _BODY),
    (b"Content-Encoding: br\r\n", _BODY),
], ids=["gzip", "deflate", "chunked", "chunked gzip", "decoded gzip", "decoded chunked",
        "decoded br"])
def test_http_encodings_are_undone(headers: bytes, payload: bytes) -> None:
    [page] = _read(_record("response", "application/http; msgtype=response",
                           _http(headers, payload), 1))
    assert isinstance(page, RawRecord) and page.html == _BODY
    assert page.size == len(payload)  # the bytes as stored


def test_brotli_content_encoding_is_undone() -> None:
    brotli = pytest.importorskip("brotli")
    block = _http(b"Content-Encoding: br\r\n", brotli.compress(_BODY))
    [page] = _read(_record("response", "application/http; msgtype=response", block, 1))
    assert isinstance(page, RawRecord) and page.html == _BODY


def test_a_corrupt_or_exploding_encoding_is_an_error() -> None:
    http = "application/http; msgtype=response"
    corrupt = _http(b"Content-Encoding: gzip\r\n", gzip.compress(_BODY)[:30] + b"x" * 40)
    bomb = _http(b"Content-Encoding: gzip\r\n", gzip.compress(b"<p>" + b"a" * 10_000_000))
    items = _read(_record("response", http, corrupt, 1) + _record("response", http, bomb, 2),
                  max_record_size=1_000_000)
    assert [type(item) for item in items] == [ReadError, ReadError]
    assert "cannot undo the HTTP encoding" in items[0].error
    assert "decoded payload is larger than input.max_record_size" in items[1].error


def test_offsets_point_at_their_records(excerpt: bytes) -> None:
    stream = io.BytesIO(excerpt)
    for item in _read(excerpt):
        if isinstance(item, RawRecord):
            stream.seek(item.source["offset"])
            assert next(iter(ArchiveIterator(stream))).record_id == item.id


def test_wet_conversion_records_are_text() -> None:
    items = _read(need_shared(WHIRLWIND / "whirlwind.warc.wet.gz").read_bytes())
    assert _kinds(items) == {"warcinfo": 1, "RawRecord": 1}
    record = items[1]
    assert record.html is None and "Escopete" in record.text
    assert record.metadata["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert record.metadata["content_type"] == "text/plain"
    assert record.metadata["language"] == "spa"  # Common Crawl's own label, passed through
    assert record.source == {"file": "test.warc.gz", "offset": 466}


def test_wat_files_hold_no_documents() -> None:
    items = _read(need_shared(WHIRLWIND / "whirlwind.warc.wat.gz").read_bytes())
    assert _kinds(items) == {"warcinfo": 1, "metadata": 1}


def test_whirlwind_warc_response_matches_its_wet_record() -> None:
    warc = _read(need_shared(WHIRLWIND / "whirlwind.warc.gz").read_bytes())
    wet = _read((WHIRLWIND / "whirlwind.warc.wet.gz").read_bytes())
    assert _kinds(warc) == {"warcinfo": 1, "request": 1, "RawRecord": 1, "metadata": 1}
    response, conversion = warc[2], wet[1]
    assert response.metadata["url"] == conversion.metadata["url"]
    assert response.metadata["date"] == conversion.metadata["date"]


def _cut_everywhere(data: bytes, seed: int) -> list[list[int]]:
    """Range plans: random cuts, and cuts one byte around every record start."""
    rng = random.Random(seed)
    plans = [sorted(rng.sample(range(1, len(data)), rng.randint(1, 15))) for _ in range(15)]
    starts = [record.stream_pos for record in ArchiveIterator(io.BytesIO(data))]
    plans.append(sorted({max(1, s + d) for s in starts for d in (-1, 0, 1)} - {len(data)}))
    return plans


@pytest.mark.parametrize("variant", ["gzip per record", "plain"])
def test_consecutive_ranges_yield_every_record_once(excerpt: bytes, variant: str) -> None:
    data = excerpt if variant == "gzip per record" else gzip.decompress(excerpt)
    whole = _identity(_read(data))
    assert len(whole) == 50
    for cuts in _cut_everywhere(data, seed=len(data)):
        bounds = [0, *cuts, len(data)]
        pieces = []
        for start, end in itertools.pairwise(bounds):
            pieces.extend(_identity(_read(data, start=start, end=end)))
        assert pieces == whole, cuts


def test_one_gzip_stream_for_the_whole_file_is_read_by_the_first_range(excerpt: bytes) -> None:
    data = gzip.compress(gzip.decompress(excerpt))
    whole = _identity(_read(data))
    assert len(whole) == 50
    middle = len(data) // 2
    assert _identity(_read(data, start=0, end=middle)) == whole
    assert _read(data, start=middle, end=len(data)) == []


def test_a_cut_inside_a_payload_is_an_error_and_earlier_records_survive(excerpt: bytes) -> None:
    items = _read(excerpt[:50_000])  # inside the response that starts at byte 48321
    assert isinstance(items[-1], ReadError)
    assert items[-1].source == {"file": "test.warc.gz", "offset": 48321}
    assert "truncated: 2601 of 37751 payload bytes" in items[-1].error
    assert items[:-1] == _read(excerpt)[:len(items) - 1]


def test_a_cut_in_the_last_record_is_reported(excerpt: bytes) -> None:
    items = _read(excerpt[:-100])  # the last record is a request: not a document, but cut
    assert isinstance(items[-1], ReadError) and "ends inside the record" in items[-1].error
    whole = _read(excerpt)
    assert len(items) == len(whole)  # the cut record is the error, and nothing else
    assert _kinds(items[:-1]) == _kinds(whole[:-1])


def test_garbage_between_records_is_one_error_and_reading_goes_on(excerpt: bytes) -> None:
    starts = [record.stream_pos for record in ArchiveIterator(io.BytesIO(excerpt))]
    # Overwrite the fifth record (a request) with junk: the reader must skip to the sixth.
    broken = excerpt[:starts[4]] + b"not a gzip member " * 40 + excerpt[starts[5]:]
    items = _read(broken)
    errors = [item for item in items if isinstance(item, ReadError)]
    assert len(errors) == 1 and errors[0].source["offset"] == starts[4]
    assert "not a gzip member" in errors[0].raw
    whole = _kinds(_read(excerpt))
    assert _kinds(items) == whole - Counter({"request": 1}) + Counter({"ReadError": 1})


def test_a_corrupt_payload_is_an_error_at_its_own_record(excerpt: bytes) -> None:
    starts = [record.stream_pos for record in ArchiveIterator(io.BytesIO(excerpt))]
    middle = (starts[2] + starts[3]) // 2  # inside the compressed payload of the first response
    broken = (excerpt[:middle] + bytes(byte ^ 0xFF for byte in excerpt[middle:middle + 50])
              + excerpt[middle + 50:])
    items = _read(broken)
    errors = [item for item in items if isinstance(item, ReadError)]
    assert [error.source["offset"] for error in errors] == [starts[2]]
    assert f"skipped to the next record at byte {starts[3]}" in errors[0].error
    assert _kinds(items) == _kinds(_read(excerpt)) - Counter({"RawRecord": 1}) + Counter(
        {"ReadError": 1})


def test_a_record_over_the_size_limit_is_an_error_not_a_load(excerpt: bytes) -> None:
    items = _read(excerpt, max_record_size=50_000)
    too_big = [item for item in items if isinstance(item, ReadError)]
    # The two responses over 50 kB (01spb.ru 104,567 and 0760.jxtdw.com 108,253 payload bytes).
    assert len(too_big) == 2 and all("larger than" in item.error for item in too_big)
    assert sum(isinstance(item, RawRecord) for item in items) == 14


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_reads_through_fsspec(protocol: str, excerpt: bytes) -> None:
    url = f"file://{need_shared(EXCERPT)}"
    if protocol == "memory":  # a non-local file object, as object storage gives
        url = "memory://tamis-test/excerpt.warc.gz"
        with fsspec.open(url, "wb") as target:
            target.write(excerpt)
    with fsspec.open(url, "rb") as stream:
        items = list(read_warc(stream, file="excerpt.warc.gz", start=30_000, end=60_000))
    offsets = [item.source["offset"] for item in items if isinstance(item, RawRecord)]
    assert offsets == [32353, 38503, 42891, 48321]


def test_a_run_on_warc_files_accounts_for_every_record(tmp_path: Path) -> None:
    need_shared(EXCERPT)
    config = tmp_path / "run.yaml"  # reading and extraction alone, not what later steps cut
    config.write_text("pipeline: [extract, drop_empty]\n")
    out = tmp_path / "out"
    result = tamis_command("run", str(EXCERPT), str(WHIRLWIND / "whirlwind.warc.gz"),
                           str(WHIRLWIND / "whirlwind.warc.wet.gz"), "-o", str(out),
                           "--config", str(config), "--workers", "1")
    assert result.returncode == 0, result.stderr
    manifest = assert_conserved(out)
    # 16 + 1 HTML responses and 1 WET conversion record are documents; the rest is skipped.
    assert manifest["counts"]["read"] == 18
    assert manifest["counts"]["skipped"] == {"warcinfo": 3, "request": 18, "metadata": 17}
    records = read_output(out, "kept") + read_output(out, "removed") + read_output(out, "errors")
    ids = {record["id"] for record in records}
    assert "<urn:uuid:e9e41f63-d478-42d0-bca8-1af2be3245a3>" in ids
    escopete = [record for record in read_output(out, "kept")
                if record["url"].endswith("/Escopete")]
    assert len(escopete) == 2 and all("Escopete" in record["text"] for record in escopete)


def test_a_warc_cut_into_byte_range_shards_gives_the_same_documents(tmp_path: Path,
                                                                   excerpt: bytes) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("input: {shard_size: 20KB}\n"
                      "pipeline: [{extract: {timeout: null}}, drop_empty]\n")
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        result = tamis_command("run", str(EXCERPT), "-o", str(out), "--config", str(config),
                               "--workers", workers)
        assert result.returncode == 0, result.stderr
        manifest = assert_conserved(out)
        assert len(manifest["shards"]) == 7  # 136 kB in 20 kB ranges
        records = read_output(out, "kept") + read_output(out, "removed")
        outputs[workers] = (sorted((r["id"], r["text"]) for r in records), output_bytes(out))
    # Every record once, with the text the whole file gives.
    whole = sorted((r.id, extract_text(r.html, ExtractOptions(), r.metadata["url"]))
                   for r in _read(excerpt) if isinstance(r, RawRecord) and r.html)
    assert outputs["1"][0] == whole and len(whole) == 16
    assert outputs["2"][1] == outputs["1"][1]  # byte-identical whatever the number of workers
