"""Shared test helpers: where the evaluation data is, and how to read a run's output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
SEED = SHARED / "seed"


# Tests of reading and bookkeeping use this pipeline, so that tiny hand-made documents are not
# judged by the default preset's quality filters.
READING_PIPELINE = ["normalize", "drop_empty", "dedup_exact"]


def reading_config(**input_options: Any) -> Any:
    import tamis

    overrides: dict[str, Any] = {"pipeline": READING_PIPELINE}
    if input_options:
        overrides["input"] = input_options
    return tamis.load_config(overrides=overrides)


def need_shared(path: Path) -> Path:
    """Skip (not fail) when the evaluation data beside the checkout is missing."""
    if not path.exists():
        pytest.skip(f"evaluation data not found at {path}")
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of one output part file (JSONL.zst or Parquet)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with open(path, "rb") as raw:
        data = zstandard.ZstdDecompressor().stream_reader(raw).read()
    return [json.loads(line) for line in io.BytesIO(data).read().splitlines()]


def read_output(out: Path, kind: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((out / kind).glob("part-*")):
        records.extend(read_records(path))
    return records


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every record file's bytes, by relative path: what byte-identical means."""
    return {str(path.relative_to(out)): path.read_bytes()
            for kind in ("kept", "removed", "errors") for path in sorted((out / kind).glob("*"))}


def withheld(text: str, edits: list[Any]) -> str:
    """The input as the output can rebuild it: the withheld originals (PII) masked, and the
    PII withheld inside other edits' originals (shown there as WITHHELD characters)."""
    from tamis.document import WITHHELD

    for edit in edits:
        if edit.withheld:
            text = text[:edit.start] + WITHHELD * (edit.end - edit.start) + text[edit.end:]
        elif WITHHELD in edit.original:
            chars = list(text)
            for offset, char in enumerate(edit.original):
                if char == WITHHELD:
                    chars[edit.start + offset] = WITHHELD
            text = "".join(chars)
    return text


def assert_conserved(out: Path) -> dict[str, Any]:
    """Invariant 1, counted from the output files: kept + removed + errors = read, per shard."""
    manifest = json.loads((out / "manifest.json").read_text())
    total = {"kept": 0, "removed": 0, "errors": 0}
    for shard in manifest["shards"]:
        counted = {}
        for kind in total:
            name = shard["outputs"][kind]
            counted[kind] = len(read_records(out / name)) if name else 0
            assert counted[kind] == shard[kind], (shard["index"], kind)
            total[kind] += counted[kind]
        assert sum(counted.values()) == shard["read"], shard
    assert sum(total.values()) == manifest["counts"]["read"]
    for kind, count in total.items():
        assert manifest["counts"][kind] == count
        files = sorted((out / kind).glob("*"))
        assert sum(len(read_records(path)) for path in files) == count
    return manifest


def tamis_command(*args: str, check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run the `tamis` CLI as a user would, from this checkout's sources."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TAMIS_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tamis", *args], capture_output=True,
                          text=True, env=env, check=check, **kwargs)


def partition_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the partition count of every `outofcore.Partitions` made from now on (this
    process only: run with workers that stay in it, or count what the main process does)."""
    from tamis import outofcore

    counts: list[int] = []
    original = outofcore.Partitions.__init__

    def counting(self, folder, dtype, count):  # type: ignore[no-untyped-def]
        counts.append(count)
        original(self, folder, dtype, count)

    monkeypatch.setattr(outofcore.Partitions, "__init__", counting)
    return counts
