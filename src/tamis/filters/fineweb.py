"""FineWeb's quality filter, with the thresholds of datatrove 0.10 as defaults."""

from __future__ import annotations

from tamis.document import Document
from tamis.filters.thresholds import Fraction, NonNegative, Threshold, first_failure
from tamis.signals.charsets import TERMINAL_PUNCTUATION
from tamis.signals.fineweb import fineweb_quality
from tamis.step import Step, StepOptions, register
from tamis.text.split import split


class FineWebQualityOptions(StepOptions):
    line_punct_thr: Fraction | None = 0.12
    line_punct_exclude_zero: bool = False
    # Characters that end a punctuated line; empty means datatrove's multilingual set.
    stop_chars: str = ""
    short_line_thr: Fraction | None = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: Fraction | None = 0.01
    new_line_ratio: NonNegative | None = 0.3


_RULES = (
    Threshold("short_line_ratio", "fineweb_short_line_ratio", "short_line_thr", below=False),
    Threshold("char_dup_ratio", "fineweb_char_dup_ratio", "char_duplicates_ratio", below=False),
    Threshold("list_ratio", "fineweb_list_ratio", "new_line_ratio", below=False),
)


@register
class FineWebQuality(Step):
    """Remove documents whose lines rarely end a sentence, are mostly short, repeat each
    other, or that are lists (many newlines per word)."""

    name = "fineweb_quality"
    signals = ("fineweb_lines", "fineweb_line_punct_ratio", "fineweb_short_line_ratio",
               "fineweb_char_dup_ratio", "fineweb_list_ratio")
    Options = FineWebQualityOptions
    options: FineWebQualityOptions

    def __init__(self, options: FineWebQualityOptions | None = None) -> None:
        super().__init__(options)
        self.stop_chars = frozenset(self.options.stop_chars) or TERMINAL_PUNCTUATION

    def __call__(self, doc: Document) -> None:
        signals = fineweb_quality(split(doc), self.stop_chars, self.options.short_line_length)
        doc.signals.update(signals)
        if not signals["fineweb_lines"]:
            doc.remove(self.name, "empty", "no non-blank line")
            return
        ratio, limit = signals["fineweb_line_punct_ratio"], self.options.line_punct_thr
        exempt = ratio == 0 and self.options.line_punct_exclude_zero
        if limit is not None and ratio < limit and not exempt:
            doc.remove(self.name, "line_punct_ratio",
                       f"fineweb_line_punct_ratio {ratio:.4g} < {limit}")
            return
        failure = first_failure(signals, _RULES, self.options)
        if failure is not None:
            doc.remove(self.name, *failure)
