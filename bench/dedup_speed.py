"""End-to-end deduplication time and peak memory for tamis, from signatures to removal.

The corpus: real web documents (the near-duplicate set, ../shared/data/derived/dev/
neardup.jsonl.gz) sampled in a fixed order and perturbed so copies stay near but not exact:
each sampled document gets one appended line naming its copy number and has one in every 50
words dropped (seeded), so the corpus holds clusters of near duplicates of realistic shape at
any size. The pipeline is dedup alone (`dedup_exact` then `dedup_near`, FineWeb's MinHash
parameters), one worker, in a fresh process whose peak RSS is measured.

    python bench/dedup_speed.py [--docs 10000 100000] [--repeat 1] [--datatrove]

With `--datatrove`, datatrove 0.10.1's 4-stage MinHash (signatures, buckets, clustering, filter;
FineWeb's config: sha1 64-bit, 14 x 8, 5-grams; one task, one worker) runs on the same corpus in
the same run, in its own venv (bench/.venv-datatrove, made by bench/parity.py on first use).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"


def make_corpus(path: Path, count: int, seed: int = 7) -> int:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    generator = random.Random(seed)
    size = 0
    with open(path, "w", encoding="utf-8") as out:
        for number in range(count):
            words = texts[generator.randrange(len(texts))].split(" ")
            kept = [word for index, word in enumerate(words)
                    if (index + number) % 50 or len(words) < 100]
            line = json.dumps({"id": f"d{number}",
                               "text": " ".join(kept) + f"\ncopy {number}"}) + "\n"
            size += len(line.encode())
            out.write(line)
    return size


def run_once(corpus: Path, out: Path, config: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "tamis", "run", str(corpus), "-o",
                                str(out), "--config", str(config), "--workers", "1", "--quiet"],
                               env=env, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(stderr)
    return time.perf_counter() - started, usage.ru_maxrss / 1024


DATATROVE_SIDE = """
import sys, time
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
                         config=config)],
    [JsonlReader(folder), MinhashDedupFilter(input_folder=f"{work}/ids"),
     JsonlWriter(f"{work}/out")],
]
tasks = [1, config.num_buckets, 1, 1]
started = time.perf_counter()
for number, (pipeline, count) in enumerate(zip(stages, tasks)):
    LocalPipelineExecutor(pipeline=pipeline, tasks=count, workers=1,
                          logging_dir=f"{work}/logs{number}").run()
print(time.perf_counter() - started)
"""


def run_datatrove(corpus: Path, work: Path) -> tuple[float, float]:
    """datatrove's four stages on the corpus: wall seconds and peak RSS in MB."""
    sys.path.insert(0, str(Path(__file__).parent))
    from parity import ensure_venv

    folder = work / "datatrove-in"
    folder.mkdir(exist_ok=True)
    (folder / corpus.name).symlink_to(corpus)
    started = time.perf_counter()
    process = subprocess.Popen([str(ensure_venv()), "-c", DATATROVE_SIDE, str(folder),
                                str(work / "datatrove")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(stderr[-3000:])
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--datatrove", action="store_true",
                        help="also run datatrove's MinHash on the first corpus size")
    args = parser.parse_args()
    print("| tool | documents | MB | seconds | docs/s per core | MB/s per core | peak RSS MB | "
          "removed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "dedup.yaml"
        config.write_text("pipeline: [dedup_exact, dedup_near]\ninput: {shard_size: 64MB}\n")
        for count in args.docs:
            corpus = Path(work) / f"corpus-{count}.jsonl"
            size = make_corpus(corpus, count)
            times, peaks = [], []
            for round_number in range(args.repeat):
                out = Path(work) / f"out-{count}-{round_number}"
                seconds, peak = run_once(corpus, out, config)
                times.append(seconds)
                peaks.append(peak)
            removed = json.loads((out / "manifest.json").read_text())["counts"]["removed"]
            seconds = statistics.median(times)
            print(f"| tamis | {count:,} | {size / 1e6:,.0f} | {seconds:.1f} | "
                  f"{count / seconds:,.0f} | {size / 1e6 / seconds:.2f} | {max(peaks):,.0f} | "
                  f"{removed:,} |")
            if args.datatrove and count == args.docs[0]:
                other, peak = run_datatrove(corpus, Path(work))
                print(f"| datatrove | {count:,} | {size / 1e6:,.0f} | {other:.1f} | "
                      f"{count / other:,.0f} | {size / 1e6 / other:.2f} | {peak:,.0f} | |")
                print(f"| ratio | | | {other / seconds:.1f}x | | | | |")
            corpus.unlink()


if __name__ == "__main__":
    main()
