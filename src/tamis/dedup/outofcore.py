"""Out-of-core building blocks of the deduplication steps' `resolve`.

A global step's resolve sees the whole corpus, so whatever it holds per document grows with the
corpus. These pieces keep that bounded by the run's memory budget (`limits.memory_mb`):

- `KeyFiles` numbers the documents of every shard's key file in input order (shard, then
  position) and reads any column for a range of those numbers, one shard file at a time;
- `Partitions` spills fixed-width NumPy records into P partition files, so that a sort or a
  group-by runs one partition at a time; with one partition it stays in memory (no files);
- `UnionFind` merges links with vectorised hooking, its root always the earliest document, and
  keeps its parent array (8 bytes a document, the one O(N) term) in a memory map once that array
  would take more than a quarter of the budget;
- `Removals` joins each removed document to the ids of the document it duplicates and to its
  own (shard, index), by node ranges sized to the budget, and yields the decisions as Arrow
  tables in (shard, index) order, so neither the ids nor the decisions of the corpus are ever
  held at once.

Everything written here is scratch inside the step's work folder: cleared when resolve starts and
removed when it ends, so a killed resolve simply runs again (its inputs, the key files, are the
checksummed intermediates). The result never depends on the budget: partitions only split the
work, and the union-find's answer (every document joined to the earliest of its cluster) does not
depend on the order links arrive in.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tamis.step import DECISIONS_SCHEMA

MAX_PARTITIONS = 4096  # beyond this a budget is too small to honour; it is then exceeded


def partition_count(records: int, bytes_per_record: int, budget: int) -> int:
    """How many partitions (a power of two, split by the top bits of a uniform hash) keep one
    partition's sort within `budget`."""
    needed = math.ceil(records * bytes_per_record / max(budget, 1))
    return min(1 << max(needed - 1, 0).bit_length(), MAX_PARTITIONS)


def value_counts(batches: Iterable[np.ndarray], total: int, bits: int, bytes_per_value: int,
                 budget: int, folder: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The distinct values of `batches` (uniform hashes of `bits` bits, `total` of them) and how
    often each occurs, one partition at a time in increasing order of value.

    The values are spilled by their top bits into partitions sized to `budget` (files in
    `folder`, emptied first and removed at the end), so only one partition is held at once.
    """
    partitions = partition_count(total, bytes_per_value, budget)
    shift = np.uint64(bits - (partitions.bit_length() - 1))
    spill = None
    for values in batches:
        if spill is None:
            spill = Partitions(scratch(folder.parent, folder.name), values.dtype, partitions)
        top = (values.astype(np.uint64) >> shift if partitions > 1
               else np.zeros(len(values), np.uint64))
        spill.add(top.astype(np.int64), values)
    if spill is not None:
        for number in range(partitions):
            yield np.unique(spill.take(number), return_counts=True)
    shutil.rmtree(folder, ignore_errors=True)


def run_heads(new_run: np.ndarray) -> np.ndarray:
    """For sorted records whose runs (buckets, equal texts, clusters) start where `new_run` is
    True: the position of each record's run head."""
    return np.maximum.accumulate(np.where(new_run, np.arange(len(new_run)), 0))


def scratch(work_dir: Path, name: str) -> Path:
    """The step's scratch folder, emptied of a killed resolve's leftovers."""
    folder = work_dir / name
    shutil.rmtree(folder, ignore_errors=True)
    return folder


class KeyFiles:
    """Every shard's key file as one sequence of documents ("nodes"), numbered in input order."""

    def __init__(self, key_files: list[Path]) -> None:
        self.files = [(shard, path) for shard, path in enumerate(key_files) if path.exists()]
        counts = [pq.ParquetFile(path).metadata.num_rows for _, path in self.files]
        self.starts = np.cumsum([0, *counts]).astype(np.int64)
        self.size = int(self.starts[-1])
        self.shard_numbers = np.array([shard for shard, _ in self.files], dtype=np.int64)

    def __iter__(self) -> Iterator[tuple[Path, int]]:
        """(key file, number of its first node), in input order."""
        for (_, path), start in zip(self.files, self.starts.tolist(), strict=False):
            yield path, start

    def column(self, name: str, low: int, high: int) -> pa.ChunkedArray:
        """Column `name` of nodes low..high-1, reading only the shard files that hold them."""
        first = int(np.searchsorted(self.starts, low, side="right")) - 1
        pieces = []
        for position in range(max(first, 0), len(self.files)):
            start, end = int(self.starts[position]), int(self.starts[position + 1])
            if start >= high:
                break
            values = pq.read_table(self.files[position][1], columns=[name]).column(name)
            pieces.append(values.slice(max(low - start, 0), min(high, end) - max(low, start)))
        if not pieces:
            return pa.chunked_array([], pa.int64())
        return pa.chunked_array([chunk for piece in pieces for chunk in piece.chunks])

    def shard_of(self, nodes: np.ndarray) -> np.ndarray:
        return self.shard_numbers[np.searchsorted(self.starts, nodes, side="right") - 1]

    def bytes_per_id(self) -> int:
        """Mean in-memory size of an id (text plus offset), from the files' metadata."""
        total = 0
        for _, path in self.files:
            metadata = pq.ParquetFile(path).metadata
            schema = metadata.schema.names
            if "id" not in schema:
                continue
            column = schema.index("id")
            total += sum(metadata.row_group(group).column(column).total_uncompressed_size
                         for group in range(metadata.num_row_groups))
        return max(total // max(self.size, 1), 1) + 8


class Partitions:
    """Fixed-width records spilled into `count` partition files (in memory when count is 1).

    Records are appended in the order they are given, so a partition read back is in input order
    for records added in input order (a stable sort then keeps ties in input order).
    """

    def __init__(self, folder: Path, dtype: np.dtype, count: int) -> None:
        self.folder, self.dtype, self.count = folder, np.dtype(dtype), count
        self._memory: list[np.ndarray] = []
        if count > 1:
            folder.mkdir(parents=True, exist_ok=True)

    def add(self, partition: np.ndarray, records: np.ndarray) -> None:
        if self.count == 1:
            self._memory.append(records)
            return
        order = np.argsort(partition, kind="stable")
        bounds = np.searchsorted(partition[order], np.arange(self.count + 1))
        records = records[order]
        for number in np.flatnonzero(np.diff(bounds)).tolist():
            with open(self.folder / f"{number:05d}.bin", "ab") as handle:
                records[bounds[number]: bounds[number + 1]].tofile(handle)

    def take(self, number: int) -> np.ndarray:
        """Partition `number`'s records; its file is removed (each partition is read once)."""
        if self.count == 1:
            records = (np.concatenate(self._memory) if self._memory
                       else np.zeros(0, self.dtype))
            self._memory = []
            return records
        path = self.folder / f"{number:05d}.bin"
        if not path.exists():
            return np.zeros(0, self.dtype)
        records = np.fromfile(path, dtype=self.dtype)
        path.unlink()
        return records


class UnionFind:
    """Disjoint sets over nodes 0..n-1 whose root is always the smallest (earliest) node."""

    def __init__(self, size: int, folder: Path, budget: int) -> None:
        self.size = size
        self.mapped = size * 8 > budget // 4
        if self.mapped:
            folder.mkdir(parents=True, exist_ok=True)
            self.parent = np.lib.format.open_memmap(folder / "parent.npy", "w+", np.int64,
                                                    (size,))
            for low in range(0, size, 1 << 18):  # filled in 2 MB steps
                high = min(low + (1 << 18), size)
                self.parent[low:high] = np.arange(low, high, dtype=np.int64)
        else:
            self.parent = np.arange(size, dtype=np.int64)

    @property
    def memory(self) -> int:
        """Bytes of the parent array held in memory (a mapped one is paged by the OS)."""
        return 0 if self.mapped else self.size * 8

    def find(self, nodes: np.ndarray) -> np.ndarray:
        parent = self.parent
        roots = parent[nodes]
        while True:
            above = parent[roots]
            if np.array_equal(above, roots):
                break
            roots = above
        parent[nodes] = roots  # path compression
        return roots

    def union(self, first: np.ndarray, second: np.ndarray) -> None:
        """Join each first[i] with second[i]. Hooking the larger root under the smaller one keeps
        the earliest document as root; when several links hook the same root in one round only
        the smallest target wins, so the links are retried until all of them hold."""
        while len(first):
            a, b = self.find(first), self.find(second)
            open_links = a != b
            if not open_links.any():
                return
            first, second, a, b = first[open_links], second[open_links], a[open_links], \
                b[open_links]
            np.minimum.at(self.parent, np.maximum(a, b), np.minimum(a, b))

    def roots(self, low: int, high: int) -> np.ndarray:
        """The root of every node low..high-1 (call in increasing ranges: each range is then
        compressed against roots already final)."""
        return self.find(np.arange(low, high, dtype=np.int64))


DecisionColumns = Callable[[pa.Table], dict[str, pa.Array]]


class Removals:
    """Removed nodes joined with ids, written out as decisions in (shard, index) order.

    `add` takes removed nodes, the node each duplicates (its keeper) and any fixed-width extras
    the step needs for its wording (a hash). Records are spilled by keeper range; each keeper
    range then reads the ids of that range only and attaches `duplicate_of`, the result is
    spilled by removed-node range; each removed range finally reads its own ids and (shard,
    index) and becomes one decisions table.
    """

    def __init__(self, corpus: KeyFiles, folder: Path, budget: int,
                 extras: list[tuple[str, str]] | None = None) -> None:
        self.corpus, self.folder = corpus, folder
        self.extras = [name for name, _ in extras or []]
        dtype = np.dtype([("node", np.int64), ("keeper", np.int64), *(extras or [])])
        per_node = corpus.bytes_per_id() + dtype.itemsize * 4 + 64
        self.span = max(budget // (2 * per_node), 256)  # nodes per range
        self.ranges = max(math.ceil(corpus.size / self.span), 1)
        self.spill = Partitions(folder / "by-keeper", dtype, self.ranges)
        self.count = 0

    def add(self, nodes: np.ndarray, keepers: np.ndarray, **extras: np.ndarray) -> None:
        if not len(nodes):
            return
        records = np.empty(len(nodes), self.spill.dtype)
        records["node"], records["keeper"] = nodes, keepers
        for name in self.extras:
            records[name] = extras[name]
        self.spill.add(keepers // self.span, records)
        self.count += len(nodes)

    def decisions(self, columns: DecisionColumns) -> Iterator[pa.Table]:
        """Decision tables in (shard, index) order. `columns` turns a joined table (`node`,
        `duplicate_of`, extras) into the `rule`, `detail` and `cluster` columns."""
        joined = self._join_keepers()
        for number in range(self.ranges):
            low, high = number * self.span, (number + 1) * self.span
            table = joined(low, high)
            if not table.num_rows:
                continue
            table = table.sort_by("node")
            nodes = table.column("node").to_numpy()
            ids = self.corpus.column("id", low, min(high, self.corpus.size))
            indices = self.corpus.column("index", low, min(high, self.corpus.size))
            offsets = pa.array(nodes - low)
            made = columns(table)
            yield pa.table({
                "shard": pa.array(self.corpus.shard_of(nodes), pa.int64()),
                "index": indices.take(offsets).cast(pa.int64()),
                "rule": made["rule"], "detail": made["detail"],
                "duplicate_of": table.column("duplicate_of"), "cluster": made["cluster"],
                "id": ids.take(offsets).cast(pa.string()),
            }, schema=DECISIONS_SCHEMA)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _join_keepers(self) -> Callable[[int, int], pa.Table]:
        """Attach each record's keeper id; returns a reader of the joined rows by node range."""
        parts: list[Path | pa.Table] = []
        for number in range(self.ranges):
            records = self.spill.take(number)
            if not len(records):
                continue
            low = number * self.span
            ids = self.corpus.column("id", low, min(low + self.span, self.corpus.size))
            table = pa.table({"node": records["node"],
                              "duplicate_of": ids.take(pa.array(records["keeper"] - low))
                              .cast(pa.string()),
                              **{name: records[name] for name in self.extras}})
            if self.ranges == 1:
                parts.append(table)
                continue
            path = self.folder / "joined" / f"{number:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            # Row groups about one removed range long: a range then reads only its own rows
            # of each part (row groups are skipped by their node statistics).
            pq.write_table(table.sort_by("node"), path,
                           row_group_size=max(-(-table.num_rows // self.ranges), 1024))
            parts.append(path)

        def rows(low: int, high: int) -> pa.Table:
            selected = []
            for part in parts:
                if isinstance(part, pa.Table):
                    selected.append(part)
                    continue
                selected.append(pq.read_table(part, filters=[("node", ">=", low),
                                                             ("node", "<", high)]))
            if not selected:
                return pa.table({"node": pa.array([], pa.int64())})
            table = pa.concat_tables(selected)
            if len(parts) == 1 and isinstance(parts[0], pa.Table):
                return table
            nodes = table.column("node")
            return table.filter(pc.and_(pc.greater_equal(nodes, low), pc.less(nodes, high)))

        return rows
