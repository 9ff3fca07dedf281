"""Atomic shard writers: JSONL.zst (default) or Parquet.

A writer writes to a temporary file beside its target and renames it into place only when it is
complete, so a killed run never leaves a half-written part file that looks finished. A writer
that receives no record writes no file: readers never meet empty files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

FLUSH_BYTES = 1024 * 1024
PARQUET_ROWS = 4096

_EDIT = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("rule", pa.string()),
                   ("detail", pa.string()), ("replacement", pa.string()),
                   ("original", pa.string()), ("withheld", pa.bool_())])
_SOURCE = pa.struct([("file", pa.string()), ("line", pa.int64()), ("offset", pa.int64())])
_DOCUMENT_FIELDS = [
    ("id", pa.string()), ("text", pa.string()), ("metadata", pa.string()), ("source", _SOURCE),
    ("signals", pa.map_(pa.string(), pa.float64())), ("edits", pa.list_(_EDIT)),
]
SCHEMAS = {
    "kept": pa.schema(_DOCUMENT_FIELDS),
    "removed": pa.schema([
        *_DOCUMENT_FIELDS,
        ("removed_by", pa.struct([("step", pa.string()), ("rule", pa.string()),
                                  ("detail", pa.string())])),
        ("duplicate_of", pa.string()), ("cluster", pa.string()),
    ]),
    "errors": pa.schema([("id", pa.string()), ("source", _SOURCE), ("error", pa.string()),
                         ("raw", pa.string())]),
}


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique per process so writers never collide."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def commit(temp: Path, path: Path) -> None:
    """Put a finished temporary file in place: on disk first (fsync), then renamed, so a
    reader (or a rerun after a crash) sees the whole file or none of it."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """The one way to write a whole file atomically: write to the temporary path this yields;
    when the block ends it is committed to `path`, and on an error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    try:
        yield temp
        commit(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write a whole Parquet table atomically (`atomic_path`)."""
    with atomic_path(path) as temp:
        pq.write_table(table, temp)


def json_default(value: Any) -> Any:
    """Make input values orjson cannot write (bytes, decimals, odd types) into JSON."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return str(value)


def dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=json_default, option=orjson.OPT_NON_STR_KEYS)


class JsonlZstWriter:
    """Records as zstd-compressed JSON lines."""

    extension = ".jsonl.zst"

    def __init__(self, path: Path, level: int = 3) -> None:
        self.path = path
        self.level = level
        self.count = 0
        self._temp = temp_path(path)
        self._raw: IO[bytes] | None = None
        self._stream: Any = None
        self._buffer: list[bytes] = []
        self._buffered = 0

    def write(self, record: dict[str, Any]) -> None:
        line = dumps(record) + b"\n"
        self._buffer.append(line)
        self._buffered += len(line)
        self.count += 1
        if self._buffered >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = open(self._temp, "wb")  # noqa: SIM115 (closed in close/abort)
            self._stream = zstandard.ZstdCompressor(level=self.level).stream_writer(
                self._raw, closefd=False)
        self._stream.write(b"".join(self._buffer))
        self._buffer, self._buffered = [], 0

    def close(self) -> None:
        if self.count == 0:
            return
        self._flush()
        self._stream.close()
        assert self._raw is not None
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._temp, self.path)

    def abort(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._temp.unlink(missing_ok=True)


class ParquetWriter:
    """Records as Parquet rows with a fixed schema per kind (metadata as a JSON string)."""

    extension = ".parquet"

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.schema = SCHEMAS[kind]
        self.count = 0
        self._temp = temp_path(path)
        self._rows: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None

    def write(self, record: dict[str, Any]) -> None:
        row = dict(record)
        if "metadata" in row:
            row["metadata"] = dumps(row["metadata"]).decode()
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= PARQUET_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._temp, self.schema, compression="zstd")
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
        self._rows = []

    def close(self) -> None:
        if self.count == 0:
            return
        if self._rows:
            self._flush()
        assert self._writer is not None
        self._writer.close()
        commit(self._temp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._temp.unlink(missing_ok=True)


def open_writer(directory: Path, kind: str, shard: int, fmt: str,
                level: int = 3) -> JsonlZstWriter | ParquetWriter:
    """The writer for one kind of record (`kept`, `removed`, `errors`) of one shard."""
    name = f"part-{shard:05d}"
    if fmt == "parquet":
        return ParquetWriter(directory / kind / f"{name}.parquet", kind)
    return JsonlZstWriter(directory / kind / f"{name}.jsonl.zst", level)
