"""Gopher's quality and repetition filters, with the published thresholds as defaults.

Rule codes are datatrove's, so that removal counts compare one to one with a datatrove run.
Setting a threshold to null turns its rule off.
"""

from __future__ import annotations

from tamis.document import Document
from tamis.filters.thresholds import Fraction, NonNegative, Threshold, first_failure
from tamis.signals.gopher import (
    GOPHER_STOP_WORDS,
    REPETITION_SIGNALS,
    gopher_quality,
    gopher_repetition,
)
from tamis.step import Step, StepOptions, register
from tamis.text.split import split


class GopherQualityOptions(StepOptions):
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: NonNegative | None = 3
    max_avg_word_length: NonNegative | None = 10
    max_symbol_word_ratio: NonNegative | None = 0.1
    max_bullet_lines_ratio: Fraction | None = 0.9
    max_ellipsis_lines_ratio: Fraction | None = 0.3
    min_alpha_words_ratio: Fraction | None = 0.8
    min_stop_words: int | None = 2
    stop_words: tuple[str, ...] = GOPHER_STOP_WORDS


_QUALITY_RULES = (
    Threshold("gopher_short_doc", "gopher_word_count", "min_doc_words", below=True),
    Threshold("gopher_long_doc", "gopher_word_count", "max_doc_words", below=False),
    Threshold("gopher_below_avg_threshold", "gopher_mean_word_length", "min_avg_word_length",
              below=True),
    Threshold("gopher_above_avg_threshold", "gopher_mean_word_length", "max_avg_word_length",
              below=False),
    Threshold("gopher_too_many_hashes", "gopher_hash_ratio", "max_symbol_word_ratio", below=False),
    Threshold("gopher_too_many_ellipsis", "gopher_ellipsis_ratio", "max_symbol_word_ratio",
              below=False),
    Threshold("gopher_too_many_bullets", "gopher_bullet_lines_ratio", "max_bullet_lines_ratio",
              below=False),
    Threshold("gopher_too_many_end_ellipsis", "gopher_end_ellipsis_lines_ratio",
              "max_ellipsis_lines_ratio", below=False),
    Threshold("gopher_below_alpha_threshold", "gopher_alpha_words_ratio", "min_alpha_words_ratio",
              below=True),
    Threshold("gopher_enough_stop_words", "gopher_stop_words", "min_stop_words", below=True),
)


@register
class GopherQuality(Step):
    """Remove documents that do not look like prose: too short or long, odd word lengths,
    symbol-heavy, mostly bullets or trailing ellipses, few alphabetic words, no stop words."""

    name = "gopher_quality"
    signals = ("gopher_word_count", "gopher_mean_word_length", "gopher_hash_ratio",
               "gopher_ellipsis_ratio", "gopher_bullet_lines_ratio",
               "gopher_end_ellipsis_lines_ratio", "gopher_alpha_words_ratio", "gopher_stop_words")
    Options = GopherQualityOptions
    options: GopherQualityOptions

    def __call__(self, doc: Document) -> None:
        signals = gopher_quality(split(doc), self.options.stop_words)
        doc.signals.update(signals)
        failure = first_failure(signals, _QUALITY_RULES, self.options)
        if failure is not None:
            doc.remove(self.name, *failure)


class GopherRepetitionOptions(StepOptions):
    dup_para_frac: Fraction | None = 0.3
    dup_para_char_frac: Fraction | None = 0.2
    dup_line_frac: Fraction | None = 0.3
    dup_line_char_frac: Fraction | None = 0.2
    top_2_gram_frac: Fraction | None = 0.2
    top_3_gram_frac: Fraction | None = 0.18
    top_4_gram_frac: Fraction | None = 0.16
    dup_5_gram_frac: Fraction | None = 0.15
    dup_6_gram_frac: Fraction | None = 0.14
    dup_7_gram_frac: Fraction | None = 0.13
    dup_8_gram_frac: Fraction | None = 0.12
    dup_9_gram_frac: Fraction | None = 0.11
    dup_10_gram_frac: Fraction | None = 0.10


_REPETITION_RULES = (
    Threshold("dup_para_frac", "gopher_dup_para_frac", "dup_para_frac", below=False),
    Threshold("dup_para_char_frac", "gopher_dup_para_char_frac", "dup_para_char_frac",
              below=False),
    Threshold("dup_line_frac", "gopher_dup_line_frac", "dup_line_frac", below=False),
    Threshold("dup_line_char_frac", "gopher_dup_line_char_frac", "dup_line_char_frac",
              below=False),
    *(Threshold(f"top_{n}_gram", f"gopher_top_{n}_gram_char_frac", f"top_{n}_gram_frac",
                below=False) for n in (2, 3, 4)),
    *(Threshold(f"duplicated_{n}_n_grams", f"gopher_dup_{n}_gram_char_frac", f"dup_{n}_gram_frac",
                below=False) for n in range(5, 11)),
)


@register
class GopherRepetition(Step):
    """Remove documents that repeat themselves: duplicate paragraphs or lines, one n-gram
    taking a large share of the text, or many characters in repeated n-grams."""

    name = "gopher_repetition"
    signals = REPETITION_SIGNALS
    Options = GopherRepetitionOptions
    options: GopherRepetitionOptions

    def __call__(self, doc: Document) -> None:
        if not doc.text:
            doc.remove(self.name, "empty", "no text")
            return
        signals = gopher_repetition(split(doc))
        doc.signals.update(signals)
        failure = first_failure(signals, _REPETITION_RULES, self.options)
        if failure is not None:
            doc.remove(self.name, *failure)
