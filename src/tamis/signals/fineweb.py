"""FineWeb's quality signals (Penedo et al. 2024), as datatrove 0.10 computes them.

The line ratios count only non-blank lines of `text.split("\\n")`; the duplicate-line
characters divide by the text length without newlines; the list ratio divides the newline count
by the number of words.
"""

from __future__ import annotations

from tamis.signals.charsets import TERMINAL_PUNCTUATION
from tamis.signals.gopher import duplicates
from tamis.text.split import Split


def fineweb_quality(split: Split, stop_chars: frozenset[str] = TERMINAL_PUNCTUATION,
                    short_line_length: int = 30) -> dict[str, float]:
    """Line punctuation ratio, short line ratio, duplicate line characters, newline ratio.

    `stop_chars` are single characters; a line is punctuated when its last one is among them.
    """
    text = split.text
    lines = [line for line in split.lines if line.strip()]
    if not lines:
        return {"fineweb_lines": 0}
    punctuated = sum(1 for line in lines if line[-1] in stop_chars)
    short = sum(1 for line in lines if len(line) <= short_line_length)
    newlines = len(split.lines) - 1
    return {
        "fineweb_lines": len(lines),
        "fineweb_line_punct_ratio": punctuated / len(lines),
        "fineweb_short_line_ratio": short / len(lines),
        "fineweb_char_dup_ratio": duplicates(lines)[1] / (len(text) - newlines),
        "fineweb_list_ratio": newlines / len(split.words),
    }
