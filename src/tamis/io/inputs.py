"""Find the input files and cut them into shards.

Shards are the unit of work. Their boundaries depend only on the inputs and the config, never on
the number of workers, so the same run gives the same output however it is parallelised:
- a large uncompressed JSONL or WARC file is cut into byte ranges (one 50 GB file still uses
  every core); the reader of a range starts at the first record that begins inside it;
- a compressed JSONL file or a Parquet file is one shard (gzip WARC files are range-split too:
  each record is its own gzip member);
- many small files (a folder of `.txt` or `.html` pages) are grouped into shards of a target size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from tamis.config import InputOptions
from tamis.step import Reader, readers

# What a file's format is comes from the registered readers (`tamis.step.Reader`): their name
# endings and leading bytes. Compression is told apart here, for every format alike.
COMPRESSION_BY_EXTENSION = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
COMPRESSION_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))
GLOB_CHARS = "*?["
MAX_FILES_PER_SHARD = 10_000


class InputError(ValueError):
    """The inputs cannot be used: nothing matched, or a file is of an unknown kind."""


@dataclass(frozen=True)
class InputFile:
    """One input file. `name` (used by ids and `source.file`) is relative to the folder given,
    or to the folder holding the file or glob given."""

    url: str
    name: str
    format: str
    compression: str | None
    size: int


@dataclass(frozen=True)
class Shard:
    """A piece of work: several whole files, or one byte range `[start, end)` of one file."""

    index: int
    files: tuple[InputFile, ...]
    start: int = 0
    end: int | None = None
    lines_before: int = 0  # newlines before `start`, so JSONL line numbers stay exact

    @property
    def size(self) -> int:
        if self.end is not None:
            return self.end - self.start
        return sum(file.size for file in self.files)

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "files": [asdict(file) for file in self.files],
                "start": self.start, "end": self.end, "lines_before": self.lines_before}


def discover(inputs: list[str], options: InputOptions,
             exclude: str | None = None) -> tuple[list[InputFile], list[str]]:
    """Expand paths, folders and globs into input files, in a stable order.

    Returns the files and the paths that were passed over (unknown kinds inside folders).
    Nothing under the folder `exclude` (the run's output) is an input, even inside a folder
    or glob given.
    """
    files: list[InputFile] = []
    ignored: list[str] = []
    for given in inputs:
        fs, path = url_to_fs(given)
        protocol = _protocol_prefix(given)
        inside_output = _inside(fs, exclude)
        if any(char in path for char in GLOB_CHARS):
            matches = sorted(fs.glob(path))
            if not matches:
                raise InputError(f"no input matches {given!r}")
            root = _fixed_prefix(path)
        elif fs.isdir(path):
            matches = sorted(found for found in fs.find(path) if not _hidden(found, path))
            root = path.rstrip("/")
            if not matches:
                raise InputError(f"the folder {given!r} holds no files; give files, folders or "
                                 f"globs of .jsonl(.gz/.zst), .parquet, .txt, .html or .warc(.gz)")
        elif fs.exists(path):
            matches, root = [path], path.rsplit("/", 1)[0] if "/" in path else ""
        else:
            raise InputError(f"input {given!r} does not exist")
        known_before = len(files)
        for match in matches:
            if inside_output(match) or fs.isdir(match):
                continue
            name = _printable(match[len(root) + 1:] if root else match)
            found = _identify(fs, protocol + match, match, name, options,
                              explicit=not fs.isdir(path))
            if found is None:
                ignored.append(name)
            else:
                files.append(found)
        if len(files) == known_before:
            raise InputError(f"{given!r} holds no readable inputs (passed over: "
                             f"{', '.join(ignored[:5])}); expected .jsonl(.gz/.zst), .parquet, "
                             f".txt, .html or .warc(.gz) files")
    return files, ignored


def _inside(fs: fsspec.AbstractFileSystem, folder: str | None) -> Callable[[str], bool]:
    """A test of whether a path of `fs` lies inside `folder` (symbolic links resolved, for
    local paths, once for the folder and once per parent folder met)."""
    if folder is None:
        return lambda path: False
    other, target = url_to_fs(folder)
    if type(other) is not type(fs):
        return lambda path: False
    local = isinstance(fs, LocalFileSystem)
    if local:
        target = os.path.realpath(target)
    target = target.rstrip("/")

    @lru_cache(maxsize=4096)
    def resolved(parent: str) -> str:
        return os.path.realpath(parent) if local else parent

    def test(path: str) -> bool:
        parent, _, _ = path.rpartition("/")
        where = resolved(parent)
        return where == target or where.startswith(target + "/")

    return test


def _printable(name: str) -> str:
    """A file name as it can be written in records: bytes of a local name that are not UTF-8
    (decoded by Python as lone surrogates) are shown as `\\xNN`."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name


def _protocol_prefix(given: str) -> str:
    return given.split("://", 1)[0] + "://" if "://" in given else ""


def _fixed_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: names are relative to it."""
    cut = min(pattern.index(char) for char in GLOB_CHARS if char in pattern)
    return pattern[:cut].rsplit("/", 1)[0] if "/" in pattern[:cut] else ""


def _hidden(found: str, root: str) -> bool:
    return any(part.startswith((".", "_")) for part in found[len(root):].split("/") if part)


def _identify(fs: fsspec.AbstractFileSystem, url: str, path: str, name: str,
              options: InputOptions, explicit: bool) -> InputFile | None:
    stem = path.lower()
    compression = None
    for extension, kind in COMPRESSION_BY_EXTENSION.items():
        if stem.endswith(extension):
            compression, stem = kind, stem[: -len(extension)]
    known = readers()
    format_ = next((name for name, reader in known.items()
                    for ext in reader.extensions if stem.endswith(ext)), None)
    try:
        magic = _sniff(fs, path, known)
        size = int(fs.size(path) or 0)
        readable = True
    except OSError:
        # Unreadable (a dangling symbolic link, no permission): known by its name, it becomes
        # an error record when read, and the run goes on.
        magic, size, readable = None, 0, False
    if magic in COMPRESSION_BY_EXTENSION.values():
        compression = magic
    elif readable:
        compression = None  # named .gz but not compressed: the bytes decide
    if options.format != "auto":
        format_ = options.format
    elif magic in known:
        format_ = magic
    if format_ is None:
        if not explicit:
            return None
        raise InputError(f"cannot tell what kind of file {name!r} is; name it .jsonl, .parquet, "
                         f".txt, .html or .warc(.gz), or set input.format in the config")
    return InputFile(url, name, format_, compression, size)


def _sniff(fs: fsspec.AbstractFileSystem, path: str, known: dict[str, type[Reader]]
           ) -> str | None:
    """The compression or reader the file's leading bytes name, if any."""
    signatures = [*COMPRESSION_MAGIC,
                  *((magic, name) for name, reader in known.items() for magic in reader.magic)]
    with fs.open(path, "rb") as handle:
        head = handle.read(max(len(magic) for magic, _ in signatures))
    return next((kind for magic, kind in signatures if head.startswith(magic)), None)


def plan_shards(files: list[InputFile], options: InputOptions) -> list[Shard]:
    """Cut files into shards of about `options.shard_size` bytes; see the module docstring."""
    shards: list[Shard] = []
    group: list[InputFile] = []
    group_size = 0
    target = int(options.shard_size)

    def close_group() -> None:
        nonlocal group, group_size
        if group:
            shards.append(Shard(len(shards), tuple(group)))
            group, group_size = [], 0

    known = readers()
    for file in files:
        reader = known[file.format]()
        if reader.one_record_per_file:
            if group and (group_size + file.size > target or len(group) >= MAX_FILES_PER_SHARD):
                close_group()
            group.append(file)
            group_size += file.size
            continue
        close_group()
        if reader.splittable(file.compression) and file.size > target:
            starts = list(range(0, file.size, target))
            newlines = (_newlines_before(file, starts) if reader.counts_lines
                        else [0] * len(starts))
            for start, lines_before in zip(starts, newlines, strict=True):
                shards.append(Shard(len(shards), (file,), start, min(start + target, file.size),
                                    lines_before))
        else:
            shards.append(Shard(len(shards), (file,)))
    close_group()
    return shards


def _newlines_before(file: InputFile, starts: list[int]) -> list[int]:
    """Newline counts before each start offset, in one sequential read of the file."""
    counts = []
    seen = 0
    position = 0
    with fsspec.open(file.url, "rb") as handle:
        for start in starts:
            while position < start:
                chunk = handle.read(min(8 * 1024**2, start - position))
                if not chunk:
                    break
                seen += chunk.count(b"\n")
                position += len(chunk)
            counts.append(seen)
    return counts
