"""C4's line and page rules (Raffel et al. 2020), in the TFDS original and datatrove's variant.

C4 is not only a verdict: it keeps a page but drops lines from it. `c4_lines` therefore returns a
decision per line (kept, or the rule that dropped it) and, when a page rule fires, the rule that
drops the whole page. The filter step turns dropped lines into edits with those rule names.

Both variants walk `text.splitlines()`, strip each line, and apply the rules in one order; they
differ only in their thresholds (`C4Rules.tfds()` and `C4Rules.datatrove()`) and in whether the
word count is taken before or after citations are removed. Sentences are counted with the rule
of spaCy's sentencizer over tamis's word split (what datatrove does for English); the TFDS
original used NLTK punkt, whose model is a download, so tamis's `c4` preset counts with the same
rule: a documented deviation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import regex
from pydantic import BaseModel, ConfigDict

from tamis.signals.charsets import SENTENCE_END_CHARS
from tamis.text.split import Split, split_words

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                     "use of cookies", "use cookies")
_POLICY = re.compile("|".join(map(re.escape, POLICY_SUBSTRINGS)))
# Line separators of str.splitlines() other than "\n" (with "\r\n" as one separator).
_OTHER_SEPARATORS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_PHYSICAL_LINE = re.compile("[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*"
                            "(?:\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])?")
_ALL_PUNCTUATION = regex.compile(r"\p{P}+")


class C4Rules(BaseModel):
    """The thresholds and switches of one C4 variant (defaults: datatrove's)."""

    model_config = ConfigDict(frozen=True)

    end_marks: tuple[str, ...] = (".", "?", "!", '"', "'")
    filter_no_terminal_punct: bool = True
    min_words_per_line: int = 3
    min_num_sentences: int = 5
    max_word_length: int = 1000
    remove_citations: bool = True
    count_words_after_citations: bool = False
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    @classmethod
    def datatrove(cls) -> C4Rules:
        """datatrove's `C4QualityFilter`: 3 words per line, 5 sentences, "'" ends a line."""
        return cls()

    @classmethod
    def tfds(cls) -> C4Rules:
        """The TFDS `c4_utils.clean_page` original: 5 words per line, 3 sentences."""
        return cls(end_marks=(".", "?", "!", '"'), min_words_per_line=5, min_num_sentences=3,
                   count_words_after_citations=True)


@dataclass(slots=True)
class C4Line:
    """One physical line: its span in the text, its stripped span, and its fate.

    `start:end` covers the line with its separator; `content_start:content_end` the stripped
    line. `cleaned` is the stripped line without citations (what a kept line becomes).
    """

    start: int
    end: int
    content_start: int
    content_end: int
    cleaned: str
    dropped_by: str | None = None


@dataclass
class C4Result:
    """Per-line decisions, the page rule that fired (if any), and the sentence count."""

    lines: list[C4Line] = field(default_factory=list)
    page_rule: str | None = None
    sentences: int = 0

    @property
    def kept_lines(self) -> list[C4Line]:
        return [line for line in self.lines if line.dropped_by is None]

    def signals(self) -> dict[str, float]:
        dropped = sum(1 for line in self.lines if line.dropped_by is not None)
        return {"c4_sentences": self.sentences,
                "c4_dropped_lines_frac": dropped / len(self.lines) if self.lines else 0.0}


def _physical_lines(split: Split) -> list[tuple[int, int, int, list[str] | None]]:
    """(start, content end, end with separator, words or None) of each `splitlines()` line.

    When "\\n" is the only separator these are the split's own lines and words; otherwise the
    lines are cut again and their words computed when needed.
    """
    text = split.text
    if not _OTHER_SEPARATORS.search(text):
        lines = []
        for index, (line, start) in enumerate(zip(split.lines, split.line_starts, strict=True)):
            end = start + len(line)
            lines.append((start, end, min(end + 1, len(text)), split.line_words(index)))
        return lines
    spans = []
    for match in _PHYSICAL_LINE.finditer(text):
        if match.start() == len(text):
            break
        body = match.group().rstrip("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        spans.append((match.start(), match.start() + len(body), match.end(), None))
    return spans


def count_sentences(words: list[str]) -> int:
    """Sentences in a line, by spaCy's sentencizer rule over its words.

    A sentence ends at a token that is a sentence-ending character; the next token that is not
    punctuation starts a new one.
    """
    if not words:
        return 0
    sentences = 1
    seen_end = False
    for word in words:
        if word in SENTENCE_END_CHARS:
            seen_end = True
        elif seen_end and not _ALL_PUNCTUATION.fullmatch(word):
            sentences += 1
            seen_end = False
    return sentences


def c4_lines(split: Split, rules: C4Rules) -> C4Result:
    """Decide every line by C4's rules, in their order; stop at the first page rule."""
    text = split.text
    result = C4Result()
    for start, body_end, end, words in _physical_lines(split):
        raw = text[start:body_end]
        stripped = raw.strip()
        content_start = start + (len(raw) - len(raw.lstrip()))
        line = C4Line(start, end, content_start, content_start + len(stripped), stripped)
        result.lines.append(line)
        line.dropped_by, page_rule, cleaned_words = _judge(stripped, words, rules, line)
        if page_rule is not None:
            result.page_rule = page_rule
            return result
        if line.dropped_by is None and rules.min_num_sentences > 0:
            result.sentences += count_sentences(cleaned_words)
    if result.sentences < rules.min_num_sentences:
        result.page_rule = "too_few_sentences"
    return result


def _judge(stripped: str, words: list[str] | None, rules: C4Rules,
           line: C4Line) -> tuple[str | None, str | None, list[str]]:
    """(line rule, page rule, words of the kept line) for one stripped line."""
    if len(stripped) > rules.max_word_length > 0 and any(
            len(word) > rules.max_word_length for word in stripped.split()):
        return "too_long_word", None, []
    cleaned = stripped
    if rules.remove_citations and "[" in stripped:
        cleaned = CITATION.sub("", stripped)
        line.cleaned = cleaned
    if rules.filter_no_terminal_punct and (not cleaned.endswith(rules.end_marks)
                                           or cleaned.endswith("...")):
        return "no_terminal_punct", None, []
    counted = cleaned if rules.count_words_after_citations else stripped
    if len(counted.split()) < rules.min_words_per_line:
        return "too_few_words", None, []
    lower = cleaned.lower()
    if rules.filter_lorem_ipsum and "lorem ipsum" in lower:
        return None, "lorem_ipsum", []
    if rules.filter_javascript and "javascript" in lower:
        return "javascript", None, []
    if rules.filter_curly_bracket and "{" in cleaned:
        return None, "curly_bracket", []
    if rules.filter_policy and _POLICY.search(lower):
        return "policy", None, []
    if words is None or cleaned != stripped:
        words = split_words(cleaned)
    return None, None, words
