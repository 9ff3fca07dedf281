"""Near-duplicate quality on the labelled clusters of ../shared/data/derived/dev/neardup.jsonl.gz.

The set holds the same articles under different boilerplate, extractors and syndication
wrappers, plus singletons that share site templates (hard negatives). Documents marked
`off_topic` (failed extractions) are left out. For each configuration, tamis runs on the set and
its clusters (a kept document and every document removed as its copy, following chains) are
compared with the gold clusters: pairwise precision, recall and F1, and the adjusted Rand index.

    python bench/dedup_quality.py [--workers 2]

Configurations: the `dedup` preset (normalise, clean spans, exact + MinHash dedup) and the same
without the span cleaners (normalise, exact + MinHash), both with FineWeb's MinHash parameters
(5-grams, 14 bands x 8 rows); then, in the same run, datatrove 0.10.1's 4-stage MinHash with the
same parameters (FineWeb's config: sha1 64-bit, 14 x 8, 5-grams) on the same documents, in its
own venv (bench/.venv-datatrove, made by bench/parity.py). Its clusters are read from the
`minhash_cluster_id` its filter stage writes into each document (kept and removed).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
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


DATATROVE_SIDE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                      MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
folder, work = sys.argv[1], sys.argv[2]
config = MinhashConfig(hash_config=HashConfig(hash_fc="sha1", precision=64), num_buckets=14,
                       hashes_per_bucket=8, n_grams=5)
stages = [
    [JsonlReader(folder), MinhashDedupSignature(output_folder=f"{work}/sigs", config=config)],
    [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                         config=config)],
    [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/ids",
                         config=config, save_cluster_id=True)],
    [JsonlReader(folder),
     MinhashDedupFilter(input_folder=f"{work}/ids", load_cluster_ids=True,
                        exclusion_writer=JsonlWriter(f"{work}/removed", compression=None)),
     JsonlWriter(f"{work}/kept", compression=None)],
]
for number, (pipeline, tasks) in enumerate(zip(stages, [1, config.num_buckets, 1, 1])):
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                          logging_dir=f"{work}/logs{number}").run()
"""


def datatrove_clusters(corpus: Path, work: Path) -> dict[str, str]:
    """Run datatrove's MinHash on the corpus; document id -> its cluster (or itself)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from parity import ensure_venv

    folder = work / "datatrove-in"
    folder.mkdir()
    (folder / corpus.name).symlink_to(corpus)
    done = subprocess.run([str(ensure_venv()), "-c", DATATROVE_SIDE, str(folder),
                           str(work / "datatrove")], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    clusters = {}
    for path in sorted((work / "datatrove").glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            cluster = record["metadata"].get("minhash_cluster_id", -1)
            clusters[record["id"]] = f"cluster-{cluster}" if cluster != -1 else record["id"]
    return clusters


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
        started = time.perf_counter()
        predicted = datatrove_clusters(corpus, Path(work))
        seconds = time.perf_counter() - started
        result = scores(gold, predicted)
        label = "datatrove 0.10.1 MinHash, 14x8, 5-grams"
        print(f"| {label:46} | {result['precision']:9.3f} | {result['recall']:6.3f} | "
              f"{result['f1']:5.3f} | {result['ari']:5.3f} | {seconds:7.1f} |")


if __name__ == "__main__":
    main()
