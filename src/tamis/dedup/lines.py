"""Repeated lines across the corpus (CCNet style): a line that many pages carry is boilerplate.

"Share this article", a cookie notice, a site's footer: each page has it once, the corpus has it
thousands of times. Per document (in the pass before the step), every line is normalised as
CCNet does (lowercase, accents stripped, digits folded to 0, punctuation dropped, whitespace
collapsed) and hashed. Across the corpus, each hash is counted once per document that has it;
a line whose hash is in more than `max_documents` documents is cut from *every* document, the
first included, since no copy of a boilerplate line is the real one. Blank lines are not
counted. A document left with no text is removed.

Memory in `resolve`: 16 bytes per line of the corpus (hash and document number), in NumPy.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import regex
import xxhash
from pydantic import Field

from tamis.document import Change, Document
from tamis.pipeline import Decision, GlobalStep, StepOptions, register

_MARKS = regex.compile(r"\p{Mn}+")
_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_DIGITS = regex.compile(r"\d")
_HASH_MASK = (1 << 63) - 1  # Parquet and NumPy int64 hold it; 0 stands for a blank line


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

    def resolve(self, key_files: list[Path], work_dir: Path) -> dict[int, dict[int, Decision]]:
        tables = [(shard, pq.read_table(path, columns=["index", "lines"]))
                  for shard, path in enumerate(key_files) if path.exists()]
        frequent = self._frequent([table.column("lines") for _, table in tables])
        decisions: dict[int, dict[int, Decision]] = {}
        if not len(frequent):
            return decisions
        detail = f"line found in more than {self.options.max_documents} documents"
        for shard, table in tables:
            lines = table.column("lines").combine_chunks()
            hashes = pc.list_flatten(lines).to_numpy()
            owners = pc.list_parent_indices(lines).to_numpy()
            starts = lines.offsets.to_numpy()
            cut = np.flatnonzero(np.isin(hashes, frequent))
            indices = table.column("index").to_numpy()
            for row in np.unique(owners[cut]):
                rows = cut[owners[cut] == row]
                decisions.setdefault(shard, {})[int(indices[row])] = Decision(
                    "repeated_line", detail, lines=tuple(int(at) for at in rows - starts[row]))
        return decisions

    def _frequent(self, columns: list[pa.ChunkedArray]) -> np.ndarray:
        """The hashes found in more than `max_documents` documents, sorted."""
        pairs = []
        for number, column in enumerate(columns):
            lines = column.combine_chunks()
            hashes = pc.list_flatten(lines).to_numpy()
            owners = pc.list_parent_indices(lines).to_numpy().astype(np.int64)
            owners += number << 40  # documents of different shards stay apart
            keep = hashes != 0
            pairs.append(np.unique(np.rec.fromarrays([hashes[keep], owners[keep]])))
        if not pairs:
            return np.empty(0, np.int64)
        documents_per_hash = np.unique(np.concatenate(pairs)["f0"], return_counts=True)
        hashes, counts = documents_per_hash
        return hashes[counts > self.options.max_documents]

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
