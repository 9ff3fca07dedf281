"""The pass machinery: how a pipeline of steps becomes passes over the shards.

A pipeline is cut at each global step into segments, one pass each (adjacent global steps share
one, `FusedSteps`); a global step's decisions travel to the next pass as a Parquet file
(`decision_tables`, `resolve_step`); `document_from` turns a raw record into the document the
steps see.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tamis.document import Document
from tamis.io.records import RawRecord
from tamis.io.writers import temp_path
from tamis.runner.layout import Layout
from tamis.step import DECISIONS_SCHEMA, Decision, Decisions, GlobalStep, Step, registry

# The decisions file the runner writes: DECISIONS_SCHEMA, the lines a line-cutting step cuts,
# and the fused step that decided.
_LINES = pa.field("lines", pa.list_(pa.int64()))
_STEP = pa.field("step", pa.string())
DECISIONS_FILE_SCHEMA = DECISIONS_SCHEMA.append(_LINES).append(_STEP)


def decision_tables(decisions: Decisions) -> Iterator[pa.Table]:
    """A step's decisions, in whichever form it returned them, as DECISIONS_FILE_SCHEMA tables."""
    if isinstance(decisions, Mapping):
        rows = [{"shard": shard, "index": index, "rule": decision.rule,
                 "detail": decision.detail, "duplicate_of": decision.duplicate_of,
                 "cluster": decision.cluster, "id": decision.id, "lines": list(decision.lines),
                 "step": decision.step}
                for shard, by_index in sorted(decisions.items())
                for index, decision in sorted(by_index.items())]
        yield pa.Table.from_pylist(rows, schema=DECISIONS_FILE_SCHEMA)
        return
    for table in decisions:
        for field in (_LINES, _STEP):
            if field.name not in table.column_names:
                table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
        yield table.select(DECISIONS_FILE_SCHEMA.names).cast(DECISIONS_FILE_SCHEMA)


class FusedSteps(GlobalStep):
    """Global steps with no per-document step between them, collected in one pass.

    `dedup_exact` then `dedup_near` would otherwise cost a pass of their own each: every
    document read back, and written again, only to be hashed. Fused, the pass before them
    collects every member's keys (its columns prefixed with its position) from the same
    documents, and the next pass applies all their decisions. At resolve time the members run
    in order, and each sees only the documents the members before it kept (its keys minus
    their removals), so every decision is the one it would have made a pass later: the output
    is the same as unfused (a test compares them). Only a step that removes whole documents
    can be followed: one that edits text ends a fusion.
    """

    name = "fused"

    def __init__(self, members: list[GlobalStep]) -> None:
        super().__init__()
        self._members = members
        self.name = " + ".join(member.name for member in members)

    @property
    def members(self) -> list[GlobalStep]:
        return list(self._members)

    @property
    def removes_only(self) -> bool:  # type: ignore[override]
        return self._members[-1].removes_only

    def collect(self, doc: Document) -> dict[str, Any] | None:
        row: dict[str, Any] = {}
        for number, member in enumerate(self._members):
            collected = member.collect(doc)
            if collected is not None:
                row[f"{number}:"] = True  # this member collected from the document
                row.update({f"{number}:{name}": value for name, value in collected.items()})
        return row or None

    def resolve(self, key_files: list[Path], work_dir: Path) -> Iterator[pa.Table]:
        decided: list[Path] = []
        for number, member in enumerate(self._members):
            folder = work_dir / f"fused-{number}"
            shutil.rmtree(folder, ignore_errors=True)
            keys = [_member_keys(number, path, folder / "keys" / path.name, shard, decided)
                    for shard, path in enumerate(key_files)]
            decisions = folder / "decisions.parquet"
            folder.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(decisions, DECISIONS_FILE_SCHEMA) as writer:
                for table in decision_tables(member.resolve(keys, folder)):
                    step = pa.array([member.name] * table.num_rows, pa.string())
                    writer.write_table(table.set_column(table.schema.get_field_index("step"),
                                                        _STEP, step))
            decided.append(decisions)
        for path in decided:
            for batch in pq.ParquetFile(path).iter_batches():
                yield pa.Table.from_batches([batch])
        for number in range(len(self._members)):
            shutil.rmtree(work_dir / f"fused-{number}", ignore_errors=True)

    def apply(self, doc: Document, decision: Decision) -> None:
        for member in self._members:
            if member.name == decision.step:
                member.apply(doc, decision)
                return
        raise RuntimeError(f"a decision about {doc.id} from {decision.step!r}, which is not "
                           f"one of {self.name}")


def _member_keys(number: int, path: Path, target: Path, shard: int,
                 decided: list[Path]) -> Path:
    """One member's keys of one shard, as its own key file: the rows it collected, without
    the documents the members before it removed, under its own column names."""
    if not path.exists():
        return target
    prefix = f"{number}:"
    names = [name for name in pq.read_schema(path).names if name.startswith(prefix)]
    if prefix not in names:  # the member collected nothing in this shard
        return target
    table = pq.read_table(path, columns=["index", "id", *names])
    table = table.filter(pc.is_valid(table.column(prefix)))
    for earlier in decided:
        removed = pq.read_table(earlier, columns=["index"], filters=[("shard", "=", shard)])
        table = table.filter(pc.invert(pc.is_in(table.column("index"),
                                                value_set=removed.column("index"))))
    if table.num_rows:
        table = table.drop_columns([prefix])
        table = table.rename_columns([name.removeprefix(prefix) for name in table.column_names])
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)
    return target


def resolve_step(step: GlobalStep, layout: Layout, pass_index: int,
                 shard_count: int) -> tuple[int, str]:
    """Fetch every shard's keys, let the global step decide, and write (and publish) its
    decisions file. Returns the number of documents removed and the file's checksum. Any
    executor runs this, on whichever machine: only the count and the checksum travel back."""
    key_files = [layout.keys_file(pass_index, shard) for shard in range(shard_count)]
    for path in key_files:
        layout.fetch(path)
    path = layout.decisions_file(pass_index)
    removed = _write_decisions(path, step.resolve(key_files, layout.work(pass_index)))
    digest = layout.checksum(path)
    layout.publish(path)
    return removed, digest


def _write_decisions(path: Path, decisions: Decisions) -> int:
    """Write the decisions file (atomically) as the decisions come; returns how many documents
    it removes (a decision that cuts lines removes none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    removed = 0
    with pq.ParquetWriter(temp, DECISIONS_FILE_SCHEMA) as writer:
        for table in decision_tables(decisions):
            writer.write_table(table, row_group_size=1 << 16)
            cuts_lines = pc.fill_null(pc.greater(pc.list_value_length(table["lines"]), 0),
                                      False)
            removed += table.num_rows - (pc.sum(cuts_lines).as_py() or 0)
    os.replace(temp, path)
    return removed


@dataclass
class Segment:
    """Per-document steps that run in one pass, then the global step that ends the pass."""

    steps: list[Step]
    ends_with: GlobalStep | None


def split_into_segments(steps: list[Step]) -> list[Segment]:
    """Cut the pipeline at each global step: each cut is one more pass over the shards, except
    that global steps with nothing between them share one (`FusedSteps`)."""
    segments: list[Segment] = []
    current: list[Step] = []
    for step in steps:
        if isinstance(step, GlobalStep):
            previous = segments[-1].ends_with if segments else None
            if not current and previous is not None and _fusable(previous, step):
                segments[-1].ends_with = FusedSteps([*previous.members, step])
                continue
            segments.append(Segment(current, step))
            current = []
        else:
            current.append(step)
    segments.append(Segment(current, None))
    return segments


def _fusable(previous: GlobalStep, step: GlobalStep) -> bool:
    # Fused members are told apart by name in the decisions file.
    return previous.removes_only and step.name not in {m.name for m in previous.members}


def extractor_for(steps: list[Step]) -> Any:
    """The pipeline's `extract` step, or a default one: HTML input always needs an extractor."""
    for step in steps:
        if step.name == "extract":
            return step
    known = registry()
    if "extract" not in known:
        raise RuntimeError("HTML input needs the extract step, which is not installed")
    return known["extract"]()


def document_from(record: RawRecord, steps: list[Step]) -> Document:
    """Make the document a raw record stands for, extracting its HTML first if it has some.

    Extraction failures raise (the runner turns them into error records).
    """
    text = record.text
    if record.html is not None:
        text = extractor_for(steps).extract(record.html, url=record.metadata.get("url"),
                                            charset=record.metadata.get("charset"))
    doc = Document(record.id, text or "", metadata=record.metadata, source=record.source)
    doc.signals.update(record.signals)
    return doc
