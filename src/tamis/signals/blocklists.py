"""Blocklists read from files the user points to: URL domains and words, and bad words.

Nothing is bundled or downloaded: the user names the files (UT1 domain lists, hosts files such
as content-farm-terminator's, datatrove's URL word lists, the LDNOOBW word lists). The rules
follow datatrove's `URLFilter` and `C4BadWordsFilter` (`../shared/reference/peer-filters.md`),
with one difference: without the Public Suffix List (a download), a URL's host is blocked when
it or any parent domain is listed, instead of only its registered domain or full host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
# Words that LDNOOBW lists but that are common inside words of languages written without spaces.
BADWORDS_ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}
_NO_WORD_BOUNDARIES = {"ja", "th", "zh"}


def read_list(path: str | Path) -> list[str]:
    """Entries of a list file: one per line; "#" comments and blanks skipped; hosts-file lines
    ("0.0.0.0 example.com  # note") give their host name."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        hosts_line = len(parts) > 1 and parts[0] in ("0.0.0.0", "127.0.0.1")
        entries.append(parts[1] if hosts_line else line)
    return entries


def _normalise_word(word: str) -> str:
    return _NON_ALNUM.sub("", word).lower()


@dataclass
class UrlBlocklist:
    """Domains, URLs and URL words that mark a document's URL as unwanted."""

    domains: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    banned_words: set[str] = field(default_factory=set)
    soft_banned_words: set[str] = field(default_factory=set)
    banned_subwords: re.Pattern[str] | None = None
    soft_word_threshold: int = 2

    @classmethod
    def from_files(cls, domain_files: Iterable[str] = (), url_files: Iterable[str] = (),
                   banned_words: str | None = None, soft_banned_words: str | None = None,
                   banned_subwords: str | None = None,
                   soft_word_threshold: int = 2) -> UrlBlocklist:
        subwords = {_normalise_word(w) for w in read_list(banned_subwords)} if banned_subwords \
            else set()
        return cls(
            domains={d.lower().strip(".") for f in domain_files for d in read_list(f)},
            urls={u for f in url_files for u in read_list(f)},
            banned_words={_normalise_word(w) for w in read_list(banned_words)}
            if banned_words else set(),
            soft_banned_words={_normalise_word(w) for w in read_list(soft_banned_words)}
            if soft_banned_words else set(),
            banned_subwords=re.compile("|".join(map(re.escape, sorted(subwords - {""}))))
            if subwords - {""} else None,
            soft_word_threshold=soft_word_threshold,
        )

    def verdict(self, url: str) -> tuple[str, str] | None:
        """(rule, detail) when the URL is blocked, in datatrove's order; None when it is not."""
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").strip(".")
        labels = host.split(".")
        for start in range(len(labels) - 1):
            domain = ".".join(labels[start:])
            if domain in self.domains:
                return ("domain" if start == len(labels) - 2 else "subdomain"), domain
        bare = url.split("//", 1)[-1]
        for candidate in (url, bare, bare.rstrip("/")):
            if candidate in self.urls:
                return "url", candidate
        words = set(_NON_ALNUM.split(url))  # case kept, as the reference splits it
        hard = sorted(words & self.banned_words)
        if hard:
            return "hard_blacklisted", hard[0]
        soft = sorted(words & self.soft_banned_words)
        if len(soft) >= self.soft_word_threshold:
            return "soft_blacklisted", ", ".join(soft)
        if self.banned_subwords is not None:
            match = self.banned_subwords.search(_normalise_word(url))
            if match:
                return "blacklisted_subword", match.group()
        return None


def badwords_pattern(words: Iterable[str], language: str) -> re.Pattern[str] | None:
    """C4's bad-words regex for one language: whole words, except in ja/th/zh."""
    listed = {word.strip() for word in words if word.strip()}
    for allowed in BADWORDS_ALLOWLIST.values():
        listed -= allowed
    if not listed:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(listed))
    if language in _NO_WORD_BOUNDARIES:
        return re.compile(alternatives)
    return re.compile(rf"(?:\W|^)({alternatives})(?:\W|$)")


def find_badword(text: str, pattern: re.Pattern[str]) -> str | None:
    """The first bad word in the lowercased text, or None."""
    match = pattern.search(text.lower())
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group()
