"""Hostile input, at sizes that run in seconds: every run finishes, nothing is lost, memory stays
bounded. The full-size cases (a 200 MB line, a 1 GB gzip bomb, 1M documents, ten kill points)
run in `bench/hostile.py`.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import REPO, assert_conserved, output_bytes, read_output

import tamis
from tamis.document import rebuild_input

MEMORY_BOUND_MB = 2048
# The reading cases check what happens to records, not what the quality filters think of them.
READING = ["normalize", "drop_empty", "dedup_exact"]


def reading_config() -> tamis.Config:
    return tamis.load_config(overrides={"pipeline": READING})


def run_cli(*args: str, limit_file_size: int | None = None) -> tuple[int, str, float]:
    """Run `tamis` in a child process; return its exit code, stderr and peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    def limits() -> None:
        if limit_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    process = subprocess.Popen([sys.executable, "-m", "tamis", *args], env=env,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               preexec_fn=limits)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), stderr, usage.ru_maxrss / 1024


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


@pytest.mark.parametrize("pipeline", ["default", "reading"])
def test_huge_single_line_document_stays_within_memory(tmp_path: Path, pipeline: str) -> None:
    """20 MB on one line: the default preset removes it as too long before its signals run
    (they would need gigabytes); steps that stream (reading, normalising) keep it."""
    text = ("word " * 4_000_000).strip()
    (tmp_path / "big.jsonl").write_bytes(jsonl([{"id": "big", "text": text}]) +
                                         jsonl([{"id": "small", "text": "after it"}]))
    config = tmp_path / "config.yaml"
    config.write_text("pipeline: [normalize, drop_empty]\nlimits: {max_document_chars: 0}\n"
                      if pipeline == "reading" else "{}\n")
    code, stderr, peak = run_cli("run", str(tmp_path / "big.jsonl"), "-o", str(tmp_path / "out"),
                                 "--config", str(config), "--workers", "1", "--quiet")
    assert code == 0, stderr
    assert peak < MEMORY_BOUND_MB
    assert_conserved(tmp_path / "out")
    if pipeline == "reading":
        kept = read_output(tmp_path / "out", "kept")
        assert [record["id"] for record in kept] == ["big", "small"]
        assert len(kept[0]["text"]) == len(text)
    else:
        removed = {record["id"]: record for record in read_output(tmp_path / "out", "removed")}
        assert removed["big"]["removed_by"]["rule"] == "too_long"
        assert "max_document_chars" in removed["big"]["removed_by"]["detail"]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".txt.gz"])
def test_gzip_bomb_is_one_error_record_in_bounded_memory(tmp_path: Path, suffix: str) -> None:
    bomb = tmp_path / f"bomb{suffix}"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        block = b"\0" * (1 << 20)
        for _ in range(256):  # 256 MB of zeros in about 250 KB
            out.write(block)
    assert bomb.stat().st_size < 1_000_000
    (tmp_path / "limit.yaml").write_text("input:\n  max_record_size: 16MB\n")
    code, stderr, peak = run_cli("run", str(bomb), "-o", str(tmp_path / "out"), "--config",
                                 str(tmp_path / "limit.yaml"), "--workers", "1", "--quiet")
    assert code == 0, stderr
    assert peak < 600, f"peak RSS {peak:.0f} MB reading a gzip bomb"
    manifest = assert_conserved(tmp_path / "out")
    assert manifest["counts"]["errors"] >= 1 and manifest["counts"]["kept"] == 0
    errors = read_output(tmp_path / "out", "errors")
    assert any("max_record_size" in error["error"] or "binary" in error["error"]
               for error in errors)


def test_many_tiny_documents(tmp_path: Path) -> None:
    records = [{"id": f"t{i}", "text": f"w{i % 5000}"} for i in range(100_000)]
    (tmp_path / "tiny.jsonl").write_bytes(jsonl(records))
    result = tamis.run(tmp_path / "tiny.jsonl", tmp_path / "out", config=reading_config(),
                       workers=2)
    assert result.counts["read"] == 100_000
    assert result.counts["kept"] == 5000 and result.counts["removed"] == 95_000
    assert_conserved(tmp_path / "out")


def test_nested_huge_and_odd_json_values(tmp_path: Path) -> None:
    deep = b'{"id": "deep", "text": "x", "m": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    huge = jsonl([{"id": "huge", "text": "short text", "blob": "y" * 5_000_000}])
    nul = jsonl([{"id": "nul", "text": "before\u0000after"}])
    mixed = b'{"id": "latin1", "text": "d\xe9j\xe0 vu"}\n'
    (tmp_path / "odd.jsonl").write_bytes(deep + huge + nul + mixed)
    tamis.run(tmp_path / "odd.jsonl", tmp_path / "out", config=reading_config(), workers=1)
    manifest = assert_conserved(tmp_path / "out")
    assert manifest["counts"]["read"] == 4
    kept = {record["id"]: record for record in read_output(tmp_path / "out", "kept")}
    errors = read_output(tmp_path / "out", "errors")
    assert set(kept) | {error["id"] or "deep" for error in errors} == {
        "deep", "huge", "nul", "latin1"}
    assert len(json.loads(kept["huge"]["metadata"])["blob"]) == 5_000_000
    assert kept["nul"]["text"] == "before\u0000after"
    assert kept["latin1"]["text"] == "d\ufffdj\ufffd vu"
    assert kept["latin1"]["signals"]["invalid_utf8_bytes"] == 2


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_corrupt_archive_middle(tmp_path: Path, kind: str) -> None:
    data = jsonl([{"id": f"d{i}", "text": f"text {i} " * 20} for i in range(30_000)])
    # With a checksum, a zstd frame's corruption is detectable (without one it may not be).
    packed = bytearray(gzip.compress(data) if kind == "gz"
                       else zstandard.ZstdCompressor(write_checksum=True).compress(data))
    middle = len(packed) // 2
    packed[middle:middle + 64] = bytes(range(64, 128))
    path = tmp_path / f"corrupt.jsonl.{kind}"
    path.write_bytes(bytes(packed))
    result = tamis.run(path, tmp_path / "out", config=reading_config(), workers=1)
    assert_conserved(tmp_path / "out")
    assert result.counts["errors"] >= 1
    kept = read_output(tmp_path / "out", "kept")
    assert kept and [record["id"] for record in kept[:100]] == [f"d{i}" for i in range(100)]


def test_binary_txt_and_wrong_parquet_schema(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.txt").write_bytes(bytes(range(256)) * 100)
    (tmp_path / "in" / "ok.txt").write_text("a readable page")
    pq.write_table(pa.table({"body": ["no text column here"]}), tmp_path / "in" / "rows.parquet")
    result = tamis.run(tmp_path / "in", tmp_path / "out", config=reading_config(), workers=1)
    assert_conserved(tmp_path / "out")
    assert result.counts == {"read": 3, "kept": 1, "removed": 0, "errors": 2, "skipped": {}}
    messages = " | ".join(error["error"] for error in read_output(tmp_path / "out", "errors"))
    assert "looks binary" in messages and "no 'text' column" in messages


def test_empty_long_rtl_and_combining_text(tmp_path: Path) -> None:
    texts = {
        "empty": "", "spaces": " \t \n\n ", "long-word": "x" * 3_000_000,
        "long-line": "word " * 600_000,
        "rtl": "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd  \u0645\u0631\u062d\u0628\u0627",
        "combining": "e\u0301e\u0301 Z\u0351\u0352\u0353\u0354\u0355 a\u0308",
    }
    (tmp_path / "odd.jsonl").write_bytes(jsonl([{"id": k, "text": v} for k, v in texts.items()]))
    tamis.run(tmp_path / "odd.jsonl", tmp_path / "out", config=reading_config(), workers=1)
    assert_conserved(tmp_path / "out")
    removed = {record["id"] for record in read_output(tmp_path / "out", "removed")}
    assert removed == {"empty", "spaces"}
    for record in read_output(tmp_path / "out", "kept"):
        edits = [tamis.Edit.from_dict(edit) for edit in record["edits"]]
        assert rebuild_input(record["text"], edits) == texts[record["id"]]


def test_a_step_that_spins_is_stopped_by_the_time_limit(tmp_path: Path) -> None:
    """Text built to make a rule spin costs one error record; the run goes on."""
    import regex

    from tamis.step import Step, register

    backtracking = regex.compile(r"(a|aa)+$")  # exponential on a run of a then "!"

    @register
    class Backtracking(Step):
        name = "test_backtracking"

        def __call__(self, doc: tamis.Document) -> None:
            backtracking.match(doc.text)

    records = [{"id": "fine", "text": "aaaa"}, {"id": "evil", "text": "a" * 60 + "!"},
               {"id": "after", "text": "aaa"}]
    (tmp_path / "in.jsonl").write_bytes(jsonl(records))
    config = tamis.load_config(overrides={"pipeline": ["test_backtracking"],
                                          "limits": {"step_timeout": 0.5}})
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    assert result.counts["kept"] == 2 and result.counts["errors"] == 1
    error = read_output(tmp_path / "out", "errors")[0]
    assert error["id"] == "evil" and "time limit" in error["error"]


def test_disk_full_is_a_clear_error_and_resumable(tmp_path: Path) -> None:
    records = [{"id": f"d{i}", "text": f"document {i} " + os.urandom(300).hex()}
               for i in range(3000)]
    (tmp_path / "in.jsonl").write_bytes(jsonl(records))
    (tmp_path / "shards.yaml").write_text("input:\n  shard_size: 300KB\n")
    args = ["run", str(tmp_path / "in.jsonl"), "--config", str(tmp_path / "shards.yaml"),
            "--workers", "1", "--quiet"]
    code, stderr, _ = run_cli(*args, "-o", str(tmp_path / "full"),
                              limit_file_size=60_000)
    assert code == 4, stderr
    assert "File too large" in stderr and "rerun the same command to resume" in stderr
    code, stderr, _ = run_cli(*args, "-o", str(tmp_path / "full"))
    assert code == 0, stderr
    code, stderr, _ = run_cli(*args, "-o", str(tmp_path / "reference"))
    assert output_bytes(tmp_path / "full") == output_bytes(tmp_path / "reference")
    assert_conserved(tmp_path / "full")
