"""Near-duplicate quality on the labelled clusters of ../shared/data/derived/dev/neardup.jsonl.gz.

The set holds the same articles under different boilerplate, extractors and syndication
wrappers, plus singletons that share site templates (hard negatives). Documents marked
`off_topic` (failed extractions) are left out. For each configuration, tamis runs on the set and
its clusters (a kept document and every document removed as its copy, following chains) are
compared with the gold clusters: pairwise precision, recall and F1, and the adjusted Rand index.

    python bench/dedup_quality.py [--workers 2]

Configurations: the `dedup` preset (normalise, clean spans, exact + MinHash dedup) and the same
without the span cleaners (normalise, exact + MinHash), both with FineWeb's MinHash parameters
(5-grams, 14 bands x 8 rows).
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections import Counter
from math import comb
from pathlib import Path

import zstandard

import tamis

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"

CONFIGS = {
    "tamis, cleaning before dedup (preset dedup)": None,
    "tamis, no cleaning": ["normalize", "drop_empty", "dedup_exact", "dedup_near"],
}


def read_records(out: Path, kind: str) -> list[dict]:
    records = []
    for path in sorted((out / kind).glob("*.jsonl.zst")):
        with open(path, "rb") as raw:
            data = zstandard.ZstdDecompressor().stream_reader(raw).read()
        records += [json.loads(line) for line in data.splitlines()]
    return records


def predicted_clusters(out: Path) -> dict[str, str]:
    """Document id -> the id of the kept document it was merged into."""
    keeper: dict[str, str] = {}
    for record in read_records(out, "kept"):
        keeper[record["id"]] = record["id"]
    parents = {record["id"]: record.get("duplicate_of") or record["id"]
               for record in read_records(out, "removed")}
    for doc_id in parents:
        seen = set()
        node = doc_id
        while node in parents and parents[node] != node and node not in seen:
            seen.add(node)
            node = parents[node]
        keeper[doc_id] = node
    return keeper


def scores(gold: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    ids = sorted(gold)
    pairs_gold = sum(comb(n, 2) for n in Counter(gold[i] for i in ids).values())
    pairs_pred = sum(comb(n, 2) for n in Counter(predicted[i] for i in ids).values())
    together = sum(comb(n, 2) for n in Counter((gold[i], predicted[i]) for i in ids).values())
    precision = together / pairs_pred if pairs_pred else 1.0
    recall = together / pairs_gold if pairs_gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = comb(len(ids), 2)
    expected = pairs_gold * pairs_pred / total if total else 0.0
    maximum = (pairs_gold + pairs_pred) / 2
    ari = (together - expected) / (maximum - expected) if maximum != expected else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "ari": ari}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        documents = [json.loads(line) for line in lines]
    kept_docs = [doc for doc in documents if not doc.get("off_topic")]
    gold = {doc["id"]: str(doc["cluster"]) for doc in kept_docs}
    print(f"{len(kept_docs)} documents ({len(documents) - len(kept_docs)} off-topic left out), "
          f"{len(set(gold.values()))} gold clusters")
    print(f"| {'configuration':46} | precision | recall |   F1  |  ARI  | seconds |")
    print(f"|{'-' * 48}|----------:|-------:|------:|------:|--------:|")
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "neardup.jsonl"
        corpus.write_text("".join(json.dumps({"id": doc["id"], "text": doc["text"]}) + "\n"
                                  for doc in kept_docs))
        for label, pipeline in CONFIGS.items():
            overrides = {"pipeline": pipeline} if pipeline else None
            config = tamis.load_config("dedup", overrides=overrides)
            out = Path(work) / label.split(",")[0].replace(" ", "-") / str(len(label))
            started = time.perf_counter()
            tamis.run(corpus, out, config=config, workers=args.workers)
            seconds = time.perf_counter() - started
            result = scores(gold, predicted_clusters(out))
            print(f"| {label:46} | {result['precision']:9.3f} | {result['recall']:6.3f} | "
                  f"{result['f1']:5.3f} | {result['ari']:5.3f} | {seconds:7.1f} |")


if __name__ == "__main__":
    main()
