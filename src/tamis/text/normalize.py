"""Normalisation: whitespace, Unicode NFC, mojibake (only where detected).

Each change is recorded as an edit with its rule, so a normalised document still rebuilds its
input. Normalisation is per line: a line that needs nothing costs one cheap check.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import ftfy
import regex

from tamis.document import Change, Document
from tamis.step import Step, StepOptions, register

# Within one line: whitespace at its edges goes, inner runs (and tabs, no-break spaces...)
# become one plain space.
_LINE_SPACE = regex.compile(r"(?P<line_edge>^\s+|\s+$)|(?P<inner_space>\s{2,}|[^\S ])")
_ODD_SPACE = regex.compile(r"[^\S\n ]")
_REPLACEMENT = {"line_edge": "", "inner_space": " "}


# UTF-8 read as Latin-1 or Windows-1252 leaves a lead character (Â-ô) followed by a
# continuation-byte character. Text without that pair cannot be this kind of mojibake, so
# ftfy's slower check only runs on documents that have it.
_MOJIBAKE_HINT = regex.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]")


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
        # Mojibake last: ftfy judges in context, so it must see the final spacing and composed
        # characters, or a second run could judge differently (twice must change nothing).
        if self.options.whitespace:
            doc.edit(whitespace_changes(doc.text))
        if self.options.nfc and not unicodedata.is_normalized("NFC", doc.text):
            doc.edit(_line_changes(doc.text, _nfc, "normalize.nfc"))
        if self.options.mojibake and _MOJIBAKE_HINT.search(doc.text):
            doc.edit(_line_changes(doc.text, _fix_mojibake, "normalize.mojibake"))


def _fix_mojibake(line: str) -> str:
    # ftfy's badness check is the "detected" part: clean lines are never touched.
    if line.isascii() or not ftfy.is_bad(line):
        return line
    return unicodedata.normalize("NFC", ftfy.fix_encoding(line))


def _nfc(line: str) -> str:
    return unicodedata.normalize("NFC", line)


def _line_changes(text: str, fix: Callable[[str], str], rule: str) -> list[Change]:
    """One change per line that `fix` alters, narrowed to the part that differs.

    Narrow changes keep separate fixes separate (a mojibake repair and a composed accent on the
    same line stay two edits with their own rules).
    """
    changes = []
    position = 0
    for line in text.split("\n"):
        fixed = fix(line)
        if fixed != line:
            head = _shared_prefix(line, fixed)
            tail = _shared_prefix(line[head:][::-1], fixed[head:][::-1])
            changes.append(Change(position + head, position + len(line) - tail, rule, "",
                                  fixed[head:len(fixed) - tail]))
        position += len(line) + 1
    return changes


def _shared_prefix(first: str, second: str) -> int:
    length = min(len(first), len(second))
    index = 0
    while index < length and first[index] == second[index]:
        index += 1
    return index


def whitespace_changes(text: str) -> list[Change]:
    """Changes that trim the document and its lines, collapse inner whitespace, and keep at
    most one blank line between paragraphs.

    Works line by line with cheap string checks, so a clean line costs next to nothing.
    """
    rule = "normalize.whitespace"
    body = text.strip()
    if not body:
        return [Change(0, len(text), rule, "document_edge")] if text else []
    lead = text.index(body[0])
    changes = []
    if lead:
        changes.append(Change(0, lead, rule, "document_edge"))
    position = lead
    blank_start = -1  # where the newlines before a run of blank lines begin
    for line in body.split("\n"):
        end = position + len(line)
        if not line.strip():
            if blank_start < 0:
                blank_start = position - 1
        else:
            if blank_start >= 0:
                if text[blank_start:position] != "\n\n":
                    changes.append(Change(blank_start, position, rule, "blank_lines", "\n\n"))
                blank_start = -1
            if line[0] == " " or line[-1] == " " or "  " in line or _ODD_SPACE.search(line):
                changes.extend(
                    Change(position + match.start(), position + match.end(), rule,
                           match.lastgroup, _REPLACEMENT[match.lastgroup])
                    for match in _LINE_SPACE.finditer(line)
                    if match.group() != _REPLACEMENT[match.lastgroup])
        position = end + 1
    if position - 1 < len(text):
        changes.append(Change(position - 1, len(text), rule, "document_edge"))
    return changes
