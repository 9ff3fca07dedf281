"""End-to-end deduplication time and peak memory for tamis, from signatures to removal.

The corpus, at any size, from real web documents (the near-duplicate set,
../shared/data/derived/dev/neardup.jsonl.gz, 2,473 pages), in a fixed seeded order:

- 70% of documents are *new pages*: a real page sampled at random with every fifth word
  (from a random phase) replaced by a word drawn from the whole set's text, so every 5-gram
  changes and no two new pages are near copies, while length, vocabulary and layout stay those
  of real pages;
- 30% are *near copies* of an earlier new page: that page regenerated, one word in 50 dropped
  and a last line naming the copy (5-gram Jaccard about 0.8 to the original).

So at every size about 30% of the documents are near duplicates to remove, as on a web crawl,
and nothing is held in memory while generating (a copy regenerates its original from its
number). The pipeline is dedup alone (`dedup_exact` then `dedup_near`, FineWeb's MinHash
parameters) in a fresh `tamis run` process with `--workers N`; the script reports its wall time,
CPU time (the run's processes together), documents and MB per CPU-second ("per core"), the peak
RSS of the largest process, and the peak of all its processes' RSS summed (sampled every 0.2 s).

    python bench/dedup_speed.py [--docs 10000 100000] [--workers 1] [--repeat 1]
                                [--memory-mb 1024] [--datatrove] [--work DIR]

With `--datatrove`, datatrove 0.10.1's 4-stage MinHash (signatures, buckets, clustering, filter;
FineWeb's config: sha1 64-bit, 14 x 8, 5-grams; one task, one worker) runs on the same corpus in
the same run, in its own venv (bench/.venv-datatrove, made by bench/parity.py on first use).
With `--repeat N` each tool runs N times on the first size, the two taking turns, and the
medians are reported (the ratio is of the medians).
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
import threading
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"
COPY_SHARE = 0.3


class Corpus:
    """The generator: document `number` is a pure function of (seed, number)."""

    def __init__(self, seed: int = 7) -> None:
        with gzip.open(DATA, "rt", encoding="utf-8") as lines:
            self.pages = [json.loads(line)["text"].split(" ") for line in lines]
        self.vocabulary = np.array([word for page in self.pages for word in page], object)
        self.seed = seed

    def is_copy(self, number: int) -> bool:
        return number > 0 and random.Random(self.seed * 1_000_003 + number).random() < COPY_SHARE

    def new_page(self, number: int) -> list[str]:
        generator = np.random.default_rng((self.seed, number))
        words = list(self.pages[generator.integers(len(self.pages))])
        phase = int(generator.integers(5))
        picks = generator.integers(len(self.vocabulary), size=len(words[phase::5]))
        words[phase::5] = self.vocabulary[picks].tolist()
        return words

    def text(self, number: int) -> str:
        if not self.is_copy(number):
            return " ".join(self.new_page(number))
        original = random.Random(self.seed + number).randrange(number)
        while self.is_copy(original):
            original -= 1
        words = self.new_page(original)
        del words[-number % 50::50]  # one word in 50, at an offset that depends on the copy
        return " ".join(words) + f"\ncopy {number} of d{original}"


def make_corpus(path: Path, count: int, seed: int = 7) -> int:
    corpus = Corpus(seed)
    size = 0
    with open(path, "wb") as out:
        for number in range(count):
            line = orjson.dumps({"id": f"d{number}", "text": corpus.text(number)}) + b"\n"
            size += len(line)
            out.write(line)
    return size


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, sum(map(_rss_kb, _tree(self.pid))))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 1024


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return pids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_once(corpus: Path, out: Path, config: Path, workers: int) -> dict[str, float]:
    """One `tamis run` in a fresh process: wall and CPU seconds, peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "tamis", "run", str(corpus), "-o",
                                str(out), "--config", str(config), "--workers", str(workers),
                                "--quiet"], env=env, stderr=subprocess.PIPE)
    memory = TreeMemory(process.pid)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    summed = memory.stop()
    if status:
        raise SystemExit(stderr)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "largest": usage.ru_maxrss / 1024, "summed": summed}


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
    folder.mkdir(parents=True, exist_ok=True)
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
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--memory-mb", type=float, default=None,
                        help="limits.memory_mb for tamis (default: tamis's default)")
    parser.add_argument("--datatrove", action="store_true",
                        help="also run datatrove's MinHash on the first corpus size")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the corpus and outputs (default: a temporary one)")
    args = parser.parse_args()
    print("| tool | documents | MB | workers | wall s | CPU s | docs/s per core | "
          "MB/s per core | peak RSS MB, largest process | peak RSS MB, all processes | "
          "removed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        config = Path(work) / "dedup.yaml"
        limits = f"limits: {{memory_mb: {args.memory_mb}}}\n" if args.memory_mb else ""
        config.write_text("pipeline: [dedup_exact, dedup_near]\ninput: {shard_size: 64MB}\n"
                          + limits)
        for count in args.docs:
            corpus = Path(work) / f"corpus-{count}.jsonl"
            size = make_corpus(corpus, count)
            runs, others = [], []
            side_by_side = args.datatrove and count == args.docs[0]
            for round_number in range(args.repeat):  # the tools take turns, round by round
                out = Path(work) / f"out-{count}-{round_number}"
                runs.append(run_once(corpus, out, config, args.workers))
                if side_by_side:
                    others.append(run_datatrove(corpus, Path(work) / f"datatrove-{round_number}"))
            removed = json.loads((out / "manifest.json").read_text())["counts"]["removed"]
            wall = statistics.median(run["wall"] for run in runs)
            cpu = statistics.median(run["cpu"] for run in runs)
            print(f"| tamis | {count:,} | {size / 1e6:,.0f} | {args.workers} | {wall:.1f} | "
                  f"{cpu:.1f} | {count / cpu:,.0f} | {size / 1e6 / cpu:.2f} | "
                  f"{max(run['largest'] for run in runs):,.0f} | "
                  f"{max(run['summed'] for run in runs):,.0f} | {removed:,} |", flush=True)
            if side_by_side:
                other = statistics.median(seconds for seconds, _ in others)
                peak = max(peak for _, peak in others)
                print(f"| datatrove | {count:,} | {size / 1e6:,.0f} | 1 | {other:.1f} | | "
                      f"{count / other:,.0f} | {size / 1e6 / other:.2f} | {peak:,.0f} | | |")
                print(f"| ratio (wall) | | | | {other / wall:.1f}x | | | | | | |", flush=True)
            corpus.unlink()


if __name__ == "__main__":
    main()
