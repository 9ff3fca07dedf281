"""Word and n-gram hashes: one implementation for Gopher repetition, MinHash shingles and
decontamination.

A word n-gram's hash is the polynomial of its word hashes under an odd 64-bit multiplier,
wrapping: `h(w1..wn) = w1 * M^(n-1) + ... + wn`. Computed in the compiled core unless
`TAMIS_KERNEL=python`; `ngram_hashes_reference` is the executable specification.
"""

from __future__ import annotations

import numpy as np

from tamis.kernel import core

MULTIPLIER = 0x9E3779B97F4A7C15
_MULTIPLIER = np.uint64(MULTIPLIER)


def ngram_hashes_reference(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """The uint64 hash of every run of `n` consecutive words; empty when there are fewer."""
    count = len(word_hashes) - n + 1
    if n < 1 or count <= 0:
        return np.empty(0, dtype=np.uint64)
    words = word_hashes.astype(np.uint64, copy=False)
    hashes = words[:count].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            hashes *= _MULTIPLIER
            hashes += words[offset:offset + count]
    return hashes


def ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """The uint64 hash of every run of `n` consecutive words; empty when there are fewer."""
    if core is None:
        return ngram_hashes_reference(word_hashes, n)
    words = np.ascontiguousarray(word_hashes.astype(np.uint64, copy=False))
    return core.ngram_hashes(words, n)
