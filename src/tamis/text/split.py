"""The one split of a document's text that every signal and cleaner shares.

Published filters (Gopher, C4, FineWeb) each re-tokenise the document in datatrove; most of
their time goes there. tamis splits a document once, when the first signal asks, caches the
`Split` in `doc.cache["split"]` (the document empties its cache whenever the text changes, so a
stale split is never used) and computes every signal from it.

What a `Split` holds (all computed from `text` alone):

- `lines`: `text.split("\\n")`, so a line never contains "\\n" and `"\\n".join(lines) == text`;
  `line_starts[i]` is the offset of `lines[i]` in `text` (useful for `doc.edit` spans).
- `chunks`: `text.split()`, the whitespace-free pieces every tokenisation starts from;
  `chunk_tokens` the tokens of each (memoised per process, see below).
- `words`: the word tokens, line by line. Space-delimited scripts are split exactly as spaCy's
  English tokenizer splits them (the one datatrove's filters use): whitespace separates chunks,
  then prefixes, suffixes and infixes are peeled off with spaCy's own rules and special cases
  ("don't" is "do" + "n't", "U.S." and ":)" stay whole, "well-known" is three tokens). The rules
  are data in `_spacy_en.py`; spaCy is not imported, and each distinct chunk is tokenised once
  per process (memoised), which is what makes this fast. Han, kana, Thai, Lao, Khmer and
  Myanmar characters, written without spaces, are one word per character, so word counts mean
  something for those scripts too (spaCy keeps a whole run as one token there: a documented
  difference from datatrove). No word contains whitespace.
- `line_word_starts`: word indices where each line's words begin (length `len(lines) + 1`), so
  line `i` owns `words[line_word_starts[i]:line_word_starts[i + 1]]`; `word_lines` gives the line
  of every word.
- on demand (computed once, then cached on the split): `paragraphs`, `ngrams(n)`, the NumPy
  arrays `word_lengths` and `word_hashes` used by the repetition signals.

The words (with their lengths and hashes) come from the compiled core (`tamis._core.Tokenizer`:
the whitespace chunks, the memo and the commonest ASCII shapes in Rust, every other new chunk
split by this module's rules, so the result is the reference's by construction) unless
`TAMIS_KERNEL=python`; `words_and_line_starts_reference` is the Python reference.
"""

from __future__ import annotations

import re
from functools import cached_property
from itertools import accumulate, chain

import numpy as np
import regex

from tamis.document import Document
from tamis.kernel import core
from tamis.text._spacy_en import INFIX, PREFIX, SPECIAL_CASES, SUFFIX, URL

_PREFIX = re.compile(PREFIX).search
_SUFFIX = re.compile(SUFFIX).search
_INFIX = re.compile(INFIX).finditer
_URL = re.compile(URL).match
# Scripts written without spaces between words: one word per character.
_CHARACTER_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_CHARACTER_SCRIPT = regex.compile(f"[{_CHARACTER_SCRIPTS}]")
_CHARACTER_PIECES = regex.compile(f"[{_CHARACTER_SCRIPTS}]|[^{_CHARACTER_SCRIPTS}]+")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


def _affix_tokens(chunk: str) -> list[str]:
    """spaCy's tokenizer on one whitespace-free chunk: peel prefixes and suffixes, stopping at
    a special case, then split the rest at infixes (unless it is a special case or a URL)."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    string = chunk
    last_size = 0
    while string and len(string) != last_size and string not in SPECIAL_CASES:
        last_size = len(string)
        prefix_match = _PREFIX(string)
        pre_len = prefix_match.end() if prefix_match else 0
        if pre_len and string[pre_len:] in SPECIAL_CASES:
            prefixes.append(string[:pre_len])
            string = string[pre_len:]
            break
        suffix_match = _SUFFIX(string[pre_len:])
        suf_len = suffix_match.end() - suffix_match.start() if suffix_match else 0
        if suf_len and string[:-suf_len] and string[:-suf_len] in SPECIAL_CASES:
            suffixes.append(string[-suf_len:])
            string = string[:-suf_len]
            break
        if pre_len and suf_len and pre_len + suf_len <= len(string):
            prefixes.append(string[:pre_len])
            suffixes.append(string[-suf_len:])
            string = string[pre_len:-suf_len]
        elif pre_len:
            prefixes.append(string[:pre_len])
            string = string[pre_len:]
        elif suf_len:
            suffixes.append(string[-suf_len:])
            string = string[:-suf_len]
    tokens = prefixes
    if string in SPECIAL_CASES:
        tokens.extend(SPECIAL_CASES[string])
    elif string and _URL(string):
        tokens.append(string)
    elif string:
        start = 0
        for match in _INFIX(string):
            infix_start, infix_end = match.span()
            if infix_start == 0:
                continue
            if infix_start != start:
                tokens.append(string[start:infix_start])
            if infix_start != infix_end:
                tokens.append(string[infix_start:infix_end])
            start = infix_end
        if string[start:]:
            tokens.append(string[start:])
    tokens.extend(reversed(suffixes))
    return tokens


def _phrase_patterns() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Special cases that the affix rules would cut ("e.g.", ":)"), keyed by those cuts.

    spaCy puts such cuts back together after the affix pass; so does `_merge_special_cases`.
    """
    patterns = {}
    for key, tokens in SPECIAL_CASES.items():
        if " " in key or key.isspace():
            continue
        cut = tuple(_affix_tokens_without_specials(key))
        if len(cut) > 1:
            patterns[cut] = tokens
    return patterns


def _affix_tokens_without_specials(chunk: str) -> list[str]:
    saved = dict(SPECIAL_CASES)
    SPECIAL_CASES.clear()
    try:
        return _affix_tokens(chunk)
    finally:
        SPECIAL_CASES.update(saved)


_PATTERNS = _phrase_patterns()
_LONGEST_PATTERN = max(map(len, _PATTERNS))


def _merge_special_cases(tokens: list[str]) -> list[str]:
    """Replace runs of tokens that spell a cut special case by the special case's tokens."""
    merged: list[str] = []
    index = 0
    while index < len(tokens):
        for length in range(min(_LONGEST_PATTERN, len(tokens) - index), 1, -1):
            special = _PATTERNS.get(tuple(tokens[index:index + length]))
            if special is not None:
                merged.extend(special)
                index += length
                break
        else:
            merged.append(tokens[index])
            index += 1
    return merged


# Marks that spaCy's suffix rules always cut from the end of a word of letters.
_WORD_END_MARKS = frozenset(',;:!?)"\'')


def _chunk_tokens(chunk: str) -> list[str]:
    """The word tokens of one whitespace-free chunk (uncached)."""
    return _common_shape_tokens(chunk) or _rule_tokens(chunk)


def _common_shape_tokens(chunk: str) -> list[str] | None:
    """The tokens of the commonest chunk shapes, without running the rules, or None.

    Letters alone are one token (no affix or infix rule applies to them). Letters then one mark
    ("said," "dog." "why?") are two: the mark is a suffix, unless the letters are a special
    case. A full stop is cut only after a lowercase ASCII letter here ("V." and "SpaceX." stay
    whole; the rules decide those). A test checks these against the rules on real text.
    """
    if chunk in SPECIAL_CASES or _CHARACTER_SCRIPT.search(chunk):
        return None
    if chunk.isalpha():
        return [chunk]
    stem, mark = chunk[:-1], chunk[-1]
    if ((mark in _WORD_END_MARKS or (mark == "." and "a" <= stem[-1:] <= "z"))
            and stem.isalpha() and stem not in SPECIAL_CASES):
        return [stem, mark]
    return None


def _rule_tokens(chunk: str) -> list[str]:
    """spaCy's rules on one chunk: special cases, affixes and infixes, then the merges."""
    special = SPECIAL_CASES.get(chunk)
    tokens = list(special) if special is not None else _affix_tokens(chunk)
    if len(tokens) > 1:
        tokens = _merge_special_cases(tokens)
    if _CHARACTER_SCRIPT.search(chunk):
        tokens = [piece for token in tokens for piece in _CHARACTER_PIECES.findall(token)]
    return tokens


# Chunks repeat across documents ("the", "said."): their tokens are memoised, bounded.
_CHUNK_CACHE: dict[str, list[str]] = {}
_CHUNK_CACHE_LIMIT = 500_000


def tokens_of_chunks(chunks: list[str]) -> list[list[str]]:
    """The tokens of each chunk: memoised chunks in one C-level pass, the others computed."""
    cache = _CHUNK_CACHE
    tokens = list(map(cache.get, chunks))
    if None in tokens:
        missing = set(chunks).difference(cache)
        if len(cache) + len(missing) > _CHUNK_CACHE_LIMIT:
            cache.clear()
            missing = set(chunks)
        for chunk in missing:
            cache[chunk] = _chunk_tokens(chunk)
        tokens = list(map(cache.__getitem__, chunks))
    return tokens


# The compiled core's tokenizer: the same words from a memo of chunk tokens kept in Rust, the
# commonest ASCII shapes split there, and every other new chunk split by `_chunk_tokens` above.
_TOKENIZER = None if core is None else core.Tokenizer(
    list(SPECIAL_CASES), _chunk_tokens, _CHUNK_CACHE_LIMIT)


def _split_words(text: str) -> tuple[list[str], list[int], np.ndarray | None, np.ndarray | None]:
    """The words of `text`, where each line's words begin (then the word count), and, from the
    compiled core, each word's length and hash (None on the reference, which computes those
    from the words when asked)."""
    if _TOKENIZER is not None:
        try:
            return _TOKENIZER.words(text)
        except UnicodeEncodeError:  # lone surrogates: only the Python reference takes them
            pass
    words, line_starts = words_and_line_starts_reference(text)
    return words, line_starts, None, None


def _words_and_line_starts(text: str) -> tuple[list[str], list[int]]:
    """The words of `text` and where each line's words begin (then the word count)."""
    words, line_starts, _, _ = _split_words(text)
    return words, line_starts


def words_and_line_starts_reference(text: str) -> tuple[list[str], list[int]]:
    """The Python reference of `_words_and_line_starts`, which the core must match."""
    chunk_tokens = tokens_of_chunks(text.split())
    words = list(chain.from_iterable(chunk_tokens))
    words_before_chunk = list(accumulate(map(len, chunk_tokens), initial=0))
    chunks_before_line = accumulate((len(line.split()) for line in text.split("\n")), initial=0)
    return words, [words_before_chunk[i] for i in chunks_before_line]


def split_words(line: str) -> list[str]:
    """The word tokens of one line (see the module docstring for the rules)."""
    return _words_and_line_starts(line)[0]


class Split:
    """Lines, words and n-grams of one text, computed once and shared by every signal.

    Only the lines and the whitespace chunks are made up front (two C-level splits); the words
    and everything after them are computed on first use, so a step that needs the chunks alone
    (deduplication's word hashes, memoised per chunk) never pays for materialising the words.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = text.split("\n")
        # The whitespace-free chunks of the whole text: the same as each line's chunks in turn.
        self.chunks: list[str] = text.split()

    @cached_property
    def line_starts(self) -> list[int]:
        """The offset of every line in `text`."""
        return list(accumulate((len(line) + 1 for line in self.lines), initial=0))[:-1]

    @cached_property
    def chunk_tokens(self) -> list[list[str]]:
        """The word tokens of every chunk."""
        return tokens_of_chunks(self.chunks)

    @cached_property
    def _word_split(self) -> tuple[list[str], list[int], np.ndarray | None, np.ndarray | None]:
        return _split_words(self.text)

    @cached_property
    def words(self) -> list[str]:
        """The word tokens of the text, in order."""
        return self._word_split[0]

    @cached_property
    def line_word_starts(self) -> list[int]:
        """The index in `words` where each line's words begin, then `len(words)`."""
        return self._word_split[1]

    def _from_core(self, index: int) -> np.ndarray | None:
        """An array the compiled core computed with the words (None if the words came from
        elsewhere: the reference, or a caller that set them)."""
        self.words  # noqa: B018 (computes the words, with the core's arrays)
        computed = self.__dict__.get("_word_split")
        return None if computed is None else computed[index]

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
        computed = self._from_core(2)
        if computed is not None:
            return computed
        return np.fromiter(map(len, self.words), dtype=np.int64, count=len(self.words))

    @cached_property
    def word_hashes(self) -> np.ndarray:
        """A 64-bit hash of every word, for vectorised n-gram counting: the compiled core's, or
        on the reference Python's string hash (equal words, equal hashes: that is all the
        n-gram counts use)."""
        computed = self._from_core(3)
        if computed is not None:
            return computed
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
