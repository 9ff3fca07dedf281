"""The compiled core against the Python reference: tamis's four heuristic filters per document.

    .venv/bin/python bench/kernel.py [--docs 400] [--repeat 3] [--profile]

The documents of `filters.py` (the evaluation pages cycled, each copy made distinct); each
kernel (`TAMIS_KERNEL=rust`, then `python`) runs in its own process, the two taking turns
`--repeat` times; each process runs the four filters (Gopher repetition, Gopher quality,
FineWeb quality, C4 without the terminal-punctuation rule) over every document twice (the first
pass fills the memos) and reports the CPU milliseconds a document of the second. Medians are
printed. `--profile` prints a cProfile of the core's side instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def measure(n_docs: int, profile: bool) -> float:
    sys.path.insert(0, str(BENCH))
    from filters import HEURISTICS, make_corpus

    from tamis.document import Document
    from tamis.step import build_step

    documents = make_corpus(n_docs)
    steps = [build_step(name, {"filter_no_terminal_punct": False} if name == "c4" else {})
             for name in HEURISTICS]

    def run() -> None:
        for item in documents:
            doc = Document(item["id"], item["text"])
            for step in steps:
                step(doc)
                doc.removed_by = None

    run()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    start = time.process_time()
    run()
    return (time.process_time() - start) / len(documents) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side or args.profile:
        print(measure(args.docs, args.profile))
        return
    times: dict[str, list[float]] = {"rust": [], "python": []}
    for _ in range(args.repeat):
        for kernel, found in times.items():
            output = subprocess.run(
                [sys.executable, __file__, "--side", "--docs", str(args.docs)], check=True,
                capture_output=True, text=True, env={**os.environ, "TAMIS_KERNEL": kernel})
            found.append(float(output.stdout.split()[-1]))
    for kernel, found in times.items():
        print(f"{kernel:8} {statistics.median(found):6.2f} ms/doc (runs: "
              f"{', '.join(f'{value:.2f}' for value in found)})")
    speedup = statistics.median(times["python"]) / statistics.median(times["rust"])
    print(f"core / reference: {speedup:.2f}x")


if __name__ == "__main__":
    main()
