"""Repeated lines across the corpus (CCNet style): a line that many pages carry is boilerplate.

"Share this article", a cookie notice, a site's footer: each page has it once, the corpus has it
thousands of times. Per document (in the pass before the step), every line is normalised as
CCNet does (lowercase, accents stripped, digits folded to 0, punctuation dropped, whitespace
collapsed) and hashed. Across the corpus, each hash is counted once per document that has it;
a line whose hash is in more than `max_documents` documents is cut from *every* document, the
first included, since no copy of a boilerplate line is the real one. Blank lines are not
counted. A document left with no text is removed.

Memory in `resolve` is bounded by the run's budget (`limits.memory_mb`): each document's
distinct line hashes are spilled by their top bits into partitions (about `BYTES_PER_LINE`
bytes a line while one is counted), so only one shard's lines and the frequent hashes (the
boilerplate lines, 8 bytes each) are held at once; decisions are yielded shard by shard.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import regex
import xxhash
from pydantic import Field

from tamis.dedup.outofcore import scratch, value_counts
from tamis.document import Change, Document
from tamis.step import Decision, GlobalStep, StepOptions, register

_MARKS = regex.compile(r"\p{Mn}+")
_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_DIGITS = regex.compile(r"\d")
_HASH_MASK = (1 << 63) - 1  # Parquet and NumPy int64 hold it; 0 stands for a blank line
# Peak bytes per line while one partition of line hashes is counted (the hashes, the sort's
# copy, the unique values and their counts).
BYTES_PER_LINE = 32


class LinesOptions(StepOptions):
    max_documents: int = Field(
        default=1, ge=1, description="a line found in more documents than this is cut")
    min_chars: int = Field(
        default=1, ge=1, description="lines shorter than this, normalised, are never cut")


def line_hash(line: str, min_chars: int = 1) -> int:
    """The hash of a line normalised the CCNet way; 0 for lines too short to judge."""
    folded = _MARKS.sub("", unicodedata.normalize("NFD", line.lower()))
    folded = " ".join(_DIGITS.sub("0", _PUNCTUATION.sub("", folded)).split())
    if len(folded) < min_chars:
        return 0
    return (xxhash.xxh3_64_intdigest(folded.encode("utf-8")) & _HASH_MASK) or 1


@register
class LineDedup(GlobalStep):
    """Cut lines that more than `max_documents` documents of the corpus carry."""

    name = "dedup_lines"
    Options = LinesOptions
    options: LinesOptions
    removes_only = False  # it cuts lines: a global step after it must see the cut text

    def collect(self, doc: Document) -> dict[str, Any] | None:
        return {"lines": [line_hash(line, self.options.min_chars)
                          for line in doc.text.split("\n")]}

    def resolve(self, key_files: list[Path], work_dir: Path) -> Iterator[pa.Table]:
        files = [(shard, path) for shard, path in enumerate(key_files) if path.exists()]
        frequent = self._frequent(files, scratch(work_dir, self.name))
        if not len(frequent):
            return
        detail = f"line found in more than {self.options.max_documents} documents"
        for shard, path in files:  # one shard's decisions at a time, as Arrow tables
            table = pq.read_table(path, columns=["index", "lines"])
            lines = table.column("lines").combine_chunks()
            hashes = pc.list_flatten(lines).to_numpy()
            owners = pc.list_parent_indices(lines).to_numpy()
            cut = np.flatnonzero(np.isin(hashes, frequent))
            if not len(cut):
                continue
            rows, first = np.unique(owners[cut], return_index=True)
            offsets = lines.offsets.to_numpy()
            positions = cut - (offsets[owners[cut]] - offsets[0])  # line numbers in the doc
            cuts = pa.ListArray.from_arrays(pa.array(np.r_[first, len(cut)], pa.int32()),
                                            pa.array(positions, pa.int64()))
            yield pa.table({
                "shard": pa.array(np.full(len(rows), shard), pa.int64()),
                "index": pa.array(table.column("index").to_numpy()[rows], pa.int64()),
                "rule": pa.array(["repeated_line"] * len(rows), pa.string()),
                "detail": pa.array([detail] * len(rows), pa.string()),
                "duplicate_of": pa.nulls(len(rows), pa.string()),
                "cluster": pa.nulls(len(rows), pa.string()),
                "id": pa.nulls(len(rows), pa.string()),
                "lines": cuts,
            })

    def _frequent(self, files: list[tuple[int, Path]], folder: Path) -> np.ndarray:
        """The hashes found in more than `max_documents` documents, sorted.

        Each document's distinct line hashes are spilled by their top bits into partitions
        sized to the memory budget; each partition holds every copy of its hashes and is
        counted alone. Only the frequent hashes (the boilerplate) are kept in memory.
        """
        frequent = [hashes[counts > self.options.max_documents] for hashes, counts in
                    value_counts(_document_lines(files), _line_count(files), 63, BYTES_PER_LINE,
                                 self.memory_budget, folder)]
        return np.concatenate(frequent) if frequent else np.empty(0, np.int64)

    def apply(self, doc: Document, decision: Decision) -> None:
        lines = doc.text.split("\n")
        starts = np.cumsum([0, *(len(line) + 1 for line in lines)])
        changes = []
        for at in decision.lines:
            start, end = int(starts[at]), int(starts[at + 1])
            if at == len(lines) - 1:  # the last line: take the newline before it instead
                start, end = max(start - 1, 0), end - 1
            changes.append(Change(start, end, "dedup_lines.repeated", decision.detail))
        doc.edit(_merged(changes))
        if not doc.text.strip():
            doc.remove(self.name, "empty_after_lines", "every line is a repeated line")


def _document_lines(files: list[tuple[int, Path]]) -> Iterator[np.ndarray]:
    """Per shard, each document's distinct line hashes (blank lines left out)."""
    for _, path in files:
        column = pq.read_table(path, columns=["lines"]).column("lines").combine_chunks()
        hashes = pc.list_flatten(column).to_numpy()
        owners = pc.list_parent_indices(column).to_numpy().astype(np.int64)
        keep = hashes != 0
        yield np.unique(np.rec.fromarrays([owners[keep], hashes[keep]]))["f1"]


def _line_count(files: list[tuple[int, Path]]) -> int:
    """Lines in the key files, from the Parquet metadata of the `lines` list values."""
    total = 0
    for _, path in files:
        metadata = pq.read_metadata(path)
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            total += sum(row_group.column(number).num_values
                         for number in range(row_group.num_columns)
                         if row_group.column(number).path_in_schema.startswith("lines"))
    return total


def _merged(changes: list[Change]) -> list[Change]:
    """Adjacent cuts as one: the last line's cut takes the newline the line before it ends in."""
    merged: list[Change] = []
    for change in sorted(changes, key=lambda item: item.start):
        if merged and change.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Change(last.start, max(last.end, change.end), last.rule, last.detail)
        else:
            merged.append(change)
    return merged
