"""What a line looks like: the few shape features every span cleaner judges by.

Web junk comes in every language and with ever-changing wording, so nothing here looks for
marker strings. A line is judged by its shape (how many words, whether it ends a sentence,
whether it starts with a bullet) and by how many of its words the rest of the document uses.
All functions are pure and take the line's words from the document's one shared split.
"""

from __future__ import annotations

import regex

# A sentence ends with . ! ? (or their CJK forms), possibly followed by closing quotes or brackets.
_SENTENCE_END = regex.compile(r"[.!?。！？…](?:[\"'”’»)\]]*)$")
_LAST_CHARS = frozenset(".!?。！？…\"'”’»)]")  # a cheap test before the pattern
# A list item starts with a bullet glyph, a dash, or a short number such as "1." or "2)".
_BULLET = regex.compile(r"^\s*(?:[\p{Pd}•·*+▪►▸◦‣○●■□>»]|\d{1,2}[.)])\s")

# Words shorter than this are mostly function words ("the", "und", "les"); only longer words
# carry the topic, so only they count when a line is compared with the body.
TOPIC_WORD_LENGTH = 4


def ends_sentence(line: str) -> bool:
    """True when the line ends like a sentence; headlines, menus and names usually do not."""
    line = line.rstrip()
    return bool(line) and line[-1] in _LAST_CHARS and _SENTENCE_END.search(line) is not None


def bullet(line: str) -> bool:
    """True when the line starts like a list item."""
    return len(line) > 1 and not line[0].isalpha() and _BULLET.match(line) is not None


def sentence(line: str, word_count: int, min_words: int = 4) -> bool:
    """True when the line reads like a sentence: a few words and a final full stop (or ? !)."""
    return word_count >= min_words and ends_sentence(line)


def topic_words(words: list[str]) -> list[str]:
    """The words of a line that say what it is about, lowercased: long words of letters, and
    kana and CJK ideographs (U+3040-U+9FFF), which the split makes one word each.

    Numbers are left out: a table of figures shares none with the prose around it, yet it is
    not off topic.
    """
    # Split tokens never contain spaces: lowercase the line's words in one call.
    lowered = " ".join(words).lower().split(" ") if words else []
    return [word for word in lowered
            if (len(word) >= TOPIC_WORD_LENGTH and word.isalpha())
            or (len(word) == 1 and "\u3040" <= word <= "\u9fff")]


