"""The one split of a document's text that every signal and cleaner shares.

Published filters (Gopher, C4, FineWeb) each re-tokenise the document in datatrove; most of
their time goes there. tamis splits a document once, when the first signal asks, caches the
`Split` in `doc.cache["split"]` (the document empties its cache whenever the text changes, so a
stale split is never used) and computes every signal from it.

What a `Split` holds (all computed from `text` alone):

- `lines`: `text.split("\\n")`, so a line never contains "\\n" and `"\\n".join(lines) == text`;
  `line_starts[i]` is the offset of `lines[i]` in `text` (useful for `doc.edit` spans).
- `words`: the word tokens, line by line. Space-delimited scripts follow the rules of spaCy's
  English tokenizer that datatrove uses for its filters (punctuation is split off as its own token,
  "don't" is "do" + "n't", "it's" is "it" + "'s", hyphenated words are split at the hyphen,
  numbers like "1,000.5" and "12:30" stay whole, URLs and e-mail addresses stay whole). Han, kana,
  Hangul-less CJK ideographs and Thai characters, which are written without spaces, are one word
  per character: a character split is the usual script-independent fallback and keeps word
  counts meaningful for them. No word contains whitespace.
- `line_word_starts`: word indices where each line's words begin (length `len(lines) + 1`), so
  line `i` owns `words[line_word_starts[i]:line_word_starts[i + 1]]`; `word_lines` gives the line
  of every word.
- on demand (computed once, then cached on the split): `paragraphs`, `ngrams(n)`, the NumPy
  arrays `word_lengths` and `word_hashes` used by the repetition signals.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np
import regex

from tamis.document import Document

# Characters written without spaces between words: one word per character.
_CHARACTER_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_ALNUM = rf"[^\W_{_CHARACTER_SCRIPTS}]"  # a letter or digit of a space-delimited script

# The alternatives, in the order spaCy's English tokenizer resolves them.
_URL = r"(?:https?://|www\.)\S+?(?=[.,;:!?)\]}\"'»”’]*(?:\s|$))"
_EMAIL = rf"[\w.+-]+@{_ALNUM}+(?:[.-]{_ALNUM}+)+"
_HANDLE = rf"@{_ALNUM}+"
_NUMBER = r"\d+(?:[.,:]\d+)+"  # 1,000.5 and 12:30 stay whole
_WORD = rf"{_ALNUM}+(?:(?:[_.]|['’](?!(?i:s|m|re|ll|ve|d)\b)){_ALNUM}+)*(?:\.(?<=\w\.\w\.))?"
_CONTRACTION_HEAD = rf"{_ALNUM}+?(?=n['’]t\b)|{_ALNUM}+(?=['’](?i:s|m|re|ll|ve|d)\b)"
_CONTRACTION_TAIL = r"(?<=\w)(?:n['’]t|['’](?i:s|m|re|ll|ve|d))\b"
_SYMBOL_RUN = r"\.{2,}|-{2,}|…"
_OTHER = rf"[{_CHARACTER_SCRIPTS}]|[^\s]"

# Lines without an apostrophe skip the contraction rules, which cost a look-ahead per word.
_PLAIN_WORDS = regex.compile("|".join([_URL, _EMAIL, _HANDLE, _NUMBER, _WORD, _SYMBOL_RUN,
                                       _OTHER]))
_APOSTROPHE_WORDS = regex.compile("|".join([_URL, _EMAIL, _HANDLE, _NUMBER, _CONTRACTION_HEAD,
                                            _CONTRACTION_TAIL, _WORD, _SYMBOL_RUN, _OTHER]))
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


def split_words(line: str) -> list[str]:
    """The word tokens of one line (see the module docstring for the rules)."""
    if "'" in line or "’" in line:
        return _APOSTROPHE_WORDS.findall(line)
    return _PLAIN_WORDS.findall(line)


class Split:
    """Lines, words and n-grams of one text, computed once and shared by every signal."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = text.split("\n")
        self.line_starts: list[int] = []
        self.words: list[str] = []
        self.line_word_starts: list[int] = []
        position = 0
        for line in self.lines:
            self.line_starts.append(position)
            self.line_word_starts.append(len(self.words))
            position += len(line) + 1
            if line and not line.isspace():
                self.words.extend(split_words(line))
        self.line_word_starts.append(len(self.words))

    def line_words(self, index: int) -> list[str]:
        """The words of line `index`."""
        return self.words[self.line_word_starts[index]:self.line_word_starts[index + 1]]

    @cached_property
    def word_lines(self) -> np.ndarray:
        """The line index of every word."""
        counts = np.diff(np.asarray(self.line_word_starts, dtype=np.int64))
        return np.repeat(np.arange(len(self.lines), dtype=np.int64), counts)

    @cached_property
    def paragraphs(self) -> list[str]:
        """Blocks separated by blank lines: `re.split(r"\\n{2,}", text.strip())` as Gopher does."""
        return _PARAGRAPH_BREAK.split(self.text.strip())

    @cached_property
    def word_lengths(self) -> np.ndarray:
        """Length of every word, as an int64 array."""
        return np.fromiter(map(len, self.words), dtype=np.int64, count=len(self.words))

    @cached_property
    def word_hashes(self) -> np.ndarray:
        """A 64-bit hash of every word (Python's string hash), for vectorised n-gram counting."""
        return np.fromiter(map(hash, self.words), dtype=np.int64, count=len(self.words))

    def ngrams(self, n: int) -> list[str]:
        """Word n-grams joined with one space, in text order (cached per n)."""
        cache = self.__dict__.setdefault("_ngrams", {})
        if n not in cache:
            words = self.words
            cache[n] = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        return cache[n]


def split(doc: Document) -> Split:
    """The document's split, computed on first use and cached until its text changes."""
    cached = doc.cache.get("split")
    if cached is None or cached.text is not doc.text:
        cached = Split(doc.text)
        doc.cache["split"] = cached
    return cached
