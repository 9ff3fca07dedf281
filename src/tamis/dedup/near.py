"""Near-duplicate removal: MinHash over word n-grams, LSH banding, deterministic union-find.

Per document (in the pass before the step), from the document's one split: the words are
normalised as FineWeb normalises them (lowercase, accents stripped, punctuation dropped, digits
folded to 0), hashed once each, combined into n-gram hashes with NumPy, and min-hashed under
`bands * rows` multiply-shift hash functions at once. Each band of `rows` minima becomes one
64-bit bucket key; only those keys are kept.

Across the corpus (`resolve`): band by band (several bands at once, in threads), the keys are
sorted and every bucket links its members to its first one; a union-find whose root is always
the earliest document (input order) merges the links. Each cluster keeps one member (the first
in input order, the longest, or the best by a signal) and the others are removed naming it,
which is also the cluster's name.

Memory is bounded by the run's budget (`limits.memory_mb`), not by the corpus: when one band's
keys for the corpus would not fit in its thread's share of the budget (about
`BYTES_PER_BAND_KEY` bytes a document while sorting), they are spilled into partition files by
their top bits, and each partition, which holds whole buckets, is sorted alone
(`outofcore.py`). The one term that grows with the corpus is the union-find's parent array,
8 bytes a document, memory-mapped once it passes a quarter of the budget. The output is the
same at any budget.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import regex
import xxhash
from pydantic import Field, model_validator

from tamis.dedup.outofcore import (
    KeyFiles,
    Partitions,
    Removals,
    UnionFind,
    partition_count,
    run_heads,
    scratch,
)
from tamis.document import Document
from tamis.step import GlobalStep, StepOptions, register
from tamis.text import split
from tamis.text.hashing import ngram_hashes
from tamis.text.split import tokens_of_chunks

_MARKS = regex.compile(r"\p{Mn}+")
_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_DIGITS = regex.compile(r"\d")
_SEPARATOR = "\x01"
_KEY_MASK = (1 << 63) - 1
_PACKED = np.dtype("<u8")  # how the memo stores word hashes
_CACHE_BYTES = 256 * 1024  # about a core's L2 cache
# Peak bytes per document while one band's keys are grouped in memory: the (key, node) records,
# the sort order, the sorted copies and the bucket arrays (measured with tracemalloc).
BYTES_PER_BAND_KEY = 80
# Bytes per document while the union-find's roots are walked in chunks (roots, positions, masks).
BYTES_PER_ROOT = 64


class NearOptions(StepOptions):
    ngram: int = Field(default=5, ge=1, description="words per shingle")
    bands: int = Field(default=14, ge=1)
    rows: int = Field(default=8, ge=1, description="hashes per band")
    seed: int = 1
    # Which member of a cluster survives: the first in input order, the longest, or the one
    # with the highest value of `signal` (a signal an earlier step stored; the earliest of
    # equals, and a document without the signal ranks last).
    keep: Literal["first", "longest", "signal"] = "first"
    signal: str | None = None
    # Check each candidate pair (a document and its bucket's first) by the exact Jaccard of
    # their shingle sets and link it only at or above this value; None trusts the buckets.
    # Costs 8 bytes per distinct shingle in the key files and in resolve's memory.
    verify: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _signal_named(self) -> NearOptions:
        if (self.keep == "signal") != (self.signal is not None):
            raise ValueError("keep: signal needs signal: <name>, and signal is only used with "
                             "keep: signal")
        return self


def normalized_words(doc: Document) -> list[str]:
    """The document's words, normalised the FineWeb way, from its one split."""
    return _normalise(split(doc).words)


def _normalise(words: list[str]) -> list[str]:
    """Lowercase, strip accents, drop punctuation and symbols, fold digits to 0: one pass of
    each over all the words at once; words left empty are dropped."""
    if not words:
        return []
    joined = _SEPARATOR.join(words).lower()
    joined = _MARKS.sub("", unicodedata.normalize("NFD", joined))
    joined = _DIGITS.sub("0", _PUNCTUATION.sub("", joined))
    return [word for word in joined.split(_SEPARATOR) if word]


class WordHashes:
    """A per-process memo from a whitespace chunk of the split to the 64-bit hashes of its
    normalised word tokens.

    Web text reuses its chunks ("the", "said."), so most are looked up, not tokenised,
    normalised and hashed: a document's hashes are one dict-lookup pass over its chunks
    (`split(doc).chunks`) whose values, the hashes packed as bytes, are joined in C and read
    as one array, without materialising the words. A new chunk is split into the
    split's own tokens (its memo), each token normalised (as part of one batch of new tokens
    joined by a separator, so exactly the operations `normalized_words` runs) and hashed; tokens
    that normalise to nothing (punctuation) are dropped, as `normalized_words` drops them. No
    operation of the normalisation reaches across the separator, so the hashes are the same as
    hashing `normalized_words(doc)` (a test compares them).
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.memo: dict[str, bytes] = {}

    def __call__(self, chunks: list[str]) -> np.ndarray:
        """The hashes of the normalised words of these chunks, in order."""
        memo = self.memo
        try:
            packed = b"".join(map(memo.__getitem__, chunks))
        except KeyError:  # new chunks: tokenise, normalise and hash them, then look up again
            missing = set(chunks).difference(memo)
            if len(memo) + len(missing) > self.limit:
                memo.clear()
                missing = set(chunks)
            self._add(list(missing))
            packed = b"".join(map(memo.__getitem__, chunks))
        return np.frombuffer(packed, _PACKED).astype(np.uint64, copy=False)

    def _add(self, chunks: list[str]) -> None:
        tokens = tokens_of_chunks(chunks)
        joined = _SEPARATOR.join(chain.from_iterable(tokens)).lower()
        joined = _MARKS.sub("", unicodedata.normalize("NFD", joined))
        forms = iter(_DIGITS.sub("0", _PUNCTUATION.sub("", joined)).split(_SEPARATOR))
        for chunk, chunk_tokens in zip(chunks, tokens, strict=True):
            normalised = [next(forms) for _ in chunk_tokens]
            self.memo[chunk] = b"".join(_packed_hash(form) for form in normalised if form)


def _packed_hash(form: str) -> bytes:
    return xxhash.xxh3_64_intdigest(form.encode()).to_bytes(8, "little")


_WORD_HASHES = WordHashes()


def word_hashes(doc: Document) -> np.ndarray:
    """64-bit hashes of the document's normalised words, from its one split."""
    if _SEPARATOR in doc.text:  # rare; the batch normalisation needs the separator free
        return np.array([xxhash.xxh3_64_intdigest(word.encode())
                         for word in _normalise(split(doc).words)], dtype=np.uint64)
    return _WORD_HASHES(split(doc).chunks)


def shingle_hashes(hashes: np.ndarray, ngram: int) -> np.ndarray:
    """64-bit hashes of every word n-gram (the whole text when it has fewer than n words), from
    the word hashes. Repeated n-grams stay repeated: a minimum does not care."""
    if not len(hashes):
        return hashes
    return ngram_hashes(hashes, min(ngram, len(hashes)))


class MinHasher:
    """`bands * rows` multiply-shift hash functions, fixed by a seed."""

    def __init__(self, bands: int, rows: int, seed: int) -> None:
        generator = np.random.default_rng(seed)
        count = bands * rows
        self.bands, self.rows = bands, rows
        multipliers = generator.integers(1, 2**63, count, dtype=np.uint64) * 2 + 1
        offsets = generator.integers(0, 2**63, count, dtype=np.uint64)
        # Hash functions down the rows, shingles along them: each function's minimum is then
        # taken over contiguous memory (several times faster than the transposed layout).
        self.multipliers, self.offsets = multipliers[:, None], offsets[:, None]

    def band_keys(self, shingles: np.ndarray) -> list[int]:
        """One 64-bit bucket key per band; empty documents get no keys."""
        if not len(shingles):
            return []
        # A block of hash functions at a time, so the permuted values stay in the CPU cache.
        count = len(self.multipliers)
        block = max(1, min(count, _CACHE_BYTES // (8 * len(shingles))))
        permuted = np.empty((block, len(shingles)), np.uint64)
        minima = np.empty(count, np.uint64)
        with np.errstate(over="ignore"):
            for first in range(0, count, block):
                last = min(first + block, count)
                rows = permuted[: last - first]
                np.multiply(self.multipliers[first:last], shingles[None, :], out=rows)
                rows += self.offsets[first:last]
                rows.min(axis=1, out=minima[first:last])
        signature = minima.reshape(self.bands, self.rows)
        # 63 bits: the keys travel through Parquet as signed 64-bit integers.
        return [xxhash.xxh3_64_intdigest(band.tobytes()) & _KEY_MASK for band in signature]


def collision_probability(similarity: float, bands: int, rows: int) -> float:
    """The LSH S-curve: chance that two documents with this Jaccard share a bucket."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_bands(threshold: float, hashes: int) -> tuple[int, int]:
    """The bands x rows (using at most `hashes` hashes) whose S-curve best separates pairs
    above `threshold` from pairs below: least false-positive plus false-negative area."""
    best: tuple[float, int, int] = (math.inf, 1, hashes)
    grid = np.linspace(0, 1, 201)
    for rows in range(1, hashes + 1):
        bands = hashes // rows
        curve = 1.0 - (1.0 - grid**rows) ** bands
        error = float(np.trapezoid(np.where(grid < threshold, curve, 1 - curve), grid))
        if error < best[0]:
            best = (error, bands, rows)
    return best[1], best[2]


@register
class NearDedup(GlobalStep):
    """Remove documents that are near copies of an earlier (or longer) one."""

    name = "dedup_near"
    Options = NearOptions
    options: NearOptions

    def __init__(self, options: NearOptions | None = None) -> None:
        super().__init__(options)
        self.hasher = MinHasher(self.options.bands, self.options.rows, self.options.seed)

    def collect(self, doc: Document) -> dict[str, Any] | None:
        shingles = shingle_hashes(word_hashes(doc), self.options.ngram)
        keys = self.hasher.band_keys(shingles)
        if not keys:
            return None
        collected = {"rank": self._rank(doc), **{f"band_{number}": key
                                                 for number, key in enumerate(keys)}}
        if self.options.verify is not None:
            collected["shingles"] = np.unique(shingles).view(np.int64).tolist()
        return collected

    def _rank(self, doc: Document) -> float:
        """How good a keeper the document is: higher is better (used unless keep: first)."""
        if self.options.keep == "signal":
            value = doc.signals.get(self.options.signal or "")
            return float(value) if isinstance(value, int | float) else -math.inf
        return float(len(doc.text))

    def resolve(self, key_files: list[Path], work_dir: Path) -> Iterator[pa.Table]:
        corpus = KeyFiles(key_files)
        if not corpus.size:
            return
        folder = scratch(work_dir, self.name)
        clusters = UnionFind(corpus.size, folder, self.memory_budget)
        budget = max(self.memory_budget - clusters.memory, 1)
        verified = (None if self.options.verify is None
                    else ShingleSets(corpus, self.options.verify))
        # Bands are grouped in threads (NumPy's sorts and Parquet reads run outside the GIL),
        # each within its share of the budget; only the union-find is shared, behind a lock.
        # Links may arrive in any order: the clusters and their roots do not depend on it.
        threads = min(self.options.bands, self.cpus or os.cpu_count() or 1)
        partitions = partition_count(corpus.size, BYTES_PER_BAND_KEY, max(budget // threads, 1))
        lock = threading.Lock()

        def link(band: int) -> None:
            self._link_band(corpus, f"band_{band}", partitions, folder / "keys" / str(band),
                            clusters, lock, verified)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(link, range(self.options.bands)))  # raises a thread's error here
        removals = Removals(corpus, folder / "removed", budget)
        if self.options.keep == "first":
            self._first_survives(corpus, clusters, removals, budget)
        else:
            self._best_survives(corpus, clusters, removals, folder / "groups", budget)
        shape = f"MinHash {self.options.bands}x{self.options.rows}, {self.options.ngram}-grams"

        def columns(table: pa.Table) -> dict[str, pa.Array]:
            keeper = table.column("duplicate_of")
            return {"rule": pa.array(["near_duplicate"] * table.num_rows, pa.string()),
                    "detail": pc.binary_join_element_wise("near copy of ", keeper,
                                                          f" ({shape})", ""),
                    "cluster": keeper}

        yield from removals.decisions(columns)
        shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _link_band(corpus: KeyFiles, column: str, partitions: int, folder: Path,
                   clusters: UnionFind, lock: threading.Lock,
                   verified: ShingleSets | None) -> None:
        """Link every document of each bucket of one band to the bucket's first document.

        The keys are spilled by their top bits, so one partition holds whole buckets and is
        grouped alone; with one partition nothing is written.
        """
        shift = np.uint64(63 - (partitions.bit_length() - 1))
        spill = Partitions(folder, np.dtype([("key", np.int64), ("node", np.int64)]),
                           partitions)
        for path, start in corpus:
            keys = pq.read_table(path, columns=[column]).column(column).to_numpy()
            records = np.empty(len(keys), spill.dtype)
            records["key"], records["node"] = keys, np.arange(start, start + len(keys))
            spill.add((keys.astype(np.uint64) >> shift).astype(np.int64), records)
        for number in range(partitions):
            records = spill.take(number)
            if not len(records):
                continue
            order = np.argsort(records["key"], kind="stable")  # ties stay in input order
            keys, nodes = records["key"][order], records["node"][order]
            del records, order
            new_bucket = np.r_[True, keys[1:] != keys[:-1]]
            first = nodes[run_heads(new_bucket)]
            heads, members = first[~new_bucket], nodes[~new_bucket]
            if verified is not None:
                similar = verified.similar(heads, members)
                heads, members = heads[similar], members[similar]
            with lock:
                clusters.union(heads, members)

    @staticmethod
    def _first_survives(corpus: KeyFiles, clusters: UnionFind, removals: Removals,
                        budget: int) -> None:
        """Each cluster keeps its root, its earliest document; the others name it."""
        chunk = _root_chunk(budget)
        for low in range(0, corpus.size, chunk):
            high = min(low + chunk, corpus.size)
            roots = clusters.roots(low, high)
            removed = np.flatnonzero(roots != np.arange(low, high)) + low
            removals.add(removed, roots[removed - low])

    @staticmethod
    def _best_survives(corpus: KeyFiles, clusters: UnionFind, removals: Removals,
                       folder: Path, budget: int) -> None:
        """Each cluster keeps its best-ranked document (the earliest of equals).

        Members are spilled by root range with their ranks; each range then holds whole
        clusters, which a sort by (root, best first, input order) groups.
        """
        dtype = np.dtype([("root", np.int64), ("node", np.int64), ("rank", np.float64)])
        span = max(budget // (dtype.itemsize * 6), 256)
        ranges = max(-(-corpus.size // span), 1)
        spill = Partitions(folder, dtype, ranges)
        chunk = _root_chunk(budget)
        for low in range(0, corpus.size, chunk):
            high = min(low + chunk, corpus.size)
            roots = clusters.roots(low, high)
            members = np.flatnonzero(roots != np.arange(low, high))
            records = np.empty(len(members), dtype)
            records["root"], records["node"] = roots[members], members + low
            records["rank"] = corpus.column("rank", low, high).to_numpy()[members]
            spill.add(records["root"] // span, records)
        for number in range(ranges):
            records = spill.take(number)
            if not len(records):
                continue
            low = number * span
            roots = np.unique(records["root"])
            ranks = corpus.column("rank", low, min(low + span, corpus.size)).to_numpy()
            heads = np.empty(len(roots), dtype)
            heads["root"], heads["node"], heads["rank"] = roots, roots, ranks[roots - low]
            group = np.concatenate([records, heads])
            group = group[np.lexsort((group["node"], -group["rank"], group["root"]))]
            new_cluster = np.r_[True, group["root"][1:] != group["root"][:-1]]
            keeper = group["node"][run_heads(new_cluster)]
            removals.add(group["node"][~new_cluster], keeper[~new_cluster])


class ShingleSets:
    """Every document's set of shingle hashes, to check candidate pairs by exact Jaccard."""

    def __init__(self, corpus: KeyFiles, threshold: float) -> None:
        lists = corpus.column("shingles", 0, corpus.size).combine_chunks()
        self.values = pc.list_flatten(lists).to_numpy()
        self.offsets = lists.offsets.to_numpy()
        self.threshold = threshold

    def jaccard(self, first: int, second: int) -> float:
        a = self.values[self.offsets[first]:self.offsets[first + 1]]
        b = self.values[self.offsets[second]:self.offsets[second + 1]]
        shared = len(np.intersect1d(a, b, assume_unique=True))
        return shared / (len(a) + len(b) - shared) if len(a) + len(b) else 1.0

    def similar(self, heads: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Which pairs reach the threshold."""
        return np.array([self.jaccard(int(a), int(b)) >= self.threshold
                         for a, b in zip(heads, members, strict=True)], dtype=bool)


def _root_chunk(budget: int) -> int:
    """Documents per step when walking the union-find's roots: within the budget, at most 1M."""
    return min(max(budget // BYTES_PER_ROOT, 1024), 1 << 20)
