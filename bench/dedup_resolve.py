"""Memory and time of the dedup steps' resolve alone, by corpus size and memory budget.

Signatures are the per-document part of deduplication (measured end to end by
`bench/dedup_speed.py`); this measures the across-corpus part, which is where memory used to grow
with the corpus. Key files are synthetic but shaped as a run writes them: shards of 25,000
documents (about what a 128 MB shard of web text holds), an id, a length, 14 random 63-bit band
keys (near) or a 16-byte hash (exact) per document, 30% of documents copying an earlier
document's keys of the same shard. Each (step, size, budget) resolves in a fresh process; the
script reports that process's RSS before resolve, its peak, and the seconds resolve took.

    python bench/dedup_resolve.py [--docs 1000000 4000000] [--budget-mb 1024 32]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PER_SHARD = 25_000
COPY_SHARE = 0.3


def write_keys(folder: Path, count: int, seed: int = 1) -> None:
    generator = np.random.default_rng(seed)
    for shard in range(-(-count // PER_SHARD)):
        size = min(PER_SHARD, count - shard * PER_SHARD)
        base = {"index": pa.array(np.arange(size)),
                "id": pa.array([f"doc-{shard}-{number:08d}" for number in range(size)])}
        copies = np.flatnonzero(generator.random(size) < COPY_SHARE)
        originals = np.minimum(generator.integers(0, size, len(copies)), copies)
        keys = generator.integers(0, 2**63 - 1, (size, 14), dtype=np.int64)
        keys[copies] = keys[originals]
        pq.write_table(pa.table({**base, "length": generator.integers(100, 10_000, size),
                                 **{f"band_{band}": keys[:, band] for band in range(14)}}),
                       folder / f"near-{shard:05d}.parquet")
        hashes = generator.integers(0, 2**63, (size, 2), dtype=np.int64)
        hashes[copies] = hashes[originals]
        pq.write_table(pa.table({**base, "hash": pa.array([row.tobytes() for row in hashes],
                                                          pa.binary())}),
                       folder / f"exact-{shard:05d}.parquet")


def resolve_in_this_process(folder: Path, step_name: str, budget_mb: float) -> None:
    from tamis.dedup.exact import ExactDedup
    from tamis.dedup.near import NearDedup

    step = NearDedup() if step_name == "near" else ExactDedup()
    step.memory_budget = int(budget_mb * 1024**2)
    files = sorted(folder.glob(f"{step_name}-*.parquet"))
    before = _rss_mb()
    started = time.perf_counter()
    removed = sum(table.num_rows for table in step.resolve(files, folder / "work"))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.0f} {peak:.0f} {seconds:.1f} {removed}")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--budget-mb", type=float, nargs="+", default=[1024, 32])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        resolve_in_this_process(Path(args.child[0]), args.child[1], float(args.child[2]))
        return
    print("| step | documents | budget MB | RSS before MB | peak RSS MB | growth MB | "
          "seconds | removed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for count in args.docs:
        with tempfile.TemporaryDirectory() as work:
            write_keys(Path(work), count)
            for step in ("near", "exact"):
                for budget in args.budget_mb:
                    output = subprocess.run(
                        [sys.executable, __file__, "--child", work, step, str(budget)],
                        check=True, capture_output=True, text=True).stdout.split()
                    before, peak, seconds, removed = map(float, output)
                    print(f"| dedup_{step} | {count:,} | {budget:g} | {before:,.0f} | "
                          f"{peak:,.0f} | {peak - before:,.0f} | {seconds:.1f} | "
                          f"{removed:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
