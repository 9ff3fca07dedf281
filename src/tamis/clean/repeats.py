"""Repeated leads: near-verbatim repeats of the article's own sentences, measured, never cut.

Publishers repeat their lead as summary bullets or pull quotes (the seed's first lines come back
in its body). That is the article's own text, so it stays; how much of it there is, is a
signal a filter may use.
"""

from __future__ import annotations

from tamis.clean.lines import lines_of
from tamis.document import Document
from tamis.step import Step, StepOptions, register


class RepeatOptions(StepOptions):
    # A line is compared with this many lines before it (repeats sit near their original).
    window: int = 10
    # Lines with fewer topic words than this are too short to call a repeat.
    min_words: int = 4
    # Share of the shorter line's topic words found in the other line that makes a repeat.
    min_overlap: float = 0.8


@register
class RepeatedLead(Step):
    """Signals `repeated_lead_lines` (count) and `repeated_lead_fraction` (share of characters)."""

    name = "repeated_lead"
    signals = ("repeated_lead_lines", "repeated_lead_fraction")
    Options = RepeatOptions
    options: RepeatOptions

    def __call__(self, doc: Document) -> None:
        if "\n" not in doc.text:  # one line repeats nothing
            doc.signals["repeated_lead_lines"] = doc.signals["repeated_lead_fraction"] = 0.0
            return
        lines = lines_of(doc)
        repeats = near_repeats(lines.topics, self.options)
        doc.signals["repeated_lead_lines"] = float(len(repeats))
        repeated_chars = sum(len(lines.text[index]) for index, _ in repeats)
        doc.signals["repeated_lead_fraction"] = repeated_chars / max(len(doc.text), 1)


def near_repeats(topics: list[list[str]], options: RepeatOptions) -> list[tuple[int, int]]:
    """Pairs (line, earlier line it nearly repeats): most of the shorter one's words are shared."""
    sets = [set(line_topics) for line_topics in topics]
    pairs = []
    for index, current in enumerate(sets):
        if len(current) < options.min_words:
            continue
        for earlier in range(max(0, index - options.window), index):
            other = sets[earlier]
            if len(other) < options.min_words:
                continue
            shorter = min(len(current), len(other))
            if len(current & other) >= options.min_overlap * shorter:
                pairs.append((index, earlier))
                break
    return pairs
