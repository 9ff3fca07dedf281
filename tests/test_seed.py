"""The seed document: its cleaned text must equal the expected file byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SEED, need_shared, read_output

from tamis.api import clean
from tamis.runner import run

SEED_ID = "000_27e23ccad5cb0e77"


def test_seed_cleans_to_the_expected_text_byte_for_byte() -> None:
    raw = need_shared(SEED / f"{SEED_ID}.txt").read_bytes().decode("utf-8")
    expected = (SEED / f"{SEED_ID}.expected.txt").read_bytes().decode("utf-8")
    doc = clean(raw)
    assert doc.kept
    assert doc.text == expected
    assert doc.rebuild_input() == raw


def test_seed_cuts_are_one_title_injection_one_link_list_one_fragment() -> None:
    raw = need_shared(SEED / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    doc = clean(raw)
    rules = [edit.rule for edit in doc.edits]
    assert rules == ["clean.title_injection", "clean.link_list", "clean.fragment"]
    title, link_list, fragment = doc.edits
    assert title.original == "_laser freckle removal on arms"
    assert link_list.original.startswith("\n(editor:)\n- Miley Cyrus")
    assert link_list.original.endswith("Prince Charles and Camilla to visit Canada in May")
    assert fragment.original == "\n- Debbie Owusu"
    # The summary bullets come back in the body: measured, not cut.
    assert doc.signals["repeated_lead_lines"] >= 1


def test_clean_explain_names_the_three_kinds_of_cut() -> None:
    path = need_shared(SEED / f"{SEED_ID}.txt")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), COLUMNS="200")
    result = subprocess.run([sys.executable, "-m", "tamis", "clean", str(path), "--explain"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for rule in ("clean.title_injection", "clean.link_list", "clean.fragment"):
        assert rule in result.stdout
    assert "Debbie Owusu" in result.stdout


def test_clean_prints_the_expected_text(tmp_path: Path) -> None:
    path = need_shared(SEED / f"{SEED_ID}.txt")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    result = subprocess.run([sys.executable, "-m", "tamis", "clean", str(path)],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    expected = (SEED / f"{SEED_ID}.expected.txt").read_text(encoding="utf-8")
    assert result.stdout.rstrip("\n") == expected


def test_tamis_clean_stays_the_function_after_the_cleaners_load() -> None:
    import tamis

    first = tamis.clean("A title\nA first sentence of the article, long enough to be prose.")
    second = tamis.clean("A title\nA second sentence of the article, long enough to be prose.")
    assert first.kept and second.kept
    assert callable(tamis.clean)


def test_run_with_the_clean_preset_writes_the_expected_text_and_its_cuts(tmp_path: Path) -> None:
    raw = need_shared(SEED / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    pages = tmp_path / "in"
    pages.mkdir()
    (pages / f"{SEED_ID}.txt").write_text(raw, encoding="utf-8")
    (pages / "blank.txt").write_text(" \n\n ", encoding="utf-8")  # nothing left: removed
    run([pages], tmp_path / "out", preset="clean", workers=1)
    kept = {record["id"]: record for record in read_output(tmp_path / "out", "kept")}
    seed = kept[f"{SEED_ID}.txt"]
    assert seed["text"] == (SEED / f"{SEED_ID}.expected.txt").read_text(encoding="utf-8")
    assert [edit["rule"] for edit in seed["edits"]] == [
        "clean.title_injection", "clean.link_list", "clean.fragment"]
    assert seed["signals"]["repeated_lead_lines"] >= 1
    removed = read_output(tmp_path / "out", "removed")
    assert [(record["id"], record["removed_by"]["step"]) for record in removed] == [
        ("blank.txt", "drop_empty")]
