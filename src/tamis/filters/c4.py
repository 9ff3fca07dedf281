"""C4's quality filter: drop lines by C4's line rules, and pages by its page rules.

Dropped lines become edits named after the rule that dropped them, so a kept document explains
every line it lost. The kept text is exactly the references' output: kept lines stripped,
citations removed, joined with "\\n", the whole stripped. Adjacent edits merge into one, so a run
of consecutive dropped lines is one edit whose detail counts the rules.
"""

from __future__ import annotations

from collections import Counter

from tamis.document import Change, Document
from tamis.signals.c4 import CITATION, C4Result, C4Rules, c4_lines
from tamis.step import Step, StepOptions, register
from tamis.text.split import split


class C4Options(StepOptions, C4Rules):
    """Defaults are datatrove's `C4QualityFilter`; the `c4` preset sets the TFDS original's."""


@register
class C4Quality(Step):
    """Keep only lines that read like sentences; drop pages with code, lorem ipsum, or too few
    sentences left."""

    name = "c4"
    signals = ("c4_sentences", "c4_dropped_lines_frac")
    Options = C4Options
    options: C4Options

    def __call__(self, doc: Document) -> None:
        result = c4_lines(split(doc), self.options)
        doc.signals.update(result.signals())
        if result.page_rule is not None:
            detail = (f"{result.sentences} sentences < {self.options.min_num_sentences}"
                      if result.page_rule == "too_few_sentences" else "")
            doc.remove(self.name, result.page_rule, detail)
            return
        doc.edit(line_changes(doc.text, result))
        if doc.text != doc.text.strip():
            stripped = doc.text.strip()
            lead = len(doc.text) - len(doc.text.lstrip())
            doc.edit([Change(0, lead, "c4.strip", "document edge"),
                      Change(lead + len(stripped), len(doc.text), "c4.strip", "document edge")])


def line_changes(text: str, result: C4Result) -> list[Change]:
    """The edits that turn `text` into its kept lines, joined with "\\n"."""
    changes: list[Change] = []
    position = 0
    dropped: list[str] = []
    first = True
    for line in result.lines:
        if line.dropped_by is not None:
            dropped.append(line.dropped_by)
            continue
        changes.extend(_gap(text, position, line.content_start, "" if first else "\n", dropped))
        if line.cleaned != text[line.content_start:line.content_end]:
            content = text[line.content_start:line.content_end]
            changes.extend(Change(line.content_start + match.start(),
                                  line.content_start + match.end(), "c4.citation", match.group())
                           for match in CITATION.finditer(content))
        position, dropped, first = line.content_end, [], False
    changes.extend(_gap(text, position, len(text), "", dropped))
    return changes


def _gap(text: str, start: int, end: int, replacement: str, dropped: list[str]) -> list[Change]:
    """One change for the text between two kept lines: the dropped lines and separators."""
    if text[start:end] == replacement:
        return []
    if not dropped:
        return [Change(start, end, "c4.strip", "line edges and separators", replacement)]
    counts = Counter(dropped)
    rule = f"c4.{dropped[0]}" if len(counts) == 1 else "c4.lines"
    detail = f"dropped {len(dropped)} line(s): " + ", ".join(
        f"{reason} {count}" for reason, count in counts.items())
    return [Change(start, end, rule, detail, replacement)]
