"""Gopher quality and repetition signals (Rae et al. 2021, Table A1), as datatrove computes them.

Each function takes a document's `Split` and returns named numbers; the filters in
`tamis.filters.gopher` compare them with thresholds. Definitions follow datatrove 0.10 exactly
(denominators, the order of joins, which lines are counted) because users pick these filters to
reproduce published corpora; `../shared/reference/peer-filters.md` lists them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from operator import itemgetter

import numpy as np

from tamis.kernel import core
from tamis.signals.charsets import PUNCTUATION_CHARS
from tamis.text.hashing import ngram_hashes
from tamis.text.split import Split

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

_LINE_RUNS = re.compile("\n+")


@lru_cache(maxsize=100_000)
def _kind(word: str) -> tuple[int, int, int]:
    """(is a non-symbol word, its length if so, has a letter) of a not purely alphabetic word.

    A symbol word strips to nothing; "has a letter" is `str.isalpha` on any character, as the
    reference checks. Such words ("2023", ",", "U.S.") repeat a lot, hence the cache.
    """
    non_symbol = bool(word.strip(PUNCTUATION_CHARS))
    return int(non_symbol), len(word) if non_symbol else 0, int(any(map(str.isalpha, word)))


def gopher_quality(split: Split, stop_words: Iterable[str] = GOPHER_STOP_WORDS) -> dict[str, float]:
    """Word count, mean word length, symbol ratios, bullet/ellipsis lines, alpha words, stop words.

    Words made only of punctuation ("symbol words") are left out of the count and the mean
    length, but the symbol and alphabetic ratios divide by all words, punctuation included.
    """
    text, words = split.text, split.words
    n_words = len(words)
    # Most words are purely alphabetic: they are counted in one vectorised pass, and only the
    # others are looked at one by one. A symbol word is one that strips to nothing.
    alphabetic = np.fromiter(map(str.isalpha, words), dtype=bool, count=n_words)
    n_alphabetic = int(alphabetic.sum())
    others = [words[index] for index in np.flatnonzero(~alphabetic).tolist()]
    kinds = list(map(_kind, others))
    word_count = n_alphabetic + sum(kind[0] for kind in kinds)
    length_sum = int(split.word_lengths[alphabetic].sum()) + sum(kind[1] for kind in kinds)
    alpha_words = n_alphabetic + sum(kind[2] for kind in kinds)
    lines = text.splitlines()
    n_lines = len(lines) or 1
    ellipses = text.count("...") + text.count("…")
    bullets = sum(1 for line in lines if line.lstrip().startswith(("•", "-")))
    end_ellipsis = sum(1 for line in lines if line.rstrip().endswith(("...", "…")))
    present_stop_words = set(stop_words).intersection(words)
    return {
        "gopher_word_count": word_count,
        "gopher_mean_word_length": length_sum / word_count if word_count else 0.0,
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


def _ngram_hashes(word_hashes: np.ndarray, max_n: int) -> dict[int, list[int]]:
    """One hash per word n-gram for every n from 2 to `max_n` that the words reach."""
    hashes: dict[int, list[int]] = {}
    for n in range(2, max_n + 1):
        if len(word_hashes) < n:
            break
        hashes[n] = ngram_hashes(word_hashes, n).tolist()
    return hashes


def _top_ngram_chars(hashes: list[int], n: int, prefix: np.ndarray) -> int:
    """Characters of the most frequent n-gram (joined with spaces) times its count.

    A Counter keeps first-seen order and `max` returns the first maximum, so ties go to the
    n-gram seen first, as the reference's `Counter.most_common(1)` does.
    """
    counts = Counter(hashes)
    top, count = max(counts.items(), key=itemgetter(1))
    position = hashes.index(top)
    return (int(prefix[position + n] - prefix[position]) + n - 1) * count


def _duplicated_ngram_chars(hashes: list[int], n: int, prefix: np.ndarray) -> int:
    """Characters in repeated n-grams, scanning left to right and jumping past each repeat.

    The reference scan visits positions one by one with a set of the n-grams seen: a repeat
    adds the n-gram's characters (without spaces) and jumps n positions, so overlapping repeats
    count once. Only positions whose n-gram occurred earlier ("candidates") can be repeats;
    every other position is a first occurrence, in the set from its visit on unless a jump
    skipped it. So the loop runs over candidates only, and asks of each: was the first
    occurrence of its n-gram visited, or was a later one added? Same result, far fewer steps.
    """
    m = len(hashes)
    first_index = dict(zip(reversed(hashes), range(m - 1, -1, -1), strict=True))
    if len(first_index) == m:
        return 0  # no n-gram occurs twice
    firsts = list(map(first_index.__getitem__, hashes))
    candidates = np.flatnonzero(np.array(firsts) < np.arange(m)).tolist()
    skipped = bytearray(m + n)
    added: set[int] = set()
    chars = 0
    next_visit = 0
    for position in candidates:
        if position < next_visit:
            continue  # inside a jump
        first_seen = firsts[position]
        if not skipped[first_seen] or first_seen in added:
            chars += int(prefix[position + n] - prefix[position])
            skipped[position + 1:position + n] = b"\x01" * (n - 1)
            next_visit = position + n
        else:
            added.add(first_seen)  # the n-gram's first visited occurrence
            next_visit = position + 1
    return chars


TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
# The names `gopher_repetition` returns, in its order.
REPETITION_SIGNALS = ("gopher_dup_para_frac", "gopher_dup_para_char_frac", "gopher_dup_line_frac",
                      "gopher_dup_line_char_frac",
                      *(f"gopher_top_{n}_gram_char_frac" for n in TOP_NGRAM_SIZES),
                      *(f"gopher_dup_{n}_gram_char_frac" for n in DUPLICATE_NGRAM_SIZES))


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
    top, duplicated = repeated_ngram_chars(split.word_hashes, split.word_lengths)
    for n, chars in zip(TOP_NGRAM_SIZES, top, strict=True):
        signals[f"gopher_top_{n}_gram_char_frac"] = chars / length
    for n, chars in zip(DUPLICATE_NGRAM_SIZES, duplicated, strict=True):
        signals[f"gopher_dup_{n}_gram_char_frac"] = chars / length
    return signals


def repeated_ngram_chars(word_hashes: np.ndarray,
                         word_lengths: np.ndarray) -> tuple[list[int], list[int]]:
    """Characters of the top 2-4-grams and of the duplicated 5-10-grams (compiled core)."""
    if core is None or not len(word_hashes):
        return repeated_ngram_chars_reference(word_hashes, word_lengths)
    top, duplicated = core.repeated_ngram_chars(
        word_hashes.astype(np.uint64), word_lengths.astype(np.uint64),
        list(TOP_NGRAM_SIZES), list(DUPLICATE_NGRAM_SIZES))
    return top, duplicated


def repeated_ngram_chars_reference(word_hashes: np.ndarray,
                                   word_lengths: np.ndarray) -> tuple[list[int], list[int]]:
    """The Python reference of `repeated_ngram_chars`."""
    prefix = np.concatenate(([0], np.cumsum(word_lengths)))
    hashes = _ngram_hashes(word_hashes, DUPLICATE_NGRAM_SIZES[-1])
    top = [_top_ngram_chars(hashes[n], n, prefix) if n in hashes else 0 for n in TOP_NGRAM_SIZES]
    # A repeated (n+1)-gram contains a repeated n-gram: once a size has none, larger ones neither.
    duplicated = []
    none_left = False
    for n in DUPLICATE_NGRAM_SIZES:
        chars = 0 if none_left or n not in hashes else _duplicated_ngram_chars(hashes[n], n, prefix)
        none_left = chars == 0
        duplicated.append(chars)
    return top, duplicated
