"""Keep the article, cut what the page wrapped around it: link lists, menus, boilerplate, fragments.

How a line is judged, in three moves, all from evidence inside the document:

1. **Sentences anchor the body.** A line with enough words that ends like a sentence (or is
   very long) is prose. The words these lines use are the document's topic.
2. **Blocks are judged whole.** A run of lines that are not prose (a menu, a share bar), a run
   of short lines (a list of headlines, some of which end like sentences), or a run of bulleted
   lines is one block. If its words are mostly ones the rest of the prose never uses, the whole
   block is off topic, even when one of its lines shares a word with the article (the seed's
   headline about Russia). Code and figures have few words to compare, tables (lines holding
   figures) are data, a list the prose announces ("The tour dates:") is the article's own, a
   short line between two paragraphs is a subheading, and a block holding most of the prose is
   the body: none of these is judged off topic.
3. **The body is the best stretch.** Each line scores: prose counts its words, off-topic lines
   cost a penalty, other short lines a small one (or earn a little when they use the body's
   words; lines of figures and symbols score nothing). The stretch of lines with the highest
   total (a maximum-sum subarray, as in Finn et al.'s Body Text Extraction) is the body;
   everything outside it goes, and so do off-topic blocks inside it.

The first line is the title and always stays (`clean_title` trims it). Judging is repeated on
the lines that survive until nothing more goes, so cleaning cleaned text changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain

import regex

from tamis.clean.lines import Lines, after_cut, lines_of
from tamis.clean.shape import bullet, ends_sentence, sentence
from tamis.clean.units import units
from tamis.document import Change, Document
from tamis.step import Step, StepOptions, register

_DIGIT = regex.compile(r"\d")
LINK_LIST = "clean.link_list"
BOILERPLATE = "clean.boilerplate"
FRAGMENT = "clean.fragment"


class BodyOptions(StepOptions):
    # A line ending like a sentence with at least this many words is prose.
    min_sentence_words: int = 6
    # A line this long is prose even without a final full stop.
    long_line_words: int = 20
    # Fewer consecutive bulleted lines than this are not treated as a list block.
    min_list_lines: int = 3
    # A block is off topic when less than this share of its topic words occurs in the prose.
    off_topic_share: float = 0.42
    # A short line is on topic when at least this share of its topic words occurs in the prose.
    on_topic_share: float = 0.6
    # Blocks with fewer topic words per line than this (code, numbers) are not judged.
    min_topic_words_per_line: float = 0.5
    # Units with fewer words than this (menu entries, buttons) are boilerplate by shape alone.
    menu_words: int = 4
    # A block sharing less than this share of its words with the body is foreign beyond doubt
    # (whatever the cohesion), and its cut is never spared.
    strong_share: float = 0.2
    # Doubtful cuts (longer units, not foreign beyond doubt) that would take more than this
    # share of the rest of the page are not made; `clean_spared_share` says how much was spared.
    max_cut_share: float = 0.5
    # ... and when it shares less than this share of what the body's own paragraphs share with
    # each other (its cohesion).
    cohesion_ratio: float = 1.0
    # A block with more topic words than this many times the prose outside it is not judged by
    # its words: with so little prose to compare, the list is more likely the article.
    max_block_to_prose: float = 1.0
    # A block where at least this share of lines read like sentences is prose, not a list of
    # links or headlines: words it does not share with the body are not enough to cut it.
    max_sentence_share: float = 0.5
    # A list where at least this share of lines holds a figure is a table, not a link list.
    table_share: float = 0.7
    # Lists announced by a line of prose ending in ":" belong to the article.
    announced_lists: bool = True
    # Scores of the body search (prose lines score their word count).
    off_topic_penalty: float = 3.0
    short_line_penalty: float = 1.0
    on_topic_bonus: float = 0.5
    # A cut last line with at most this many words is a dangling fragment (a name, a byline).
    fragment_words: int = 6
    # Also judge runs of short lines whole (a list of headlines, some ending like sentences).
    short_blocks: bool = True
    # A short line between two paragraphs is a subheading, whatever its words.
    keep_headings: bool = True


@dataclass(frozen=True, slots=True)
class Cut:
    """Why one line goes: the rule and a short human detail."""

    rule: str
    detail: str
    # False when the evidence leaves room for doubt (see `spare_most_of_it`).
    sure: bool = True


@register
class CleanBody(Step):
    """Cut link lists, menus, boilerplate and dangling fragments around the main body."""

    name = "clean_body"
    signals = ("clean_cut_share", "clean_spared_share")
    Options = BodyOptions
    options: BodyOptions

    def __call__(self, doc: Document) -> None:
        if doc.text.count("\n") < 2:
            return  # a title and one line: no body to compare anything with
        lines = lines_of(doc)
        cuts, spared = decide(lines, self.options)
        total = sum(len(lines.words[index]) for index in range(1, len(lines)))
        cut = sum(len(lines.words[index]) for index in cuts)
        doc.signals["clean_cut_share"] = cut / total if total else 0.0
        doc.signals["clean_spared_share"] = spared / total if total else 0.0
        if cuts:
            keep = kept_lines(lines, cuts)
            doc.edit(changes_for(lines, cuts, keep, len(doc.text)))
            after_cut(doc, lines, [index for index, kept in enumerate(keep) if kept])


def decide(lines: Lines, options: BodyOptions) -> tuple[dict[int, Cut], int]:
    """The lines to cut and why, and the words spared because the cuts were in doubt.

    Sure cuts are made first; the text they leave is judged again as a second cleaning would
    judge it, until what is left to cut is only doubtful: made when small, spared when it
    would take most of the page (`spare_most_of_it`). So cleaning the output again cuts
    nothing more, and spares the same.
    """
    sure: dict[int, Cut] = {}
    while True:
        cuts, groups = judge_to_fixpoint(lines, options, sure)
        new = {index: cut for index, cut in cuts.items() if index not in sure}
        doubtful = spare_most_of_it(lines, groups, new, options)
        if not doubtful:
            return cuts, 0
        surely = {index: cut for index, cut in new.items() if index not in doubtful}
        if not surely:
            return sure, sum(len(lines.words[index]) for index in doubtful)
        sure.update(surely)


def judge_to_fixpoint(lines: Lines, options: BodyOptions, cuts: dict[int, Cut]
                      ) -> tuple[dict[int, Cut], list[list[int]]]:
    """Judge the units of the text `cuts` leave (paragraphs rejoined from wrapped lines),
    then judge the surviving units again, until nothing more is cut. Returns all the cut
    lines and the units judged first.

    Once nothing more goes, the text that is left is read into units afresh (cutting lines can
    change what looks wrapped); if they differ, judging goes on with them, so cleaning the
    output again finds nothing more to cut.
    """
    cuts = dict(cuts)
    groups = _units_left(lines, cuts)
    everything = groups
    while True:
        verdict = judge(*_joined(lines, groups), options)
        if verdict:
            for position, cut in verdict.items():
                for index in groups[position]:
                    cuts[index] = cut
            groups = [group for position, group in enumerate(groups) if position not in verdict]
            continue
        regrouped = _units_left(lines, cuts)
        if regrouped == groups:
            return cuts, everything
        groups = regrouped


def _joined(lines: Lines, groups: list[list[int]]
            ) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """The text, words and topic words of each unit (a line's own lists when it is alone)."""
    text, words, topics = [], [], []
    for group in groups:
        if len(group) == 1:
            index = group[0]
            text.append(lines.text[index])
            words.append(lines.words[index])
            topics.append(lines.topics[index])
        else:
            text.append(" ".join(lines.text[index].strip() for index in group))
            words.append([word for index in group for word in lines.words[index]])
            topics.append([word for index in group for word in lines.topics[index]])
    return text, words, topics


def _units_left(lines: Lines, cuts: dict[int, Cut]) -> list[list[int]]:
    """The units of the text the cuts leave, as line indices of the input."""
    kept = [index for index, keep in enumerate(kept_lines(lines, cuts)) if keep]
    text = [lines.text[index] for index in kept]
    alive = [position for position, index in enumerate(kept)
             if lines.words[index] or index == 0]
    return [[kept[position] for position in group] for group in units(text, alive)]


def spare_most_of_it(lines: Lines, groups: list[list[int]], cuts: dict[int, Cut],
                     options: BodyOptions) -> set[int]:
    """Keep when in doubt: the doubtful cut lines to spare, when they would take most of it.

    Some cuts rest on strong evidence: a unit of a few words (a menu entry, a share button, a
    label) is boilerplate by its shape, a block sharing almost none of its words with the body
    (`strong_share`) is foreign to it, and a line that is no sentence outside the body's
    stretch has boilerplate's shape and position. The others (a list sharing a fair part of
    the body's words, a sentence or paragraph cut for where it stands) are in doubt. When those
    would take more than `max_cut_share` of the longer units, the page is more likely an
    article the rules do not fit (a changelog, a digest, a page of lists) than a page of junk:
    they stay, and the words spared are a signal (`clean_spared_share`) a filter or the user
    can act on.
    """
    left = doubtful = 0
    doubtful_lines: set[int] = set()
    for group in groups[1:]:
        count = sum(len(lines.words[index]) for index in group)
        cut = cuts.get(group[0])
        if count < options.menu_words or (cut is not None and cut.sure):
            continue
        left += count
        if cut is not None:
            doubtful += count
            doubtful_lines.update(group)
    if not left or doubtful <= options.max_cut_share * left:
        return set()
    return doubtful_lines


def judge(text: list[str], words: list[list[str]], topics: list[list[str]],
          options: BodyOptions) -> dict[int, Cut]:
    """The lines to cut (by index) and why. Line 0 is the title and is never cut."""
    count = len(text)
    if count < 3:
        return {}
    prose = [index > 0 and _is_prose(text[index], words[index], options)
             for index in range(count)]
    vocabulary = Counter(chain.from_iterable(set(topics[index]) for index in range(count)
                                             if prose[index]))
    if not vocabulary:
        return {}
    announced = _announced(text, words, prose, options)
    # How much a paragraph of this document's prose shares with the rest of it: a block is off
    # topic only when it shares clearly less (a diverse changelog or digest shares little even
    # with itself, a focused news story a lot).
    threshold = min(options.off_topic_share,
                    max(options.strong_share,
                        options.cohesion_ratio * _cohesion(prose, topics, vocabulary)))
    off_topic = _off_topic_blocks(text, words, prose, topics, vocabulary, announced, threshold,
                                  options)
    scores = []
    for index in range(count):
        if index in off_topic:  # before prose: a sentence in an off-topic list is the list's
            scores.append(-options.off_topic_penalty)
        elif prose[index]:
            scores.append(float(len(words[index])))
        elif index in announced or \
                _share_in(topics[index], vocabulary) >= options.on_topic_share:
            scores.append(options.on_topic_bonus)
        elif not topics[index]:  # figures, symbols: neither extend nor break the body
            scores.append(0.0)
        else:
            scores.append(-options.short_line_penalty)
    first, last = _best_stretch(scores)
    cuts: dict[int, Cut] = {}
    # Shape and position together are sure evidence only around a body bigger than what
    # surrounds it; when the stretch is the smaller part, the page may not be what the rules
    # expect (a list with a line of prose above it).
    body_words = sum(len(words[index]) for index in range(first, last))
    edge_words = sum(len(words[index]) for index in range(1, count) if not first <= index < last)
    for index in range(1, count):
        if index in off_topic:
            cuts[index] = off_topic[index]
        elif not first <= index < last:
            where = "before" if index < first else "after"
            sure = edge_words <= body_words and not prose[index] and \
                not sentence(text[index], len(words[index]))
            cuts[index] = Cut(BOILERPLATE, f"{where} the main body", sure)
    _name_fragment(text, words, cuts, last, options)
    return cuts


def _is_prose(line: str, line_words: list[str], options: BodyOptions) -> bool:
    count = len(line_words)
    return count >= options.long_line_words or (
        count >= options.min_sentence_words and ends_sentence(line))


def _share_outside(topics: list[str], vocabulary: Counter[str], own: Counter[str]) -> float:
    """Share of `topics` used by prose lines other than the block's own."""
    if not topics or not own:
        return _share_in(topics, vocabulary)
    return len([word for word in topics if vocabulary[word] > own[word]]) / len(topics)


def _cohesion(prose: list[bool], topics: list[list[str]], vocabulary: Counter[str]) -> float:
    """The median share of a prose line's topic words that other prose lines use."""
    shares = sorted(_share_outside(topics[index], vocabulary, Counter(set(topics[index])))
                    for index in range(len(topics))
                    if prose[index] and len(set(topics[index])) >= 3)
    return shares[len(shares) // 2] if len(shares) >= 3 else 1.0


def _share_in(topics: list[str], vocabulary: Counter[str]) -> float:
    if not topics:
        return 0.0
    return len([word for word in topics if word in vocabulary]) / len(topics)


def _off_topic_blocks(text: list[str], words: list[list[str]], prose: list[bool],
                      topics: list[list[str]], vocabulary: Counter[str], announced: set[int],
                      threshold: float, options: BodyOptions) -> dict[int, Cut]:
    """Lines in blocks whose words the prose does not use, with the cut for each."""
    prose_words = sum(len(topics[index]) for index in range(len(text)) if prose[index])
    # Bulleted lists first, whole; then runs of short lines (a list of headlines where some
    # end like sentences); then runs of non-prose lines not already judged.
    blocks = [block for block in _runs([bullet(line) for line in text])
              if len(block) >= options.min_list_lines]
    if options.short_blocks:
        short = _runs([len(line_words) < options.long_line_words for line_words in words])
        blocks += [block for block in short if len(block) >= options.min_list_lines]
    blocks += _runs([not is_prose for is_prose in prose])
    cuts: dict[int, Cut] = {}
    for block in blocks:
        if any(index in cuts for index in block) or block[0] in announced:
            continue
        block_topics = [word for index in block for word in topics[index]]
        if len(block_topics) < options.min_topic_words_per_line * len(block):
            continue  # code, figures, symbols: nothing to compare
        if _is_table(text, block, options) or _reads_as_prose(text, words, block, options):
            continue
        outside = prose_words - sum(len(topics[index]) for index in block if prose[index])
        if len(block_topics) > options.max_block_to_prose * outside:
            continue  # more words than the prose it is compared with: the body, not a list
        own: Counter[str] = Counter()
        if any(prose[index] for index in block):
            if sum(len(topics[index]) for index in block if prose[index]) * 2 > prose_words:
                continue  # the block holds most of the prose: it is the body
            own.update(chain.from_iterable(set(topics[index]) for index in block if prose[index]))
        share = _share_outside(block_topics, vocabulary, own)
        if share >= threshold:
            continue
        listed = len(block) >= options.min_list_lines
        if options.keep_headings and not listed and block[-1] + 1 < len(text) \
                and prose[block[-1] + 1] and block[0] > 1 and prose[block[0] - 1]:
            continue  # a short line between two paragraphs: a subheading
        kind = "list" if listed else "short line"
        cut = Cut(LINK_LIST if listed else BOILERPLATE,
                  f"{kind} sharing {share:.0%} of its words with the body",
                  share < options.strong_share)
        for index in block:
            cuts[index] = cut
        heading = block[0] - 1
        if listed and heading > 0 and not prose[heading] and heading not in cuts:
            cuts[heading] = Cut(LINK_LIST, f"heading of a {cut.detail}", cut.sure)
    return cuts


def _reads_as_prose(text: list[str], words: list[list[str]], block: range,
                    options: BodyOptions) -> bool:
    """A block of sentences is the article's own text (a dialogue, steps, a Q&A), not a list
    of links or headlines, whatever its words."""
    sentences = sum(sentence(text[index], len(words[index])) for index in block)
    return sentences >= options.max_sentence_share * len(block)


def _is_table(text: list[str], block: range, options: BodyOptions) -> bool:
    """A list whose lines mostly hold figures (dates, scores, prices) is data, not links."""
    if len(block) < options.min_list_lines:
        return False
    with_figures = sum(_DIGIT.search(text[index]) is not None for index in block)
    return with_figures >= options.table_share * len(block)


def _announced(text: list[str], words: list[list[str]], prose: list[bool],
                options: BodyOptions) -> set[int]:
    """Lines of lists the prose announces ("The tour dates:"): the article's own, whatever
    their words (names, places, figures)."""
    if not options.announced_lists:
        return set()
    announced: set[int] = set()
    for block in _runs([not is_prose for is_prose in prose]):
        if any(text[index].endswith(":") and len(words[index]) >= options.min_sentence_words
               for index in (block[0] - 1, block[0]) if index > 0):
            announced.update(block)
    return announced


def _runs(flags: list[bool]) -> list[range]:
    """Maximal runs of lines whose flag is set, after the title line."""
    runs: list[range] = []
    start = None
    for index in range(1, len(flags)):
        if flags[index]:
            if start is None:
                start = index
        elif start is not None:
            runs.append(range(start, index))
            start = None
    if start is not None:
        runs.append(range(start, len(flags)))
    return runs


def _best_stretch(scores: list[float]) -> tuple[int, int]:
    """The [first, last) stretch after the title with the highest total score (Kadane)."""
    best_total, best = 0.0, (1, 1)
    total, start = 0.0, 1
    for index in range(1, len(scores)):
        if total <= 0:
            total, start = 0.0, index
        total += scores[index]
        if total > best_total:
            best_total, best = total, (start, index + 1)
    return best


def _name_fragment(text: list[str], words: list[list[str]], cuts: dict[int, Cut], last: int,
                   options: BodyOptions) -> None:
    """Call the cut last line a fragment when it is a short dangling piece (a name, a byline)."""
    final = len(text) - 1
    if final in cuts and final >= last and len(words[final]) <= options.fragment_words \
            and not ends_sentence(text[final]):
        cuts[final] = Cut(FRAGMENT, "short line left dangling after the body")


def kept_lines(lines: Lines, cuts: dict[int, Cut]) -> list[bool]:
    """Which lines stay: the uncut ones, less blank lines next to a cut line."""
    keep = [index not in cuts for index in range(len(lines))]
    for run in _runs([not line_words for line_words in lines.words]):
        if run[0] - 1 in cuts or run[-1] + 1 in cuts:
            for index in run:
                keep[index] = False
    return keep


def changes_for(lines: Lines, cuts: dict[int, Cut], keep: list[bool],
                text_length: int) -> list[Change]:
    """One change per run of cut lines with the same rule; blank lines go with their run."""
    changes: list[Change] = []
    tail = max((index for index in range(len(lines)) if keep[index]), default=-1)
    index = 0
    while index < len(lines):
        if keep[index]:
            index += 1
            continue
        cut = cuts.get(index) or _next_cut(cuts, index, len(lines))
        end = index
        while end < len(lines) and not keep[end] and \
                (end not in cuts or cuts[end].rule == cut.rule):
            end += 1
        start, stop = lines.starts[index], (lines.starts[end] if end < len(lines)
                                            else text_length)
        if index > tail:  # after the last kept line: cut the newline before, not after
            start, stop = start - 1, (stop - 1 if end < len(lines) else stop)
        lines_cut = sum(1 for position in range(index, end) if lines.words[position])
        # Name the run by its last line: a list's heading comes first, its items after.
        cut = next(cuts[position] for position in range(end - 1, index - 1, -1)
                   if position in cuts)
        detail = cut.detail if lines_cut <= 1 else f"{lines_cut} lines: {cut.detail}"
        changes.append(Change(start, stop, cut.rule, detail))
        index = end
    return changes


def _next_cut(cuts: dict[int, Cut], index: int, count: int) -> Cut:
    """The cut of the next cut line (a blank line takes its rule from the run it belongs to)."""
    for position in range(index, count):
        if position in cuts:
            return cuts[position]
    return next(cuts[position] for position in range(index, -1, -1) if position in cuts)
