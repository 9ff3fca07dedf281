"""Extraction quality and speed on the evaluation pages, tamis's extractors beside references.

Two gold sets (read from ../shared/data/raw beside the checkout, never copied):
- trafilatura-eval: must-include / must-exclude snippets, scored as trafilatura's own evaluation
  does (a whitespace-normalised snippet found in the output: a `with` snippet is a true positive,
  a `without` snippet a false positive; precision, recall, accuracy, F1 over all snippets).
- scrapinghub-aeb: the gold article body, scored as the benchmark's evaluate.py does (word
  4-gram shingle multisets; per page TP/FP/FN normalised to sum 1; precision and recall are
  means over pages, F1 their harmonic mean).

Systems: tamis's `extract` step with each engine (through its time-limited helper process),
resiliparse in-process (the helper's overhead is the difference), the fast path (resiliparse,
then the `clean` preset's span cleaning, when those steps exist), and two references called
exactly as trafilatura's evaluation calls them, so a large gap between a tamis engine and its
reference means the integration is wrong.

pages/s and MB/s are per core: pages per CPU-second of the worker and its extraction helper
(the machine is shared, so wall time mostly measures the wait for a core; `wall/s` is shown
beside it).

    PYTHONPATH=src python bench/extraction.py [--limit N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAW = REPO.parent / "shared" / "data" / "raw"
sys.path.insert(0, str(REPO / "src"))

from tamis.document import Document  # noqa: E402
from tamis.extract import Extract, ExtractOptions, helper_pid, helper_pids  # noqa: E402


@dataclass
class Page:
    html: bytes
    url: str | None
    gold: dict  # {"with": [...], "without": [...]} or {"body": str}


def trafilatura_eval_pages(limit: int | None) -> list[Page]:
    folder = RAW / "trafilatura-eval"
    entries = json.loads((folder / "evaldata.json").read_text("utf-8"))
    pages = []
    for key, entry in entries.items():
        for sub in ("eval", "cache"):
            path = folder / "html" / sub / f"{entry['file']}.gz"
            if path.exists():
                url = None if key.startswith("hard::") else key
                pages.append(Page(gzip.decompress(path.read_bytes()), url, entry))
                break
    return pages[:limit]


def aeb_pages(limit: int | None) -> list[Page]:
    folder = RAW / "scrapinghub-aeb"
    gold = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    pages = []
    for path in sorted((folder / "html").glob("*.html.gz")):
        entry = gold[path.name.removesuffix(".html.gz")]
        pages.append(Page(gzip.decompress(path.read_bytes()), entry["url"],
                          {"body": entry["articleBody"]}))
    return pages[:limit]


# -- scoring ------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def snippet_scores(pages: list[Page], outputs: list[str]) -> dict[str, float]:
    tp = fp = fn = tn = 0
    for page, output in zip(pages, outputs, strict=True):
        text = _squash(output)
        found = sum(_squash(snippet) in text for snippet in page.gold["with"])
        leaked = sum(_squash(snippet) in text for snippet in page.gold["without"])
        tp, fn = tp + found, fn + len(page.gold["with"]) - found
        fp, tn = fp + leaked, tn + len(page.gold["without"]) - leaked
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": precision, "recall": recall,
            "accuracy": (tp + tn) / max(1, tp + fp + fn + tn),
            "f1": 2 * precision * recall / max(1e-9, precision + recall)}


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text or "")
    return Counter(tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3))
                   if tokens[i:i + 4])


def body_scores(pages: list[Page], outputs: list[str]) -> dict[str, float]:
    precisions, recalls = [], []
    for page, output in zip(pages, outputs, strict=True):
        gold, got = _shingles(page.gold["body"]), _shingles(output)
        tp = sum((gold & got).values())
        fp, fn = sum((got - gold).values()), sum((gold - got).values())
        total = tp + fp + fn
        if total == 0:
            continue
        tp, fp, fn = tp / total, fp / total, fn / total
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    precision, recall = statistics.mean(precisions), statistics.mean(recalls)
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(1e-9, precision + recall)}


# -- systems ------------------------------------------------------------------------------------


def tamis_extractor(**options: object) -> Callable[[Page], str]:
    step = Extract(ExtractOptions(**options))
    return lambda page: step.extract(page.html, url=page.url)


def fast_path(main_content: bool = True) -> Callable[[Page], str] | None:
    """resiliparse, then every step of the `clean` preset; None until span cleaning exists.

    A document the preset removes (nothing left) scores as an empty extraction.
    """
    from tamis.config import load_config

    steps = [step for step in load_config(preset="clean").build_steps()
             if step.name != "extract"]
    if not any(type(step).__module__.startswith("tamis.clean") for step in steps):
        return None
    extract = tamis_extractor(engine="resiliparse", main_content=main_content)

    def run(page: Page) -> str:
        doc = Document("page", extract(page))
        for step in steps:
            step(doc)
            if not doc.kept:
                return ""
        return doc.text

    return run


def reference_trafilatura(page: Page) -> str:
    import trafilatura

    # trafilatura's evaluation settings (tests/eval_common.py): bytes in, tables, no comments.
    return trafilatura.extract(page.html, include_comments=False, include_tables=True,
                               include_formatting=False) or ""


def reference_resiliparse(page: Page) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    # As trafilatura's comparison calls it.
    tree = HTMLTree.parse(bytes_to_str(page.html, detect_encoding(page.html)))
    return extract_plain_text(tree, main_content=True)


def timed(system: Callable[[Page], str], pages: list[Page],
          repeat: int) -> tuple[list[str], float, float, float]:
    """Outputs and, over `repeat` passes, the median wall and CPU seconds per page, and the
    slowest page's wall seconds. CPU time counts the worker and its extraction helpers: on a
    shared machine it is the stable measure of work per core. A failure scores empty.
    """
    walls, cpus = [], []
    slowest = 0.0
    outputs: list[str] = []
    system(pages[0])  # warm up: start the helper process, import the engine
    for _ in range(repeat):
        outputs = []
        wall, cpu = time.perf_counter(), time.process_time() + _helpers_cpu()
        for page in pages:
            page_started = time.perf_counter()
            try:
                outputs.append(system(page))
            except Exception as error:  # a failure counts as an empty extraction
                print(f"  failure: {type(error).__name__}: {error}", file=sys.stderr)
                outputs.append("")
            slowest = max(slowest, time.perf_counter() - page_started)
        walls.append((time.perf_counter() - wall) / len(pages))
        cpus.append((time.process_time() + _helpers_cpu() - cpu) / len(pages))
    return outputs, statistics.median(walls), statistics.median(cpus), slowest


def _helpers_cpu() -> float:
    return sum(_cpu_seconds(pid) for pid in helper_pids())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="pages per gold set (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes; the median is shown")
    args = parser.parse_args()
    if not RAW.exists():
        sys.exit(f"evaluation data not found at {RAW}")

    systems: dict[str, Callable[[Page], str]] = {
        "tamis extract resiliparse": tamis_extractor(engine="resiliparse"),
        "tamis extract resiliparse, in-process": tamis_extractor(engine="resiliparse",
                                                                 timeout=None),
        "tamis extract trafilatura (favour_precision)": tamis_extractor(engine="trafilatura"),
        "reference: resiliparse as trafilatura evaluates it": reference_resiliparse,
        "reference: trafilatura as it evaluates itself": reference_trafilatura,
    }
    fast = fast_path()
    if fast is not None:
        systems["tamis fast path: resiliparse + clean preset"] = fast
        systems["  the same from the full page (main_content off)"] = fast_path(False)
    else:
        print("fast path not scored: no span-cleaning steps in the clean preset yet")

    gold_sets = {"trafilatura-eval": (trafilatura_eval_pages(args.limit), snippet_scores),
                 "scrapinghub-aeb": (aeb_pages(args.limit), body_scores)}
    for name, (pages, score) in gold_sets.items():
        megabytes = sum(len(page.html) for page in pages) / 1e6
        print(f"\n{name}: {len(pages)} pages, {megabytes:.1f} MB of HTML")
        print(f"{'system':<52} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8} {'MB/s':>6} "
              f"{'wall/s':>7} {'max s':>6}")
        for label, system in systems.items():
            outputs, wall, cpu, slowest = timed(system, pages, args.repeat)
            scores = score(pages, outputs)
            print(f"{label:<52} {scores['precision']:6.3f} {scores['recall']:6.3f} "
                  f"{scores['f1']:6.3f} {1 / cpu:8.1f} {megabytes / len(pages) / cpu:6.2f} "
                  f"{1 / wall:7.1f} {slowest:6.2f}", flush=True)

    helper_cost(gold_sets["trafilatura-eval"][0], args.repeat)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    helpers = {options.engine: _peak_mb(helper_pid(options))
               for options in (ExtractOptions(engine="resiliparse"),
                               ExtractOptions(engine="trafilatura"))}
    print(f"peak memory: worker {own:.0f} MB; helpers " +
          ", ".join(f"{engine} {peak:.0f} MB" for engine, peak in helpers.items()))


def helper_cost(pages: list[Page], repeat: int) -> None:
    """What the time limit costs: resiliparse through the helper against in-process.

    Wall time on a shared machine mostly measures waiting for a core, so CPU time is measured
    too: the worker's own, plus the helper's from /proc, against the in-process extraction's.
    """
    options = ExtractOptions(engine="resiliparse")
    through, inside = Extract(options), Extract(ExtractOptions(timeout=None))
    through.extract(pages[0].html)
    runs: dict[str, list[tuple[float, float]]] = {"helper": [], "in-process": []}
    for _ in range(max(3, repeat)):
        for label, step in (("helper", through), ("in-process", inside)):
            wall, cpu = time.perf_counter(), time.process_time()
            helper_before = _cpu_seconds(helper_pid(options))
            for page in pages:
                step.extract(page.html, url=page.url)
            helper_cpu = (_cpu_seconds(helper_pid(options)) - helper_before
                          if label == "helper" else 0.0)
            runs[label].append(((time.perf_counter() - wall) / len(pages),
                                (time.process_time() - cpu + helper_cpu) / len(pages)))
    print(f"\nthe helper's cost (resiliparse, {len(pages)} trafilatura-eval pages, "
          f"medians of {max(3, repeat)}): ms per page")
    for label, values in runs.items():
        wall = statistics.median(value[0] for value in values) * 1000
        cpu = statistics.median(value[1] for value in values) * 1000
        print(f"  {label:<11} wall {wall:6.2f}  cpu {cpu:6.2f} (worker + helper)")


def _cpu_seconds(pid: int | None) -> float:
    """A live process's user + system CPU seconds, from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_mb(pid: int | None) -> float:
    """A live process's peak resident memory (VmHWM), from /proc."""
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
