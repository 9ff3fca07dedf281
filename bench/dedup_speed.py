"""End-to-end deduplication time and peak memory for tamis, from signatures to removal.

The corpus: real web documents (the near-duplicate set, ../shared/data/derived/dev/
neardup.jsonl.gz) sampled in a fixed order and perturbed so copies stay near but not exact:
each sampled document gets one appended line naming its copy number and has one in every 50
words dropped (seeded), so the corpus holds clusters of near duplicates of realistic shape at
any size. The pipeline is dedup alone (`dedup_exact` then `dedup_near`, FineWeb's MinHash
parameters), one worker, in a fresh process whose peak RSS is measured.

    python bench/dedup_speed.py [--docs 10000 100000] [--repeat 1]

Not done here yet: datatrove's 4-stage MinHash side by side (see BENCHMARKS.md).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print("| documents | MB | seconds | docs/s per core | MB/s per core | peak RSS MB | removed |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
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
            print(f"| {count:,} | {size / 1e6:,.0f} | {seconds:.1f} | {count / seconds:,.0f} | "
                  f"{size / 1e6 / seconds:.2f} | {max(peaks):,.0f} | {removed:,} |")
            corpus.unlink()


if __name__ == "__main__":
    main()
