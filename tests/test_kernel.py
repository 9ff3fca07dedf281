"""The compiled core against the Python reference, value for value.

`tamis.kernel` picks the implementation; the references (`*_reference`) stay in Python as the
executable specification, and every kernel is compared with its reference here.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, need_shared
from hypothesis import given, settings
from hypothesis import strategies as st

from tamis.kernel import core
from tamis.signals import gopher
from tamis.text._spacy_en import SPECIAL_CASES
from tamis.text.hashing import ngram_hashes, ngram_hashes_reference

needs_core = pytest.mark.skipif(core is None, reason="TAMIS_KERNEL=python: no core to compare")


@needs_core
@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.integers(0, 2**64 - 1), max_size=300), n=st.integers(0, 14))
def test_ngram_hashes_match_the_reference(words: list[int], n: int) -> None:
    hashes = np.array(words, dtype=np.uint64)
    assert ngram_hashes(hashes, n).tolist() == ngram_hashes_reference(hashes, n).tolist()


@needs_core
def test_ngram_hashes_take_signed_word_hashes() -> None:
    # Gopher's word hashes are Python's signed string hashes: they wrap to the same bits.
    words = ("a", "rose", "is", "a", "rose", "is", "a", "rose")
    signed = np.array([hash(word) for word in words])
    assert signed.dtype == np.int64
    assert ngram_hashes(signed, 3).tolist() == ngram_hashes_reference(signed, 3).tolist()


def _import_with(kernel: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAMIS_KERNEL": kernel}
    return subprocess.run([sys.executable, "-c", "import tamis.kernel as k; print(k.NAME)"],
                          env=env, capture_output=True, text=True, check=False)


def test_the_python_reference_is_selected_by_environment() -> None:
    result = _import_with("python")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python"


def test_an_unknown_kernel_is_refused_with_the_choices() -> None:
    result = _import_with("fortran")
    assert result.returncode != 0
    assert "TAMIS_KERNEL='fortran' is not a kernel: use one of rust, python" in result.stderr


# -- the split ------------------------------------------------------------------------------------

split_module = importlib.import_module("tamis.text.split")
# Python's whitespace: everything str.split() splits on, the odd ones included.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a"
              "\u2028\u2029\u202f\u205f\u3000")


def _dev_texts() -> list[str]:
    """Every text of the development data: the near-duplicate documents, and the labelled pages'
    lines joined as a page."""
    texts = []
    for path in sorted(need_shared(DATA / "derived" / "dev").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if "text" in record:
                    texts.append(record["text"])
                if "lines" in record:
                    texts.append("\n".join(record["lines"]))
    return texts


def _assert_split_matches(text: str) -> None:
    assert (split_module._words_and_line_starts(text)
            == split_module.words_and_line_starts_reference(text))


@needs_core
def test_the_split_matches_the_reference_on_all_development_data() -> None:
    texts = _dev_texts()
    assert len(texts) > 3000
    for text in texts:
        _assert_split_matches(text)


_pieces = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),  # every script, surrogates too
    st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3),
    st.sampled_from(sorted(SPECIAL_CASES)),
    st.text(st.sampled_from("abcXY.,;:!?'\"()-–/<>=~$%#@…’"), max_size=8),
    st.sampled_from(["東京都に住む", "ภาษาไทยง่าย", "don't", "U.S.", "e.g.", "well-known", ":)",
                     "http://example.com/a?b=c", "10am", "naïve", "Ǆemal"]),
)


@needs_core
@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_the_split_matches_the_reference_on_generated_text(text: str) -> None:
    _assert_split_matches(text)


@needs_core
@pytest.mark.parametrize("text", [
    "", " ", "\n", "\n\n\n", "\x1c\x1d", "a\ud800b c", "\udfff", "word " * 200_000,
    "x" * 1_000_000, ("The cat sat. " * 50 + "\n") * 2_000,
])
def test_the_split_matches_the_reference_on_edge_cases(text: str) -> None:
    _assert_split_matches(text)


# -- Gopher's repeated n-grams ---------------------------------------------------------------------

def _assert_repetition_matches(text: str) -> None:
    words = split_module.Split(text)
    assert (gopher.repeated_ngram_chars(words.word_hashes, words.word_lengths)
            == gopher.repeated_ngram_chars_reference(words.word_hashes, words.word_lengths))


@needs_core
def test_repeated_ngrams_match_the_reference_on_development_data() -> None:
    for text in _dev_texts()[::3]:
        _assert_repetition_matches(text)


@needs_core
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "cc", "the", "ddd", "é", "\n", "  "]), max_size=400)
       .map(" ".join))
def test_repeated_ngrams_match_the_reference_on_generated_text(text: str) -> None:
    _assert_repetition_matches(text)
