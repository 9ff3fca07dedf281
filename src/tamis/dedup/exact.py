"""Exact deduplication: the first document with a given normalised text is kept.

The key is xxhash-128 of the text after case and whitespace folding, so copies that differ only
in spacing or capitals are still copies. Input order (shard, then position) decides which copy
survives, so the result does not depend on how many workers ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from tamis.document import Document
from tamis.pipeline import Decision, GlobalStep, StepOptions, register


class ExactOptions(StepOptions):
    lowercase: bool = True


@register
class ExactDedup(GlobalStep):
    """Remove documents whose normalised text equals an earlier document's."""

    name = "dedup_exact"
    Options = ExactOptions
    options: ExactOptions

    def collect(self, doc: Document) -> dict[str, Any] | None:
        folded = " ".join(doc.text.split())
        if self.options.lowercase:
            folded = folded.lower()
        return {"hash": xxhash.xxh3_128_digest(folded.encode("utf-8"))}

    def resolve(self, key_files: list[Path], work_dir: Path) -> dict[int, dict[int, Decision]]:
        tables = []
        for shard, path in enumerate(key_files):
            if path.exists():
                table = pq.read_table(path, columns=["index", "id", "hash"])
                tables.append(table.append_column("shard", pa.array([shard] * len(table),
                                                                    pa.int32())))
        decisions: dict[int, dict[int, Decision]] = {}
        if not tables:
            return decisions
        table = pa.concat_tables(tables)
        order = pc.sort_indices(table, sort_keys=[("hash", "ascending"), ("shard", "ascending"),
                                                  ("index", "ascending")])
        table = table.take(order)
        hashes = table.column("hash").to_pylist()
        ids = table.column("id").to_pylist()
        shards = table.column("shard").to_pylist()
        indices = table.column("index").to_pylist()
        first = 0
        for row in range(1, len(hashes) + 1):
            if row == len(hashes) or hashes[row] != hashes[first]:
                first = row
                continue
            cluster = hashes[first].hex()
            decisions.setdefault(shards[row], {})[indices[row]] = Decision(
                "exact_duplicate", f"same text as {ids[first]}", ids[first], cluster, ids[row])
        return decisions
