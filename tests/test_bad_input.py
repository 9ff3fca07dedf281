"""Bad input: every case gives a clear message or an error record, and the run goes on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard
from conftest import (
    assert_conserved,
    partition_counts,
    read_output,
    reading_config,
    tamis_command,
)

import tamis
from tamis.config import ConfigError


def _lines(count: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({"id": f"d{i}", "text": f"text number {i}"}).encode() + b"\n"
                    for i in range(start, start + count))


def test_malformed_json_and_missing_text_become_error_records(tmp_path: Path) -> None:
    data = _lines(2) + b'{"id": "x", "text": "no end\n' + b'{"id": "y", "body": "?"}\n' + \
        b'[1, 2]\n' + b'{"id": "z", "text": 42}\n' + _lines(1, 2)
    (tmp_path / "in.jsonl").write_bytes(data)
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out",
                       config=reading_config(), workers=1)
    assert_conserved(tmp_path / "out")
    assert result.counts == {"read": 7, "kept": 3, "removed": 0, "errors": 4, "skipped": {}}
    errors = {error["source"]["line"]: error for error in read_output(tmp_path / "out", "errors")}
    assert "malformed JSON" in errors[3]["error"] and errors[3]["raw"].startswith('{"id": "x"')
    assert "no 'text' field" in errors[4]["error"] and "input.text_field" in errors[4]["error"]
    assert errors[4]["id"] == "y"
    assert "expected a JSON object" in errors[5]["error"]
    assert "not a string" in errors[6]["error"]


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b'{"id": "bad", "text": "caf\xe9 \xff\xfe ok"}\n')
    (tmp_path / "page.txt").write_bytes(b"na\xefve text \xc3")
    tamis.run([tmp_path / "in.jsonl", tmp_path / "page.txt"], tmp_path / "out",
                       config=reading_config(), workers=1)
    kept = {record["id"]: record for record in read_output(tmp_path / "out", "kept")}
    assert kept["bad"]["text"] == "caf\ufffd \ufffd\ufffd ok"
    assert kept["bad"]["signals"]["invalid_utf8_bytes"] == 3
    assert kept["page.txt"]["text"] == "na\ufffdve text \ufffd"
    assert kept["page.txt"]["signals"]["invalid_utf8_bytes"] == 2


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_archive_keeps_the_records_before_the_cut(tmp_path: Path, kind: str) -> None:
    data = _lines(20_000)
    packed = gzip.compress(data) if kind == "gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"in.jsonl.{kind}"
    path.write_bytes(packed[: len(packed) // 2])
    result = tamis.run(path, tmp_path / "out",
                       config=reading_config(), workers=1)
    assert_conserved(tmp_path / "out")
    kept = read_output(tmp_path / "out", "kept")
    assert 1000 < len(kept) < 20_000
    assert [record["id"] for record in kept] == [f"d{i}" for i in range(len(kept))]
    errors = read_output(tmp_path / "out", "errors")
    assert len(errors) == 1 and result.counts["errors"] == 1
    assert "truncated or corrupt" in errors[0]["error"]
    assert errors[0]["source"]["line"] == len(kept) + 1


def test_empty_file_gives_no_records(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "one.jsonl").write_bytes(_lines(1))
    result = tamis.run(tmp_path, tmp_path.parent / f"{tmp_path.name}-out",
                       config=reading_config(), workers=1)
    assert result.counts["read"] == 1 and result.counts["kept"] == 1


def test_empty_documents_are_removed_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "e", "text": "  \\n\\t "}\n')
    tamis.run(tmp_path / "in.jsonl", tmp_path / "out",
                       config=reading_config(), workers=1)
    removed = read_output(tmp_path / "out", "removed")
    assert removed[0]["removed_by"] == {"step": "drop_empty", "rule": "empty",
                                        "detail": "no text left"}


def test_folder_without_inputs_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    result = tamis_command("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert result.returncode == 3
    assert "holds no files" in result.stderr
    (tmp_path / "in" / "notes.docx").write_bytes(b"PK\x03\x04")
    result = tamis_command("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert result.returncode == 3 and "no readable inputs" in result.stderr
    result = tamis_command("run", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "out"))
    assert result.returncode == 3 and "does not exist" in result.stderr


def test_unwritable_output_folder(tmp_path: Path) -> None:
    # A path under a regular file can never be created, whoever runs the test (root included).
    (tmp_path / "in.jsonl").write_bytes(_lines(1))
    (tmp_path / "file").write_text("not a folder")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "file" / "out"))
    assert result.returncode == 4
    assert "output" in result.stderr and "file" in result.stderr
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "file"))
    assert result.returncode == 4 and "not a folder" in result.stderr


def test_unknown_config_key_fails_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(_lines(1))
    (tmp_path / "bad.yaml").write_text("input:\n  text_feild: body\n")
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--config", str(tmp_path / "bad.yaml"))
    assert result.returncode == 2
    assert "input.text_feild: unknown key" in result.stderr
    assert "text_field" in result.stderr
    assert not (tmp_path / "out").exists()
    for text, expected in [
        ("pipeline: [normalise]", "unknown step 'normalise'"),
        ("override: {normalize: {nfk: true}}", "normalize.nfk: unknown key"),
        ("output: {format: csv}", "output.format"),
        ("input: {shard_size: lots}", "input.shard_size"),
        ("- a list", "top level must be a mapping"),
        ("input: [", "not valid YAML"),
    ]:
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
            tamis.load_config(path=tmp_path / "bad.yaml")


def test_unknown_preset_and_bad_arguments(tmp_path: Path) -> None:
    result = tamis_command("run", "x", "-o", str(tmp_path / "out"), "--preset", "nope")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    result = tamis_command("run", "x", "-o", str(tmp_path / "out"), "--workers", "0")
    assert result.returncode == 2 and "at least 1" in result.stderr


def test_duplicate_ids_are_kept_and_flagged(tmp_path: Path) -> None:
    lines = [{"id": "same", "text": "first text"}, {"id": "same", "text": "second text"},
             {"id": "other", "text": "third text"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out",
                       config=reading_config(), workers=1)
    assert result.counts["kept"] == 3
    assert result.manifest["duplicate_ids"] == {"count": 1, "examples": ["same"]}
    assert any("share their id" in warning for warning in result.warnings)


def test_duplicate_ids_are_counted_within_a_tiny_memory_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At a 16 KB budget the id hashes of 3,000 records are counted in many spilled partitions
    (the check holds one partition, not the corpus's ids); the count and examples are those
    of the default budget."""
    partitions = partition_counts(monkeypatch)
    lines = [{"id": f"doc-{number % 2_600}", "text": f"text {number}"} for number in range(3_000)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    found = {}
    for budget_mb in (1024, 0.016):
        config = tamis.load_config(overrides={"pipeline": ["drop_empty"],
                                              "input": {"shard_size": "20KB"},
                                              "limits": {"memory_mb": budget_mb}})
        result = tamis.run(tmp_path / "in.jsonl", tmp_path / f"out-{budget_mb}", config=config,
                           workers=2)
        found[budget_mb] = result.manifest["duplicate_ids"]
    assert found[1024]["count"] == 400 and len(found[1024]["examples"]) == 5
    assert found[0.016] == found[1024]
    assert partitions[0] == 1 and partitions[1] > 4


def test_a_killed_duplicate_id_check_leaves_nothing_that_changes_the_rerun(
        tmp_path: Path) -> None:
    """The check spills hashes into partition files; files a killed check left behind are
    cleared first, not counted again."""
    from types import SimpleNamespace

    from tamis.runner.job import _duplicate_ids
    from tamis.runner.layout import Layout
    from tamis.runner.shard import _write_ids

    layout = Layout.for_output(tmp_path / "out")
    shards = [SimpleNamespace(index=number) for number in range(3)]
    for shard in shards:
        ids = [(index, f"doc-{(shard.index * 500 + index) % 1_300}") for index in range(500)]
        _write_ids(layout.ids_file(shard.index), ids)
    budget = 2_000  # bytes: several partitions
    clean = _duplicate_ids(layout, shards, budget)  # type: ignore[arg-type]
    assert clean["count"] == 200
    leftovers = layout.ids_file(0).parent / "check"
    leftovers.mkdir(parents=True, exist_ok=True)
    for name in ("00000.bin", "00001.bin", "00007.bin"):
        (leftovers / name).write_bytes(bytes(range(8)) * 100)
    assert _duplicate_ids(layout, shards, budget) == clean  # type: ignore[arg-type]


def test_missing_ids_fall_back_to_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n\n{"text": "b", "lang": "en"}\n')
    tamis.run(tmp_path / "in.jsonl", tmp_path / "out",
                       config=reading_config(), workers=1)
    kept = read_output(tmp_path / "out", "kept")
    assert [record["id"] for record in kept] == ["in.jsonl:1", "in.jsonl:3"]
    assert json.loads(kept[1]["metadata"]) == {"lang": "en"}


def test_oversized_record_is_an_error_and_reading_goes_on(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "text": "x" * 5000}).encode() + b"\n"
    (tmp_path / "in.jsonl").write_bytes(_lines(1) + big + _lines(1, 1))
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out",
                       config=reading_config(max_record_size="1KB"), workers=1)
    assert result.counts["kept"] == 2 and result.counts["errors"] == 1
    error = read_output(tmp_path / "out", "errors")[0]
    assert "max_record_size" in error["error"] and error["source"]["line"] == 2


def test_reading_a_config_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "evil.yaml").write_text(
        f"input: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        tamis.load_config(path=tmp_path / "evil.yaml")
    assert not marker.exists()
