"""Repeated-line removal (CCNet style) across documents, shards and files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import (
    DATA,
    assert_conserved,
    need_shared,
    output_bytes,
    partition_counts,
    read_output,
)

import tamis
from tamis.document import rebuild_input

FOOTER = "Share this article on Facebook | Twitter | E-mail"
PAGES = {
    "a": ["Harbour reopens after storm", "The harbour reopened on Monday after repairs.",
          FOOTER],
    "b": ["New library opens", "share this ARTICLE on facebook | twitter | e-mail",
          "The library has forty thousand books.", "Opening hours are nine to five."],
    "c": ["Council votes on budget", "The council approved the budget on Tuesday.", FOOTER],
    "d": [FOOTER, FOOTER],
}


def run_lines(tmp_path: Path, pages: dict[str, list[str]], workers: int = 1,
              memory_mb: float = 1024, **options: int) -> Path:
    # Two files, so repeats are counted across files and shards.
    names = sorted(pages)
    inputs = tmp_path / "in"
    inputs.mkdir(exist_ok=True)
    for number, part in enumerate((names[:2], names[2:])):
        with open(inputs / f"part{number}.jsonl", "w", encoding="utf-8") as out:
            for name in part:
                out.write(json.dumps({"id": name, "text": "\n".join(pages[name])}) + "\n")
    out = tmp_path / f"out-{workers}-{memory_mb}-{sorted(options.items())}"
    config = tamis.load_config(overrides={"pipeline": [{"dedup_lines": options}],
                                          "limits": {"memory_mb": memory_mb}})
    tamis.run(inputs, out, config=config, workers=workers)
    assert_conserved(out)
    return out


def test_a_line_many_documents_carry_is_cut_from_every_one(tmp_path: Path) -> None:
    out = run_lines(tmp_path, PAGES)
    kept = {record["id"]: record for record in read_output(out, "kept")}
    assert kept["a"]["text"] == "\n".join(PAGES["a"][:2])
    assert kept["b"]["text"] == "\n".join([PAGES["b"][0], *PAGES["b"][2:]])
    assert kept["c"]["text"] == "\n".join(PAGES["c"][:2])
    [removed] = read_output(out, "removed")
    assert removed["id"] == "d" and removed["removed_by"]["rule"] == "empty_after_lines"
    for name, record in kept.items():
        assert {edit["rule"] for edit in record["edits"]} == {"dedup_lines.repeated"}
        edits = [tamis.Edit.from_dict(edit) for edit in record["edits"]]
        assert rebuild_input(record["text"], edits) == "\n".join(PAGES[name])


def test_max_documents_sets_how_common_a_line_must_be(tmp_path: Path) -> None:
    # The footer is in four documents (twice in one, counted once): cut above 3, not above 4.
    kept = read_output(run_lines(tmp_path, PAGES, max_documents=3), "kept")
    assert all(FOOTER not in record["text"] for record in kept)
    kept = read_output(run_lines(tmp_path, PAGES, max_documents=4), "kept")
    assert {record["id"]: record["text"] for record in kept} == {
        name: "\n".join(lines) for name, lines in PAGES.items()}


def labelled_pages() -> list[dict]:
    path = need_shared(DATA / "derived" / "dev" / "linelabels.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_real_pages_lose_boilerplate_lines_not_content(tmp_path: Path) -> None:
    """On the line-labelled pages, the lines cut are boilerplate far more than content."""
    pages = labelled_pages()
    out = run_lines(tmp_path, {page["id"]: page["lines"] for page in pages}, max_documents=2)
    labels = {page["id"]: page for page in pages}
    cut = {0: 0, 1: 0}
    for record in read_output(out, "kept") + read_output(out, "removed"):
        page = labels[record["id"]]
        input_text = "\n".join(page["lines"])
        gone = {(edit["start"], edit["end"]) for edit in record["edits"]}
        position = 0
        for line, label in zip(page["lines"], page["labels"], strict=True):
            span = input_text[position:position + len(line)]
            inside = any(start <= position and position + len(line) <= end + 1
                         for start, end in gone)
            if inside and span and label is not None:
                cut[label] += 1
            position += len(line) + 1
    # Measured: 6,948 boilerplate lines cut and 116 content lines (precision 0.984).
    assert cut[0] > 5000
    assert cut[1] / (cut[0] + cut[1]) < 0.03


def test_output_is_the_same_with_one_or_two_workers(tmp_path: Path) -> None:
    one = output_bytes(run_lines(tmp_path, PAGES, workers=1))
    assert one and one == output_bytes(run_lines(tmp_path, PAGES, workers=2))


def test_a_tiny_memory_budget_spills_line_hashes_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At a 20 KB budget the line hashes of the 629 labelled pages are counted in many spilled
    partitions (resolve holds one, plus the frequent hashes); the output is byte for byte that
    of the default budget."""
    pages = {page["id"]: page["lines"] for page in labelled_pages()}
    partitions = partition_counts(monkeypatch)
    default = run_lines(tmp_path, pages, max_documents=2)
    assert set(partitions) == {1}
    partitions.clear()
    tiny = run_lines(tmp_path, pages, memory_mb=0.02, max_documents=2)
    assert output_bytes(tiny) == output_bytes(default)
    assert max(partitions) >= 8
    assert sum(bool(record["edits"]) for record in read_output(tiny, "kept")) > 300
