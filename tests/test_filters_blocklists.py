"""URL and bad-word filters, on the blocklists in ../shared (read from there, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tamis.document import Document
from tamis.signals.blocklists import UrlBlocklist, read_list
from tamis.step import build_step
from tests.conftest import DATA, need_shared

LISTS = DATA / "raw" / "blocklists"


def url_doc(url: str, text: str = "Some text.") -> Document:
    return Document("d", text, metadata={"url": url})


def test_hosts_and_plain_lists_are_read(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# header\n0.0.0.0 farm.example  # a farm\n\nplain.example\n2 girls 1 cup\n")
    assert read_list(hosts) == ["farm.example", "plain.example", "2 girls 1 cup"]


def test_url_rules_in_the_reference_order(tmp_path: Path) -> None:
    (tmp_path / "domains").write_text("casino.example\nshop.blog.example\n")
    (tmp_path / "urls").write_text("news.example/bad-page\n")
    (tmp_path / "hard").write_text("porn\n")
    (tmp_path / "soft").write_text("hot\ngirls\n")
    (tmp_path / "sub").write_text("xxx\n")
    blocklist = UrlBlocklist.from_files(
        [str(tmp_path / "domains")], [str(tmp_path / "urls")], str(tmp_path / "hard"),
        str(tmp_path / "soft"), str(tmp_path / "sub"))
    assert blocklist.verdict("https://casino.example/x") == ("domain", "casino.example")
    # the registered domain listed: "domain" for any host under it; a listed host: "subdomain"
    assert blocklist.verdict("https://www.casino.example/") == ("domain", "casino.example")
    assert blocklist.verdict("http://shop.blog.example/a") == ("subdomain", "shop.blog.example")
    assert blocklist.verdict("http://blog.example/a") is None
    assert blocklist.verdict("https://news.example/bad-page") == ("url", "news.example/bad-page")
    assert blocklist.verdict("https://x.example/porn-videos") == ("hard_blacklisted", "porn")
    assert blocklist.verdict("https://x.example/hot") is None  # one soft word is not enough
    assert blocklist.verdict("https://x.example/hot-girls") == ("soft_blacklisted", "girls, hot")
    assert blocklist.verdict("https://x.example/bestxxxdeals")[0] == "blacklisted_subword"


def test_url_filter_on_the_shared_lists() -> None:
    words = need_shared(LISTS / "datatrove-url-words")
    farms = LISTS / "content-farm-terminator" / "content-farms.hosts.txt"
    gambling = LISTS / "ut1" / "gambling" / "domains"
    farm = read_list(farms)[0]
    casino = read_list(gambling)[0]
    step = build_step("url_filter", {
        "domain_files": [str(farms), str(gambling)],
        "banned_words_file": str(words / "banned_words.txt"),
        "soft_banned_words_file": str(words / "soft_banned_words.txt"),
        "banned_subwords_file": str(words / "banned_subwords.txt")})
    removed = []
    for url in (f"https://{farm}/post/1", f"http://www.{casino}/", "https://www.bbc.co.uk/news",
                "https://en.wikipedia.org/wiki/Sieve"):
        doc = url_doc(url)
        step(doc)
        removed.append(None if doc.kept else doc.removed_by.rule)
    assert removed == ["domain", "domain", None, None]
    no_url = Document("d", "text")
    step(no_url)
    assert no_url.kept


def test_badwords_use_the_document_language() -> None:
    folder = need_shared(LISTS / "ldnoobw")
    step = build_step("badwords", {"words_dir": str(folder)})
    english_word = read_list(folder / "en")[0]
    doc = Document("d", f"An ordinary sentence, then {english_word.upper()} in capitals.")
    step(doc)
    assert doc.removed_by.rule == "badwords"
    assert english_word in doc.removed_by.detail
    inside = Document("d", f"An ordinary sentence with x{english_word}x inside a word.")
    step(inside)
    assert inside.kept  # whole words only, outside ja/th/zh
    german = Document("d", f"Ein Satz mit {english_word}.", metadata={"language": "xx"})
    step(german)
    assert german.kept  # no list for the language: kept


@pytest.mark.parametrize("language", ["ja", "zh"])
def test_badwords_allowlist_and_no_word_boundaries(language: str) -> None:
    folder = need_shared(LISTS / "ldnoobw")
    step = build_step("badwords", {"words_dir": str(folder)})
    allowed = {"ja": "女の子", "zh": "性"}[language]
    doc = Document("d", f"これは{allowed}です", metadata={"language": language})
    step(doc)
    assert doc.kept
    listed = next(word for word in read_list(folder / language) if word != allowed)
    inside = Document("d", f"前{listed}後", metadata={"language": language})
    step(inside)
    assert inside.removed_by.rule == "badwords"
