"""End to end: `tamis run` on real web text keeps every record, the same way every time."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    DATA,
    REPO,
    assert_conserved,
    need_shared,
    output_bytes,
    read_output,
    tamis_command,
    withheld,
)

import tamis
from tamis.runner.layout import OutputError


@pytest.fixture(scope="module")
def web_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 documents of the near-duplicate set (real pages, extracted many ways) as one plain
    JSONL file of about 8 MB."""
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    path = tmp_path_factory.mktemp("web") / "neardup.jsonl"
    with gzip.open(source, "rb") as packed, open(path, "wb") as plain:
        plain.write(b"".join(line for _, line in zip(range(1200), packed, strict=False)))
    return path


@pytest.fixture(scope="module")
def small_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "small-shards.yaml"
    path.write_text("input:\n  shard_size: 1MB\n")
    return path


def test_run_conserves_and_splits_one_file_into_byte_ranges(web_jsonl: Path, small_shards: Path,
                                                            tmp_path: Path) -> None:
    result = tamis.run(web_jsonl, tmp_path / "out", config=small_shards, workers=2)
    manifest = assert_conserved(tmp_path / "out")
    lines = web_jsonl.read_bytes().count(b"\n")
    assert result.counts["read"] == lines
    assert len(manifest["shards"]) == -(-web_jsonl.stat().st_size // 1_000_000)
    # Every input record is in the output exactly once, with its own id and line number.
    records = read_output(tmp_path / "out", "kept") + read_output(tmp_path / "out", "removed")
    expected = [json.loads(line)["id"] for line in web_jsonl.read_text("utf-8").splitlines()]
    assert sorted(record["id"] for record in records) == sorted(expected)
    by_id = {record["id"]: record for record in records}
    for line_number, doc_id in enumerate(expected, start=1):
        assert by_id[doc_id]["source"] == {"file": "neardup.jsonl", "offset": -1,
                                           "line": line_number}
    # The neardup set repeats some texts exactly: the exact step removes them, naming a kept one.
    kept_ids = {record["id"] for record in read_output(tmp_path / "out", "kept")}
    duplicates = [r for r in records if r.get("removed_by", {}).get("rule") == "exact_duplicate"]
    assert duplicates
    assert all(record["duplicate_of"] in kept_ids for record in duplicates)


def test_same_output_with_one_and_four_workers(web_jsonl: Path, small_shards: Path,
                                               tmp_path: Path) -> None:
    tamis.run(web_jsonl, tmp_path / "one", config=small_shards, workers=1)
    tamis.run(web_jsonl, tmp_path / "four", config=small_shards, workers=4)
    one, four = output_bytes(tmp_path / "one"), output_bytes(tmp_path / "four")
    assert one and one == four


def test_edits_rebuild_the_input_on_real_documents(web_jsonl: Path, tmp_path: Path) -> None:
    tamis.run(web_jsonl, tmp_path / "out", workers=1, limit=300)
    originals = {}
    for line in web_jsonl.read_text("utf-8").splitlines()[:300]:
        record = json.loads(line)
        originals[record["id"]] = record["text"]
    records = read_output(tmp_path / "out", "kept") + read_output(tmp_path / "out", "removed")
    assert len(records) == 300
    edited = 0
    for record in records:
        edits = [tamis.Edit.from_dict(item) for item in record["edits"]]
        edited += bool(edits)
        from tamis.document import rebuild_input

        assert rebuild_input(record["text"], edits) == withheld(originals[record["id"]], edits)
    assert edited > 0


@pytest.mark.parametrize("kill_in_pass", [0, 1])
def test_kill_and_resume_gives_the_uninterrupted_output(web_jsonl: Path, tmp_path: Path,
                                                       kill_in_pass: int) -> None:
    """Killed while reading (pass 1 of 2), or in the last pass, after the exact and near
    duplicate resolves (fused: pass 2 of 2), the rerun gives the uninterrupted output."""
    config = tmp_path / "tiny-shards.yaml"
    config.write_text("input:\n  shard_size: 200KB\n")
    reference = tmp_path / "reference"
    tamis.run(web_jsonl, reference, config=config, workers=2)

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "tamis", "run", str(web_jsonl), "-o", str(out),
               "--config", str(config), "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    markers = out / "_tamis" / "done" / f"pass-{kill_in_pass}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(markers.glob("0*.json"))) < 3:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(markers.glob("0*.json")))
    assert 0 < finished < len(json.loads((out / "_tamis" / "run.json").read_text())["plan"])
    assert not (out / "manifest.json").exists()

    result = tamis_command(*command[3:])
    assert result.returncode == 0, result.stderr
    assert output_bytes(out) == output_bytes(reference)
    assert_conserved(out)


def test_rerun_of_a_finished_run_does_nothing(tmp_path: Path) -> None:
    source = REPO / "examples" / "corpus"
    first = tamis.run(source, tmp_path / "out", workers=1)
    again = tamis.run(source, tmp_path / "out", workers=1)
    assert again.resumed and again.counts == first.counts


def test_changed_config_in_an_existing_output_is_refused(tmp_path: Path) -> None:
    source = REPO / "examples" / "corpus"
    tamis.run(source, tmp_path / "out", workers=1)
    result = tamis_command("run", str(source), "-o", str(tmp_path / "out"), "--preset", "clean")
    assert result.returncode == 4
    assert "different config" in result.stderr and "--overwrite" in result.stderr
    result = tamis_command("run", str(source), "-o", str(tmp_path / "out"), "--preset", "clean",
                           "--overwrite", "--quiet")
    assert result.returncode == 0, result.stderr


def test_outputs_are_read_by_pyarrow_duckdb_and_polars(tmp_path: Path) -> None:
    import duckdb
    import polars
    import pyarrow as pa
    import pyarrow.json as pajson

    tamis.run(REPO / "examples" / "corpus", tmp_path / "out", workers=1)
    manifest = assert_conserved(tmp_path / "out")
    kept = sorted((tmp_path / "out" / "kept").glob("*.jsonl.zst"))
    rows = sum(pajson.read_json(pa.input_stream(str(path), compression="zstd")).num_rows
               for path in kept)
    assert rows == manifest["counts"]["kept"]
    count = duckdb.sql(f"select count(*) from read_json_auto('{tmp_path}/out/kept/*.jsonl.zst')")
    assert count.fetchall()[0][0] == manifest["counts"]["kept"]
    frame = polars.concat([polars.read_ndjson(path) for path in kept], how="diagonal_relaxed")
    assert frame.height == manifest["counts"]["kept"]
    assert set(frame.columns) >= {"id", "text", "metadata", "source", "signals", "edits"}


def test_parquet_in_and_out(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"p{i}", "text": f"document number {i % 3}", "lang": "en"} for i in range(9)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    config = tmp_path / "parquet.yaml"
    config.write_text("output: {format: parquet}\n"
                      "pipeline: [normalize, drop_empty, dedup_exact]\n")
    result = tamis.run(tmp_path / "in.parquet", tmp_path / "out", config=config, workers=1)
    assert result.counts["kept"] == 3 and result.counts["removed"] == 6
    kept = pq.read_table(tmp_path / "out" / "kept" / "part-00000.parquet").to_pylist()
    assert [row["id"] for row in kept] == ["p0", "p1", "p2"]
    assert json.loads(kept[0]["metadata"]) == {"lang": "en"}
    assert kept[0]["source"]["line"] == 1
    removed = pq.read_table(tmp_path / "out" / "removed").to_pylist()
    assert removed[0]["duplicate_of"] == "p0"
    assert_conserved(tmp_path / "out")


def test_quick_start_example(tmp_path: Path) -> None:
    """The README's bundled example: every kind of outcome shows up, and the counts add up."""
    result = tamis_command("run", str(REPO / "examples" / "corpus"), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    manifest = assert_conserved(tmp_path / "out")
    counts = manifest["counts"]
    assert counts["kept"] and counts["removed"] and counts["errors"] == 2
    assert "kept" in result.stderr and "removed" in result.stderr


def test_a_run_killed_before_it_wrote_its_plan_starts_again(tmp_path: Path) -> None:
    """A kill between creating the output's `_tamis` folder and writing `run.json` leaves a
    folder the rerun must accept as its own."""
    out = tmp_path / "out"
    (out / "_tamis").mkdir(parents=True)
    (out / "_tamis" / ".run.json.123.tmp").write_text("{")
    result = tamis.run(REPO / "examples" / "corpus", out, workers=1)
    assert result.counts["read"] == 12 and not result.resumed
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not ours")
    with pytest.raises(OutputError, match="holds no tamis run"):
        tamis.run(REPO / "examples" / "corpus", tmp_path / "other", workers=1)
