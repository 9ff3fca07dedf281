"""The command line as a user meets it: help, clean, explain."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, tamis_command


def test_help_names_every_command_and_the_exit_codes() -> None:
    result = tamis_command("--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "clean" in result.stdout and "exit codes" in result.stdout
    result = tamis_command("run", "--help")
    for option in ("--preset", "--config", "--workers", "--limit", "--overwrite", "--quiet"):
        assert option in result.stdout
    assert tamis_command().returncode == 2


def test_clean_prints_the_text_and_one_newline(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("  A   short   page.  \n\n\n\nSecond paragraph.\n\n")
    result = tamis_command("clean", str(page))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "A short page.\n\nSecond paragraph.\n"


def test_clean_explain_lists_edits_signals_and_verdict() -> None:
    result = tamis_command("clean", str(REPO / "examples" / "corpus" / "pages" / "cafe.txt"),
                           "--explain")
    assert result.returncode == 0, result.stderr
    assert "invalid_utf8_bytes = 2" in result.stdout
    assert "verdict: kept" in result.stdout


def test_clean_of_an_empty_document_says_it_was_removed(tmp_path: Path) -> None:
    (tmp_path / "blank.txt").write_text(" \n \n")
    result = tamis_command("clean", str(tmp_path / "blank.txt"))
    assert result.returncode == 0 and result.stdout == ""
    assert "removed by drop_empty" in result.stderr


def test_clean_of_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    result = tamis_command("clean", str(tmp_path / "nope.txt"))
    assert result.returncode == 3 and "does not exist" in result.stderr
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    result = tamis_command("clean", str(tmp_path / "binary.txt"))
    assert result.returncode == 3 and "binary" in result.stderr


def test_bands_chooses_bands_and_rows_and_prints_the_s_curve() -> None:
    result = tamis_command("bands", "--threshold", "0.75", "--hashes", "110", check=True)
    assert "bands: 11\nrows: 10\n" in result.stdout
    # The S-curve row for the threshold: 1 - (1 - 0.75^10)^11.
    assert " 0.75     0.4714" in result.stdout
    fineweb = tamis_command("bands", "--bands", "14", "--rows", "8", check=True)
    assert " 0.80     0.9235" in fineweb.stdout


def test_bands_refuses_half_a_choice_and_a_threshold_out_of_range() -> None:
    half = tamis_command("bands", "--bands", "3")
    assert half.returncode == 2 and "--bands and --rows together" in half.stderr
    wrong = tamis_command("bands", "--threshold", "1.5")
    assert wrong.returncode == 2 and "between 0 and 1" in wrong.stderr
