"""Atomic shard writers: JSON lines (zstd, gzip or plain) or Parquet.

A writer writes to a temporary file beside its target and renames it into place only when it is
complete, so a killed run never leaves a half-written part file that looks finished. A writer
that receives no record writes no file: readers never meet empty files. The records arrive
already shaped by the run's declared schema (`tamis.io.schema`): a JSON line is written as it
is, a Parquet part holds that schema whatever its rows contain.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

FLUSH_BYTES = 1024 * 1024
PARQUET_ROWS = 4096

# What `output.compression` may name, and the extension each gives a JSON lines part.
JSONL_EXTENSIONS = {"zstd": ".jsonl.zst", "gzip": ".jsonl.gz", "none": ".jsonl"}


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique per process so writers never collide."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write a whole Parquet table under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    pq.write_table(table, temp)
    os.replace(temp, path)


def json_default(value: Any) -> Any:
    """Make input values orjson cannot write (bytes, decimals, odd types) into JSON."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return str(value)


def dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=json_default, option=orjson.OPT_NON_STR_KEYS)


class JsonlWriter:
    """Records as JSON lines, compressed with zstd (the default), gzip or not at all.

    gzip and plain JSON lines are for readers without a zstd decoder; zstd is smaller and
    faster. `level` is the compressor's level (zstd 1-19, gzip 1-9, capped).
    """

    def __init__(self, path: Path, level: int = 3, compression: str = "zstd") -> None:
        if compression not in JSONL_EXTENSIONS:
            raise ValueError(f"unknown compression {compression!r}; expected one of "
                             f"{', '.join(JSONL_EXTENSIONS)}")
        self.path = path
        self.level = level
        self.compression = compression
        self.extension = JSONL_EXTENSIONS[compression]
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
            if self.compression == "zstd":
                self._stream = zstandard.ZstdCompressor(level=self.level).stream_writer(
                    self._raw, closefd=False)
            elif self.compression == "gzip":
                # No name, mtime 0: the same records give the same bytes (invariant 3).
                self._stream = gzip.GzipFile(filename="", fileobj=self._raw, mode="wb", mtime=0,
                                             compresslevel=min(self.level, 9))
            else:
                self._stream = self._raw
        self._stream.write(b"".join(self._buffer))
        self._buffer, self._buffered = [], 0

    def close(self) -> None:
        if self.count == 0:
            return
        self._flush()
        if self._stream is not self._raw:
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
    """Records as Parquet rows of the run's declared schema."""

    extension = ".parquet"

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.count = 0
        self._temp = temp_path(path)
        self._rows: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None

    def write(self, record: dict[str, Any]) -> None:
        self._rows.append(record)
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
        os.replace(self._temp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._temp.unlink(missing_ok=True)


def open_writer(directory: Path, kind: str, shard: int, fmt: str, schema: pa.Schema,
                level: int = 3, compression: str = "zstd") -> JsonlWriter | ParquetWriter:
    """The writer for one kind of record (`kept`, `removed`, `errors`) of one shard."""
    name = f"part-{shard:05d}"
    if fmt == "parquet":
        return ParquetWriter(directory / kind / f"{name}.parquet", schema)
    return JsonlWriter(directory / kind / f"{name}{JSONL_EXTENSIONS[compression]}", level,
                       compression)
