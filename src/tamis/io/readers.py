"""Readers: turn one shard into a stream of raw records, read errors and skipped records.

Readers never raise for bad input. A malformed line, a missing field, a truncated archive or an
oversized record becomes a `ReadError` with the file and the line or offset, and reading goes on
where it can. Memory stays bounded: no record larger than `input.max_record_size` is loaded.
"""

from __future__ import annotations

import codecs
import io
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import fsspec
import orjson
import pyarrow.parquet as pq
import zstandard
from fsspec.spec import AbstractBufferedFile

from tamis.config import InputOptions
from tamis.io.inputs import COMPRESSION_MAGIC, InputFile, Shard
from tamis.io.records import RawRecord, ReadError, Skipped, preview
from tamis.step import Reader, readers, register

Item = RawRecord | ReadError | Skipped
CHUNK = 1024 * 1024

# -- decoding -----------------------------------------------------------------------------------

_replaced_bytes = 0


def _count_replacements(error: UnicodeDecodeError) -> tuple[str, int]:
    global _replaced_bytes
    _replaced_bytes += error.end - error.start
    return "\ufffd", error.end


codecs.register_error("tamis.count", _count_replacements)


def decode(data: bytes) -> tuple[str, int]:
    """Decode UTF-8, replacing invalid bytes with U+FFFD; also return how many bytes were bad."""
    global _replaced_bytes
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        _replaced_bytes = 0
        text = data.decode("utf-8", errors="tamis.count")
        return text, _replaced_bytes


# -- opening ------------------------------------------------------------------------------------


@contextmanager
def open_input(file: InputFile) -> Iterator[IO[bytes]]:
    """An input file's bytes, decompressed (gzip, zstd) as discovery found it compressed: what
    a reader reads (see `tamis.Reader`)."""
    with ExitStack() as stack:
        yield open_stream(file, stack)[0]


@contextmanager
def open_compressed(path: str | Path) -> Iterator[IO[bytes]]:
    """Any file's bytes (a local path or an fsspec URL), decompressed when its leading bytes
    say gzip or zstd: the one opener of compressed files for whoever reads one whole."""
    with fsspec.open(str(path), "rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        kind = next((kind for magic, kind in COMPRESSION_MAGIC if head.startswith(magic)), None)
        yield raw if kind is None else io.BufferedReader(Decompressed(raw, kind), CHUNK)


def open_stream(file: InputFile, stack: ExitStack) -> tuple[IO[bytes], IO[bytes]]:
    """Open a file, decompressing if needed. Returns (decompressed stream, raw stream)."""
    raw = stack.enter_context(fsspec.open(file.url, "rb"))
    if isinstance(raw, AbstractBufferedFile):  # remote files: give them readline(size)
        raw = io.BufferedReader(raw, CHUNK)  # type: ignore[arg-type]
    if file.compression in ("gzip", "zstd"):
        return io.BufferedReader(Decompressed(raw, file.compression), CHUNK), raw
    return raw, raw


class Decompressed(io.RawIOBase):
    """A gzip or zstd stream, decompressed in bounded steps.

    Unlike `gzip.GzipFile` it hands out every byte it could decode before a truncation, and
    unlike zstandard's stream reader it notices a stream cut short: reading past the last
    complete data raises `EOFError`. Concatenated members/frames are read one after another.
    """

    FEED = 64 * 1024
    OUT = 1024 * 1024

    def __init__(self, raw: IO[bytes], kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self.decoder = self._new_decoder()
        self.carry = b""  # compressed bytes not yet given to the decoder
        self.pending = memoryview(b"")
        self.started = False

    def _new_decoder(self) -> Any:
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self.pending):
            if not self._fill():
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count

    def _fill(self) -> bool:
        decoder = self.decoder
        if self.kind == "gzip" and decoder.unconsumed_tail:
            data = decoder.unconsumed_tail
        else:
            data = self.carry or self.raw.read(self.FEED)
            self.carry = b""
        if not data:
            if self.started and not decoder.eof:
                raise EOFError(f"the {self.kind} stream ends before its end marker")
            return False
        self.started = True
        if self.kind == "gzip":
            out = decoder.decompress(data, self.OUT)
        else:
            out = decoder.decompress(data)
        if decoder.eof:
            self.carry = decoder.unused_data
            self.decoder = self._new_decoder()
            self.started = bool(self.carry)
        self.pending = memoryview(out)
        return True


# -- dispatch -----------------------------------------------------------------------------------


def read_shard(shard: Shard, options: InputOptions) -> Iterator[Item]:
    """Every record of a shard, in input order, each file by the reader of its format."""
    known = readers()
    for file in shard.files:
        reader = known.get(file.format)
        if reader is None:  # discover() only lets known formats through
            raise ValueError(f"no reader for format {file.format!r}")
        yield from reader().read(file, options, start=shard.start, end=shard.end,
                                 lines_before=shard.lines_before)


@register
class JsonlReader(Reader):
    """JSON Lines: one object per line; uncompressed files are cut into byte ranges."""

    name = "jsonl"
    extensions = (".jsonl", ".ndjson", ".json")
    counts_lines = True

    def splittable(self, compression: str | None) -> bool:
        return compression is None

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0) -> Iterator[Item]:
        return read_jsonl(file, options, start, end, lines_before)


@register
class ParquetReader(Reader):
    """Parquet: one record per row, one shard per file."""

    name = "parquet"
    extensions = (".parquet", ".pq")
    magic = (b"PAR1",)

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0) -> Iterator[Item]:
        return read_parquet(file, options)


@register
class TxtReader(Reader):
    """A plain text file is one document; its id is its path relative to the input given."""

    name = "txt"
    extensions = (".txt", ".text")
    one_record_per_file = True

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0) -> Iterator[Item]:
        yield _read_whole(file, options, as_html=False)


@register
class HtmlReader(Reader):
    """An HTML file is one document, extracted by the pipeline's extract step."""

    name = "html"
    extensions = (".html", ".htm", ".xhtml")
    one_record_per_file = True

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0) -> Iterator[Item]:
        yield _read_whole(file, options, as_html=True)


@register
class WarcReader(Reader):
    """WARC/WET/ARC archives (FastWARC); cut into byte ranges when uncompressed or gzipped
    (a gzip WARC is a series of members, one per record: a reader can find the next one)."""

    name = "warc"
    extensions = (".warc", ".wet", ".wat", ".arc")  # WAT: metadata records, skipped
    magic = (b"WARC/",)

    def splittable(self, compression: str | None) -> bool:
        return compression in (None, "gzip")

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0) -> Iterator[Item]:
        return _read_warc(file, start, end, int(options.max_record_size))


def _read_warc(file: InputFile, start: int, end: int | None, limit: int) -> Iterator[Item]:
    from tamis.io.warc import read_warc

    try:
        raw = fsspec.open(file.url, "rb").open()
    except OSError as error:
        yield ReadError({"file": file.name}, f"cannot open {file.name}: {error}")
        return
    with raw:
        yield from read_warc(raw, file=file.name, start=start, end=end, max_record_size=limit)


# -- whole files (.txt, .html) ------------------------------------------------------------------


def _read_whole(file: InputFile, options: InputOptions, as_html: bool) -> Item:
    source = {"file": file.name}
    limit = int(options.max_record_size)
    try:
        with ExitStack() as stack:
            stream, _ = open_stream(file, stack)
            data = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as error:
        return ReadError(source, f"cannot read {file.name}: {error}", id=file.name)
    if len(data) > limit:
        return ReadError(source, f"file is larger than input.max_record_size ({limit} bytes); "
                         f"raise the limit to read it", preview(data), file.name)
    if as_html:
        from tamis.io.html import read_html_file

        return read_html_file(data, id=file.name, file=file.name)
    if _looks_binary(data):
        return ReadError(source, "file looks binary (NUL or control bytes), not text",
                         preview(data), file.name)
    text, replaced = decode(data)
    signals = {"invalid_utf8_bytes": float(replaced)} if replaced else {}
    return RawRecord(file.name, source, text=text, signals=signals, size=len(data))


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13))
    return controls > len(head) * 0.1


# -- JSONL ------------------------------------------------------------------------------------


def read_jsonl(file: InputFile, options: InputOptions, start: int = 0, end: int | None = None,
               lines_before: int = 0) -> Iterator[Item]:
    """Records of a JSONL file (or of the byte range `[start, end)` of an uncompressed one)."""
    limit = int(options.max_record_size)
    with ExitStack() as stack:
        try:
            stream, _ = open_stream(file, stack)
            line_number = lines_before + 1
            if start > 0:
                stream.seek(start - 1)
                if stream.read(1) != b"\n":
                    _skip_rest_of_line(stream)  # that line belongs to the previous shard
                    line_number += 1
        except OSError as error:
            yield ReadError({"file": file.name}, f"cannot open {file.name}: {error}")
            return
        while True:
            offset = stream.tell() if file.compression is None else None
            if end is not None and offset is not None and offset >= end:
                return
            source: dict[str, Any] = {"file": file.name, "line": line_number}
            try:
                line = stream.readline(limit + 1)
                if len(line) > limit and not line.endswith(b"\n"):
                    _skip_rest_of_line(stream)
                    yield ReadError(source, f"record is larger than input.max_record_size "
                                    f"({limit} bytes); raise the limit to read it", preview(line))
                    line_number += 1
                    continue
            except (EOFError, OSError, zlib.error, zstandard.ZstdError) as error:
                yield ReadError(source, f"{file.name} is truncated or corrupt after line "
                                f"{line_number - 1}: {error}")
                return
            if not line:
                return
            body = line.rstrip(b"\r\n")
            if b"\r" in body:
                # CR-only line endings (old Mac editors): a raw CR is never inside a JSON
                # value, so it ends a record as a newline does.
                for piece in body.split(b"\r"):
                    if piece.strip():
                        source = {"file": file.name, "line": line_number}
                        yield _parse_json_line(piece, source, file.name, line_number, options)
                    line_number += 1
                continue
            if line.strip():
                yield _parse_json_line(line, source, file.name, line_number, options)
            line_number += 1


def _skip_rest_of_line(stream: IO[bytes]) -> None:
    while True:
        chunk = stream.readline(CHUNK)
        if not chunk or chunk.endswith(b"\n"):
            return


def _parse_json_line(line: bytes, source: dict[str, Any], name: str, line_number: int,
                     options: InputOptions) -> Item:
    replaced = 0
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        text, replaced = decode(line)
        if not replaced:
            return ReadError(source, f"malformed JSON: {error}", preview(line))
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as second:
            return ReadError(source, f"malformed JSON: {second}", preview(line))
    if not isinstance(value, dict):
        return ReadError(source, f"expected a JSON object, got {type(value).__name__}",
                         preview(line))
    record = _record_from_fields(value, source, f"{name}:{line_number}", options)
    if isinstance(record, ReadError):
        record.raw = preview(line)
        return record
    record.size = len(line)
    if replaced:
        record.signals["invalid_utf8_bytes"] = float(replaced)
    return record


def _record_from_fields(fields: dict[str, Any], source: dict[str, Any], fallback_id: str,
                        options: InputOptions) -> RawRecord | ReadError:
    """Pick id, text (or HTML) and metadata out of one JSONL object or Parquet row."""
    raw_id = fields.get(options.id_field)
    doc_id = fallback_id if raw_id is None else str(raw_id)
    html_field = options.html_field
    if html_field and isinstance(fields.get(html_field), str | bytes):
        html = fields[html_field]
        metadata = {key: val for key, val in fields.items()
                    if key not in (options.id_field, html_field, options.text_field)}
        return RawRecord(doc_id, source, html=html.encode() if isinstance(html, str) else html,
                         metadata=metadata)
    if options.text_field not in fields:
        wanted = f"{options.text_field!r}" + (f" or {html_field!r}" if html_field else "")
        return ReadError(source, f"record has no {wanted} field (fields: "
                         f"{', '.join(sorted(fields)[:10])}); set input.text_field", id=doc_id)
    text = fields[options.text_field]
    if not isinstance(text, str):
        return ReadError(source, f"field {options.text_field!r} is {type(text).__name__}, "
                         f"not a string", id=doc_id)
    metadata = {key: val for key, val in fields.items()
                if key not in (options.id_field, options.text_field)}
    return RawRecord(doc_id, source, text=text, metadata=metadata)


# -- Parquet ----------------------------------------------------------------------------------


def read_parquet(file: InputFile, options: InputOptions) -> Iterator[Item]:
    """Rows of a Parquet file; a file without the text column is one error record."""
    source: dict[str, Any] = {"file": file.name}
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(fsspec.open(file.url, "rb"))
            parquet = pq.ParquetFile(handle)
        except Exception as error:  # pyarrow raises several types for a broken file
            yield ReadError(source, f"cannot read Parquet file {file.name}: {error}")
            return
        columns = parquet.schema_arrow.names
        wanted = [name for name in (options.text_field, options.html_field) if name]
        if not any(name in columns for name in wanted):
            yield ReadError(source, f"Parquet file has no {' or '.join(map(repr, wanted))} "
                            f"column (columns: {', '.join(columns[:10])}); set input.text_field")
            return
        row_number = 0
        try:
            for batch in parquet.iter_batches(batch_size=256):
                for row in batch.to_pylist():
                    row_number += 1
                    row_source = {"file": file.name, "line": row_number}
                    yield _record_from_fields(row, row_source, f"{file.name}:{row_number}",
                                              options)
        except Exception as error:  # a corrupt page or column chunk
            yield ReadError({"file": file.name, "line": row_number + 1},
                            f"Parquet file {file.name} is corrupt after row {row_number}: {error}")
