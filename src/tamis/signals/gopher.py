"""Gopher quality and repetition signals (Rae et al. 2021, Table A1), as datatrove computes them.

Each function takes a document's `Split` and returns named numbers; the filters in
`tamis.filters.gopher` compare them with thresholds. Definitions follow datatrove 0.10 exactly
(denominators, the order of joins, which lines are counted) because users pick these filters to
reproduce published corpora; `../shared/reference/peer-filters.md` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from tamis.signals.charsets import PUNCTUATION_CHARS
from tamis.text.split import Split

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

_LINE_RUNS = re.compile("\n+")


def _has_alpha(word: str) -> bool:
    # str.isalpha per character, as datatrove's `any(c.isalpha() for c in w)`.
    return any(char.isalpha() for char in word)


def gopher_quality(split: Split, stop_words: Iterable[str] = GOPHER_STOP_WORDS) -> dict[str, float]:
    """Word count, mean word length, symbol ratios, bullet/ellipsis lines, alpha words, stop words.

    Words made only of punctuation ("symbol words") are left out of the count and the mean
    length, but the symbol and alphabetic ratios divide by all words, punctuation included.
    """
    text, words = split.text, split.words
    n_words = len(words)
    # A symbol word is one that strips to nothing; purely alphabetic words never do.
    lengths = [len(word) for word in words if word.isalpha() or word.strip(PUNCTUATION_CHARS)]
    alpha_words = sum(1 for word in words if word.isalpha() or _has_alpha(word))
    lines = text.splitlines()
    n_lines = len(lines) or 1
    ellipses = text.count("...") + text.count("…")
    bullets = sum(1 for line in lines if line.lstrip().startswith(("•", "-")))
    end_ellipsis = sum(1 for line in lines if line.rstrip().endswith(("...", "…")))
    present_stop_words = set(stop_words).intersection(words)
    return {
        "gopher_word_count": len(lengths),
        "gopher_mean_word_length": sum(lengths) / len(lengths) if lengths else 0.0,
        "gopher_hash_ratio": text.count("#") / n_words if n_words else 0.0,
        "gopher_ellipsis_ratio": ellipses / n_words if n_words else 0.0,
        "gopher_bullet_lines_ratio": bullets / n_lines,
        "gopher_end_ellipsis_lines_ratio": end_ellipsis / n_lines,
        "gopher_alpha_words_ratio": alpha_words / n_words if n_words else 0.0,
        "gopher_stop_words": len(present_stop_words),
    }


def duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (first occurrences excluded)."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


# Odd 64-bit multiplier for combining word hashes into n-gram hashes (wrapping arithmetic).
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """One hash per word n-gram: a polynomial over the word hashes, vectorised."""
    m = len(word_hashes) - n + 1
    combined = word_hashes[:m].astype(np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            combined = combined * _MIX + word_hashes[offset:offset + m].astype(np.uint64)
    return combined


def _top_ngram_chars(split: Split, n: int, prefix: np.ndarray) -> int:
    """Characters of the most frequent n-gram (joined with spaces) times its count.

    Ties go to the n-gram seen first, as `Counter.most_common(1)` does.
    """
    hashes = _ngram_hashes(split.word_hashes, n)
    _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
    best = counts.max()
    position = int(first[counts == best].min())
    length = int(prefix[position + n] - prefix[position]) + n - 1
    return length * int(best)


def _duplicated_ngram_chars(split: Split, n: int, prefix: np.ndarray) -> int:
    """Characters in repeated n-grams, scanning left to right and jumping past each repeat.

    A repeat counts the n-gram's characters without spaces, then the scan skips the n words it
    covers, so overlapping repeats are not counted twice. The scan is sequential, but every
    position before the first repeat is a first occurrence, so it starts there.
    """
    hashes = _ngram_hashes(split.word_hashes, n)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    first_of_position = first[inverse]
    repeats = np.flatnonzero(first_of_position < np.arange(len(hashes)))
    if not len(repeats):
        return 0
    start = int(repeats[0])
    ids = inverse.tolist()
    seen = set(ids[:start])
    chars = 0
    index, end = start, len(ids)
    while index < end:
        ngram = ids[index]
        if ngram in seen:
            chars += int(prefix[index + n] - prefix[index])
            index += n
        else:
            seen.add(ngram)
            index += 1
    return chars


TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


def gopher_repetition(split: Split) -> dict[str, float]:
    """Duplicate paragraphs and lines (by count and characters) and repeated word n-grams.

    Every character fraction divides by `len(text)`, whitespace included. Paragraphs are
    blank-line separated blocks of the stripped text; lines are runs between newlines.
    """
    text = split.text
    length = len(text) or 1
    paragraphs = split.paragraphs
    para_count, para_chars = duplicates(paragraphs)
    lines = _LINE_RUNS.split(text)
    line_count, line_chars = duplicates(lines)
    signals: dict[str, float] = {
        "gopher_dup_para_frac": para_count / len(paragraphs),
        "gopher_dup_para_char_frac": para_chars / length,
        "gopher_dup_line_frac": line_count / len(lines),
        "gopher_dup_line_char_frac": line_chars / length,
    }
    n_words = len(split.words)
    prefix = np.concatenate(([0], np.cumsum(split.word_lengths)))
    for n in TOP_NGRAM_SIZES:
        chars = _top_ngram_chars(split, n, prefix) if n_words >= n else 0
        signals[f"gopher_top_{n}_gram_char_frac"] = chars / length
    # A repeated (n+1)-gram contains a repeated n-gram: once a size has none, larger ones neither.
    none_left = False
    for n in DUPLICATE_NGRAM_SIZES:
        chars = 0 if none_left or n_words < n else _duplicated_ngram_chars(split, n, prefix)
        none_left = chars == 0
        signals[f"gopher_dup_{n}_gram_char_frac"] = chars / length
    return signals
