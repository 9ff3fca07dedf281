"""Span cleaning: no harm to clean text, line-level quality on the labelled dev sets, and its cost.

**No harm** (`--no-harm`, the first table): every development page with clean gold text (the
scrapinghub-aeb `articleBody` with the page's headline as its first line; the real
readability-testpages pages' `expected.html` as text, resiliparse as `linelabels` made it, with
the gold title first), as published and hard-wrapped at 60, 72 and 80 columns (`textwrap.wrap`
per paragraph: the shape of plain-text pages, mailing lists, RFCs, PDF-to-text), through the
`clean` preset. Everything cut from clean text is a false cut: reported per source and width as
the share of words cut, and the pages losing more than 1% and more than 30% of their words.

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

The labelled sets are also scored re-wrapped (`wrapped@72`): every line but the title
hard-wrapped at 72 columns; an original line counts as kept when most of its words are in pieces
that are lines of the output.

Also scored: the title-suffix cut on `seedlike` (a hit is the exact start offset), and the cost
of the cleaners against the heuristic filter chain (Gopher quality and repetition, C4, FineWeb
quality) on the same documents: docs/s and MB/s on one core, and the share the cleaners add.

`--cv` reruns tamis with each setting of the tuned options and reports scores under 5-fold
cross-validation grouped by page: the options are chosen on four folds and scored on the fifth,
so no page is scored by options picked while looking at it.

    PYTHONPATH=src python bench/cleaning.py [--repeat 3] [--cv] [--cost-only] [--no-harm-only]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import resource
import statistics
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import regex

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEV = DATA / "derived" / "dev"
RAW = DATA / "raw"
sys.path.insert(0, str(REPO / "src"))

from tamis.config import load_config  # noqa: E402
from tamis.document import Document  # noqa: E402
from tamis.step import GlobalStep, Step, build_step  # noqa: E402

SETS = ("linelabels", "seedlike")
# The options tuned on the dev data, and the values the cross-validation chooses among.
TUNED = {
    "off_topic_share": [0.35, 0.42],
    "strong_share": [0.1, 0.2],
    "max_cut_share": [0.5, 0.7],
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


def rewrapped(record: dict, width: int) -> dict:
    """A labelled record with every line but the title hard-wrapped at `width` columns.

    `pieces[i]` lists the new lines that original line `i` became, so it is scored as one line.
    """
    lines: list[str] = []
    pieces: list[list[int]] = []
    for index, line in enumerate(record["lines"]):
        parts = [line] if index == 0 else (textwrap.wrap(line, width) or [line])
        pieces.append(list(range(len(lines), len(lines) + len(parts))))
        lines.extend(parts)
    return {**record, "lines": lines, "pieces": pieces, "original_lines": record["lines"]}


def page_shape(lines: list[str], labels: list[int | None]) -> str:
    """What the content of a page looks like: mostly `prose`, `lists` (bulleted or numbered
    items), `short lines` (headings, names, table cells), or `cjk` (no spaces between words)."""
    content = [line for line, label in zip(lines, labels, strict=True) if label == 1]
    if not content:
        return "no content"
    if sum(len(line.split()) <= 2 and len(line) > 20 for line in content) > len(content) / 2:
        return "cjk"
    if sum(bool(_LIST_ITEM.match(line)) for line in content) >= 0.25 * len(content):
        return "lists"
    if sum(len(line.split()) < 8 for line in content) >= 0.5 * len(content):
        return "short lines"
    return "prose"


_LIST_ITEM = regex.compile(r"^\s*(?:[\p{Pd}•·*▪►▸◦‣○●■□>»]|\d{1,3}[.)])\s")


# -- no harm: known-clean article text, as published and re-wrapped ---------------------------

WIDTHS = (None, 60, 72, 80)


def clean_articles() -> list[dict]:
    """Every development page with clean gold text: {id, source, text}, headline first."""
    seedlike = {record["page"]: record for record in load("seedlike")}
    linelabels = {record["id"]: record for record in load("linelabels")}
    articles = []
    truth = json.loads((RAW / "scrapinghub-aeb" / "ground-truth.json").read_text("utf-8"))
    for key, gold in sorted(truth.items()):
        page = f"scrapinghub-aeb:{key}"
        if page in seedlike:  # the real headline, as seedlike took it from the gold metadata
            record = seedlike[page]
            headline = record["lines"][0][:record["title_suffix_start"]]
        else:
            headline = linelabels[page]["lines"][0]  # the page's <title>
        articles.append({"id": page, "source": "scrapinghub-aeb",
                         "text": f"{headline}\n{gold['articleBody'].strip()}"})
    from resiliparse.extract.html2text import extract_plain_text

    pages = RAW / "readability-testpages" / "pages"
    for page in sorted(linelabels):  # the real pages, the ones linelabels uses
        if not page.startswith("readability-testpages:"):
            continue
        folder = pages / page.split(":", 1)[1]
        html = (folder / "expected.html").read_text("utf-8")
        title = json.loads((folder / "expected-metadata.json").read_text("utf-8"))["title"]
        body = extract_plain_text(html, main_content=False, alt_texts=False, list_bullets=True)
        articles.append({"id": page, "source": "readability-testpages",
                         "text": f"{(title or '').strip()}\n{body.strip()}"})
    return articles


def wrap_text(text: str, width: int | None) -> str:
    """Hard-wrap every line after the first at `width` columns; blank lines stay."""
    if width is None:
        return text
    title, _, body = text.partition("\n")
    lines = [title]
    for line in body.split("\n"):
        lines.extend(textwrap.wrap(line, width) or [line])
    return "\n".join(lines)


def words_cut(steps: list[Step], text: str) -> tuple[int, int]:
    """(words after normalisation, words cut by the cleaners) for one text."""
    doc = Document("page", text)
    steps[0](doc)  # normalize: the words the cleaners are given
    before = len(doc.text.split())
    for step in steps[1:]:
        step(doc)
    after = len(doc.text.split()) if doc.kept else 0
    return before, before - after


def no_harm(articles: list[dict], steps: list[Step],
            widths: tuple[int | None, ...] = WIDTHS) -> list[dict]:
    """Per source and width: pages, words, share cut, pages losing > 1% and > 30%."""
    rows = []
    sources = sorted({article["source"] for article in articles})
    for width in widths:
        for source in [*sources, "all"]:
            chosen = [a for a in articles if source in ("all", a["source"])]
            counts = [words_cut(steps, wrap_text(a["text"], width)) for a in chosen]
            shares = [cut / total if total else 0.0 for total, cut in counts]
            worst = max(range(len(chosen)), key=lambda index: shares[index])
            rows.append({"width": width or "as published", "source": source,
                         "pages": len(chosen), "words": sum(total for total, _ in counts),
                         "cut": sum(cut for _, cut in counts) / max(1, sum(t for t, _ in counts)),
                         "over_1": sum(share > 0.01 for share in shares),
                         "over_30": sum(share > 0.30 for share in shares),
                         "worst": (chosen[worst]["id"], shares[worst])})
    return rows


def print_no_harm(rows: list[dict]) -> None:
    print("\nno harm: known-clean article text through the clean preset "
          "(goal: <= 0.5% of words cut, no page > 30%)")
    print(f"{'width':<13} {'source':<22} {'pages':>5} {'words':>8} {'cut':>7} {'>1%':>4} "
          f"{'>30%':>5}  worst page")
    for row in rows:
        page, share = row["worst"]
        print(f"{row['width']!s:<13} {row['source']:<22} {row['pages']:>5} {row['words']:>8} "
              f"{row['cut']:>7.2%} {row['over_1']:>4} {row['over_30']:>5}  {share:.0%} {page}")


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
    """(label, kept) for every scored line of a record (of a re-wrapped one: of its original
    lines, each kept when most of its words are in pieces that are lines of the output)."""
    kept_lines, _ = output
    outcomes = []
    suffix_start = record.get("title_suffix_start")
    pieces = record.get("pieces")
    original = record.get("original_lines", record["lines"])
    for index, (line, label) in enumerate(zip(original, record["labels"], strict=True)):
        if label is None:
            continue
        if pieces and index > 0:
            parts = [record["lines"][piece] for piece in pieces[index]]
            words = sum(len(part.split()) for part in parts)
            kept_words = sum(len(part.split()) for part in parts if part in kept_lines)
            kept = kept_words * 2 >= words if words else all(p in kept_lines for p in parts)
        else:
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
    by_part: dict[str, list] = defaultdict(list)
    everything = []
    for record, output in zip(records, outputs, strict=True):
        outcomes = line_outcomes(record, output)
        by_part[source_of(record)].extend(outcomes)
        shape = page_shape(record.get("original_lines", record["lines"]), record["labels"])
        by_part[f"shape: {shape}"].extend(outcomes)
        everything.extend(outcomes)
    table = {"all": scores(everything)}
    table.update({part: scores(items) for part, items in sorted(by_part.items())})
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


def cross_validate(data: dict[str, list[dict]], articles: list[dict], folds: int = 5) -> None:
    """Choose the tuned options on 4/5 of the pages, score the rest; pool the held-out scores.

    The labelled sets are scored as published and re-wrapped at 72 columns, and the clean
    articles (the same pages: a page's article, its linelabels page and its seedlike variants
    fall in one fold) give the words each setting cuts from clean text.
    """
    settings = [dict(zip(TUNED, values, strict=True))
                for values in itertools.product(*TUNED.values())]
    shaped = {f"{name}{suffix}": ([rewrapped(r, 72) for r in records] if suffix else records)
              for name, records in data.items() for suffix in ("", "@72")}
    pages = sorted({page_of(record) for records in data.values() for record in records}
                   | {article["id"] for article in articles})
    fold_of = {page: index % folds for index, page in enumerate(pages)}
    # outcomes[setting][set][fold] -> list of (label, kept); harm[setting][fold] -> (words, cut)
    outcomes: list[dict[str, dict[int, list]]] = []
    harm: list[dict[int, list[int]]] = []
    for setting in settings:
        steps = clean_preset_steps(setting)
        run = tamis_system(steps)
        per_set: dict[str, dict[int, list]] = {}
        for name, records in shaped.items():
            per_fold: dict[int, list] = defaultdict(list)
            for record in records:
                per_fold[fold_of[page_of(record)]].extend(line_outcomes(record, run(record)))
            per_set[name] = per_fold
        outcomes.append(per_set)
        cut_by_fold: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for article in articles:
            for width in (None, 72):
                total, cut = words_cut(steps, wrap_text(article["text"], width))
                cut_by_fold[fold_of[article["id"]]][0] += total
                cut_by_fold[fold_of[article["id"]]][1] += cut
        harm.append(cut_by_fold)

    def objective(index: int, chosen_folds: list[int]) -> tuple[bool, float]:
        # Keep when in doubt, then as the goals read: among settings that cut at most 0.5% of
        # clean words and keep at least 90% of the content lines of every set, the best mean
        # junk F1 (if none does, the fewest clean words cut).
        tables = [scores([o for fold in chosen_folds for o in outcomes[index][name][fold]])
                  for name in shaped]
        total = sum(harm[index][fold][0] for fold in chosen_folds)
        cut = sum(harm[index][fold][1] for fold in chosen_folds) / max(total, 1)
        if cut <= 0.005 and all(table["content_recall"] >= 0.9 for table in tables):
            return True, statistics.mean(table["f1"] for table in tables)
        return False, -cut

    held_out: dict[str, list] = defaultdict(list)
    held_harm = [0, 0]
    print(f"\ncross-validation grouped by page ({len(pages)} pages, {folds} folds, "
          f"{len(settings)} settings of {', '.join(TUNED)}):")
    for fold in range(folds):
        train = [other for other in range(folds) if other != fold]
        best = max(range(len(settings)), key=lambda index: objective(index, train))
        print(f"  fold {fold}: chosen {settings[best]}")
        for name in shaped:
            held_out[name].extend(outcomes[best][name][fold])
        held_harm[0] += harm[best][fold][0]
        held_harm[1] += harm[best][fold][1]
    for name in shaped:
        table = scores(held_out[name])
        print(f"  {name:<14} held-out: P {table['precision']:.3f} R {table['recall']:.3f} "
              f"F1 {table['f1']:.3f} content recall {table['content_recall']:.3f}")
    print(f"  clean articles (published and @72) held-out: "
          f"{held_harm[1] / max(held_harm[0], 1):.2%} of words cut")


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--cv", action="store_true", help="also cross-validate the tuned options")
    parser.add_argument("--cost-only", action="store_true", help="only time the steps")
    parser.add_argument("--no-harm-only", action="store_true",
                        help="only the no-harm table (clean text, published and re-wrapped)")
    args = parser.parse_args()
    if not DEV.exists():
        sys.exit(f"evaluation data not found at {DEV}")
    if not args.cost_only:
        print_no_harm(no_harm(clean_articles(), clean_preset_steps()))
    if args.no_harm_only:
        return
    data = {name: load(name) for name in SETS}
    systems: dict[str, Callable[[dict], Output]] = {
        "keep all": keep_all,
        "C4 (TFDS)": c4_tfds,
        "C4 (datatrove)": c4_datatrove,
        "tamis clean": tamis_system(clean_preset_steps()),
    }
    for name, records in ({} if args.cost_only else data).items():
        for variant, shaped in (("", records), ("wrapped@72", [rewrapped(r, 72) for r in records])):
            label = f"{name} {variant}".strip()
            outputs = {system: [run(record) for record in shaped]
                       for system, run in systems.items()}
            print_table(f"{label}: {len(shaped)} documents (junk = positive class)",
                        {system: report(name, shaped, out) for system, out in outputs.items()})
            if name == "seedlike":
                title = title_scores(shaped, outputs["tamis clean"])
                print(f"\ntitle suffix cut on {label}: precision {title['precision']:.3f}, "
                      f"recall {title['recall']:.3f} ({title['cuts']} cuts, "
                      f"{title['suffixes']} suffixes)")
    cost([record for records in data.values() for record in records], args.repeat)
    if args.cv:
        cross_validate(data, clean_articles())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
