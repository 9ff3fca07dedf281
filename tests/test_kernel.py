"""The compiled core against the Python reference, value for value.

`tamis.kernel` picks the implementation; the references (`*_reference`) stay in Python as the
executable specification, and every kernel is compared with its reference here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamis.kernel import core
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
