"""Speed of the `decontaminate`, `pii` and `classifier` steps on real pages, in docs/s per core.

    .venv/bin/python bench/steps_speed.py [--docs 5000]

Documents: the texts of `../shared/data/derived/dev/neardup.jsonl.gz` (2,473 real pages and
extractions of them, 6.8 KB on average), cycled up to `--docs`.

Decontamination benchmark: every sentence of the lingua test set
(`raw/lingua-langid/testdata/sentences/*.txt`, 75 languages, 75,000 real sentences) as one
plain-text file, one passage a line: an index of about the size of a real benchmark suite.
One document in a hundred gets one of its English sentences of 13+ words planted, so hits (and
cuts, in spans mode) are timed too. The index is built into a fresh cache folder, so the build
time is measured, then loaded again as every worker would load it.

Classifier: the tiny test model (`tests/fixtures/tiny_classifier.ftz`), and lid.176.ftz (the
bundled language model, 176 labels) as a stand-in for a real-size fastText model.

Times are CPU seconds of this one process, so the figures are per core whatever the machine's
other load (best of two passes over the documents). Call `steps_speed(n)` from Python for the
figures as a dict.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = REPO.parent / "shared" / "data"
NEARDUP = DATA / "derived" / "dev" / "neardup.jsonl.gz"
SENTENCES = DATA / "raw" / "lingua-langid" / "testdata" / "sentences"
TINY_MODEL = REPO / "tests" / "fixtures" / "tiny_classifier.ftz"

sys.path.insert(0, str(REPO / "src"))


def page_texts(count: int) -> list[str]:
    with gzip.open(NEARDUP, "rt", encoding="utf-8") as stream:
        texts = [json.loads(line)["text"] for line in stream]
    return [texts[i % len(texts)] for i in range(count)]


def benchmark_file(folder: Path) -> tuple[Path, list[str]]:
    """All lingua sentences in one file; and the English ones long enough to plant."""
    path = folder / "lingua-sentences.txt"
    with open(path, "w", encoding="utf-8") as out:
        for source in sorted(SENTENCES.glob("*.txt")):
            out.write(source.read_text(encoding="utf-8"))
    english = [line for line in (SENTENCES / "en.txt").read_text("utf-8").splitlines()
               if len(line.split()) >= 15]
    return path, english


def timed(step: Any, texts: list[str], repeats: int = 2) -> dict[str, float]:
    """Run `step` on a fresh document per text; docs/s and MB/s per CPU second, and removals.

    The best of `repeats` passes: the first also warms per-process memos (word hashes, the
    fastText model's pages), as the first documents of a worker's shard do in a run.
    """
    from tamis.document import Document

    size = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    best = float("inf")
    for _ in range(repeats):
        docs = [Document(str(i), text) for i, text in enumerate(texts)]
        start = time.process_time()
        for doc in docs:
            step(doc)
        best = min(best, time.process_time() - start)
    return {"docs_per_s": len(docs) / best, "mb_per_s": size / best,
            "removed": sum(not doc.kept for doc in docs),
            "edited": sum(bool(doc.edits) for doc in docs)}


def steps_speed(n_docs: int = 5000) -> dict[str, dict[str, float]]:
    from tamis.signals.language import bundled_model_path
    from tamis.step import build_step

    texts = page_texts(n_docs)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        os.environ["TAMIS_CACHE_DIR"] = str(Path(folder) / "cache")
        benchmark, english = benchmark_file(Path(folder))
        planted = [f"{text}\n{english[i % len(english)]}\n" if i % 100 == 7 else text
                   for i, text in enumerate(texts)]
        options = {"benchmarks": [str(benchmark)]}
        start = time.process_time()
        step = build_step("decontaminate", options)
        built = time.process_time() - start
        start = time.perf_counter()
        build_step("decontaminate", options)
        loaded = time.perf_counter() - start
        results["decontaminate index"] = {
            "ngrams": len(step.index.hashes), "build_cpu_s": built, "load_s": loaded,
            "benchmark_mb": benchmark.stat().st_size / 1e6}
        results["decontaminate (document)"] = timed(step, planted)
        spans = build_step("decontaminate", {**options, "mode": "spans"})
        results["decontaminate (spans)"] = timed(spans, planted)
    results["pii"] = timed(build_step("pii", None), texts)
    results["classifier (tiny model)"] = timed(
        build_step("classifier", {"model": str(TINY_MODEL), "label": "hq"}), texts)
    results["classifier (lid.176 as model)"] = timed(
        build_step("classifier", {"model": str(bundled_model_path()), "label": "en"}), texts)
    return results


def print_speeds(n_docs: int) -> None:
    for name, figures in steps_speed(n_docs).items():
        shown = ", ".join(f"{key} {value:,.3g}" if isinstance(value, float) else
                          f"{key} {value:,}" for key, value in figures.items())
        print(f"{name}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    print_speeds(parser.parse_args().docs)


if __name__ == "__main__":
    main()
