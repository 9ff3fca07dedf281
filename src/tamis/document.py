"""The document as it moves through a pipeline.

A `Document` remembers the text it came in with (`input_text`) and every change made to it since.
Steps never assign `doc.text` directly: they call `doc.edit(...)` with spans in the *current*
text, and the document records each change as an `Edit` in *input* coordinates (Unicode code
points). That is what makes invariant 2 hold: the input text can always be rebuilt from the output
text and its edits (`rebuild_input`), and every removed byte carries the rule that removed it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """A change a step asks for, in coordinates of the document's *current* text."""

    start: int
    end: int
    rule: str
    detail: str = ""
    replacement: str = ""
    # Keep the replaced text out of the output records (PII): see `Edit.withheld`.
    withhold: bool = False


# What a withheld original becomes in the output, one per code point, so offsets stay right.
WITHHELD = "\ufffd"


@dataclass(frozen=True, slots=True)
class Edit:
    """A recorded change, in coordinates of the document's *input* text.

    `original` is the input text of the span, so that the input can be rebuilt from the output.
    A `withheld` edit (a redacted e-mail address, say) keeps its original in memory only: the
    output records say where it was and how long, never what it was, so rebuilding the input
    from the output gives `WITHHELD` characters in its place.
    """

    start: int
    end: int
    rule: str
    detail: str
    replacement: str
    original: str
    withheld: bool = False
    # Stretches of `original` (offsets into it) withheld from the output, as `withheld` does
    # for the whole: PII inside a span another rule cut (see `Document.withhold_in_originals`).
    hidden: tuple[tuple[int, int], ...] = ()

    @property
    def shown(self) -> str:
        """The original as reports and output records may show it."""
        if self.withheld:
            return WITHHELD * (self.end - self.start)
        if not self.hidden:
            return self.original
        parts, position = [], 0
        for start, end in self.hidden:
            parts += [self.original[position:start], WITHHELD * (end - start)]
            position = end
        return "".join(parts) + self.original[position:]

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"start": self.start, "end": self.end, "rule": self.rule,
                                  "detail": self.detail}
        if self.replacement:
            record["replacement"] = self.replacement
        if self.withheld:
            record["withheld"] = True
        else:
            record["original"] = self.shown
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Edit:
        withheld = bool(record.get("withheld"))
        original = record.get("original") or ""
        if withheld and not original:
            original = WITHHELD * (record["end"] - record["start"])
        return cls(record["start"], record["end"], record["rule"], record.get("detail", ""),
                   record.get("replacement", ""), original, withheld)


@dataclass(frozen=True, slots=True)
class Removal:
    """Why a document left the pipeline: the step, a short rule code and a human detail."""

    step: str
    rule: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"step": self.step, "rule": self.rule, "detail": self.detail}


@dataclass(slots=True)
class _Piece:
    """A stretch of the current text and the input span it stands for.

    Unchanged pieces have `edit is None` and their text equals the input span; edited pieces
    carry the edit that produced them.
    """

    input_start: int
    input_end: int
    text: str
    edit: Edit | None


@dataclass
class Document:
    """One document: id, text, metadata, the edits made to it, its signals and its verdict."""

    id: str
    input_text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    removed_by: Removal | None = None
    duplicate_of: str | None = None
    cluster: str | None = None
    _pieces: list[_Piece] = field(default_factory=list, repr=False)
    _text: str | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._pieces:
            self._pieces = [_Piece(0, len(self.input_text), self.input_text, None)]

    # -- text and edits -------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The current text: the input text with every edit applied."""
        if self._text is None:
            self._text = "".join(piece.text for piece in self._pieces)
        return self._text

    @property
    def edits(self) -> list[Edit]:
        """The edits made so far, sorted by input position, never overlapping."""
        return [piece.edit for piece in self._pieces if piece.edit is not None]

    @property
    def cache(self) -> dict[str, Any]:
        """Per-document scratch space shared by steps (the text split lives here).

        It is emptied whenever the text changes, so nothing computed on old text survives.
        """
        return self._cache

    def edit(self, changes: list[Change]) -> None:
        """Apply changes given in current-text coordinates and record them as edits.

        Changes must not overlap each other. A change that overlaps an earlier edit absorbs it:
        the recorded edit then spans both, so edits never overlap and the input stays
        rebuildable. A deletion that only touches an earlier deletion stays a separate edit.
        """
        if not changes:
            return
        ordered = sorted(changes, key=lambda change: (change.start, change.end))
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(f"overlapping changes: {before} and {after}")
        text_length = len(self.text)
        for change in ordered:
            if not 0 <= change.start <= change.end <= text_length:
                raise ValueError(f"change {change} is outside the text (length {text_length})")
        whole = self._pieces[0]
        if (len(self._pieces) == 1 and whole.edit is None and whole.input_start == 0
                and whole.input_end == len(self.input_text)
                and all(change.start < change.end for change in ordered)):
            self._edit_unedited(ordered)
            return
        # Work from the right: a change only moves pieces at or after the first one it
        # touches, so the start offsets of the pieces further left stay valid.
        starts: list[int] = []
        position = 0
        for piece in self._pieces:
            starts.append(position)
            position += len(piece.text)
        for change in reversed(ordered):
            first = self._apply(change, starts)
            del starts[first + 1:]
        self._text = None
        self._cache.clear()

    def _edit_unedited(self, ordered: list[Change]) -> None:
        """`edit` in one pass on a text never edited, with sorted changes that all replace at
        least one character: current and input offsets are then the same, so the pieces are
        the unchanged stretches between the changes and one edited piece per change (what the
        general path builds change by change, in far fewer steps)."""
        text = self.input_text
        pieces: list[_Piece] = []
        position = 0
        for change in ordered:
            if change.start > position:
                pieces.append(_Piece(position, change.start, text[position:change.start], None))
            edit = Edit(change.start, change.end, change.rule, change.detail, change.replacement,
                        text[change.start:change.end], change.withhold)
            pieces.append(_Piece(change.start, change.end, change.replacement, edit))
            position = change.end
        if position < len(text):
            pieces.append(_Piece(position, len(text), text[position:], None))
        self._pieces = pieces
        self._text = None
        self._cache.clear()

    def _piece_end(self, index: int, starts: list[int]) -> int:
        return starts[index] + len(self._pieces[index].text)

    def _touched(self, change: Change, starts: list[int]) -> tuple[int, int]:
        """The first and last piece a change touches (first > last when it touches none).

        A change touches the pieces it overlaps and any deleted (empty) piece strictly inside
        it; an insertion touches only a piece it falls strictly inside. A deleted piece at the
        edge of a deletion stays its own edit, so two adjacent cuts by different rules (a link
        list, then a dangling fragment) each keep their rule.
        """
        a, b = change.start, change.end
        before = bisect.bisect_left(starts, a) - 1  # the last piece starting before a
        straddles = before >= 0 and self._piece_end(before, starts) > a
        if a == b:
            return (before, before) if straddles else (before + 1, before)
        first = before if straddles else before + 1
        while starts[first] == a and not self._pieces[first].text:  # a deletion at the edge
            first += 1
        last = bisect.bisect_left(starts, b) - 1  # the last piece starting before b
        return first, last

    def _apply(self, change: Change, starts: list[int]) -> int:
        """Apply one change; return the index of the first piece it replaced."""
        first, last = self._touched(change, starts)
        if first > last:  # a pure insertion at a piece boundary (or into an empty document)
            pieces = self._pieces
            input_at = (pieces[first].input_start if first < len(pieces)
                        else pieces[-1].input_end)
            edit = Edit(input_at, input_at, change.rule, change.detail, change.replacement, "")
            pieces.insert(first, _Piece(input_at, input_at, change.replacement, edit))
            return first
        head, tail = self._pieces[first], self._pieces[last]
        head_offset = max(change.start - starts[first], 0)
        tail_offset = min(change.end - starts[last], len(tail.text))
        new_pieces: list[_Piece] = []
        prefix = suffix = ""
        if head.edit is None:
            input_start = head.input_start + head_offset
            if head_offset:
                new_pieces.append(_Piece(head.input_start, input_start,
                                         head.text[:head_offset], None))
        else:
            input_start = head.input_start
            prefix = head.text[:head_offset]
        if tail.edit is None:
            input_end = tail.input_start + tail_offset
        else:
            input_end = tail.input_end
            suffix = tail.text[tail_offset:]
        original = self.input_text[input_start:input_end]
        replacement = prefix + change.replacement + suffix
        withheld = change.withhold or any(piece.edit is not None and piece.edit.withheld
                                          for piece in self._pieces[first:last + 1])
        edit = Edit(input_start, input_end, change.rule, change.detail, replacement, original,
                    withheld)
        new_pieces.append(_Piece(input_start, input_end, replacement, edit))
        if tail.edit is None and tail_offset < len(tail.text):
            new_pieces.append(_Piece(input_end, tail.input_end, tail.text[tail_offset:], None))
        self._pieces[first:last + 1] = new_pieces
        return first

    def withhold_within(self, find: Callable[[str], Iterable[tuple[int, int]]]) -> None:
        """Withhold from the output the stretches `find` reports (PII) in what the record says
        besides its text: the original of each edit (a cut span), as a withheld edit does (the
        record shows `WITHHELD` for each of their characters, so offsets stay right), and the
        details of the edits and of the removal, which may quote the text."""
        for piece in self._pieces:
            edit = piece.edit
            if edit is None:
                continue
            hidden = () if edit.withheld else tuple(sorted(find(edit.original)))
            detail = withhold(edit.detail, find)
            if hidden or detail != edit.detail:
                piece.edit = replace(edit, hidden=hidden, detail=detail)
        if self.removed_by is not None:
            self.removed_by = replace(self.removed_by,
                                      detail=withhold(self.removed_by.detail, find))

    def rebuild_input(self) -> str:
        """The input text, rebuilt from the current text and the edits alone."""
        return rebuild_input(self.text, self.edits)

    # -- verdict --------------------------------------------------------------------------

    @property
    def kept(self) -> bool:
        return self.removed_by is None

    def remove(self, step: str, rule: str, detail: str = "") -> None:
        """Mark the document removed; the first removal wins."""
        if self.removed_by is None:
            self.removed_by = Removal(step, rule, detail)

    # -- records --------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        """The output record of the contract (kept or removed)."""
        record: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "metadata": self.metadata,
            "source": self.source,
            "signals": self.signals,
            "edits": [edit.to_dict() for edit in self.edits],
        }
        if self.removed_by is not None:
            record["removed_by"] = self.removed_by.to_dict()
            if self.duplicate_of is not None:
                record["duplicate_of"] = self.duplicate_of
                record["cluster"] = self.cluster
        return record

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume work on this document in a later pass."""
        record = self.to_record()
        record["input_text"] = self.input_text
        return record

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Document:
        """Inverse of `to_state`."""
        removed = state.get("removed_by")
        doc = cls(
            id=state["id"],
            input_text=state["input_text"],
            metadata=state.get("metadata", {}),
            source=state.get("source", {}),
            signals=state.get("signals", {}),
            removed_by=Removal(**removed) if removed else None,
            duplicate_of=state.get("duplicate_of"),
            cluster=state.get("cluster"),
        )
        edits = [Edit.from_dict(item) for item in state.get("edits", [])]
        doc._pieces = _pieces_from_edits(doc.input_text, edits)
        return doc


def _pieces_from_edits(input_text: str, edits: list[Edit]) -> list[_Piece]:
    pieces: list[_Piece] = []
    position = 0
    for edit in edits:
        if edit.withheld:  # the state keeps the input text, so the original is known again
            edit = replace(edit, original=input_text[edit.start:edit.end])
        if edit.start > position:
            pieces.append(_Piece(position, edit.start, input_text[position:edit.start], None))
        pieces.append(_Piece(edit.start, edit.end, edit.replacement, edit))
        position = edit.end
    if position < len(input_text) or not pieces:
        pieces.append(_Piece(position, len(input_text), input_text[position:], None))
    return pieces


def withhold(text: str, find: Callable[[str], Iterable[tuple[int, int]]]) -> str:
    """`text` with the stretches `find` reports replaced by `WITHHELD`, one per character."""
    for start, end in sorted(find(text), reverse=True):
        text = text[:start] + WITHHELD * (end - start) + text[end:]
    return text


def rebuild_input(text: str, edits: list[Edit]) -> str:
    """Undo `edits` on `text`: the inverse of what `Document.edit` recorded."""
    parts: list[str] = []
    input_position = 0
    output_position = 0
    for edit in sorted(edits, key=lambda item: (item.start, item.end)):
        unchanged = edit.start - input_position
        parts.append(text[output_position:output_position + unchanged])
        parts.append(edit.original)
        output_position += unchanged + len(edit.replacement)
        input_position = edit.end
    parts.append(text[output_position:])
    return "".join(parts)
