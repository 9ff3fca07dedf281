"""Injected title keywords: a search query glued onto the headline by a scraper or SEO site.

The seed's title reads "... report says_laser freckle removal on arms". What gives the suffix
away is not its wording but its contrast with the rest of the document: it is written like a
search query (all lowercase, after a headline that is not) and the article never talks about
it. A site or section name ("- BBC News", "| Reuters") is capitalised like a name, or is used by
the page, so it stays.
"""

from __future__ import annotations

import regex

from tamis.clean.lines import after_title_cut, lines_of
from tamis.clean.shape import topic_words
from tamis.document import Change, Document
from tamis.step import Step, StepOptions, register
from tamis.text.split import split_words

# Title separators: an underscore run, or a dash, bar, bullet, slash, "»" or "::" between spaces.
# Colons are left out: "Review: the new phone" is one title, not a title and a suffix.
_SEPARATOR = regex.compile(r"\s+(?:[|\p{Pd}·•~»/]|::)\s+|_+")


class TitleOptions(StepOptions):
    # A suffix longer than this is a subtitle, not a keyword.
    max_suffix_words: int = 8
    # The suffix is the page's own when at least this share of its topic words is in the body.
    max_body_share: float = 0.67


@register
class CleanTitle(Step):
    """Cut an injected keyword suffix from the title line (the first line), keeping the title."""

    name = "clean_title"
    Options = TitleOptions
    options: TitleOptions

    def __call__(self, doc: Document) -> None:
        if "\n" not in doc.text:
            return  # no body: nothing to judge the title against
        lines = lines_of(doc)
        if not lines.text[0]:
            return
        body = {word for topics in lines.topics[1:] for word in topics}
        title = lines.text[0]
        cut = len(title)
        # Cut suffix after suffix until the title ends in something the page owns; doing it all
        # in one call makes the step idempotent.
        while (start := self._injected_suffix(title[:cut], body)) is not None:
            cut = start
        if cut < len(title):
            doc.edit([Change(cut, len(title), "clean.title_injection",
                             f"title suffix {title[cut:]!r} is a lowercase query the body "
                             "never mentions")])
            after_title_cut(doc, lines, title[:cut])

    def _injected_suffix(self, title: str, body: set[str]) -> int | None:
        """Where the injected suffix of `title` starts (separator included), or None."""
        last = None
        for last in _SEPARATOR.finditer(title, overlapped=True):  # noqa: B007 - want the last
            pass
        if last is None or last.start() == 0:
            return None
        head, suffix = title[:last.start()], title[last.end():]
        if not suffix or len(split_words(suffix)) > self.options.max_suffix_words:
            return None
        if not _is_query_case(suffix, head):
            return None
        words = topic_words(split_words(suffix))
        used = sum(word in body for word in words)
        if words and used / len(words) >= self.options.max_body_share:
            return None
        return last.start()


def _is_query_case(suffix: str, head: str) -> bool:
    """True when the suffix is written like a typed search query and the headline is not.

    The suffix must have lowercase letters and no capitals; the headline must show capitals, or
    be in a script without case (Chinese, Japanese), so the contrast means something.
    """
    if suffix != suffix.lower() or suffix == suffix.upper():
        return False
    return head != head.lower() or head == head.upper()
