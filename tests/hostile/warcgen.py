"""A WARC builder for tests: records of every kind with HTTP headers, content encodings, right
or wrong lengths, CRLF or LF line endings, with or without ids; and hypothesis strategies over
it. Each record's body carries a token no other record has, so a test can tell which record's
bytes ended up in which document."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

from hypothesis import strategies as st

KINDS = ("response", "conversion", "request", "metadata", "warcinfo", "resource")
ENCODINGS = ("", "gzip", "deflate-zlib", "deflate-raw", "gzip,deflate-zlib", "lying-gzip")


@dataclass
class Record:
    """One WARC record to build; `token` is in its body and nowhere else."""

    token: str
    kind: str = "response"
    record_id: str | None = "auto"
    content_type: str = "text/html"
    encoding: str = ""
    chunked: bool = False
    length_error: int = 0  # added to the true Content-Length (a wrong length)
    header_case: str = "as-is"  # "as-is", "upper", "lower"
    extra_headers: list[tuple[str, str]] = field(default_factory=list)

    def body(self) -> bytes:
        words = " ".join(f"{self.token}w{n}" for n in range(30))
        if self.kind == "response":
            return (f"<html><head><title>{self.token}</title></head><body><article><p>"
                    f"A page about {self.token}: {words}.</p><p>Second paragraph of "
                    f"{self.token} with more words to keep it.</p></article></body></html>"
                    ).encode()
        return f"Text of {self.token}: {words}.".encode()


def _encode(payload: bytes, encoding: str) -> tuple[bytes, str]:
    """The payload content-encoded, and the Content-Encoding header value to send."""
    if encoding == "lying-gzip":
        return payload, "gzip"  # the header says gzip, the bytes are not
    names = []
    for step in filter(None, encoding.split(",")):
        if step == "gzip":
            payload = gzip.compress(payload, mtime=0)
        elif step == "deflate-zlib":
            payload = zlib.compress(payload)
        elif step == "deflate-raw":
            compressor = zlib.compressobj(wbits=-15)
            payload = compressor.compress(payload) + compressor.flush()
        names.append(step.split("-")[0])
    return payload, ", ".join(names)


def _case(text: str, how: str) -> str:
    return text.upper() if how == "upper" else text.lower() if how == "lower" else text


def block(record: Record, newline: str) -> bytes:
    """The record's block: the HTTP message of a response or request, else the body."""
    if record.kind not in ("response", "request"):
        return record.body()
    payload, content_encoding = _encode(record.body(), record.encoding)
    if record.chunked:
        payload = (f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")
    lines = ["HTTP/1.1 200 OK" if record.kind == "response" else "GET / HTTP/1.1"]
    lines.append(f"Content-Type: {_case(record.content_type, record.header_case)}")
    if content_encoding:
        lines.append(f"Content-Encoding: {_case(content_encoding, record.header_case)}")
    if record.chunked:
        lines.append(f"Transfer-Encoding: {_case('chunked', record.header_case)}")
    head = "\r\n".join(lines) + "\r\n\r\n"  # HTTP itself always uses CRLF here
    return head.encode() + payload


def build_record(record: Record, index: int, newline: str = "\r\n") -> bytes:
    data = block(record, newline)
    headers = [("WARC-Type", record.kind)]
    if record.record_id == "auto":
        headers.append(("WARC-Record-ID", f"<urn:uuid:{record.token}>"))
    elif record.record_id is not None:
        headers.append(("WARC-Record-ID", record.record_id))
    headers += [("WARC-Target-URI", f"http://example.com/{record.token}"),
                ("WARC-Date", "2024-01-01T00:00:00Z")]
    if record.kind in ("response", "request"):
        headers.append(("Content-Type", f"application/http; msgtype={record.kind}"))
    else:
        headers.append(("Content-Type", "text/plain"))
    headers += record.extra_headers
    headers.append(("Content-Length", str(len(data) + record.length_error)))
    head = "WARC/1.0" + newline + "".join(f"{name}: {value}{newline}" for name, value in headers)
    return (head + newline).encode() + data + (newline * 2).encode()


def build(records: list[Record], newline: str = "\r\n", gzipped: bool = False) -> bytes:
    """A WARC file: plain, or one gzip member per record as crawlers write them."""
    parts = [build_record(record, index, newline) for index, record in enumerate(records)]
    if gzipped:
        return b"".join(gzip.compress(part, mtime=0) for part in parts)
    return b"".join(parts)


def records(max_size: int = 8, wrong_lengths: bool = True) -> st.SearchStrategy[list[Record]]:
    """Lists of records with every variant the builder knows."""
    one = st.builds(
        Record,
        token=st.just(""),
        kind=st.sampled_from(KINDS),
        record_id=st.sampled_from(["auto", "auto", None]),
        content_type=st.sampled_from(["text/html", "TEXT/HTML; charset=UTF-8",
                                      "application/xhtml+xml", "application/pdf",
                                      "Text/Html;charset=utf-8"]),
        encoding=st.sampled_from(ENCODINGS),
        chunked=st.booleans(),
        length_error=st.sampled_from([0, 0, 0, -7, 9, 40]) if wrong_lengths else st.just(0),
        header_case=st.sampled_from(["as-is", "upper", "lower"]),
    )

    def tokens(found: list[Record]) -> list[Record]:
        for index, record in enumerate(found):
            record.token = f"tok{index:03d}q"
        return found

    return st.lists(one, min_size=1, max_size=max_size).map(tokens)
