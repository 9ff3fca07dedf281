"""The shared split: lines, offsets, words per line, paragraphs, n-grams, caching."""

from __future__ import annotations

from tamis.document import Change, Document
from tamis.text import split
from tamis.text.split import Split, split_words


def test_lines_and_offsets_rebuild_the_text() -> None:
    text = "First line.\n\n  Second, indented.\nlast"
    parts = Split(text)
    assert parts.lines == ["First line.", "", "  Second, indented.", "last"]
    assert parts.line_starts == [0, 12, 13, 33]
    for line, start in zip(parts.lines, parts.line_starts, strict=True):
        assert text[start:start + len(line)] == line


def test_words_follow_spacy_english_rules() -> None:
    assert split_words("Hello, world! Don't stop: it's well-known.") == [
        "Hello", ",", "world", "!", "Do", "n't", "stop", ":", "it", "'s", "well", "-", "known",
        "."]
    assert split_words("Pay $5.00 (or 1,000) at 12:30 ... U.S. e.g. O'Neil") == [
        "Pay", "$", "5.00", "(", "or", "1,000", ")", "at", "12:30", "...", "U.S.", "e.g.",
        "O'Neil"]
    assert split_words("see https://example.com/a?b=1. now") == [
        "see", "https://example.com/a?b=1", ".", "now"]


def test_cjk_and_thai_are_split_per_character() -> None:
    assert split_words("作曲 by 山田") == ["作", "曲", "by", "山", "田"]
    assert split_words("ภาษาไทย") == list("ภาษาไทย")


def test_words_know_their_line() -> None:
    parts = Split("one two\n\nthree four five\nsix")
    assert parts.line_word_starts == [0, 2, 2, 5, 6]
    assert parts.line_words(2) == ["three", "four", "five"]
    assert parts.word_lines.tolist() == [0, 0, 2, 2, 2, 3]


def test_paragraphs_and_ngrams() -> None:
    parts = Split("\na b c\n\n\nd e\n")
    assert parts.paragraphs == ["a b c", "d e"]
    assert parts.ngrams(2) == ["a b", "b c", "c d", "d e"]
    assert parts.ngrams(6) == []
    assert parts.word_lengths.tolist() == [1, 1, 1, 1, 1]


def test_split_is_cached_until_the_text_changes() -> None:
    doc = Document("d", "alpha beta\ngamma")
    first = split(doc)
    assert split(doc) is first
    doc.edit([Change(0, 6, "test")])
    second = split(doc)
    assert second is not first
    assert second.words == ["beta", "gamma"]


def test_common_shapes_are_tokenised_as_the_rules_tokenise_them() -> None:
    """The shortcut for letters and letters-then-a-mark gives what spaCy's rules give: on every
    chunk of the near-duplicate set's real pages, and on each of its words followed by every
    mark the shortcut knows, for one word in ten (where the rules keep "V." or "SpaceX." whole,
    it must not cut)."""
    import gzip
    import json

    from conftest import DATA, need_shared

    from tamis.text.split import _common_shape_tokens, _rule_tokens

    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    chunks: set[str] = set()
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            chunks.update(json.loads(line)["text"].split())
    words = sorted({chunk.strip(",.;:!?)\"'(") for chunk in chunks} - {""})[::10]
    chunks |= {word + mark for word in words for mark in ",;:!?)\"'."}
    shortcut = 0
    for chunk in sorted(chunks):
        tokens = _common_shape_tokens(chunk)
        if tokens is not None:
            shortcut += 1
            assert tokens == _rule_tokens(chunk), chunk
    assert shortcut > len(chunks) // 2
