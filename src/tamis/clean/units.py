"""The document's real units: hard-wrapped lines joined back into the paragraphs they were.

Plain-text pages, mailing-list archives, RFCs, books and PDF-to-text output break every
paragraph into lines of a fixed width. A line of such a paragraph is not a sentence, not a
heading, not a menu item: judged alone it looks like junk, and a whole article is lost. So the
cleaners first recover the units the writer made and judge those; a cut still removes whole
physical lines, so the output keeps the original line breaks of what it keeps.

A text is hard-wrapped when most of its longer lines end just short of one width (the greedy
fill of `textwrap`, `fmt`, mail clients) and most of those end mid-sentence (lines of one
sentence each, which happen to be of a length, are not wrapped). Then a line continues into
the next when the next line's first word would not have fitted on it (the writer's tool broke
there, not the writer), or when it ends with a hyphen and the next starts in lowercase. A
line that starts like a list item opens a unit of its own. Text that is not wrapped (one
paragraph per line, as extractors give it) keeps one unit per line.
"""

from __future__ import annotations

from tamis.clean.shape import bullet, ends_sentence

# Lines shorter than this say nothing about a wrap width (headings, list items, short lines).
MIN_WRAPPED_LENGTH = 30
# Lines of a wrapped paragraph end within this many characters of the width.
WRAP_SLACK = 15
# At least this many lines, and this share of the longer lines, must end near one width.
MIN_WRAPPED_LINES = 4
MIN_WRAPPED_SHARE = 0.5


def wrap_width(lines: list[str]) -> int | None:
    """The width the text was hard-wrapped at (the longest line near it), or None.

    Only lines followed by a line that could continue them (not blank, not a list item) say
    anything about wrapping: the last line of a paragraph or list item ends where it ends. List
    items are left out too: items of a similar length would look like a wrapped paragraph.
    """
    stripped = [line.rstrip() for line in lines]
    broken = [stripped[index] for index in range(1, len(lines) - 1)
              if len(stripped[index]) >= MIN_WRAPPED_LENGTH and stripped[index + 1].strip()
              and not bullet(stripped[index]) and not bullet(stripped[index + 1])]
    lengths = sorted(len(line) for line in broken)
    if len(lengths) < MIN_WRAPPED_LINES:
        return None
    best_count, width = 0, 0
    low = 0
    for high, length in enumerate(lengths):  # the window of WRAP_SLACK columns holding most
        while lengths[low] < length - WRAP_SLACK:
            low += 1
        if high - low + 1 >= best_count:
            best_count, width = high - low + 1, length
    if best_count < MIN_WRAPPED_LINES or best_count < MIN_WRAPPED_SHARE * len(lengths):
        return None
    near = [line for line in broken if width - WRAP_SLACK <= len(line) <= width]
    if sum(not ends_sentence(line) for line in near) < MIN_WRAPPED_SHARE * len(near):
        return None
    return width


def units(lines: list[str], alive: list[int]) -> list[list[int]]:
    """The `alive` line indices grouped into units, in order; line 0 (the title) stands alone."""
    width = wrap_width(lines)
    grouped: list[list[int]] = []
    previous = -2
    for index in alive:
        if grouped and index == previous + 1 and index > 1 and \
                continues(lines[previous], lines[index], width):
            grouped[-1].append(index)
        else:
            grouped.append([index])
        previous = index
    return grouped


def continues(line: str, following: str, width: int | None) -> bool:
    """True when `following` is the rest of the paragraph `line` was broken from."""
    line = line.rstrip()
    if not line or not following.strip() or bullet(following):
        return False
    first = following.split(maxsplit=1)[0]
    if line.endswith("-") and line[-2:-1].isalpha() and first[0].islower():
        return True  # a word hyphenated at the end of the line
    if width is None or len(line) > width or len(line) < width - 2 * WRAP_SLACK:
        return False
    return len(line) + 1 + len(first) > width
