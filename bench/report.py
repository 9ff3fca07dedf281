"""Benchmark: the report's cost during a run and when it is written, for 1M documents.

    PYTHONPATH=src .venv/bin/python bench/report.py [--docs 1000000] [--shards 100]

1. Real documents (the evaluation set's neardup pages) go through cleaning, language labels
   and the Gopher/FineWeb filters once; then `ReportAggregate.add`, what every shard does per
   final record, runs over `--docs` documents (those documents again under new ids), cut into
   `--shards` shards. Printed: docs/s and MB/s per core of the aggregation, its cost as a
   ratio of the pipeline's own time per document, and its cost for untouched documents.
2. The shards' aggregates are merged as the runner does into stats.json, with the clusters of a
   decisions file of 30% duplicates, and `tamis report` renders the page. Printed: the merge,
   the cluster summary and the page time (median of 3), and the peak memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tamis.config import Config, load_config
from tamis.document import Document
from tamis.report.aggregate import ReportAggregate, cluster_summary, merge
from tamis.report.html import write_report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEARDUP = DATA / "derived" / "dev" / "neardup.jsonl.gz"
PIPELINE = """
pipeline:
  - normalize
  - clean_body
  - clean_title
  - repeated_lead
  - language: {label_only: true}
  - gopher_repetition
  - gopher_quality
  - fineweb_quality
  - drop_empty
"""


def processed_documents(config: Config) -> tuple[list[Document], float]:
    """The neardup documents after the pipeline, and the pipeline's seconds per document."""
    steps = config.build_steps()
    docs = []
    started = time.perf_counter()
    with gzip.open(NEARDUP, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            doc = Document(record["id"], record["text"])
            for step in steps:
                step(doc)
                if not doc.kept:
                    break
            docs.append(doc)
    return docs, (time.perf_counter() - started) / len(docs)


def raw_documents() -> float:
    """Seconds per document of `add` for documents no step touched (no signal, no edit), as
    in a run with an empty pipeline: the floor of what the report costs a run."""
    with gzip.open(NEARDUP, "rt", encoding="utf-8") as lines:
        docs = [Document(record["id"], record["text"]) for record in map(json.loads, lines)]
    part = ReportAggregate()
    started = time.perf_counter()
    for _ in range(20):
        for doc in docs:
            part.add(doc, input_bytes=len(doc.input_text))  # the runner knows kept sizes
    return (time.perf_counter() - started) / (20 * len(docs))


def aggregate(docs: list[Document], total: int, shards: int) -> tuple[list[dict], float, int]:
    """`total` documents through `ReportAggregate.add`, cut into shards; seconds and bytes."""
    parts = [ReportAggregate() for _ in range(shards)]
    size = sum(len(doc.input_text.encode("utf-8")) for doc in docs)
    per_shard = -(-total // shards)
    started = time.perf_counter()
    for index in range(total):
        doc = docs[index % len(docs)]
        doc.id = f"bench-{index}"
        parts[index // per_shard].add(doc)
    seconds = time.perf_counter() - started
    return [part.to_dict() for part in parts], seconds, size * total // len(docs)


def decisions(folder: Path, total: int) -> Path:
    """A decisions file as dedup writes it: 30% of the documents are duplicates, in clusters
    whose sizes follow a Zipf law (a few huge boilerplate clusters, many pairs)."""
    rng = np.random.default_rng(0)
    duplicates = int(total * 0.3)
    cluster = np.minimum(rng.zipf(1.6, duplicates), duplicates)
    path = folder / "decisions.parquet"
    pq.write_table(pa.table({
        "shard": np.zeros(duplicates, dtype=np.int64), "index": np.arange(duplicates),
        "rule": ["exact_duplicate"] * duplicates, "detail": [""] * duplicates,
        "duplicate_of": [f"kept-{value}" for value in cluster],
        "cluster": [f"{value:016x}" for value in cluster]}), path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=100)
    args = parser.parse_args()
    if not NEARDUP.exists():
        print(f"evaluation data not found at {NEARDUP}", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        handle.write(PIPELINE)
        handle.flush()
        config = load_config(None, handle.name)
    raw = raw_documents()
    docs, pipeline_seconds = processed_documents(config)
    parts, seconds, size = aggregate(docs, args.docs, args.shards)
    per_doc = seconds / args.docs
    print(f"aggregation: {args.docs:,} documents ({size / 1e6:,.0f} MB) in {seconds:.1f} s: "
          f"{args.docs / seconds:,.0f} docs/s, {size / 1e6 / seconds:,.1f} MB/s per core; "
          f"{per_doc * 1e6:.1f} us/doc = {per_doc / pipeline_seconds:.1%} of the pipeline's "
          f"{pipeline_seconds * 1e3:.2f} ms/doc; documents no step touched: "
          f"{raw * 1e6:.1f} us/doc")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        stats = {"counts": {"read": args.docs, "kept": sum(d.kept for d in docs) * args.docs //
                            len(docs), "removed": 0, "errors": 0, "skipped": {}},
                 **merge(json.loads(json.dumps(part)) for part in parts)}
        merged = time.perf_counter() - started
        stats["counts"]["removed"] = args.docs - stats["counts"]["kept"]
        removed: dict[str, dict[str, int]] = {}
        for doc in docs:
            if doc.removed_by is not None:
                step = removed.setdefault(doc.removed_by.step, {})
                step[doc.removed_by.rule] = step.get(doc.removed_by.rule, 0) + 1
        stats["removed_by"] = removed
        started = time.perf_counter()
        stats["clusters"] = cluster_summary([decisions(root, args.docs)])
        clustered = time.perf_counter() - started
        stats["bytes_in"], stats["bytes_kept"] = size, stats["kept_bytes_in"]
        manifest = {"counts": stats["counts"], "config": config.model_dump(mode="json"),
                    "tamis_version": "bench", "seconds": seconds, "inputs": [], "shards": []}
        (root / "manifest.json").write_text(json.dumps(manifest))
        (root / "stats.json").write_text(json.dumps(stats))
        times = []
        for _ in range(3):
            started = time.perf_counter()
            page = write_report(root)
            times.append(time.perf_counter() - started)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"merge of {args.shards} shard aggregates: {merged:.2f} s; cluster summary of "
              f"{int(args.docs * 0.3):,} duplicates: {clustered:.2f} s; stats.json "
              f"{(root / 'stats.json').stat().st_size / 1e6:.2f} MB")
        print(f"report for {args.docs:,} documents' stats: median {statistics.median(times):.3f} s "
              f"of {[round(value, 3) for value in times]}, page {page.stat().st_size / 1e6:.2f} MB;"
              f" peak memory {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
