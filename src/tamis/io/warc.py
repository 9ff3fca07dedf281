"""WARC and WET files (plain or gzip), read with FastWARC, cut into byte ranges at any offset.

What becomes a document: a `response` record whose HTTP content type is HTML (its payload goes
through extraction) and a WET `conversion` record (its payload is text). Everything else is not a
document and is counted by kind: `warcinfo`, `request`, `metadata` (all of a WAT file),
`response:application/pdf`, `response:unknown` (no content type)...

Byte ranges: a shard planner cuts a large file at arbitrary offsets. The reader of `[start, end)`
yields exactly the records whose first byte lies in that range, so consecutive ranges yield every
record once. At `start` it resynchronises to the next record boundary: in a gzip WARC each record
is its own gzip member (Common Crawl writes them so), and a boundary is a member that decompresses
to `WARC/`; in a plain WARC it is a `WARC/1.x` line followed, after its Content-Length, by the
next record or the end of the file.

HTTP payloads are handed over as a browser would see them: chunked transfer and gzip, deflate or
brotli content encoding are undone (Common Crawl stores them decoded already; wget does not).

Bad bytes never stop the run: a truncated record or an undecodable stretch of the file becomes a
`ReadError` at its byte offset, and reading goes on at the next record boundary.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from fastwarc.stream_io import BrotliReader, ChunkedReader, GzipReader
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from tamis.io.records import RawRecord, ReadError, Skipped, preview

Item = RawRecord | ReadError | Skipped

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DEFAULT_MAX_RECORD_SIZE = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN_CHUNK = 1024 * 1024
_MAX_HEADER = 64 * 1024
_HEAD_GUESS = 4096
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
# The start of a WARC record (version line, then a header line) inside a payload: a sign
# that the record's Content-Length runs into the next record.
_EMBEDDED_HEADER = re.compile(rb"(?:^|\n)WARC/1\.[01]\r?\n[A-Za-z-]+:")


def read_warc(stream: BinaryIO, *, file: str, start: int = 0, end: int | None = None,
              max_record_size: int = DEFAULT_MAX_RECORD_SIZE) -> Iterator[Item]:
    """Every record of `stream` whose first byte lies in `[start, end)`, in file order.

    `stream` must be seekable. `max_record_size` bounds the payload loaded into memory: a
    larger record is an error record, not an out-of-memory.
    """
    stream.seek(0)
    gzipped = stream.read(3) == _GZIP_MAGIC
    splittable = not gzipped or _one_record_per_member(stream)
    if not splittable:
        # One gzip stream for many records has no boundary a range could start at (and FastWARC
        # reports no usable record offsets in it): the range that starts at 0 reads it all.
        if start > 0:
            return
        end = None
    # A range starts at the first record header in it, whether or not that record's length is
    # right (a wrong one is reported by the record's own check, in this range).
    position: int | None = start if start == 0 else _next_boundary(stream, start, end, gzipped,
                                                                   strict=False)
    while position is not None and (end is None or position < end):
        stream.seek(position)
        last: int | None = None
        item: Item | None = None
        resync: int | None = None
        # In a gzip file a record waits for the next one: where that one starts, its own gzip
        # member ends, and the member's size checks the record's Content-Length.
        held: tuple[Item, int, int | None] | None = None
        try:
            # quirks_mode: LF-only line endings and other lenient headers are read.
            for record in ArchiveIterator(stream, parse_http=True, quirks_mode=True):
                offset = record.stream_pos
                if held is not None:
                    checked = _check_member(stream, *held, member_end=offset, file=file)
                    yield checked
                    if _MISMATCH in getattr(checked, "error", ""):
                        # It ran past its member: the records FastWARC read over come next.
                        resync = _record_end(stream, held[1], gzipped)[0]
                        if resync != offset:
                            held = None
                            break
                        resync = None
                    held = None
                if end is not None and offset >= end:
                    return
                item = _item(record, file, offset, max_record_size)
                last = offset  # after `_item`: a record whose payload fails is the bad one
                if gzipped and splittable:
                    if isinstance(item, ReadError) and _EMBEDDED in item.error:
                        resync = _record_end(stream, offset, gzipped)[0]
                        yield item
                        break
                    held = (item, offset, _declared_length(record))
                    continue
                if not gzipped:
                    resync = _wrong_length(stream, offset, _declared_length(record))
                    if resync == _PAST_THE_END:
                        item = item if isinstance(item, ReadError) else \
                            _truncated(stream, offset, file)
                        resync = None
                    elif resync is not None:
                        yield _length_error(stream, item, offset, file, resync)
                        break
                yield item
        except OSError as error:  # FastWARC's report of undecodable bytes
            if held is not None:
                item = _check_member(stream, *held, file=file)
                yield item
                if _MISMATCH in getattr(item, "error", ""):
                    # The held record ran into the next member: that one is sound.
                    position = _record_end(stream, held[1], gzipped)[0]
                    continue
            if last is None or not splittable:
                bad = position if last is None else last
            else:
                bad = _record_end(stream, last, gzipped)[0]
            position = _next_boundary(stream, bad + 1, None, gzipped) if splittable else None
            until = f"the next record at byte {position}" if position is not None else "the end"
            yield ReadError({"file": file, "offset": bad},
                            f"unreadable WARC data at byte {bad} of {file} ({error}); "
                            f"skipped to {until}", _peek(stream, bad))
            continue
        if held is not None:
            item = _check_member(stream, *held, file=file)
            yield item
            if _MISMATCH in getattr(item, "error", ""):
                resync = _record_end(stream, held[1], gzipped)[0]  # where the next one starts
        if resync is not None:
            position = resync if resync >= 0 else None
            continue
        # FastWARC ends quietly on a file cut short; a cut inside a payload was caught above.
        if not splittable:
            last = 0  # the one gzip member
        if last is not None and not isinstance(item, ReadError) and \
                not _record_end(stream, last, gzipped)[1]:
            yield _truncated(stream, last, file)
        return


def _member_inside(stream: BinaryIO, start: int, end: int) -> bool:
    """Whether a gzip member holding a WARC record starts in `[start, end)`."""
    data = _read_at(stream, start, end - start)
    found = data.find(_GZIP_MAGIC)
    while found != -1:
        if _is_gzip_record(stream, start + found):
            return True
        found = data.find(_GZIP_MAGIC, found + 1)
    return False


def _declared_length(record: WarcRecord) -> int | None:
    """The record's WARC Content-Length as written (FastWARC's `content_length` is what is
    left after the HTTP headers it parsed)."""
    value = record.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _truncated(stream: BinaryIO, offset: int, file: str) -> ReadError:
    return ReadError({"file": file, "offset": offset},
                     f"{file} is truncated: it ends inside the record at byte {offset}",
                     _peek(stream, offset))


_PAST_THE_END = -2  # `_wrong_length`: the file ends inside the record
_LEFT_OUT = "the record is left out so that no other record's bytes end up in a text"
_EMBEDDED = "holds the start of another WARC record"
_MISMATCH = "does not match its gzip member"


def _length_error(stream: BinaryIO, item: Item, offset: int, file: str,
                  following: int) -> ReadError:
    """A plain record whose Content-Length does not end where the next record starts."""
    where = f" (byte {following})" if following >= 0 else ""
    return ReadError({"file": file, "offset": offset},
                     f"the Content-Length of the record at byte {offset} does not end where "
                     f"the next record starts{where}; {_LEFT_OUT}", _peek(stream, offset),
                     getattr(item, "id", None))


def _check_member(stream: BinaryIO, item: Item, offset: int, content_length: int | None,
                  member_end: int | None = None, *, file: str) -> Item:
    """`item`, or an error record when the gzip member holding it is not the size its
    Content-Length says (the gzip trailer's ISIZE: the member's size mod 2^32). The stream's
    position is left as it was."""
    here = stream.tell()
    try:
        head = _inflate_head(stream, offset, 1024)  # most WARC headers are shorter
        if b"\n\n" not in head and b"\n\r\n" not in head:
            head = _inflate_head(stream, offset, _HEAD_GUESS)
        expected = _record_length(head, content_length)
        if expected is None:
            return item
        if member_end is None:
            member_end, complete = _record_end(stream, offset, gzipped=True)
            if not complete:
                return item if isinstance(item, ReadError) else _truncated(stream, offset, file)
        size = int.from_bytes(_read_at(stream, member_end - 4, 4), "little")
    finally:
        stream.seek(here)
    # The size can match by chance when the record ran over a whole next record of that very
    # size (FastWARC then skips it): no other member may start inside this one.
    if size == expected % 2**32 and not _member_inside(stream, offset + 1, member_end):
        return item
    why = (f"{size} bytes, the header makes {expected}" if size != expected % 2**32
           else "it runs over the start of another record's member")
    return ReadError({"file": file, "offset": offset},
                     f"the Content-Length of the record at byte {offset} {_MISMATCH} "
                     f"({why}); {_LEFT_OUT}",
                     preview(head[:1024]), getattr(item, "id", None))


# -- one record ---------------------------------------------------------------------------------


def _item(record: WarcRecord, file: str, offset: int, max_record_size: int) -> Item:
    kind = _type_name(record.record_type)
    source = {"file": file, "offset": offset}
    if kind == "conversion":
        content_type = _mime(record.headers.get("Content-Type"))
    elif kind == "response" and record.is_http:
        content_type = (record.http_content_type or "").strip().lower()  # case-insensitive
        if content_type not in HTML_TYPES:
            return Skipped(f"response:{content_type or 'unknown'}")
    elif kind == "response":  # not HTTP: a crawler's own record, such as a DNS lookup
        return Skipped(f"response:{_mime(record.headers.get('Content-Type')) or 'unknown'}")
    else:
        return Skipped(kind)
    # WARC-Record-ID is mandatory, but not every writer sets it: such a record is named by
    # where it is, as a JSONL line without an id is.
    record_id = record.record_id or f"{file}:{offset}"
    if record.content_length > max_record_size:
        return ReadError(source, f"{kind} record of {record.content_length} bytes is larger "
                         f"than input.max_record_size ({max_record_size} bytes)", id=record_id)
    payload = record.reader.read()
    if len(payload) < record.content_length:
        return ReadError(source, f"{kind} record is truncated: {len(payload)} of "
                         f"{record.content_length} payload bytes", preview(payload), record_id)
    embedded = _EMBEDDED_HEADER.search(payload) if b"WARC/1." in payload else None
    if embedded is not None:
        return ReadError(source, f"{kind} record {_EMBEDDED} at payload byte "
                         f"{embedded.start()}: its Content-Length is too long; {_LEFT_OUT}",
                         preview(payload), record_id)
    metadata = _metadata(record, content_type)
    if kind == "conversion":
        text = payload.decode("utf-8", errors="replace")  # WET text is UTF-8 by definition
        return RawRecord(record_id, source, text=text, metadata=metadata, size=len(payload))
    try:
        html = _http_decode(payload, record, max_record_size)
    except OSError as error:
        return ReadError(source, f"cannot undo the HTTP encoding of the payload: {error}",
                         preview(payload), record_id)
    if len(html) > max_record_size:
        return ReadError(source, f"decoded payload is larger than input.max_record_size "
                         f"({max_record_size} bytes)", preview(payload), record_id)
    return RawRecord(record_id, source, html=html, metadata=metadata, size=len(payload))


def _http_decode(payload: bytes, record: WarcRecord, limit: int) -> bytes:
    """Undo chunked transfer and gzip/deflate/brotli content encoding, as a browser would.

    Common Crawl stores payloads decoded (and renames the headers), but wget and other crawlers
    store the bytes as sent. Header values are read case-insensitively; stacked encodings
    (`Content-Encoding: deflate, gzip`) are undone last first; `deflate` is zlib-wrapped or raw,
    as servers send both. A header that does not match the payload (already decoded, or
    lying) leaves it as it is. At most `limit + 1` decoded bytes are produced: a compression
    bomb stops there.
    """
    headers = record.http_headers
    transfer = (headers.get("Transfer-Encoding") or "").lower() if headers else ""
    encodings = (headers.get("Content-Encoding") or "").lower() if headers else ""
    if "chunked" in transfer and _looks_chunked(payload):
        payload = ChunkedReader(io.BytesIO(payload)).read(limit + 1)
    for encoding in reversed([name.strip() for name in encodings.split(",") if name.strip()]):
        if encoding in ("gzip", "x-gzip") and payload[:2] == b"\x1f\x8b":
            payload = GzipReader(io.BytesIO(payload)).read(limit + 1)
        elif encoding == "deflate":
            payload = _inflate(payload, limit)
        elif encoding == "br":  # brotli has no magic number: try, keep a page already decoded
            try:
                payload = BrotliReader(io.BytesIO(payload)).read(limit + 1)
            except OSError:
                if not payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                    raise
    return payload


def _inflate(payload: bytes, limit: int) -> bytes:
    """A `deflate` payload: zlib-wrapped (as the standard says) or raw (as many servers send);
    a payload that is neither is left as it is (the header lied)."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits=wbits)
        try:
            out = inflater.decompress(payload, limit + 1)
        except zlib.error:
            continue
        if out or inflater.eof:
            return out
    return payload


def _looks_chunked(payload: bytes) -> bool:
    """A chunk-size line (hex digits, optional extensions) starts the payload."""
    size, _, _ = payload[:64].partition(b"\r\n")
    return bool(size) and all(c in b"0123456789abcdefABCDEF" for c in size.split(b";")[0].strip())


def _metadata(record: WarcRecord, content_type: str) -> dict[str, object]:
    url = record.headers.get("WARC-Target-URI")
    metadata: dict[str, object] = {
        "url": url.strip("<>") if url else None,
        "date": record.headers.get("WARC-Date"),
        "content_type": content_type,
    }
    if record.http_headers is not None:
        metadata["http_status"] = record.http_headers.status_code
        if record.http_charset:
            metadata["charset"] = record.http_charset
    language = record.headers.get("WARC-Identified-Content-Language")
    if language:
        metadata["language"] = language
    return metadata


_TYPE_NAMES = {int(getattr(WarcRecordType, name)): name for name in (
    "warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
    "continuation", "unknown")}


def _type_name(record_type: WarcRecordType) -> str:
    return _TYPE_NAMES.get(int(record_type), "unknown")


def _mime(value: str | None) -> str:
    return value.split(";", 1)[0].strip().lower() if value else ""


# -- record boundaries --------------------------------------------------------------------------


def _next_boundary(stream: BinaryIO, start: int, end: int | None, gzipped: bool,
                   strict: bool = True) -> int | None:
    """The offset of the first record that starts at or after `start` (and before `end`).

    Not `strict`: a plain record's header is enough, its own length is not checked (after a
    record whose length was wrong, the next one may be wrong too, and is reported itself)."""
    marker = _GZIP_MAGIC if gzipped else b"WARC/1."
    is_record = _is_gzip_record if gzipped else _is_plain_record if strict else _is_plain_header
    position = start
    while end is None or position < end:
        stream.seek(position)
        chunk = stream.read(_SCAN_CHUNK + len(marker))
        if len(chunk) < len(marker):
            return None
        found = chunk.find(marker)
        while found != -1 and found < _SCAN_CHUNK:
            candidate = position + found
            if end is not None and candidate >= end:
                return None
            if is_record(stream, candidate):
                return candidate
            found = chunk.find(marker, found + 1)
        position += _SCAN_CHUNK


def _is_gzip_record(stream: BinaryIO, offset: int) -> bool:
    """A gzip member starts here and its first bytes are a WARC header."""
    return _inflate_head(stream, offset, 7) == b"WARC/1."


def _is_plain_record(stream: BinaryIO, offset: int) -> bool:
    """A WARC header starts here, on a line of its own, and its block ends where another starts."""
    if offset > 0:
        stream.seek(offset - 1)
        if stream.read(1) != b"\n":
            return False
    length = _plain_record_length(stream, offset)
    if length is None:
        return False
    stream.seek(offset + length)
    following = stream.read(7)
    return following in (b"", b"WARC/1.")


def _is_plain_header(stream: BinaryIO, offset: int) -> bool:
    """A WARC header with a Content-Length starts here, on a line of its own."""
    if offset > 0:
        stream.seek(offset - 1)
        if stream.read(1) != b"\n":
            return False
    return _plain_record_length(stream, offset) is not None


def _plain_record_length(stream: BinaryIO, offset: int,
                         content_length: int | None = None) -> int | None:
    """Header, block and the blank line after it, or None if no WARC header starts here.

    Lines end in CRLF as the standard says, or LF alone as some writers do. `content_length`,
    when the caller has it parsed already, saves reading it from the header."""
    head = _read_at(stream, offset, _HEAD_GUESS)
    if len(head) == _HEAD_GUESS and b"\n\n" not in head and b"\n\r\n" not in head:
        head += _read_at(stream, offset + _HEAD_GUESS, _MAX_HEADER - _HEAD_GUESS)
    return _record_length(head, content_length)


def _record_length(head: bytes, content_length: int | None = None) -> int | None:
    """`_plain_record_length` of a record whose first bytes are `head`."""
    if not head.startswith(b"WARC/1."):
        return None
    # The first blank line ends the header (the block's own HTTP headers may follow it).
    crlf, lf = head.find(b"\r\n\r\n"), head.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        header_end, body_start, newline = crlf, crlf + 4, 2
    elif lf != -1 and b"\n\r\n" not in head[:lf]:
        header_end, body_start, newline = lf, lf + 2, 1
    else:
        blank = _BLANK_LINE.search(head)
        if blank is None:
            return None
        header_end, body_start = blank.start(), blank.end()
        newline = 2 if head[header_end:header_end + 2] == b"\r\n" else 1
    if content_length is not None:
        return body_start + content_length + 2 * newline
    for line in head[:header_end].split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return body_start + int(value) + 2 * newline
    return None


def _wrong_length(stream: BinaryIO, offset: int, content_length: int | None) -> int | None:
    """Whether the plain record at `offset` ends where its Content-Length says: None when it
    does (or the file ends there), else the offset of the record that really comes next (-1
    when none does, `_PAST_THE_END` when the file ends inside the record). The stream's
    position is left as it was."""
    length = _plain_record_length(stream, offset, content_length)
    if length is None:
        return None  # not a header this reader can judge: FastWARC's reading stands
    if offset + length > _size(stream) + 2:  # the trailing blank line may be cut
        return _PAST_THE_END
    if _read_at(stream, offset + length, 7) in (b"", b"WARC/1."):
        return None
    here = stream.tell()
    found = _next_boundary(stream, offset + 1, None, gzipped=False, strict=False)
    stream.seek(here)
    return -1 if found is None else found


def _one_record_per_member(stream: BinaryIO) -> bool:
    """Whether the first gzip member holds one record (and so, as WARC writers do, all): it
    ends about where the record's Content-Length says (a wrong length is the reader's to
    report), and the file ends there or another member starting with a WARC header follows."""
    length = _plain_record_length(io.BytesIO(_inflate_head(stream, 0, _MAX_HEADER)), 0)
    if length is None:
        return False
    member_end, _, complete = _inflate_member(stream, 0, length + _MAX_HEADER)
    if not complete:
        return False
    stream.seek(member_end)
    return stream.read(1) == b"" or _is_gzip_record(stream, member_end)


def _record_end(stream: BinaryIO, offset: int, gzipped: bool) -> tuple[int, bool]:
    """Where the record at `offset` ends (its gzip member, or its block), and whether it is whole.

    A record is not whole when the file ends before it does (a truncated download).
    """
    if gzipped:
        member_end, _, complete = _inflate_member(stream, offset)
        return max(member_end, offset + 1), complete
    length = _plain_record_length(stream, offset)
    if length is None:
        return offset + 1, False
    stream.seek(0, io.SEEK_END)
    return offset + length, offset + length <= stream.tell()


def _inflate_head(stream: BinaryIO, offset: int, size: int) -> bytes:
    """The first `size` decompressed bytes of the gzip member at `offset` (b"" if there is none)."""
    inflater = zlib.decompressobj(wbits=31)
    head = b""
    try:
        while len(head) < size and not inflater.eof:
            data = inflater.unconsumed_tail
            if not data:
                data = _read_at(stream, offset, max(size // 2, 1024))
                offset += len(data)
            if not data:
                break
            head += inflater.decompress(data, size - len(head))
    except zlib.error:
        return b""
    return head


def _read_at(stream: BinaryIO, offset: int, size: int) -> bytes:
    """`size` bytes at `offset`, without moving the stream: the checks made while FastWARC
    reads the same stream must not make it drop its buffer (pread on a local file)."""
    try:
        return os.pread(stream.fileno(), size, offset)
    except (AttributeError, OSError, ValueError):  # not a local file (io.UnsupportedOperation)
        here = stream.tell()
        stream.seek(offset)
        data = stream.read(size)
        stream.seek(here)
        return data


def _size(stream: BinaryIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        here = stream.tell()
        size = stream.seek(0, io.SEEK_END)
        stream.seek(here)
        return size


def _inflate_member(stream: BinaryIO, offset: int,
                    limit: int | None = None) -> tuple[int, int, bool]:
    """Decompress the member at `offset` in bounded memory: (compressed end, size, complete).

    Stops early once more than `limit` bytes came out; a corrupt member ends where it breaks.
    """
    stream.seek(offset)
    inflater = zlib.decompressobj(wbits=31)
    consumed = size = 0
    try:
        while not inflater.eof and (limit is None or size < limit):
            data = stream.read(64 * 1024)
            if not data:
                break
            size += len(inflater.decompress(data, 64 * 1024))
            while inflater.unconsumed_tail and not inflater.eof:
                size += len(inflater.decompress(inflater.unconsumed_tail, 64 * 1024))
            consumed += len(data) - len(inflater.unused_data)
    except zlib.error:
        return offset + consumed, size, False
    return offset + consumed, size, inflater.eof


def _peek(stream: BinaryIO, offset: int) -> str:
    stream.seek(offset)
    return preview(stream.read(1024))
