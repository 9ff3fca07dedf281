"""The fastText classifier step, with the tiny model `scripts/train_classifier.py` trains.

The held-out texts below were written for this test and are not in the training script.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tamis
from tamis.config import ConfigError
from tamis.document import Document
from tamis.step import build_step
from tests.conftest import REPO, read_output, tamis_command

MODEL = REPO / "tests" / "fixtures" / "tiny_classifier.ftz"

GOOD = [
    "The lungs take in oxygen and release carbon dioxide, which the blood carries between the "
    "cells and the air.",
    "Students measure the angles of a triangle and find that they always add up to one "
    "hundred and eighty degrees.",
    "Glaciers are slow rivers of ice that shape mountains by scraping rock and leaving "
    "valleys shaped like a U.",
    "A sentence needs a subject and a verb;\nthe subject tells who or what the sentence is "
    "about.",
    "The ancient Egyptians built pyramids as tombs for their kings and recorded their history "
    "in hieroglyphs.",
    "Magnets attract iron because the tiny magnetic regions inside the metal line up with the "
    "magnetic field.",
]
BAD = [
    "Win a free phone now!!! Click here, limited offer, buy today",
    "Privacy Policy | Cookie settings | Contact us | Newsletter signup",
    "Order now and save 70% on designer bags, free delivery, promo code inside",
    "Like us on Facebook\nFollow us on Twitter\nShare this post",
    "Earn money fast online from home, click the link, no experience required",
    "Next article >> Previous article << Back to top | Print | Email",
]


def step(**options: object) -> tamis.Step:
    return build_step("classifier", {"model": str(MODEL), "label": "hq", **options})


def test_the_model_is_small_and_scores_held_out_good_text_above_bad() -> None:
    assert MODEL.stat().st_size < 200_000
    classify = step()
    scores = {}
    for text in GOOD + BAD:
        doc = Document("d", text)
        classify(doc)
        assert doc.kept  # no threshold: the score is only stored
        scores[text] = doc.signals["classifier_score"]
    assert all(0.0 <= score <= 1.0 for score in scores.values())
    assert min(scores[text] for text in GOOD) > max(scores[text] for text in BAD)
    # The other label's probability is the complement: the label option picks which is stored.
    other = step(label="__label__lq", signal="spam")
    doc = Document("d", GOOD[0])
    other(doc)
    assert doc.signals["spam"] == pytest.approx(1 - scores[GOOD[0]], abs=1e-3)


def test_a_threshold_removes_low_scores_with_the_rule() -> None:
    classify = step(threshold=0.5)
    for text, kept in [(GOOD[0], True), (BAD[0], False)]:
        doc = Document("d", text)
        classify(doc)
        assert doc.kept is kept
    assert doc.removed_by.rule == "classifier" and doc.removed_by.step == "classifier"
    assert doc.removed_by.detail.startswith("classifier_score ")
    assert doc.removed_by.detail.endswith("< 0.5")


def _write_input(path: Path) -> None:
    path.write_text("".join(json.dumps({"id": f"{kind}{i}", "text": text}) + "\n"
                            for kind, texts in (("good", GOOD), ("bad", BAD))
                            for i, text in enumerate(texts)))


def test_a_run_keeps_the_score_in_the_records(tmp_path: Path) -> None:
    _write_input(tmp_path / "in.jsonl")
    config = tmp_path / "classify.yaml"
    config.write_text(f"pipeline: [normalize]\nappend:\n  - classifier:\n"
                      f"      model: {MODEL}\n      label: hq\n      signal: quality\n")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--config", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    kept = read_output(tmp_path / "out", "kept")
    assert len(kept) == len(GOOD) + len(BAD)
    assert all(0.0 <= record["signals"]["quality"] <= 1.0 for record in kept)

    config.write_text(config.read_text() + "      threshold: 0.5\n")
    tamis.run(tmp_path / "in.jsonl", tmp_path / "filtered", config=config, workers=1)
    kept = read_output(tmp_path / "filtered", "kept")
    removed = read_output(tmp_path / "filtered", "removed")
    assert sorted(record["id"] for record in kept) == [f"good{i}" for i in range(len(GOOD))]
    assert {record["removed_by"]["rule"] for record in removed} == {"classifier"}
    assert all(record["signals"]["quality"] < 0.5 for record in removed)


def test_bad_model_or_label_is_a_config_error_naming_the_option(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ftz"
    config = tmp_path / "classify.yaml"
    config.write_text(f"append:\n  - classifier: {{model: {missing}, label: hq}}\n")
    with pytest.raises(ConfigError, match=r"classifier\.model: .*does not exist"):
        tamis.load_config(path=config)
    _write_input(tmp_path / "in.jsonl")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--config", str(config))
    assert result.returncode == 2
    assert "config error" in result.stderr and "classifier.model" in result.stderr
    assert not (tmp_path / "out").exists()

    not_a_model = tmp_path / "model.bin"
    not_a_model.write_text("__label__hq some training text, not a model\n")
    with pytest.raises(ConfigError, match=r"classifier\.model: .* is not a fastText model"):
        build_step("classifier", {"model": str(not_a_model), "label": "hq"})
    with pytest.raises(ConfigError, match=r"classifier\.label: .*__label__hq, __label__lq"):
        build_step("classifier", {"model": str(MODEL), "label": "good"})
    with pytest.raises(ConfigError, match=r"classifier\.label: Field required"):
        tamis.load_config(overrides={"append": [{"classifier": {"model": str(MODEL)}}]})
