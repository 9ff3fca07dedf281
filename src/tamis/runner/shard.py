"""The work of one shard in one pass: the function every executor runs.

Pass 0 reads the shard's input; later passes read the state the previous pass left, apply the
decisions of the global step between them (deduplication), and go on with the next steps. The
last pass writes `kept/`, `removed/` and `errors/`; earlier ones write state for the next pass.
The shard's completion marker is written last, after every file is in place.
"""

from __future__ import annotations

import io
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from tamis.config import Config
from tamis.document import Document
from tamis.io.inputs import Shard
from tamis.io.readers import Decompressed, read_shard
from tamis.io.records import RawRecord, ReadError, Skipped
from tamis.io.schema import OutputSchema, error_row, schema_for
from tamis.io.writers import JsonlWriter, open_writer, write_parquet_atomic
from tamis.report.aggregate import ReportAggregate
from tamis.runner import progress
from tamis.runner.layout import Layout
from tamis.runner.passes import make_document, run_steps, split_into_segments
from tamis.step import Decision, GlobalStep, Step

SAMPLE_SEED = 17  # fixed: `--sample` picks the same records in every run

@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to do one shard of one pass (picklable)."""

    root: str
    config: Config
    shard: Shard
    pass_index: int
    limit: int | None = None


@dataclass
class EditTotals:
    """What one rule's edits took out of a shard's kept and removed documents."""

    count: int = 0
    chars: int = 0  # code points, net of replacements
    bytes: int = 0  # UTF-8 bytes, net of replacements


@dataclass
class ShardStats:
    """What happened in one shard: the counts that must add up, and where time went."""

    read: int = 0
    kept: int = 0
    removed: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    removed_by: Counter[str] = field(default_factory=Counter)
    edits: defaultdict[str, EditTotals] = field(default_factory=lambda: defaultdict(EditTotals))
    seconds: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_kept: int = 0
    report: ReportAggregate = field(default_factory=ReportAggregate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read, "kept": self.kept, "removed": self.removed, "errors": self.errors,
            "skipped": dict(sorted(self.skipped.items())),
            "removed_by": dict(sorted(self.removed_by.items())),
            "edits": {rule: asdict(totals) for rule, totals in sorted(self.edits.items())},
            "seconds": {step: round(value, 4) for step, value in self.seconds.items()},
            "bytes_in": self.bytes_in, "bytes_kept": self.bytes_kept,
            "report": self.report.to_dict(),
        }


_pipelines: dict[str, tuple[list[Step], OutputSchema]] = {}


def steps_for(config: Config) -> list[Step]:
    """Build the pipeline once per worker process and config."""
    return _pipeline(config)[0]


def output_schema(config: Config) -> OutputSchema:
    """The run's record schema, declared from its steps (the same in every worker)."""
    return _pipeline(config)[1]


def _pipeline(config: Config) -> tuple[list[Step], OutputSchema]:
    key = config.fingerprint()
    if key not in _pipelines:
        steps = config.build_steps()
        _pipelines[key] = (steps, schema_for(steps, config.output.fields))
    return _pipelines[key]


def run_shard(task: ShardTask) -> dict[str, Any]:
    """Process one shard for one pass and write its marker. Returns the marker's content."""
    layout = Layout.for_output(task.root)
    steps = steps_for(task.config)
    segments = split_into_segments(steps)
    segment = segments[task.pass_index]
    final = task.pass_index == len(segments) - 1
    shard = task.shard.index
    stats = ShardStats()
    started = time.perf_counter()

    if final:
        output = task.config.output
        schema = output_schema(task.config)
        writers = {kind: open_writer(layout.root, kind, shard, output.format, schema.arrow(kind),
                                     output.compression_level, output.compression)
                   for kind in ("kept", "removed", "errors")}
    else:
        schema = None
        writers = {"state": JsonlWriter(layout.state_file(task.pass_index, shard), 1)}
    keys: list[dict[str, Any]] = []
    ids: list[tuple[int, str]] = []
    decisions = _load_decisions(layout, task.pass_index - 1, shard) if task.pass_index else {}
    # A later global step may remove the keeper an earlier one named: follow those chains.
    global_steps = sum(len(earlier.ends_with.members) for earlier in segments[:task.pass_index]
                       if earlier.ends_with is not None)
    redirects = (_load_redirects(layout, task.pass_index, shard) if final and global_steps > 1
                 else {})
    reporter = progress.Reporter()
    # Steps that keep something out of everything written (PII), whichever way a record ends.
    redactors = [step for step in steps if hasattr(step, "redact_output")] if final else []

    try:
        for index, item in enumerate(_items(task, layout)):
            if isinstance(item, Skipped):
                stats.skipped[item.kind] += 1
                continue
            stats.read += 1
            if isinstance(item, RawRecord):
                stats.bytes_in += item.size or len(
                    item.html or (item.text or "").encode("utf-8", "replace"))
                item = make_document(item, steps, stats.seconds)
            if isinstance(item, Document):
                if task.pass_index == 0:
                    ids.append((index, item.id))
                decision = decisions.get(index)
                if decision is not None:
                    _apply_decision(item, decision, segments[task.pass_index - 1].ends_with)
                if item.kept and segment.steps:
                    item = run_steps(item, segment.steps, stats.seconds, task.config.limits)
            if isinstance(item, Document) and item.kept and segment.ends_with is not None:
                collected = segment.ends_with.collect(item)
                if collected is not None:
                    keys.append({"index": index, "id": item.id, **collected})
            if redirects and isinstance(item, Document) and item.duplicate_of in redirects:
                item.duplicate_of = _final_keeper(item.duplicate_of, redirects)
            for redactor in redactors:
                if isinstance(item, ReadError):
                    item.raw = redactor.redact_text(item.raw)
                else:
                    redactor.redact_output(item)
            _write(item, writers, schema, stats)
            reporter.tick(item)
        checksums = {}
        for writer in writers.values():
            writer.close()
            if not final and writer.count:
                checksums[str(writer.path.relative_to(layout.root))] = layout.checksum(
                    writer.path)
            layout.publish(writer.path)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    reporter.flush()
    if segment.ends_with is not None and keys:
        keys_file = layout.keys_file(task.pass_index, shard)
        write_parquet_atomic(keys_file, _keys_table(keys))
        checksums[str(keys_file.relative_to(layout.root))] = layout.checksum(keys_file)
        layout.publish(keys_file)
    if ids:
        _write_ids(layout.ids_file(shard), ids)
        layout.publish(layout.ids_file(shard))
    stats.seconds["total"] += time.perf_counter() - started
    marker = {"shard": shard, "pass": task.pass_index, **stats.to_dict(), "files": checksums}
    layout.write_json(layout.marker(task.pass_index, shard), marker)
    return marker


def _keys_table(keys: list[dict[str, Any]]) -> pa.Table:
    """The shard's keys as a table with every column any row has (a row may lack some: a fused
    step's member that collected nothing from that document), missing values null."""
    names = dict.fromkeys(name for row in keys for name in row)
    return pa.table({name: [row.get(name) for row in keys] for name in names})


# What a shard's pass reads, in input order: pass 0 the reader's raw records (or what could not
# be read, or what is not a document); later passes the documents and error records the pass
# before it left.
ShardItem = RawRecord | Document | ReadError | Skipped


def _items(task: ShardTask, layout: Layout) -> Iterator[ShardItem]:
    if task.pass_index == 0:
        items: Iterator[ShardItem] = read_shard(task.shard, task.config.input)
        if task.config.input.sample is not None:
            items = _sampled(items, task.config.input.sample)
        if task.limit is not None:
            items = _first_records(items, task.limit)
        yield from items
        return
    path = layout.state_file(task.pass_index - 1, task.shard.index)
    if not layout.fetch(path):  # the previous pass had no record for this shard
        return
    with open(path, "rb") as raw:
        # Line by line through a buffered reader: a huge record costs its size, not its
        # size squared (re-splitting a growing buffer).
        for line in io.BufferedReader(Decompressed(raw, "zstd"), 1024 * 1024):
            yield _from_state(orjson.loads(line))


def _sampled(items: Iterator[ShardItem], fraction: float) -> Iterator[ShardItem]:
    """The records whose id hashes below `fraction` of the 64-bit range; the others become
    `Skipped("sampled_out")`. A hash of the id, not a position, so the same records are kept
    whatever the shards, workers or input order. Errors are kept: they have no reliable id."""
    bound = int(fraction * 2**64)
    for item in items:
        if isinstance(item, RawRecord) and xxhash.xxh3_64_intdigest(
                item.id.encode("utf-8", "surrogatepass"), seed=SAMPLE_SEED) >= bound:
            yield Skipped("sampled_out")
        else:
            yield item


def _first_records(items: Iterator[ShardItem], limit: int) -> Iterator[ShardItem]:
    count = 0
    for item in items:
        if count >= limit:
            return
        yield item
        if not isinstance(item, Skipped):
            count += 1


def _from_state(state: dict[str, Any]) -> Document | ReadError:
    if "error" in state:
        error = state["error"]
        return ReadError(error["source"], error["error"], error.get("raw", ""), error.get("id"),
                         error.get("url"))
    return Document.from_state(state["doc"])


def _apply_decision(doc: Document, decision: Decision, step: GlobalStep | None) -> None:
    if step is None:  # cannot happen after pass 0: every earlier pass ends with a global step
        raise RuntimeError(f"a decision about {doc.id} but no global step made it")
    step.apply(doc, decision)


def _write(item: Document | ReadError, writers: dict[str, Any], schema: OutputSchema | None,
           stats: ShardStats) -> None:
    """Write an item: as state for the next pass, or (`schema` given) as its final record."""
    if schema is None:
        record = ({"error": item.to_record()} if isinstance(item, ReadError)
                  else {"doc": item.to_state()})
        writers["state"].write(record)
        return
    if isinstance(item, ReadError):
        stats.errors += 1
        stats.report.add_error(item)
        writers["errors"].write(error_row(item))
        return
    cut_bytes = 0
    for edit in item.edits:
        totals = stats.edits[edit.rule]
        totals.count += 1
        totals.chars += len(edit.original) - len(edit.replacement)
        cut = _utf8_size(edit.original) - _utf8_size(edit.replacement)
        totals.bytes += cut
        cut_bytes += cut
    if item.kept:
        stats.kept += 1
        size = _utf8_size(item.text)
        stats.bytes_kept += size
        stats.report.add(item, input_bytes=size + cut_bytes)
        writers["kept"].write(schema.row(item))
    else:
        assert item.removed_by is not None
        stats.report.add(item)
        stats.removed += 1
        stats.removed_by[f"{item.removed_by.step}/{item.removed_by.rule}"] += 1
        writers["removed"].write(schema.row(item))


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _write_ids(path: Path, ids: list[tuple[int, str]]) -> None:
    """Each document's id and its 64-bit hash, for the end-of-run duplicate-id check."""
    names = [doc_id for _, doc_id in ids]
    table = pa.table({
        "index": pa.array([index for index, _ in ids], pa.int64()),
        "id": pa.array(names, pa.string()),
        "hash": pa.array([xxhash.xxh3_64_intdigest(name.encode("utf-8", "surrogatepass"))
                          for name in names], pa.uint64()),
    })
    write_parquet_atomic(path, table)


def _load_redirects(layout: Layout, passes: int, shard: int) -> dict[str, str]:
    """Removed id -> the id it duplicates, for the chains this shard's duplicates start.

    When a later step removes the document an earlier duplicate pointed to, the earlier
    duplicate must point to the survivor instead: `duplicate_of` always names a kept document.
    Only the links reachable from this shard's own decisions are loaded, hop by hop, so memory
    follows the shard's duplicates, not the corpus's.
    """
    paths = [path for path in (layout.decisions_file(index) for index in range(passes))
             if layout.fetch(path)]
    wanted: set[str] = set()
    for path in paths:
        table = pq.read_table(path, columns=["duplicate_of"], filters=[("shard", "=", shard)])
        wanted.update(value for value in table.column("duplicate_of").to_pylist() if value)
    redirects: dict[str, str] = {}
    while wanted:
        found: dict[str, str] = {}
        for path in paths:
            table = pq.read_table(path, columns=["id", "duplicate_of"],
                                  filters=[("id", "in", sorted(wanted))])
            for removed, kept in zip(table.column("id").to_pylist(),
                                     table.column("duplicate_of").to_pylist(), strict=True):
                if removed is not None and kept is not None:
                    found[removed] = kept
        redirects.update(found)
        wanted = {kept for kept in found.values() if kept not in redirects}
    return redirects


def _final_keeper(doc_id: str, redirects: dict[str, str]) -> str:
    seen = {doc_id}
    while doc_id in redirects and redirects[doc_id] not in seen:
        doc_id = redirects[doc_id]
        seen.add(doc_id)
    return doc_id


def _load_decisions(layout: Layout, pass_index: int, shard: int) -> dict[int, Decision]:
    path = layout.decisions_file(pass_index)
    if not layout.fetch(path):
        return {}
    table = pq.read_table(path, filters=[("shard", "=", shard)])
    decisions = {}
    for row in table.to_pylist():
        row.pop("shard")
        index = row.pop("index")
        row["lines"] = tuple(row.get("lines") or ())
        decisions[index] = Decision(**row)
    return decisions
