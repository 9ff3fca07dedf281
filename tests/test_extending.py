"""docs/extending.md's examples, run exactly as the page shows them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO, assert_conserved, read_output

import tamis
from tamis import plugins

PAGE = REPO / "docs" / "extending.md"


def named_blocks() -> dict[str, str]:
    """The page's code blocks whose first line names a file (`# my_rules.py`), by that name."""
    blocks = re.findall(r"^```\w+\n# (\S+)\n(.*?)^```", PAGE.read_text(), flags=re.M | re.S)
    return {name: body for name, body in blocks}


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("extending")
    for name, body in named_blocks().items():
        (folder / name).write_text(body)
    return folder


def test_the_page_shows_a_step_a_reader_a_global_step_and_a_config(examples: Path) -> None:
    assert sorted(named_blocks()) == ["my.yaml", "my_rules.py", "notes_reader.py",
                                      "same_url.py"]


def test_the_examples_run_with_two_workers(examples: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "club.notes").write_text(
        "NOTES1\nid: tea\nGreen tea is picked in spring.\nADVERT: buy now\n%%\n"
        "id: slots\nOur casino opens at noon.\n%%\nno id here\n")
    (inputs / "pages.jsonl").write_text("".join(json.dumps(record) + "\n" for record in [
        {"id": "p1", "url": "https://example.org/a", "text": "Bread needs flour and water."},
        {"id": "p2", "url": "https://example.org/a", "text": "Bread, flour and water, again."},
        {"id": "p3", "url": "https://example.org/b", "text": "Play poker tonight."},
    ]))
    config = tamis.load_config(
        path=examples / "my.yaml", overrides={"append": ["same_url"]},
        plugins=[str(examples / "notes_reader.py"), str(examples / "same_url.py")])
    out = tmp_path / "out"
    result = tamis.run(inputs, out, config=config, workers=2)
    assert result.counts["read"] == 6 and result.counts["errors"] == 1
    kept = {record["id"]: record for record in read_output(out, "kept")}
    removed = {record["id"]: record["removed_by"] for record in read_output(out, "removed")}
    assert sorted(kept) == ["p1", "tea"]
    assert removed == {
        "slots": {"step": "casino_filter", "rule": "gambling", "detail": "mentions 'casino'"},
        "p3": {"step": "casino_filter", "rule": "gambling", "detail": "mentions 'poker'"},
        "p2": {"step": "same_url", "rule": "same_url", "detail": "https://example.org/a"}}
    assert [edit["rule"] for edit in kept["tea"]["edits"]
            if edit["rule"].startswith("my_rules")] == ["my_rules.advert"]
    assert "ADVERT" not in kept["tea"]["text"]
    assert read_output(out, "errors")[0]["error"] == "block 3 has no id line"
    assert_conserved(out)


def test_the_refusal_the_page_quotes_is_the_one_a_run_gives() -> None:
    class CasinoFilter(tamis.Step):
        name = "casino_filter"

    CasinoFilter.__module__, CasinoFilter.__qualname__ = "__main__", "CasinoFilter"
    with pytest.raises(plugins.PluginError) as refused:
        plugins.worker_modules([CasinoFilter], [])
    quoted = PAGE.read_text().split("    run stopped: ", 1)[1].split("\n\n", 1)[0]
    assert " ".join(quoted.split()) == str(refused.value)
