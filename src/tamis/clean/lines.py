"""The document as lines, with their offsets and words: what the span cleaners read.

Built on the document's one shared split (`tamis.text.split`), keeping only the tokens that
are words (with a letter or digit), so punctuation does not make a line look longer. Kept in
`doc.cache` beside the split, which the document empties whenever its text changes.

The cleaners cut whole lines (and the end of the title line), so the split of what is left is
the old split minus those lines: `after_cut` and `after_title_cut` hand it to the steps that
follow instead of letting them tokenise the whole text a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tamis.clean.shape import topic_words
from tamis.document import Document
from tamis.text.split import Split, split, split_words

_CACHE_KEY = "clean.lines"
_SPLIT_KEY = "split"  # where `tamis.text.split` caches a document's split


@dataclass(frozen=True, slots=True)
class Lines:
    """The lines of a text, where each starts, each line's words and its topic words."""

    split: Split
    text: list[str]
    starts: list[int]
    words: list[list[str]]
    topics: list[list[str]]

    def __len__(self) -> int:
        return len(self.text)


def lines_from(shared: Split) -> Lines:
    """The lines view of a split: its lines, their offsets, and their word tokens."""
    words = [_words_only(shared.line_words(index)) for index in range(len(shared.lines))]
    return Lines(shared, shared.lines, shared.line_starts, words,
                 [topic_words(line) for line in words])


def _words_only(tokens: list[str]) -> list[str]:
    # Tokens are words or single punctuation marks: a word starts or ends with a letter/digit.
    return [token for token in tokens if token[0].isalnum() or token[-1].isalnum()]


def split_lines(text: str) -> Lines:
    """The lines view of a bare text (for tools that have no `Document`)."""
    return lines_from(Split(text))


def lines_of(doc: Document) -> Lines:
    """The document's lines view, built once per text from its shared split."""
    cached = doc.cache.get(_CACHE_KEY)
    if cached is None or cached.split.text is not doc.text:
        cached = lines_from(split(doc))
        doc.cache[_CACHE_KEY] = cached
    return cached


def after_cut(doc: Document, lines: Lines, kept: list[int]) -> None:
    """Cache the split of `doc` after whole lines were cut, leaving the lines `kept`.

    Nothing is tokenised again: the kept lines' words are the ones the old split found.
    """
    if "\n".join(lines.text[index] for index in kept) != doc.text:
        return  # not a whole-line cut: let the next step split the text afresh
    _remember(doc, lines, kept, {})


def after_title_cut(doc: Document, lines: Lines, title: str) -> None:
    """Cache the split of `doc` after its first line became `title`."""
    old_text = lines.split.text
    if doc.text != title + old_text[len(lines.text[0]):]:
        return
    _remember(doc, lines, list(range(len(lines))), {0: title})


def _remember(doc: Document, lines: Lines, kept: list[int], replaced: dict[int, str]) -> None:
    old = lines.split
    new = Split.__new__(Split)  # filled in below from the old split, not by tokenising
    new.text = doc.text
    new.lines, new.line_starts, new.words, new.line_word_starts = [], [], [], []
    words, topics = [], []
    position = 0
    for index in kept:
        line = replaced.get(index, old.lines[index])
        new.lines.append(line)
        new.line_starts.append(position)
        new.line_word_starts.append(len(new.words))
        position += len(line) + 1
        if index in replaced:
            tokens = split_words(line) if line and not line.isspace() else []
            new.words.extend(tokens)
            words.append(_words_only(tokens))
            topics.append(topic_words(words[-1]))
        else:
            new.words.extend(old.line_words(index))
            words.append(lines.words[index])
            topics.append(lines.topics[index])
    new.line_word_starts.append(len(new.words))
    new.chunks = doc.text.split()
    doc.cache[_SPLIT_KEY] = new
    doc.cache[_CACHE_KEY] = Lines(new, new.lines, new.line_starts, words, topics)
