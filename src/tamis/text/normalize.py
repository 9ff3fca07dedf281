"""Normalisation: mojibake (only where detected), Unicode NFC, whitespace.

Each change is recorded as an edit with its rule, so a normalised document still rebuilds its
input. Normalisation is per line: a line that needs nothing costs one cheap check.
"""

from __future__ import annotations

import unicodedata

import ftfy
import regex

from tamis.document import Change, Document
from tamis.pipeline import Step, StepOptions, register

# Runs of horizontal whitespace (any Unicode space, tab) inside a line become one space.
_INNER_SPACE = regex.compile(r"[^\S\n]{2,}|[^\S\n ]")
_EDGE_SPACE = regex.compile(r"^[^\S\n]+|[^\S\n]+$", regex.MULTILINE)
_BLANK_RUN = regex.compile(r"\n[^\S\n]*(?:\n[^\S\n]*){2,}")
_DOC_EDGE = regex.compile(r"^\s+|\s+$")


class NormalizeOptions(StepOptions):
    mojibake: bool = True
    nfc: bool = True
    whitespace: bool = True


@register
class Normalize(Step):
    """Repair mojibake, compose Unicode, and tidy whitespace, recording each change."""

    name = "normalize"
    Options = NormalizeOptions
    options: NormalizeOptions

    def __call__(self, doc: Document) -> None:
        if self.options.mojibake:
            doc.edit(_line_changes(doc.text, _fix_mojibake, "normalize.mojibake"))
        if self.options.nfc and not unicodedata.is_normalized("NFC", doc.text):
            doc.edit(_line_changes(doc.text, _nfc, "normalize.nfc"))
        if self.options.whitespace:
            doc.edit(whitespace_changes(doc.text))


def _fix_mojibake(line: str) -> str:
    # ftfy's badness check is the "detected" part: clean lines are never touched.
    if line.isascii() or not ftfy.is_bad(line):
        return line
    return ftfy.fix_encoding(line)


def _nfc(line: str) -> str:
    return unicodedata.normalize("NFC", line)


def _line_changes(text: str, fix, rule: str) -> list[Change]:
    changes = []
    position = 0
    for line in text.split("\n"):
        fixed = fix(line)
        if fixed != line:
            changes.append(Change(position, position + len(line), rule, "", fixed))
        position += len(line) + 1
    return changes


def whitespace_changes(text: str) -> list[Change]:
    """Changes that collapse inner whitespace, trim lines, and keep at most one blank line."""
    spans: dict[int, Change] = {}
    for match in _DOC_EDGE.finditer(text):
        spans[match.start()] = Change(match.start(), match.end(), "normalize.whitespace",
                                      "document edge")
    covered = [(change.start, change.end) for change in spans.values()]

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in covered)

    for match in _BLANK_RUN.finditer(text):
        if free(match.start(), match.end()):
            spans[match.start()] = Change(match.start(), match.end(), "normalize.whitespace",
                                          "blank lines", "\n\n")
            covered.append((match.start(), match.end()))
    for match in _EDGE_SPACE.finditer(text):
        if match.start() != match.end() and free(match.start(), match.end()):
            spans[match.start()] = Change(match.start(), match.end(), "normalize.whitespace",
                                          "line edge")
            covered.append((match.start(), match.end()))
    for match in _INNER_SPACE.finditer(text):
        if free(match.start(), match.end()):
            spans[match.start()] = Change(match.start(), match.end(), "normalize.whitespace",
                                          "inner space", " ")
    return list(spans.values())
