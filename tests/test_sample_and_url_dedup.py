"""`dedup_exact` on the URL, and `--sample` (issue 17)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from conftest import DATA, need_shared, read_output, tamis_command

import tamis


def test_dedup_exact_on_normalised_urls(tmp_path: Path) -> None:
    records = [
        {"id": "a", "text": "first fetch", "url": "https://www.example.com/page?b=2&a=1#top"},
        {"id": "b", "text": "second fetch, other text", "url": "http://example.com/page?a=1&b=2"},
        {"id": "c", "text": "another page", "url": "https://example.com/other"},
        {"id": "d", "text": "first fetch"},  # no URL: never a URL duplicate
        {"id": "e", "text": "dolma", "metadata": {"url": "HTTPS://EXAMPLE.COM:443/other"}},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = tamis.load_config(overrides={"pipeline": [{"dedup_exact": {"key": "url"}}]})
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1)
    assert result.counts["kept"] == 3 and result.counts["removed"] == 2
    removed = {record["id"]: record for record in read_output(tmp_path / "out", "removed")}
    assert removed["b"]["duplicate_of"] == "a" and removed["e"]["duplicate_of"] == "c"
    assert removed["b"]["removed_by"] == {"step": "dedup_exact", "rule": "url_duplicate",
                                          "detail": "same URL as a"}


def test_sample_keeps_the_same_documents_whatever_the_workers(tmp_path: Path) -> None:
    with gzip.open(need_shared(DATA / "derived/dev/neardup.jsonl.gz"), "rt") as lines:
        (tmp_path / "in.jsonl").write_text(
            "".join(line for line, _ in zip(lines, range(240), strict=False)))
    config = tamis.load_config(overrides={"input": {"shard_size": "150KB"},
                                          "pipeline": ["drop_empty"]})
    kept = {}
    for workers in (1, 2):
        result = tamis.run(tmp_path / "in.jsonl", tmp_path / f"out-{workers}", config=config,
                           workers=workers, sample=0.25)
        assert len(result.manifest["shards"]) > 1
        counts = result.counts
        assert counts["read"] + counts["skipped"]["sampled_out"] == 240
        kept[workers] = sorted(record["id"]
                               for record in read_output(tmp_path / f"out-{workers}", "kept"))
    assert kept[1] == kept[2]
    assert 30 <= len(kept[1]) <= 90  # a quarter of 240, give or take the hash's luck
    bad = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "x"),
                        "--sample", "1.5", timeout=60)
    assert bad.returncode == 2 and "expected a fraction in (0, 1]" in bad.stderr
