"""Span cleaning: line-level quality on the labelled dev sets, baselines beside it, and its cost.

Data (read from ../shared/data/derived/dev beside the checkout, never copied):
`linelabels` (naively extracted real pages, lines labelled content / boilerplate) and
`seedlike` (real articles with seed-shaped junk appended). Only lines whose label is not null
are scored; junk (label 0) is the positive class. A line counts as kept when its text is a line
of the output, or, for a title, when the title with its labelled suffix cut is.

Systems, all run in this script:
- keep everything;
- C4's line rules as TFDS applies them (`clean_page`: drop a line with a word over 1,000
  characters, without a final . ? ! or ", ending in "...", with fewer than 5 words, containing
  "javascript" or a policy phrase). The page-level rules (lorem ipsum, "{", fewer than 3
  sentences, bad words) drop whole pages, not lines, and are left out of a line score;
- the same rules as datatrove's `C4QualityFilter` applies them (3 words, ' also ends a line);
- tamis: the `clean` preset's per-document steps (normalise, then the span cleaners).

Also scored: the title-suffix cut on `seedlike` (a hit is the exact start offset), and the cost
of the cleaners against the heuristic filter chain (Gopher quality and repetition, C4, FineWeb
quality) on the same documents: docs/s and MB/s on one core, and the share the cleaners add.

`--cv` reruns tamis with each setting of the tuned options and reports scores under 5-fold
cross-validation grouped by page: the options are chosen on four folds and scored on the fifth,
so no page is scored by options picked while looking at it.

    PYTHONPATH=src python bench/cleaning.py [--repeat 3] [--cv] [--cost-only]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import regex

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "data" / "derived" / "dev"
sys.path.insert(0, str(REPO / "src"))

from tamis.config import load_config  # noqa: E402
from tamis.document import Document  # noqa: E402
from tamis.step import GlobalStep, Step, build_step  # noqa: E402

SETS = ("linelabels", "seedlike")
# The options tuned on the dev data, and the values the cross-validation chooses among.
TUNED = {
    "off_topic_share": [0.35, 0.42, 0.5],
    "short_line_penalty": [0.3, 1.0],
    "short_blocks": [True, False],
    "keep_headings": [True, False],
}
FILTER_CHAIN = ["gopher_quality", "gopher_repetition", "c4", "fineweb_quality"]

# -- data -------------------------------------------------------------------------------------


def load(name: str) -> list[dict]:
    with gzip.open(DEV / f"{name}.jsonl.gz", "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def source_of(record: dict) -> str:
    return record.get("source") or record["id"].split(":", 1)[0]


def page_of(record: dict) -> str:
    return record.get("page") or record["id"]


# -- systems: each maps a record to the set of output lines and a title cut (or None) ---------

Output = tuple[set[str], int | None]

_CITATION = regex.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
           "use cookies")


def c4_line_kept(line: str, min_words: int, end_marks: tuple[str, ...]) -> bool:
    """C4's line rules in TFDS order (`c4_utils.clean_page`), for one line."""
    line = line.strip()
    words = line.split()
    if any(len(word) > 1000 for word in words):
        return False
    line = _CITATION.sub("", line)
    if not line.endswith(end_marks) or line.endswith("..."):
        return False
    if len(words) < min_words:
        return False
    lower = line.lower()
    return "javascript" not in lower and not any(phrase in lower for phrase in _POLICY)


def c4_tfds(record: dict) -> Output:
    kept = {line for line in record["lines"] if c4_line_kept(line, 5, (".", "?", "!", '"'))}
    return kept, None


def c4_datatrove(record: dict) -> Output:
    marks = (".", "?", "!", '"', "'")
    return {line for line in record["lines"] if c4_line_kept(line, 3, marks)}, None


def keep_all(record: dict) -> Output:
    return set(record["lines"]), None


def tamis_system(steps: list[Step]) -> Callable[[dict], Output]:
    def run(record: dict) -> Output:
        doc = Document(record["id"], "\n".join(record["lines"]))
        for step in steps:
            step(doc)
        title_cut = next((edit.start for edit in doc.edits
                          if edit.rule == "clean.title_injection"), None)
        return set(doc.text.split("\n")), title_cut
    return run


def clean_preset_steps(body_options: dict | None = None) -> list[Step]:
    steps = [step for step in load_config(preset="clean").build_steps()
             if not isinstance(step, GlobalStep)]
    if body_options:
        steps = [build_step("clean_body", body_options) if step.name == "clean_body" else step
                 for step in steps]
    return steps


# -- scoring ----------------------------------------------------------------------------------


def line_outcomes(record: dict, output: Output) -> list[tuple[int, bool]]:
    """(label, kept) for every scored line of a record."""
    kept_lines, _ = output
    outcomes = []
    suffix_start = record.get("title_suffix_start")
    for index, (line, label) in enumerate(zip(record["lines"], record["labels"], strict=True)):
        if label is None:
            continue
        kept = line in kept_lines
        if index == 0 and suffix_start is not None:
            kept = kept or line[:suffix_start] in kept_lines
        outcomes.append((label, kept))
    return outcomes


def scores(outcomes: list[tuple[int, bool]]) -> dict[str, float]:
    junk_cut = sum(1 for label, kept in outcomes if label == 0 and not kept)
    content_cut = sum(1 for label, kept in outcomes if label == 1 and not kept)
    junk = sum(1 for label, _ in outcomes if label == 0)
    content = len(outcomes) - junk
    precision = junk_cut / (junk_cut + content_cut) if junk_cut + content_cut else 0.0
    recall = junk_cut / junk if junk else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "content_recall": (content - content_cut) / content if content else 0.0,
            "lines": len(outcomes)}


def title_scores(records: list[dict], outputs: list[Output]) -> dict[str, float]:
    hits = predicted = truth = 0
    for record, (_, cut) in zip(records, outputs, strict=True):
        expected = record["title_suffix_start"]
        predicted += cut is not None
        truth += expected is not None
        hits += cut is not None and cut == expected
    return {"precision": hits / predicted if predicted else 0.0,
            "recall": hits / truth if truth else 0.0, "cuts": predicted, "suffixes": truth}


def report(name: str, records: list[dict], outputs: list[Output]) -> dict[str, dict]:
    by_source: dict[str, list] = defaultdict(list)
    everything = []
    for record, output in zip(records, outputs, strict=True):
        outcomes = line_outcomes(record, output)
        by_source[source_of(record)].extend(outcomes)
        everything.extend(outcomes)
    table = {"all": scores(everything)}
    table.update({source: scores(items) for source, items in sorted(by_source.items())})
    return table


def print_table(title: str, results: dict[str, dict[str, dict]]) -> None:
    print(f"\n{title}")
    print(f"{'system':<16} {'part':<22} {'lines':>6} {'P':>6} {'R':>6} {'F1':>6} {'content':>8}")
    for system, table in results.items():
        for part, row in table.items():
            print(f"{system:<16} {part:<22} {row['lines']:>6} {row['precision']:>6.3f} "
                  f"{row['recall']:>6.3f} {row['f1']:>6.3f} {row['content_recall']:>8.3f}")


# -- cost -------------------------------------------------------------------------------------


def timed(records: list[dict], rows: dict[str, list[Step]], repeat: int) -> dict[str, float]:
    """Median seconds per row of steps over every record, the rows interleaved run by run.

    One untimed pass first: the split memoises the tokens of each distinct chunk per process,
    so the first configuration to run would otherwise pay for everyone. Interleaving keeps a
    change in the machine's load from falling on one row only.
    """
    texts = ["\n".join(record["lines"]) for record in records]
    runs: dict[str, list[float]] = defaultdict(list)
    for attempt in range(repeat + 1):
        for name, steps in rows.items():
            docs = [Document(str(i), text) for i, text in enumerate(texts)]
            start = time.perf_counter()
            for doc in docs:
                for step in steps:
                    step(doc)
            if attempt:
                runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in runs.items()}


def cost(records: list[dict], repeat: int) -> None:
    megabytes = sum(len("\n".join(r["lines"]).encode("utf-8")) for r in records) / 1e6
    normalize = [build_step("normalize", None)]
    cleaners = [step for step in clean_preset_steps() if step.name.startswith(("clean_", "rep"))]
    filters = [build_step(name, None) for name in FILTER_CHAIN]
    rows = timed(records, {
        "normalize": normalize,
        "cleaners": normalize + cleaners,
        "filter chain": normalize + filters,
        "cleaners + filter chain": normalize + cleaners + filters,
    }, repeat)
    c4_lines = timed_function(records, c4_tfds, repeat)
    print(f"\ncost on {len(records)} documents, {megabytes:.1f} MB, one core, "
          f"median of {repeat} runs (each row includes normalisation):")
    for name, seconds in rows.items():
        print(f"  {name:<26} {seconds:7.2f} s  {len(records) / seconds:8.0f} docs/s  "
              f"{megabytes / seconds:6.2f} MB/s")
    print(f"  {'C4 line rules (TFDS)':<26} {c4_lines:7.2f} s  "
          f"{len(records) / c4_lines:8.0f} docs/s  {megabytes / c4_lines:6.2f} MB/s")
    added = rows["cleaners + filter chain"] - rows["filter chain"]
    alone = rows["cleaners"] - rows["normalize"]
    chain = rows["filter chain"] - rows["normalize"]
    print(f"  cleaners alone: {alone:.2f} s = {alone / chain:.0%} of the filter chain's "
          f"{chain:.2f} s; added to the chain: {added:+.2f} s = {added / chain:+.0%} "
          "(goal: at most +30%)")


def timed_function(records: list[dict], system: Callable[[dict], Output], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for record in records:
            system(record)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


# -- cross-validation grouped by page ---------------------------------------------------------


def cross_validate(data: dict[str, list[dict]], folds: int = 5) -> None:
    """Choose the tuned options on 4/5 of the pages, score the rest; pool the held-out scores."""
    settings = [dict(zip(TUNED, values, strict=True))
                for values in itertools.product(*TUNED.values())]
    pages = sorted({page_of(record) for records in data.values() for record in records})
    fold_of = {page: index % folds for index, page in enumerate(pages)}
    # outcomes[setting][set][fold] -> list of (label, kept)
    outcomes: list[dict[str, dict[int, list]]] = []
    for setting in settings:
        run = tamis_system(clean_preset_steps(setting))
        per_set: dict[str, dict[int, list]] = {}
        for name, records in data.items():
            per_fold: dict[int, list] = defaultdict(list)
            for record in records:
                per_fold[fold_of[page_of(record)]].extend(line_outcomes(record, run(record)))
            per_set[name] = per_fold
        outcomes.append(per_set)

    def objective(index: int, chosen_folds: list[int]) -> tuple[bool, float]:
        # As the goals read: the best mean junk F1 among settings that keep at least 90% of the
        # content lines of both sets (if none does, the best mean of F1 and content recall).
        tables = [scores([o for fold in chosen_folds for o in outcomes[index][name][fold]])
                  for name in data]
        floor = all(table["content_recall"] >= 0.9 for table in tables)
        if floor:
            return True, statistics.mean(table["f1"] for table in tables)
        return False, statistics.mean(v for t in tables for v in (t["f1"], t["content_recall"]))

    held_out: dict[str, list] = defaultdict(list)
    print(f"\ncross-validation grouped by page ({len(pages)} pages, {folds} folds, "
          f"{len(settings)} settings of {', '.join(TUNED)}):")
    for fold in range(folds):
        train = [other for other in range(folds) if other != fold]
        best = max(range(len(settings)), key=lambda index: objective(index, train))
        print(f"  fold {fold}: chosen {settings[best]}")
        for name in data:
            held_out[name].extend(outcomes[best][name][fold])
    for name in data:
        table = scores(held_out[name])
        print(f"  {name:<11} held-out: P {table['precision']:.3f} R {table['recall']:.3f} "
              f"F1 {table['f1']:.3f} content recall {table['content_recall']:.3f}")


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--cv", action="store_true", help="also cross-validate the tuned options")
    parser.add_argument("--cost-only", action="store_true", help="only time the steps")
    args = parser.parse_args()
    if not DEV.exists():
        sys.exit(f"evaluation data not found at {DEV}")
    data = {name: load(name) for name in SETS}
    systems: dict[str, Callable[[dict], Output]] = {
        "keep all": keep_all,
        "C4 (TFDS)": c4_tfds,
        "C4 (datatrove)": c4_datatrove,
        "tamis clean": tamis_system(clean_preset_steps()),
    }
    for name, records in ({} if args.cost_only else data).items():
        outputs = {system: [run(record) for record in records] for system, run in systems.items()}
        print_table(f"{name}: {len(records)} documents (junk = positive class)",
                    {system: report(name, records, out) for system, out in outputs.items()})
        if name == "seedlike":
            title = title_scores(records, outputs["tamis clean"])
            print(f"\ntitle suffix cut on seedlike: precision {title['precision']:.3f}, recall "
                  f"{title['recall']:.3f} ({title['cuts']} cuts, {title['suffixes']} suffixes)")
    cost([record for records in data.values() for record in records], args.repeat)
    if args.cv:
        cross_validate(data)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
