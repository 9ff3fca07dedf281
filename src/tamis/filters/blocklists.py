"""URL and bad-word filters over lists the user points to (nothing bundled, nothing fetched).

With no list configured a filter keeps everything, so a preset can hold the step and a config
can switch it on by naming the files.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tamis.document import Document
from tamis.signals.blocklists import UrlBlocklist, badwords_pattern, find_badword, read_list
from tamis.step import Step, StepOptions, register


class UrlFilterOptions(StepOptions):
    # Domain lists (one domain a line, or hosts-file lines); a listed domain blocks its subdomains.
    domain_files: list[str] = Field(default_factory=list)
    # Lists of full URLs (with or without the scheme).
    url_files: list[str] = Field(default_factory=list)
    # URL-word lists, as datatrove's banned_words / soft_banned_words / banned_subwords.
    banned_words_file: str | None = None
    soft_banned_words_file: str | None = None
    banned_subwords_file: str | None = None
    soft_word_threshold: int = 2


@register
class UrlFilter(Step):
    """Remove documents whose `metadata.url` is on a blocklist or spells banned words."""

    name = "url_filter"
    Options = UrlFilterOptions
    options: UrlFilterOptions

    def __init__(self, options: UrlFilterOptions | None = None) -> None:
        super().__init__(options)
        o = self.options
        self.blocklist = UrlBlocklist.from_files(
            o.domain_files, o.url_files, o.banned_words_file, o.soft_banned_words_file,
            o.banned_subwords_file, o.soft_word_threshold)

    def __call__(self, doc: Document) -> None:
        url = doc.metadata.get("url")
        if not url:
            return  # nothing to judge
        verdict = self.blocklist.verdict(str(url))
        if verdict is not None:
            doc.remove(self.name, *verdict)


class BadWordsOptions(StepOptions):
    # A folder of word lists named by language code (the LDNOOBW layout: en, de, fr, ja...).
    words_dir: str | None = None
    # Language for documents without `metadata.language` (set by the language step).
    default_language: str = "en"


@register
class BadWords(Step):
    """Remove documents containing a word of their language's bad-words list (C4)."""

    name = "badwords"
    Options = BadWordsOptions
    options: BadWordsOptions

    def __init__(self, options: BadWordsOptions | None = None) -> None:
        super().__init__(options)
        self.patterns = {}
        if self.options.words_dir is not None:
            for path in sorted(Path(self.options.words_dir).iterdir()):
                if path.is_file() and "." not in path.name and path.name.upper() != "LICENSE":
                    self.patterns[path.name] = badwords_pattern(read_list(path), path.name)

    def __call__(self, doc: Document) -> None:
        language = doc.metadata.get("language") or self.options.default_language
        pattern = self.patterns.get(language)
        if pattern is None:
            return  # no list for this language: kept, as with fail_on_missing_language=False
        word = find_badword(doc.text, pattern)
        if word is not None:
            doc.remove(self.name, "badwords", f"{language}: {word!r}")
