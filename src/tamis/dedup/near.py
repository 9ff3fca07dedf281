"""Near-duplicate removal: MinHash over word n-grams, LSH banding, deterministic union-find.

Per document (in the pass before the step), from the document's one split: the words are
normalised as FineWeb normalises them (lowercase, accents stripped, punctuation dropped, digits
folded to 0), hashed once each, combined into n-gram hashes with NumPy, and min-hashed under
`bands * rows` multiply-shift hash functions at once. Each band of `rows` minima becomes one
64-bit bucket key; only those keys are kept.

Across the corpus (`resolve`): one band at a time (memory: one band's keys for the corpus), the
keys are sorted and every bucket links its members to its first one; a union-find whose root is
always the earliest document (input order) merges the links. Each cluster keeps one member (the
first in input order, or the longest) and the others are removed naming it.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import regex
import xxhash
from pydantic import Field

from tamis.document import Document
from tamis.pipeline import Decision, GlobalStep, StepOptions, register
from tamis.text import split

_MARKS = regex.compile(r"\p{Mn}+")
_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_DIGITS = regex.compile(r"\d")
_SEPARATOR = "\x01"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # combines word hashes into n-gram hashes
_KEY_MASK = (1 << 63) - 1


class NearOptions(StepOptions):
    ngram: int = Field(default=5, ge=1, description="words per shingle")
    bands: int = Field(default=14, ge=1)
    rows: int = Field(default=8, ge=1, description="hashes per band")
    seed: int = 1
    keep: Literal["first", "longest"] = "first"


def normalized_words(doc: Document) -> list[str]:
    """The document's words, normalised the FineWeb way, from its one split."""
    words = split(doc).words
    if not words:
        return []
    joined = _SEPARATOR.join(words).lower()
    joined = _MARKS.sub("", unicodedata.normalize("NFD", joined))
    joined = _DIGITS.sub("0", _PUNCTUATION.sub("", joined))
    return [word for word in joined.split(_SEPARATOR) if word]


_WORD_HASH_CACHE: dict[str, int] = {}
_CACHE_LIMIT = 1_000_000


def _word_hashes(words: list[str]) -> dict[str, int]:
    """A per-process memo of word -> 64-bit hash: web text reuses its words, so most lookups
    never hash at all."""
    cache = _WORD_HASH_CACHE
    missing = [word for word in set(words) if word not in cache]
    if len(cache) + len(missing) > _CACHE_LIMIT:
        cache.clear()
        missing = list(set(words))
    for word in missing:
        cache[word] = xxhash.xxh3_64_intdigest(word.encode())
    return cache


def shingle_hashes(words: list[str], ngram: int) -> np.ndarray:
    """64-bit hashes of every word n-gram (the whole text when it has fewer than n words)."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.fromiter(map(_word_hashes(words).__getitem__, words), dtype=np.uint64,
                         count=len(words))
    if len(words) < ngram:
        ngram = len(words)
    combined = hashes[: len(hashes) - ngram + 1].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, ngram):
            combined = combined * _MULTIPLIER + hashes[offset: len(hashes) - ngram + 1 + offset]
    return np.unique(combined)


class MinHasher:
    """`bands * rows` multiply-shift hash functions, fixed by a seed."""

    def __init__(self, bands: int, rows: int, seed: int) -> None:
        generator = np.random.default_rng(seed)
        count = bands * rows
        self.bands, self.rows = bands, rows
        self.multipliers = generator.integers(1, 2**63, count, dtype=np.uint64) * 2 + 1
        self.offsets = generator.integers(0, 2**63, count, dtype=np.uint64)

    def band_keys(self, shingles: np.ndarray) -> list[int]:
        """One 64-bit bucket key per band; empty documents get no keys."""
        if not len(shingles):
            return []
        with np.errstate(over="ignore"):
            permuted = shingles[:, None] * self.multipliers[None, :] + self.offsets[None, :]
        signature = permuted.min(axis=0).reshape(self.bands, self.rows)
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
        keys = self.hasher.band_keys(shingle_hashes(normalized_words(doc), self.options.ngram))
        if not keys:
            return None
        return {"length": len(doc.text), **{f"band_{number}": key
                                            for number, key in enumerate(keys)}}

    def resolve(self, key_files: list[Path], work_dir: Path) -> dict[int, dict[int, Decision]]:
        present = [(shard, path) for shard, path in enumerate(key_files) if path.exists()]
        if not present:
            return {}
        base = self._positions(present)
        total = int(base[-1][2]) if base else 0
        parent = np.arange(total, dtype=np.int64)
        for band in range(self.options.bands):
            column = f"band_{band}"
            keys = np.concatenate([pq.read_table(path, columns=[column]).column(column)
                                   .to_numpy() for _, path in present])
            order = np.argsort(keys, kind="stable")  # stable: ties stay in input order
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            bucket_first = np.repeat(order[starts], np.diff(np.r_[starts, len(order)]))
            linked = bucket_first != order
            for first, member in zip(bucket_first[linked].tolist(), order[linked].tolist(),
                                     strict=True):
                _union(parent, first, member)
        return self._decisions(parent, present, base)

    def _positions(self, present: list[tuple[int, Path]]) -> list[tuple[int, int, int]]:
        """(shard, first position, end position) of each shard's keys in corpus order."""
        spans = []
        position = 0
        for shard, path in present:
            rows = pq.ParquetFile(path).metadata.num_rows
            spans.append((shard, position, position + rows))
            position += rows
        return spans

    def _decisions(self, parent: np.ndarray, present: list[tuple[int, Path]],
                   spans: list[tuple[int, int, int]]) -> dict[int, dict[int, Decision]]:
        roots = np.array([_find(parent, node) for node in range(len(parent))], dtype=np.int64)
        duplicated = np.flatnonzero(np.bincount(roots, minlength=len(parent)) > 1)
        if not len(duplicated):
            return {}
        tables = [pq.read_table(path, columns=["index", "id", "length"])
                  for _, path in present]
        table = pa.concat_tables(tables)
        ids = table.column("id").to_pylist()
        indices = table.column("index").to_numpy()
        lengths = table.column("length").to_numpy()
        shard_of = np.concatenate([np.full(end - start, shard, dtype=np.int64)
                                   for shard, start, end in spans])
        members: dict[int, list[int]] = {}
        for node in np.flatnonzero(np.isin(roots, duplicated)).tolist():
            members.setdefault(int(roots[node]), []).append(node)
        decisions: dict[int, dict[int, Decision]] = {}
        shape = f"MinHash {self.options.bands}x{self.options.rows}, {self.options.ngram}-grams"
        for root, group in members.items():
            keeper = root
            if self.options.keep == "longest":
                keeper = min(group, key=lambda node: (-int(lengths[node]), node))
            for node in group:
                if node == keeper:
                    continue
                decisions.setdefault(int(shard_of[node]), {})[int(indices[node])] = Decision(
                    "near_duplicate", f"near copy of {ids[keeper]} ({shape})",
                    ids[keeper], ids[root], ids[node])
        return decisions


def _find(parent: np.ndarray, node: int) -> int:
    root = node
    while parent[root] != root:
        root = parent[root]
    while parent[node] != root:  # path compression
        parent[node], node = root, parent[node]
    return int(root)


def _union(parent: np.ndarray, first: int, second: int) -> None:
    """Link two sets; the root is always the earlier document, so clusters are deterministic."""
    a, b = _find(parent, first), _find(parent, second)
    if a != b:
        parent[max(a, b)] = min(a, b)


