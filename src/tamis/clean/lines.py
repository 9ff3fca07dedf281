"""The document as lines, with their offsets and words: what the span cleaners read.

The split is made once per text and kept in `doc.cache`, which the document empties whenever
its text changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from tamis.document import Document

# A word is a run of letters/digits; each CJK character counts as a word of its own, since
# Chinese and Japanese do not put spaces between words.
_WORD = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\W\p{Han}\p{Hiragana}\p{Katakana}]+")
_CACHE_KEY = "clean.lines"


@dataclass(frozen=True, slots=True)
class Lines:
    """The lines of a text, where each starts, and each line's lowercased words."""

    text: list[str]
    starts: list[int]
    words: list[list[str]]

    def __len__(self) -> int:
        return len(self.text)


def split_lines(text: str) -> Lines:
    """Split text on newlines into lines with start offsets and lowercased words."""
    lines = text.split("\n")
    starts = []
    position = 0
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    words = [_WORD.findall(line.lower()) for line in lines]
    return Lines(lines, starts, words)


def lines_of(doc: Document) -> Lines:
    """The document's split, computed once per text."""
    cached = doc.cache.get(_CACHE_KEY)
    if cached is None:
        cached = split_lines(doc.text)
        doc.cache[_CACHE_KEY] = cached
    return cached
