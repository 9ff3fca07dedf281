"""Deduplication: exact and near copies across files and shards, chains, the S-curve."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import DATA, assert_conserved, need_shared, output_bytes, read_output

import tamis
from tamis.dedup.near import choose_bands, collision_probability


@pytest.fixture(scope="module")
def syndicated() -> list[list[dict]]:
    """Real articles: each a gold body, then extractors' outputs of the same page that are near
    but not exact copies of it (word 5-gram Jaccard 0.8-0.95 against the gold)."""
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    clusters: dict[str, list[dict]] = defaultdict(list)
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    for doc in docs:
        if doc["kind"] == "aeb_gold":
            clusters[str(doc["cluster"])].insert(0, doc)
    for doc in docs:
        near = doc["kind"] == "aeb_system" and 0.8 <= (doc.get("j5_vs_ref") or 0) <= 0.95
        if near and str(doc["cluster"]) in clusters:
            clusters[str(doc["cluster"])].append(doc)
    return [docs for _, docs in sorted(clusters.items()) if len(docs) >= 3][:20]


def write(path: Path, docs: list[dict]) -> None:
    path.write_text("".join(json.dumps({"id": doc["id"], "text": doc["text"]}) + "\n"
                            for doc in docs))


def test_near_copies_across_files_are_removed_and_chains_point_to_a_kept_document(
        syndicated: list[list[dict]], tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    first, second = syndicated[0][0], syndicated[0][1]
    exact_copy = {**second, "id": "exact-copy-of-second"}
    others = [cluster[0] for cluster in syndicated[1:]]
    write(tmp_path / "in" / "a.jsonl", [first, *others[:10]])
    write(tmp_path / "in" / "b.jsonl", [second, exact_copy, *others[10:]])
    result = tamis.run(tmp_path / "in", tmp_path / "out", preset="dedup", workers=2)
    assert_conserved(tmp_path / "out")
    kept = {record["id"] for record in read_output(tmp_path / "out", "kept")}
    removed = {record["id"]: record for record in read_output(tmp_path / "out", "removed")}
    assert first["id"] in kept
    assert removed[second["id"]]["removed_by"]["rule"] == "near_duplicate"
    assert removed[second["id"]]["duplicate_of"] == first["id"]
    # The exact copy was removed first as a copy of `second`; `second` was then removed as a near
    # copy of `first`: the exact copy must name `first`, a document that is in kept/.
    assert removed["exact-copy-of-second"]["removed_by"]["rule"] == "exact_duplicate"
    assert removed["exact-copy-of-second"]["duplicate_of"] == first["id"]
    assert all(record["duplicate_of"] in kept for record in removed.values()
               if "duplicate_of" in record)
    assert {doc["id"] for doc in others} <= kept  # different articles stay
    assert result.counts["removed"] == 2


def test_keep_longest(syndicated: list[list[dict]], tmp_path: Path) -> None:
    cluster = syndicated[1]
    write(tmp_path / "in.jsonl", cluster)
    config = tamis.load_config("dedup", overrides={"override": {"dedup_near": {
        "keep": "longest"}}})
    tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    kept = read_output(tmp_path / "out", "kept")
    removed = read_output(tmp_path / "out", "removed")
    merged = [record for record in removed if record["removed_by"]["rule"] == "near_duplicate"]
    assert merged
    survivor = next(record for record in kept if record["id"] == merged[0]["duplicate_of"])
    assert all(len(survivor["text"]) >= len(record["text"]) for record in merged)


def test_s_curve_and_band_choice() -> None:
    # FineWeb's 14 bands x 8 rows: the published inclusion probability for similarity 0.8.
    assert collision_probability(0.8, 14, 8) == pytest.approx(0.924, abs=0.001)
    assert collision_probability(0.3, 14, 8) < 0.01
    bands, rows = choose_bands(0.8, 112)
    assert bands * rows <= 112
    assert collision_probability(0.9, bands, rows) > 0.9
    assert collision_probability(0.7, bands, rows) < 0.3


def test_a_corrupt_intermediate_file_is_detected_and_rebuilt(tmp_path: Path) -> None:
    """A run stops after its first pass; a state file and a keys file are then damaged. The
    rerun notices (checksums in the markers), redoes those shards, and the output is the same
    as an undisturbed run's."""
    from tamis.dedup.exact import ExactDedup
    from tamis.pipeline import register

    @register
    class StoppingExact(ExactDedup):
        name = "test_stopping_exact"
        stop = True

        def resolve(self, key_files, work_dir):
            if StoppingExact.stop:
                raise RuntimeError("stopped on purpose after the first pass")
            return super().resolve(key_files, work_dir)

    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    with gzip.open(source, "rb") as lines:
        (tmp_path / "in.jsonl").write_bytes(b"".join(
            line for _, line in zip(range(400), lines, strict=False)))
    config = tamis.load_config(overrides={
        "input": {"shard_size": "500KB"},
        "pipeline": ["normalize", "drop_empty", "test_stopping_exact"]})
    with pytest.raises(RuntimeError, match="on purpose"):
        tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    work = tmp_path / "out" / "_tamis" / "work" / "pass-0"
    state, keys = work / "state-00001.jsonl.zst", work / "keys-00002.parquet"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # truncated
    keys.write_bytes(b"PAR1" + bytes(200))  # garbage

    StoppingExact.stop = False
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    tamis.run(tmp_path / "in.jsonl", tmp_path / "reference", config=config, workers=1)
    assert output_bytes(tmp_path / "out") == output_bytes(tmp_path / "reference")
    assert result.counts["read"] == 400
    assert_conserved(tmp_path / "out")
