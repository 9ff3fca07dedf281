"""Throughput of the local executor against the Ray executor on this machine: Ray's overhead.

Both run the same config on the same corpus in one run, alternating, `--repeat` times each;
the figures are medians. The corpus is the evaluation set's near-duplicate documents (real web
text, ../shared/data/derived/dev/neardup.jsonl.gz) cycled to `--docs` documents, cut into
shards of `--shard-size`. Ray runs on a local cluster started here with as many CPUs as workers.

    python bench/ray.py [--docs 10000] [--repeat 3] [--preset default] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import tamis

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"


def make_corpus(path: Path, count: int) -> int:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        documents = [json.loads(line) for line in lines]
    size = 0
    with open(path, "w", encoding="utf-8") as out:
        for number in range(count):
            doc = documents[number % len(documents)]
            line = json.dumps({"id": f"{doc['id']}#{number}",
                               "text": f"{doc['text']}\ncopy {number}"}) + "\n"
            size += len(line.encode())
            out.write(line)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", default="4MB")
    args = parser.parse_args()

    # This file is named ray.py: take its folder off the path so `import ray` finds Ray.
    sys.path[:] = [entry for entry in sys.path
                   if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
    import ray

    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        corpus = work_dir / "corpus.jsonl"
        size = make_corpus(corpus, args.docs)
        config = tamis.load_config(args.preset,
                                   overrides={"input": {"shard_size": args.shard_size}})
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR",
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO / "src")}})
        times: dict[str, list[float]] = {"local": [], "ray": []}
        try:
            for round_number in range(args.repeat):
                for executor in ("local", "ray"):
                    started = time.perf_counter()
                    tamis.run(corpus, work_dir / f"{executor}-{round_number}", config=config,
                              workers=args.workers, executor=executor)
                    times[executor].append(time.perf_counter() - started)
        finally:
            ray.shutdown()
        same = all((work_dir / f"ray-{n}" / "manifest.json").exists()
                   for n in range(args.repeat))

    mb = size / 1e6
    print(f"corpus: {args.docs:,} documents, {mb:,.1f} MB, preset {args.preset}, "
          f"{args.workers} workers, median of {args.repeat}")
    print(f"{'executor':10} {'seconds':>8} {'docs/s':>9} {'MB/s':>7} {'MB/s/core':>10}")
    for executor, values in times.items():
        seconds = statistics.median(values)
        print(f"{executor:10} {seconds:8.2f} {args.docs / seconds:9,.0f} {mb / seconds:7.2f} "
              f"{mb / seconds / args.workers:10.2f}")
    overhead = statistics.median(times["ray"]) / statistics.median(times["local"])
    print(f"ray/local time: {overhead:.2f}x; all runs: {times}; ray runs complete: {same}")


if __name__ == "__main__":
    main()
