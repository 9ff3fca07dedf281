"""Deduplication: exact and near copies across files and shards, chains, the S-curve."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
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


def test_keep_the_best_by_a_signal(syndicated: list[list[dict]], tmp_path: Path) -> None:
    cluster = syndicated[1]
    write(tmp_path / "in.jsonl", cluster)
    config = tamis.load_config(overrides={"pipeline": [
        "normalize", {"language": {"label_only": True}},
        {"dedup_near": {"keep": "signal", "signal": "language_score"}}]})
    tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    kept = {record["id"]: record for record in read_output(tmp_path / "out", "kept")}
    merged = [record for record in read_output(tmp_path / "out", "removed")
              if record["removed_by"]["rule"] == "near_duplicate"]
    assert merged
    for record in merged:
        survivor = kept[record["duplicate_of"]]
        assert survivor["signals"]["language_score"] >= record["signals"]["language_score"]
    with pytest.raises(tamis.ConfigError, match="keep: signal needs signal"):
        tamis.load_config(overrides={"pipeline": [{"dedup_near": {"keep": "signal"}}]})


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
    from tamis.step import register

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


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1,200 documents of the near-duplicate set (real pages and their near copies),
    plus an exact copy of every tenth document under a new id, in two files."""
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        docs = [{"id": doc["id"], "text": doc["text"]}
                for doc in map(json.loads, lines)][:1200]
    docs += [{"id": f"copy-{doc['id']}", "text": doc["text"]} for doc in docs[::10]]
    folder = tmp_path_factory.mktemp("real") / "in"
    folder.mkdir()
    half = len(docs) // 2
    write(folder / "a.jsonl", docs[:half])
    write(folder / "b.jsonl", docs[half:])
    return folder


@pytest.mark.parametrize("second", ["dedup_near", {"dedup_near": {"keep": "longest"}},
                                    {"dedup_lines": {"max_documents": 3}}])
def test_adjacent_global_steps_share_one_pass_and_decide_as_if_apart(
        real_corpus: Path, tmp_path: Path, second: str | dict) -> None:
    """dedup_exact followed directly by another global step runs in two passes (both steps'
    keys collected in the first); with a per-document step between them (drop_empty, which
    has nothing left to drop) it runs in three. kept/ and removed/ are byte for byte the same:
    the second step sees exactly the documents the first kept, and duplicate_of chains that
    run through both steps still end at a kept document."""
    def run(pipeline: list) -> Path:
        out = tmp_path / str(len(pipeline))
        config = tamis.load_config(overrides={"pipeline": pipeline,
                                              "input": {"shard_size": "1MB"}})
        tamis.run(real_corpus, out, config=config, workers=2)
        return out

    fused = run(["drop_empty", "dedup_exact", second])
    apart = run(["drop_empty", "dedup_exact", "drop_empty", second])
    assert output_bytes(fused) == output_bytes(apart)
    assert json.loads((fused / "manifest.json").read_text())["counts"]["removed"] > 100
    passes = {out: sorted(path.name for path in (out / "_tamis" / "done").glob("pass-*"))
              for out in (fused, apart)}
    assert (len(passes[fused]), len(passes[apart])) == (2, 3), passes
    removed = read_output(fused, "removed")
    assert {record["removed_by"]["step"] for record in removed} >= {"dedup_exact"}
    # A keeper emptied by dedup_lines (all its lines repeated) has no kept copy to point to.
    keepers = {record["id"] for record in read_output(fused, "kept")} | {
        record["id"] for record in removed if record["removed_by"]["step"] == "dedup_lines"}
    assert all(record["duplicate_of"] in keepers for record in removed
               if record.get("duplicate_of"))
    assert_conserved(fused)


def test_a_fused_member_that_collects_nothing_from_a_shards_first_document_still_sees_the_rest(
        tmp_path: Path) -> None:
    """A page of punctuation alone has no words, so dedup_near collects nothing from it; when it
    opens the shard, the fused key file must still carry dedup_near's columns for the pages
    after it, and the near copy among them is found as without fusion."""
    words = " ".join(f"word{number}" for number in range(60))
    write(tmp_path / "in.jsonl", [{"id": "p", "text": "... !!! ???"},
                                  {"id": "a", "text": f"{words} alpha"},
                                  {"id": "b", "text": f"{words} beta"}])
    outputs = {}
    for pipeline in (["dedup_exact", "dedup_near"], ["dedup_exact", "drop_empty", "dedup_near"]):
        config = tamis.load_config(overrides={"pipeline": pipeline})
        out = tmp_path / str(len(pipeline))
        tamis.run(tmp_path / "in.jsonl", out, config=config, workers=1)
        outputs[len(pipeline)] = output_bytes(out)
    assert outputs[2] == outputs[3]
    removed = read_output(tmp_path / "2", "removed")
    assert [(record["id"], record["duplicate_of"]) for record in removed] == [("b", "a")]


def test_a_global_step_after_one_that_cuts_lines_gets_its_own_pass(tmp_path: Path) -> None:
    """dedup_lines edits text, so dedup_near after it is not fused: it collects from the cut
    text in the next pass. Two different pages under one long shared footer line are near copies
    of each other only while the footer is there; once it is cut they are not."""
    from tamis.runner.passes import FusedSteps, split_into_segments

    config = tamis.load_config(overrides={"pipeline": ["dedup_lines", "dedup_near"]})
    segments = split_into_segments(config.build_steps())
    assert len(segments) == 3
    assert not any(isinstance(segment.ends_with, FusedSteps) for segment in segments)

    first = " ".join(f"first{number}" for number in range(40))
    other = " ".join(f"other{number}" for number in range(40))
    footer = " ".join(f"footer{number}" for number in range(1000))
    docs = [{"id": "a", "text": f"{first}\n{footer}"},
            {"id": "b", "text": f"{first} again\n{footer}"},
            {"id": "c", "text": f"{other}\n{footer}"}]
    write(tmp_path / "in.jsonl", docs)
    tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    removed = {record["id"]: record for record in read_output(tmp_path / "out", "removed")}
    kept = {record["id"]: record["text"] for record in read_output(tmp_path / "out", "kept")}
    assert removed["b"]["duplicate_of"] == "a"
    assert kept == {"a": first, "c": other}


def test_a_tiny_memory_budget_spills_to_partitions_and_changes_nothing(
        real_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a budget of 20 KB the band keys, the hashes and the id joins are split over many
    partition files, and the union-find's parent array is memory-mapped; kept/ and removed/ are
    byte for byte those of the default budget, and so is the report's cluster summary (grouped
    in partitions too)."""
    from tamis.report import aggregate

    partitions = partition_counts(monkeypatch)
    summary_partitions: list[int] = []
    grouped = aggregate._cluster_partitions

    def counting_summary(files, count, scratch):  # type: ignore[no-untyped-def]
        summary_partitions.append(count)
        return grouped(files, count, scratch)

    monkeypatch.setattr(aggregate, "_cluster_partitions", counting_summary)
    pipeline = {"pipeline": ["dedup_exact", "dedup_near"],
                "input": {"shard_size": "1MB"}}
    results = {}
    for name, budget in (("default", 1024), ("tiny", 0.02)):
        config = tamis.load_config(overrides={**pipeline, "limits": {"memory_mb": budget}})
        results[name] = tamis.run(real_corpus, tmp_path / name, config=config, workers=2)
        if name == "default":
            assert set(partitions) == {1}
            partitions.clear()
    assert min(partitions) > 1 and max(partitions) >= 8
    assert output_bytes(tmp_path / "tiny") == output_bytes(tmp_path / "default")
    removed = results["tiny"].manifest["counts"]
    assert results["tiny"].counts == results["default"].counts
    assert removed["removed"] > 200  # the exact copies and many near copies
    clusters = {name: json.loads((tmp_path / name / "stats.json").read_text())["clusters"]
                for name in results}
    assert clusters["tiny"] == clusters["default"] and clusters["default"]["clusters"] > 100
    assert summary_partitions[0] == 1 and summary_partitions[1] > 1
    assert_conserved(tmp_path / "tiny")


def test_bands_grouped_in_threads_decide_as_one_thread_does(
        real_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Near resolve groups several bands at once in threads, sharing the union-find behind a
    lock; links then arrive in another order, and with spilled partitions (20 KB) too the output
    is byte for byte that of one thread."""
    from tamis.dedup.near import NearDedup

    config = tamis.load_config(overrides={"pipeline": ["dedup_near"],
                                          "input": {"shard_size": "1MB"},
                                          "limits": {"memory_mb": 0.02}})
    for threads in (1, 5):
        monkeypatch.setattr(NearDedup, "cpus", threads)
        tamis.run(real_corpus, tmp_path / str(threads), config=config, workers=1)
    assert output_bytes(tmp_path / "5") == output_bytes(tmp_path / "1")
    assert len(read_output(tmp_path / "5", "removed")) > 200


def test_keep_longest_gives_the_same_decisions_at_any_budget(tmp_path: Path) -> None:
    """The keep-longest grouping (spilled by root range) at a tiny budget against the default."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tamis.dedup.near import NearDedup, NearOptions
    from tamis.document import Document

    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines][:1000]
    step = NearDedup(NearOptions(keep="longest"))
    key_files = []
    for shard in range(4):
        rows = []
        for index, doc in enumerate(docs[shard::4]):
            collected = step.collect(Document(doc["id"], doc["text"]))
            if collected is not None:
                rows.append({"index": index, "id": doc["id"], **collected})
        key_files.append(tmp_path / f"keys-{shard}.parquet")
        pq.write_table(pa.Table.from_pylist(rows), key_files[-1])
    decided = {}
    for budget in (1024 * 1024**2, 20_000):
        step.memory_budget = budget
        decided[budget] = pa.concat_tables(step.resolve(key_files, tmp_path / str(budget)))
        assert not any((tmp_path / str(budget)).rglob("*.bin"))  # scratch removed
    assert decided[20_000].equals(decided[1024 * 1024**2])
    assert decided[20_000].num_rows > 200


def test_union_find_roots_are_the_earliest_document_of_each_component() -> None:
    """Vectorised hooking against a plain one-edge-at-a-time union-find, on random links."""
    import numpy as np

    from tamis.dedup.outofcore import UnionFind

    generator = np.random.default_rng(3)
    for size, links in ((50, 30), (2000, 1500), (2000, 4000)):
        first = generator.integers(0, size, links)
        second = generator.integers(0, size, links)
        plain = list(range(size))
        for a, b in zip(first.tolist(), second.tolist(), strict=True):
            ra, rb = _plain_find(plain, a), _plain_find(plain, b)
            plain[max(ra, rb)] = min(ra, rb)
        clusters = UnionFind(size, Path("unused"), 1 << 30)
        for chunk in range(0, links, 97):  # links arrive in batches, as bands and partitions
            clusters.union(first[chunk:chunk + 97], second[chunk:chunk + 97])
        assert clusters.roots(0, size).tolist() == [_plain_find(plain, node)
                                                    for node in range(size)]


def _plain_find(parent: list[int], node: int) -> int:
    while parent[node] != node:
        node = parent[node]
    return node


def test_memoised_word_hashes_equal_hashing_the_normalised_words() -> None:
    """The per-chunk memo (each chunk tokenised and normalised once per process) gives exactly
    the hashes of `normalized_words`, which normalises the whole document at once: on real pages
    in many languages, with a memo small enough to be cleared midway."""
    import xxhash

    from tamis.dedup.near import WordHashes, normalized_words
    from tamis.document import Document
    from tamis.text import split

    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        docs = [Document(doc["id"], doc["text"]) for doc in map(json.loads, lines)][::5]
    docs.append(Document("sigma", "ΟΔΟΣ ΑΘΗΝΑΣ, Σ. Café 12,5% — l'été! ΣΑΣ"))
    memo = WordHashes(limit=20_000)
    for doc in docs:
        expected = [xxhash.xxh3_64_intdigest(word.encode()) for word in normalized_words(doc)]
        assert memo(split(doc).chunks).tolist() == expected, doc.id
    assert memo.memo and len(memo.memo) <= 20_000


def test_a_resolve_killed_midway_leaves_scratch_that_the_rerun_rebuilds(
        real_corpus: Path, tmp_path: Path) -> None:
    """A near resolve at a tiny budget dies after its first decisions, leaving partition files
    and a half-written decisions file; the rerun starts the resolve over (the scratch folder is
    cleared, the decisions rewritten) and the output is that of an undisturbed run."""
    from tamis.dedup.near import NearDedup
    from tamis.step import register

    @register
    class DyingNear(NearDedup):
        name = "test_dying_near"
        die = True

        def resolve(self, key_files, work_dir):  # type: ignore[no-untyped-def]
            for table in super().resolve(key_files, work_dir):
                yield table
                if DyingNear.die:
                    raise RuntimeError("died on purpose during resolve")

    config = tamis.load_config(overrides={
        "pipeline": ["dedup_exact", "test_dying_near"], "input": {"shard_size": "1MB"},
        "limits": {"memory_mb": 0.02}})
    with pytest.raises(RuntimeError, match="on purpose"):
        tamis.run(real_corpus, tmp_path / "out", config=config, workers=1)
    # The two steps are fused (one pass collects both): the second member's scratch folder.
    scratch = tmp_path / "out" / "_tamis" / "work" / "pass-0" / "fused-1" / "test_dying_near"
    assert any(scratch.rglob("*"))  # spilled partitions were left behind
    DyingNear.die = False
    tamis.run(real_corpus, tmp_path / "out", config=config, workers=1)
    tamis.run(real_corpus, tmp_path / "reference", config=config, workers=1)
    assert output_bytes(tmp_path / "out") == output_bytes(tmp_path / "reference")
    assert_conserved(tmp_path / "out")


def test_verification_links_only_pairs_at_the_exact_jaccard(syndicated: list[list[dict]],
                                                            tmp_path: Path) -> None:
    from tamis.dedup.near import shingle_hashes, word_hashes
    from tamis.document import Document

    docs = [doc for cluster in syndicated for doc in cluster]
    write(tmp_path / "in.jsonl", docs)
    texts = {doc["id"]: doc["text"] for doc in docs}

    def removed(verify: float | None) -> dict[str, str]:
        config = tamis.load_config(overrides={"pipeline": [{"dedup_near": {"verify": verify}}]})
        out = tmp_path / f"out-{verify}"
        tamis.run(tmp_path / "in.jsonl", out, config=config, workers=1)
        return {record["id"]: record["duplicate_of"] for record in read_output(out, "removed")}

    def jaccard(first: str, second: str) -> float:
        a, b = (set(shingle_hashes(word_hashes(Document(doc_id, texts[doc_id])), 5).tolist())
                for doc_id in (first, second))
        return len(a & b) / len(a | b)

    trusted = removed(None)
    assert trusted and removed(0.5) == trusted  # these copies are all well above 0.5
    strict = removed(0.97)
    assert len(strict) < len(trusted)
    # Each linked pair passed the check; a copy may join its cluster through another member.
    for copy, kept in strict.items():
        cluster = {kept} | {other for other, keeper in strict.items() if keeper == kept}
        assert any(jaccard(copy, other) >= 0.97 for other in cluster - {copy})
