"""Benchmark decontamination on real pages: planted benchmark items are found, nothing else is.

The benchmark items below are written for these tests. They are planted into real pages of the
evaluation data (neardup, read from ../shared at test time) whole, as 13-word excerpts, and with
other case and punctuation; every other page of the set must come through untouched.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tamis
from tamis.config import ConfigError
from tamis.document import Document
from tamis.filters.decontaminate import word_spans, words
from tamis.step import build_step
from tests.conftest import DATA, need_shared, read_output, tamis_command

NEARDUP = DATA / "derived" / "dev" / "neardup.jsonl.gz"

ITEMS = [
    ("Which gas do green plants take in from the air during photosynthesis in order to "
     "build sugars?", "They absorb carbon dioxide through small pores on their leaves."),
    ("A train leaves the station at nine and travels at sixty miles per hour; how far has it "
     "gone by noon?", "One hundred and eighty miles."),
    ("What is the name of the process in which a solid turns directly into a gas without "
     "first becoming a liquid?", "Sublimation, as when dry ice disappears at room temperature."),
    ("In the short story, why does the old lighthouse keeper refuse to leave the island even "
     "after the storm warning?", "Because he promised his late wife to keep the lamp burning."),
    ("If a rectangle has a perimeter of thirty centimetres and one side of six centimetres, "
     "what is its area?", "Fifty-four square centimetres."),
    ("Which organ of the human body is chiefly responsible for filtering waste products out "
     "of the blood and making urine?", "The kidneys."),
    ("According to the passage, what did the village council decide to do with the money "
     "raised at the autumn fair?", "Repair the roof of the school and buy new library books."),
    ("Which layer of the atmosphere contains most of the ozone that protects living things "
     "from ultraviolet radiation?", "The stratosphere."),
    ("Why did the author of the letter say she could not attend her cousin's wedding in the "
     "mountains next spring?", "She had already agreed to lead a research trip abroad."),
    ("What happens to the volume of a fixed amount of gas when its temperature rises while "
     "the pressure stays constant?", "The volume increases in proportion to the temperature."),
    ("Which sequence of numbers correctly continues the pattern two, six, eighteen, fifty-four "
     "when each term is multiplied by three?", "One hundred sixty-two, then four hundred "
                                               "eighty-six."),
    ("What was the main reason the narrator gave for moving from the crowded harbour town to "
     "the quiet farm in the valley?", "He wanted his children to grow up near their "
                                      "grandparents."),
    ("Which property of water explains why a needle placed carefully on its surface can float "
     "even though steel is denser?", "Surface tension."),
    ("How many minutes does it take to fill a tank of two hundred litres with a hose that "
     "delivers eight litres each minute?", "Twenty-five minutes."),
    ("In the dialogue between the two students, what does Maria suggest they should do before "
     "the chemistry exam on Friday?", "Meet at the library every evening to work through old "
                                      "problem sets."),
    ("Which of the following best describes the function of the mitochondria inside a typical "
     "animal cell of the body?", "They release energy from food through respiration."),
    ("What can be concluded from the experiment in which the seedlings kept in the dark cupboard "
     "grew tall, thin and pale?", "Light is needed for healthy green growth."),
    ("When the merchant sold the carpet for twice what he paid and still lost customers, what "
     "lesson did his neighbour draw?", "That a fair price keeps friends longer than a high one."),
    ("Which instrument would a weather station use to measure the speed of the wind blowing "
     "across an open field?", "An anemometer with spinning cups."),
    ("Why does the moon appear to change its shape over the course of a month when seen from "
     "the surface of the Earth?", "Because we see different parts of its sunlit half as it "
                                  "orbits us."),
]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test builds its indexes in its own cache folder (subprocesses inherit it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TAMIS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def benchmark(tmp_path: Path) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answer": a,
                                        "choices": ["yes", "no"]}) + "\n"
                            for i, (q, a) in enumerate(ITEMS)))
    return path


@cache
def pages() -> tuple[dict[str, Any], ...]:
    with gzip.open(need_shared(NEARDUP), "rt", encoding="utf-8") as stream:
        return tuple(json.loads(line) for line in stream)


def plant(text: str, passage: str) -> str:
    """Put `passage` in the middle of a page, at a line break."""
    middle = text.find("\n", len(text) // 2)
    middle = len(text) if middle < 0 else middle
    return f"{text[:middle]}\n{passage}\n{text[middle:]}"


def variants() -> list[str]:
    """The 20 items as they might appear on the web: whole, excerpted, re-cased, re-punctuated."""
    planted = []
    for number, (question, answer) in enumerate(ITEMS):
        if number < 8:  # the whole item, as written
            planted.append(f"{question} {answer}")
        elif number < 14:  # exactly 13 words from inside the question, in capitals
            start = question.index(" ") + 1
            planted.append(" ".join(question[start:].split()[:13]).upper())
        else:  # punctuation gone or changed, lines broken, odd spacing
            changed = question.replace(",", "").replace("?", "!!").replace(" ", "  ", 3)
            planted.append(changed.replace(" the ", "\nthe ", 1) + f" -- {answer.lower()}")
    return planted


def test_planted_items_are_found_and_no_other_page_is_touched(benchmark: Path) -> None:
    step = build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    docs = pages()
    targets = {index * 97 + 5: passage for index, passage in enumerate(variants())}
    removed = {}
    for index, record in enumerate(docs):
        text = record["text"]
        if index in targets:
            text = plant(text, targets[index])
        doc = Document(record["id"], text)
        step(doc)
        if not doc.kept:
            removed[index] = doc.removed_by
    assert sorted(removed) == sorted(targets)  # every planted page, and nothing else
    for removal in removed.values():
        assert removal.rule == "decontaminate"
        assert removal.detail.startswith(f"{benchmark}: ")
        assert "13-grams" in removal.detail


def test_twelve_words_are_not_enough_and_min_matches_counts_ngrams(benchmark: Path) -> None:
    question = ITEMS[0][0]
    twelve = " ".join(question.split()[:12])
    fourteen = " ".join(question.split()[:14])  # two overlapping 13-grams
    page = pages()[0]["text"]
    step = build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    doc = Document("d", plant(page, twelve))
    step(doc)
    assert doc.kept
    strict = build_step("decontaminate", {"benchmarks": [str(benchmark)], "min_matches": 3})
    for passage, kept in [(fourteen, True), (question, False)]:
        doc = Document("d", plant(page, passage))
        strict(doc)
        assert doc.kept is kept


def test_spans_mode_cuts_the_planted_item_and_keeps_the_page(benchmark: Path) -> None:
    step = build_step("decontaminate", {"benchmarks": [str(benchmark)], "mode": "spans"})
    page = pages()[10]["text"]
    question = ITEMS[3][0]
    doc = Document("d", plant(page, question))
    step(doc)
    assert doc.kept
    assert doc.text == plant(page, "")  # the question and its "?" went, the page stayed
    [edit] = doc.edits
    assert edit.rule == "decontaminate" and edit.original == question
    assert edit.detail == f"{benchmark}: '{' '.join(words(question)[:13])}'"
    assert doc.rebuild_input() == doc.input_text

    # Inside a line, several items in one page: each cut on its own, the text around kept.
    inline = (f"Before it. {ITEMS[5][0].upper()} Between them. {ITEMS[6][0]} "
              f"{ITEMS[6][1]} After them.")
    doc = Document("d", inline)
    step(doc)
    assert doc.text == f"Before it.  Between them.  {ITEMS[6][1]} After them."
    assert len(doc.edits) == 2 and doc.rebuild_input() == inline


def test_spans_mode_removes_a_page_with_no_words_left(benchmark: Path) -> None:
    step = build_step("decontaminate", {"benchmarks": [str(benchmark)], "mode": "spans"})
    doc = Document("d", f"  {ITEMS[2][0]}\n\n")
    step(doc)
    assert doc.removed_by.rule == "decontaminate" and "no words left" in doc.removed_by.detail


def test_the_index_is_built_once_and_memory_mapped(benchmark: Path, _cache: Path) -> None:
    first = build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    built = list((_cache / "decontaminate").iterdir())
    assert len(built) == 1 and sorted(p.name for p in built[0].iterdir()) == [
        "bits.npy", "hashes.npy", "sources.npy"]
    stamp = (built[0] / "hashes.npy").stat().st_mtime_ns
    second = build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    mapped = second.index.hashes
    assert isinstance(mapped.base, np.memmap) and not mapped.flags.writeable
    assert (built[0] / "hashes.npy").stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert np.array_equal(first.index.hashes, second.index.hashes)
    assert np.all(np.diff(second.index.hashes.astype(np.uint64)) > 0)  # sorted, unique
    # Another n-gram size or other contents make another index.
    build_step("decontaminate", {"benchmarks": [str(benchmark)], "ngram": 8})
    benchmark.write_text(benchmark.read_text() + json.dumps({"q": ITEMS[0][1] * 3}) + "\n")
    build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    assert len(list((_cache / "decontaminate").iterdir())) == 3


def test_plain_text_and_compressed_benchmarks_and_chosen_fields(tmp_path: Path,
                                                                benchmark: Path) -> None:
    lines = tmp_path / "passages.txt.gz"
    with gzip.open(lines, "wt", encoding="utf-8") as stream:
        stream.write("".join(f"{question}\n" for question, _ in ITEMS))
    step = build_step("decontaminate", {"benchmarks": [str(benchmark), str(lines)]})
    doc = Document("d", plant(pages()[3]["text"], ITEMS[4][0]))
    step(doc)
    assert not doc.kept
    # A sentence that crosses two lines is one passage only with text_unit: file.
    crossing = " ".join(ITEMS[0][0].split()[-6:] + ITEMS[1][0].split()[:7])
    for unit, kept in [("line", True), ("file", False)]:
        step = build_step("decontaminate", {"benchmarks": [str(lines)], "text_unit": unit})
        doc = Document("d", crossing)
        step(doc)
        assert doc.kept is kept
    # With fields, only those are benchmark text: the answers are then not looked for.
    answer = ITEMS[9][1] + " " + ITEMS[8][1]
    only_questions = build_step("decontaminate", {"benchmarks": [str(benchmark)],
                                                  "fields": ["question"], "ngram": 5})
    every_string = build_step("decontaminate", {"benchmarks": [str(benchmark)], "ngram": 5})
    for step, kept in [(only_questions, True), (every_string, False)]:
        doc = Document("d", answer)
        step(doc)
        assert doc.kept is kept


def test_a_run_with_decontaminate_appended(tmp_path: Path, benchmark: Path) -> None:
    docs = pages()[:40]
    # Planted in article bodies (gold texts): in a full page the middle line may be a headline
    # list, which span cleaning rightly cuts before decontamination sees it.
    planted = {record["id"] for record in docs if record["kind"] == "aeb_gold"}
    with open(tmp_path / "in.jsonl", "w", encoding="utf-8") as stream:
        for index, record in enumerate(docs):
            text = record["text"]
            if record["id"] in planted:
                text = plant(text, f"{ITEMS[index % 20][0]} {ITEMS[index % 20][1]}")
            stream.write(json.dumps({"id": record["id"], "text": text}) + "\n")
    config = tmp_path / "decon.yaml"
    config.write_text(f"append:\n  - decontaminate:\n      benchmarks: [{benchmark}]\n")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--preset", "clean", "--config", str(config), "--workers", "2",
                           "--quiet")
    assert result.returncode == 0, result.stderr
    removed = read_output(tmp_path / "out", "removed")
    hits = {record["id"]: record for record in removed
            if record["removed_by"]["step"] == "decontaminate"}
    assert set(hits) == planted
    for record in hits.values():
        assert record["removed_by"]["rule"] == "decontaminate"
        assert str(benchmark) in record["removed_by"]["detail"]
    assert len(read_output(tmp_path / "out", "kept")) + len(removed) == len(docs)


def test_config_errors_name_the_option(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    config = tmp_path / "decon.yaml"
    config.write_text(f"append:\n  - decontaminate:\n      benchmarks: [{missing}]\n")
    with pytest.raises(ConfigError, match=r"decontaminate\.benchmarks.*does not exist"):
        tamis.load_config(path=config)
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "some text"}\n')
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--config", str(config))
    assert result.returncode == 2
    assert "config error" in result.stderr and "benchmarks" in result.stderr
    assert not (tmp_path / "out").exists()

    with pytest.raises(ConfigError, match="benchmarks"):
        tamis.load_config(overrides={"append": [{"decontaminate": {}}]})

    short = tmp_path / "short.jsonl"
    short.write_text('{"question": "Two plus two?", "answer": "Four."}\n')
    with pytest.raises(ConfigError, match=r"decontaminate\.benchmarks: no passage .* 13 words"):
        build_step("decontaminate", {"benchmarks": [str(short)]})
    config.write_text(f"append:\n  - decontaminate:\n      benchmarks: [{short}]\n")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out2"),
                           "--config", str(config))
    assert result.returncode == 2
    assert "config error" in result.stderr and "lower `ngram`" in result.stderr

    pretty = tmp_path / "one.json"  # a .json file is one JSON value, lists or not
    pretty.write_text(json.dumps({"question": ITEMS[0][0]}, indent=2))
    doc = Document("d", ITEMS[0][0])
    build_step("decontaminate", {"benchmarks": [str(pretty)]})(doc)
    assert not doc.kept

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "fine"}\n{"question": \n')
    with pytest.raises(ConfigError, match=r"broken\.jsonl: line 2 is not valid JSON"):
        build_step("decontaminate", {"benchmarks": [str(broken)]})


def test_spaceless_scripts_count_one_word_per_character(tmp_path: Path) -> None:
    passage = "水在一百摄氏度时沸腾，这是标准大气压下的沸点。"  # written for this test
    path = tmp_path / "zh.txt"
    path.write_text(passage + "\n", encoding="utf-8")
    step = build_step("decontaminate", {"benchmarks": [str(path)], "mode": "spans"})
    text = "前言。Intro text: 水在一百摄氏度时沸腾 这是标准大气压下的沸点!后记 and more."
    assert len(words(passage)) == 21
    doc = Document("d", text)
    step(doc)
    assert doc.text == "前言。Intro text: 后记 and more."
    assert doc.rebuild_input() == text
    mixed = "Tokyo東京タワーは333メートル, naïve café_au_lait ___ x2"
    assert [mixed[a:b].lower() for a, b in word_spans(mixed)] == words(mixed)
    assert words(mixed) == ["tokyo", "東", "京", "タ", "ワ", "ー", "は", "333", "メ", "ー", "ト",
                            "ル", "naïve", "café", "au", "lait", "x2"]


def test_an_unwritable_cache_falls_back_to_the_temporary_folder(
        tmp_path: Path, benchmark: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("TAMIS_CACHE_DIR", str(blocked))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    step = build_step("decontaminate", {"benchmarks": [str(benchmark)]})
    assert len(list((tmp_path / "tmp" / "tamis-cache" / "decontaminate").iterdir())) == 1
    doc = Document("d", ITEMS[0][0])
    step(doc)
    assert not doc.kept
