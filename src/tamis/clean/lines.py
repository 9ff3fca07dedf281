"""The document as lines, with their offsets and words: what the span cleaners read.

Built on the document's one shared split (`tamis.text.split`), keeping only the tokens that
are words (with a letter or digit), so punctuation does not make a line look longer. Kept in
`doc.cache` beside the split, which the document empties whenever its text changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tamis.document import Document
from tamis.text.split import Split, split

_CACHE_KEY = "clean.lines"


@dataclass(frozen=True, slots=True)
class Lines:
    """The lines of a text, where each starts, and each line's words."""

    text: list[str]
    starts: list[int]
    words: list[list[str]]

    def __len__(self) -> int:
        return len(self.text)


def lines_from(shared: Split) -> Lines:
    """The lines view of a split: its lines, their offsets, and their word tokens."""
    words = []
    for index in range(len(shared.lines)):
        words.append([word for word in shared.line_words(index) if _is_word(word)])
    return Lines(shared.lines, shared.line_starts, words)


def _is_word(token: str) -> bool:
    # Tokens are either words or single punctuation marks: test the first and last character.
    return token[0].isalnum() or token[-1].isalnum()


def split_lines(text: str) -> Lines:
    """The lines view of a bare text (for tools that have no `Document`)."""
    return lines_from(Split(text))


def lines_of(doc: Document) -> Lines:
    """The document's lines view, built once per text from its shared split."""
    cached = doc.cache.get(_CACHE_KEY)
    if cached is None:
        cached = lines_from(split(doc))
        doc.cache[_CACHE_KEY] = cached
    return cached
