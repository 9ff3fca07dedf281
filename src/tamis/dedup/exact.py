"""Exact deduplication: the first document with a given normalised text (or URL) is kept.

The key is xxhash-128 of the text after case and whitespace folding, so copies that differ only
in spacing or capitals are still copies. Input order (shard, then position) decides which copy
survives, so the result does not depend on how many workers ran.

Memory is bounded by the run's budget (`limits.memory_mb`): when the corpus's hashes would not
be sorted within it (about `BYTES_PER_HASH` bytes a document), they are spilled into partition
files by their top bits and each partition, which holds every copy of its texts, is sorted
alone. Ids are joined by node ranges of the same budget (`outofcore.Removals`). Nothing here is
held per document of the corpus, and the output is the same at any budget.

With `key: url` the key is the document's URL instead (`normalized_url`: the same page fetched
twice, over http and https, with or without `www.`, a fragment or its query parameters in
another order, is one key); documents without a URL are left alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from tamis.dedup.outofcore import (
    KeyFiles,
    Partitions,
    Removals,
    partition_count,
    run_heads,
    scratch,
)
from tamis.document import Document
from tamis.io.schema import split_url
from tamis.step import GlobalStep, StepOptions, register
from tamis.text import split

# Peak bytes per document while the hashes are sorted in memory: the (high, low, node) records,
# the sort order and the sorted copy, the group arrays.
BYTES_PER_HASH = 96


class ExactOptions(StepOptions):
    lowercase: bool = True
    # What makes two documents copies: their normalised text, or their normalised URL.
    key: Literal["text", "url"] = "text"


def normalized_url(url: str) -> str:
    """A URL as a dedup key: scheme dropped (http = https), host lower-cased without `www.` and
    without a default port, the fragment dropped, query parameters sorted, an empty path `/`."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # a malformed URL: compared as written
        return url.strip()
    host = host.removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{parts.path or '/'}" + (f"?{query}" if query else "")


@register
class ExactDedup(GlobalStep):
    """Remove documents whose normalised text equals an earlier document's."""

    name = "dedup_exact"
    Options = ExactOptions
    options: ExactOptions

    def collect(self, doc: Document) -> dict[str, Any] | None:
        if self.options.key == "url":
            url = split_url(doc.metadata)[0]
            if not url:
                return None
            return {"hash": xxhash.xxh3_128_digest(normalized_url(url).encode("utf-8"))}
        folded = " ".join(split(doc).chunks)  # the shared split's whitespace chunks
        if self.options.lowercase:
            folded = folded.lower()
        return {"hash": xxhash.xxh3_128_digest(folded.encode("utf-8"))}

    def resolve(self, key_files: list[Path], work_dir: Path) -> Iterator[pa.Table]:
        corpus = KeyFiles(key_files)
        if not corpus.size:
            return
        folder = scratch(work_dir, self.name)
        partitions = partition_count(corpus.size, BYTES_PER_HASH, self.memory_budget)
        shift = np.uint64(64 - (partitions.bit_length() - 1))
        spill = Partitions(folder / "hashes", _RECORD, partitions)
        for path, start in corpus:
            records = _hash_records(path, start)
            top = (records["high"] >> shift if partitions > 1
                   else np.zeros(len(records), np.uint64))
            spill.add(top.astype(np.int64), records)
        removals = Removals(corpus, folder / "removed", self.memory_budget,
                            [("high", "u8"), ("low", "u8")])
        for number in range(partitions):
            records = spill.take(number)
            if not len(records):
                continue
            records = records[np.lexsort((records["node"], records["low"], records["high"]))]
            new_text = np.r_[True, (records["high"][1:] != records["high"][:-1])
                             | (records["low"][1:] != records["low"][:-1])]
            first = records["node"][run_heads(new_text)]
            copies = records[~new_text]
            removals.add(copies["node"], first[~new_text], high=copies["high"],
                         low=copies["low"])

        rule, same = (("url_duplicate", "same URL as ") if self.options.key == "url"
                      else ("exact_duplicate", "same text as "))

        def columns(table: pa.Table) -> dict[str, pa.Array]:
            keeper = table.column("duplicate_of")
            clusters = [f"{high:016x}{low:016x}" for high, low in zip(
                table.column("high").to_pylist(), table.column("low").to_pylist(), strict=True)]
            return {"rule": pa.array([rule] * table.num_rows, pa.string()),
                    "detail": pc.binary_join_element_wise(same, keeper, ""),
                    "cluster": pa.array(clusters, pa.string())}

        yield from removals.decisions(columns)
        shutil.rmtree(folder, ignore_errors=True)


_RECORD = np.dtype([("high", np.uint64), ("low", np.uint64), ("node", np.int64)])


def _hash_records(path: Path, start: int) -> np.ndarray:
    """One shard's 128-bit hashes as two big-endian halves (so (high, low) sorts as the bytes
    do), numbered from `start`."""
    column = pq.read_table(path, columns=["hash"]).column("hash").combine_chunks()
    fixed = column.cast(pa.binary(16))
    halves = np.frombuffer(fixed.buffers()[1], dtype=">u8", count=2 * len(fixed),
                           offset=16 * fixed.offset).reshape(-1, 2)
    records = np.empty(len(fixed), _RECORD)
    records["high"], records["low"] = halves[:, 0], halves[:, 1]
    records["node"] = np.arange(start, start + len(fixed))
    return records
