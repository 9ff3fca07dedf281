"""One bad file or one bad config value never crashes a run: files become error records or
counted skips with a warning, config values are refused before work starts (exit 2), and what
a file's name and content disagree on is settled by the content."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, assert_conserved, read_output

from tamis.cli import main

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
READING = "pipeline: [normalize, drop_empty, dedup_exact]\n"


def warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (head + f"Content-Length: {len(block)}\r\n\r\n").encode() + block + b"\r\n\r\n"


def wat_file() -> bytes:
    """A WAT file: metadata records only (gzip, one member per record)."""
    return b"".join(gzip.compress(warc_record(
        [("WARC-Type", "metadata"), ("WARC-Record-ID", f"<urn:uuid:{n}>"),
         ("Content-Type", "application/json")], b'{"Envelope": {}}')) for n in range(3))


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("A good page about the harbour and its boats.\n")
    os.symlink(tmp_path / "missing.txt", folder / "dangling.txt")
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"A page whose file name is not UTF-8.\n")
    text = b"Converted text of a page about the market square."
    (folder / "noid.wet").write_bytes(
        warc_record([("WARC-Type", "conversion"), ("WARC-Target-URI", "http://example.com/"),
                     ("Content-Type", "text/plain")], text) +
        warc_record([("WARC-Type", "conversion"), ("WARC-Record-ID", "<urn:uuid:1>"),
                     ("Content-Type", "text/plain")], text + b" Another one."))
    lines = b"".join(json.dumps({"id": f"p{n}", "text": f"Plain line {n} of a file named as "
                                 f"if it were compressed."}).encode() + b"\n" for n in range(5))
    (folder / "plain.jsonl.gz").write_bytes(lines)
    (folder / "packed.jsonl.gzip").write_bytes(gzip.compress(
        b'{"id": "g1", "text": "Inside a .jsonl.gzip file."}\n'))
    (folder / "page.xhtml").write_text("<html><body><p>An XHTML page about rain in the "
                                       "valley, long enough to be extracted.</p></body></html>")
    (folder / "mac.jsonl").write_bytes(b'{"id": "cr1", "text": "Old Mac line endings."}\r'
                                       b'{"id": "cr2", "text": "A second record."}\r')
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 not a kind tamis reads")
    return folder


def test_bad_files_in_a_folder_become_records_and_warnings(bad_folder: Path,
                                                           tmp_path: Path) -> None:
    config = tmp_path / "reading.yaml"
    config.write_text(READING)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "tamis", "run", str(bad_folder), "-o",
                             str(out), "--config", str(config)], env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "bug" not in result.stderr
    assert ("1 file(s) in the input folders are of no kind tamis reads and were passed over "
            "(notes.docx" in result.stderr)
    assert "1 record(s) could not be read or processed" in result.stderr
    manifest = assert_conserved(out)
    assert manifest["ignored_inputs"] == ["notes.docx"]

    errors = read_output(out, "errors")
    assert [error["source"]["file"] for error in errors] == ["dangling.txt"]
    assert "cannot read dangling.txt" in errors[0]["error"]
    assert "No such file or directory" in errors[0]["error"]

    kept = {record["id"]: record for record in read_output(out, "kept")}
    assert kept["caf\\xe9.txt"]["source"]["file"] == "caf\\xe9.txt"  # the bad byte, escaped
    assert kept["noid.wet:0"]["text"].startswith("Converted text")  # named by its offset
    assert "<urn:uuid:1>" in kept
    assert {f"p{n}" for n in range(5)} <= set(kept)  # plain JSONL despite its .gz name
    assert "g1" in kept
    assert kept["cr2"]["source"]["line"] == 2  # CR ends a record
    assert "rain in the valley" in kept["page.xhtml"]["text"]


def test_a_wat_file_given_by_name_is_read_and_its_records_counted_as_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wat = tmp_path / "crawl.wat.gz"
    wat.write_bytes(wat_file())
    config = tmp_path / "reading.yaml"
    config.write_text(READING)
    code = main(["run", str(wat), "-o", str(tmp_path / "out"), "--config", str(config)])
    assert code == 0, capsys.readouterr().err
    assert "skipped (metadata)" in capsys.readouterr().err
    manifest = assert_conserved(tmp_path / "out")
    assert manifest["counts"]["skipped"] == {"metadata": 3}
    assert manifest["counts"]["read"] == 0


@pytest.mark.parametrize(("config", "message"), [
    ("pipeline: [{gopher_quality: [50, 100000]}]",
     "pipeline[0].gopher_quality: a step's options are a mapping {option: value}, got list"),
    ("input: {shard_size: 0}", "input.shard_size: Input should be greater than 0 (got 0)"),
    ("override: {gopher_quality: {min_alpha_words_ratio: 5}}",
     "gopher_quality.min_alpha_words_ratio: Input should be less than or equal to 1 (got 5)"),
    ("override: {language: {threshold: -0.5}}",
     "language.threshold: Input should be greater than or equal to 0 (got -0.5)"),
    ("input: {text_field: ''}",
     "input.text_field: String should have at least 1 character (got '')"),
    ("pipeline: [normalize, gopher_quality, {dedup_near: {keep: signal, signal: score}}]",
     "pipeline[2].dedup_near.signal: no step before dedup_near makes a signal 'score' "
     "(they make: gopher_"),
])
def test_config_values_are_checked_for_range_and_meaning_before_work_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str) -> None:
    (tmp_path / "in.txt").write_text("A page.\n")
    path = tmp_path / "bad.yaml"
    path.write_text(config + "\n")
    code = main(["run", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"), "--config",
                 str(path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "config error" in err
    assert message in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_a_signal_an_earlier_step_makes_is_accepted(tmp_path: Path) -> None:
    import tamis

    config = tamis.load_config(overrides={"pipeline": [
        "normalize", "gopher_quality",
        {"dedup_near": {"keep": "signal", "signal": "gopher_word_count"}}]})
    assert config.pipeline[2].options["signal"] == "gopher_word_count"
