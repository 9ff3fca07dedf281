"""The reference presets hold the published steps and keep the seed, as the references do."""

from __future__ import annotations

import pytest

from tamis import clean
from tamis.config import load_config
from tests.conftest import SEED, need_shared

REFERENCE_PRESETS = ("fineweb", "gopher", "c4", "c4-datatrove")


@pytest.mark.parametrize("preset", REFERENCE_PRESETS)
def test_reference_presets_keep_the_seed(preset: str) -> None:
    seed = need_shared(SEED / "000_27e23ccad5cb0e77.txt").read_text(encoding="utf-8")
    doc = clean(seed, preset=preset)
    assert doc.kept, doc.removed_by
    assert doc.rebuild_input() == seed


def test_fineweb_preset_is_the_published_order() -> None:
    steps = [entry["name"] for entry in load_config("fineweb").model_dump()["pipeline"]]
    assert steps == [
        "extract", "url_filter", "language", "gopher_repetition", "gopher_quality", "c4",
        "fineweb_quality"]


def test_c4_presets_differ_only_in_the_published_thresholds() -> None:
    seed = need_shared(SEED / "000_27e23ccad5cb0e77.txt").read_text(encoding="utf-8")
    tfds, datatrove = clean(seed, preset="c4"), clean(seed, preset="c4-datatrove")
    assert tfds.signals["c4_sentences"] >= 3 and datatrove.signals["c4_sentences"] >= 5
    # both drop the keyword-stuffed title line (no end mark) and keep the article
    assert tfds.edits[0].rule == datatrove.edits[0].rule == "c4.no_terminal_punct"
    assert "Pskov province refused to fight" in tfds.text
