"""The document model: edits recorded in input coordinates always rebuild the input."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamis.document import Change, Document, _Piece, rebuild_input
from tamis.text.normalize import Normalize

ALPHABET = st.sampled_from(list("ab \n\t\u00e9e\u0301"))


@st.composite
def documents_with_edit_rounds(draw: st.DrawFn) -> tuple[str, list[list[tuple]]]:
    text = draw(st.text(ALPHABET, max_size=40))
    rounds = []
    length = len(text)
    for _ in range(draw(st.integers(1, 4))):
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=6)))
        pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
        # Two insertions at one point have no natural order: keep one of them.
        pairs = [pair for number, pair in enumerate(pairs)
                 if not (pair[0] == pair[1] and pair in pairs[:number])]
        replacements = [draw(st.sampled_from(["", "X", "YY"])) for _ in pairs]
        rounds.append([(a, b, r) for (a, b), r in zip(pairs, replacements, strict=True)])
        length = length - sum(b - a for a, b in pairs) + sum(map(len, replacements))
    return text, rounds


@settings(max_examples=400, deadline=None)
@given(documents_with_edit_rounds())
def test_edits_rebuild_the_input_after_any_sequence_of_changes(case) -> None:
    text, rounds = case
    doc = Document("d", text)
    for number, changes in enumerate(rounds):
        expected = doc.text
        for start, end, replacement in sorted(changes, reverse=True):
            expected = expected[:start] + replacement + expected[end:]
        doc.edit([Change(a, b, f"rule{number}", "", r) for a, b, r in changes])
        assert doc.text == expected
        assert doc.rebuild_input() == text
        edits = doc.edits
        assert all(left.end <= right.start for left, right in itertools.pairwise(edits))
        assert all(text[edit.start:edit.end] == edit.original for edit in edits)
        again = Document.from_state(doc.to_state())
        assert again.text == doc.text and again.edits == edits


def test_a_change_touching_an_earlier_edit_absorbs_it() -> None:
    doc = Document("d", "one  two three")
    doc.edit([Change(3, 5, "space", "", " ")])           # "one two three"
    doc.edit([Change(0, 8, "cut", "first words")])        # "three"
    assert doc.text == "three"
    assert [(e.start, e.end, e.rule, e.original) for e in doc.edits] == [
        (0, 9, "cut", "one  two ")]
    assert rebuild_input(doc.text, doc.edits) == "one  two three"


def test_overlapping_or_out_of_range_changes_are_refused() -> None:
    doc = Document("d", "abcdef")
    with pytest.raises(ValueError, match="overlapping"):
        doc.edit([Change(0, 3, "a"), Change(2, 4, "b")])
    with pytest.raises(ValueError, match="outside the text"):
        doc.edit([Change(4, 9, "a")])


def test_removal_keeps_the_first_reason() -> None:
    doc = Document("d", "text")
    doc.remove("first", "r1", "because")
    doc.remove("second", "r2")
    assert doc.removed_by is not None and doc.removed_by.step == "first"
    assert doc.to_record()["removed_by"] == {"step": "first", "rule": "r1", "detail": "because"}


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("ab \n\t\r\u00a0\u00e9\u0301Ã©")), max_size=60))
def test_normalize_is_idempotent_and_rebuildable(text: str) -> None:
    step = Normalize()
    doc = Document("d", text)
    step(doc)
    assert doc.rebuild_input() == text
    again = Document("d", doc.text)
    step(again)
    assert again.text == doc.text


def test_normalize_fixes_what_it_should() -> None:
    doc = Document("d", "  Caf\u00c3\u00a9 au   lait\t\u00e9te\u0301  \n\n\n\n  second line \n")
    Normalize()(doc)
    assert doc.text == "Caf\u00e9 au lait \u00e9t\u00e9\n\nsecond line"
    rules = {edit.rule for edit in doc.edits}
    assert {"normalize.mojibake", "normalize.whitespace"} <= rules


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab \n", min_size=1, max_size=40), data=st.data())
def test_many_changes_on_an_unedited_text_are_applied_as_one_by_one(text: str, data) -> None:
    """The one-pass path for a text never edited gives the same text and edits as the general
    path (forced here by cutting the same text into two unedited pieces)."""
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=8)))
    changes = [Change(a, b, f"r{a}", replacement=data.draw(st.sampled_from(["", "x", "\n"])))
               for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    fast = Document("d", text)
    fast.edit(changes)
    general = Document("d", text)
    middle = len(text) // 2
    general._pieces = [_Piece(0, middle, text[:middle], None),
                       _Piece(middle, len(text), text[middle:], None)]
    general.edit(changes)
    assert fast.text == general.text
    assert fast.edits == general.edits
    assert fast.rebuild_input() == text
