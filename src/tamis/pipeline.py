"""Steps, the registry that names them, and the pipeline built from a config.

A step is one small class with one job. Per-document steps (`Step`) see one document at a time
and may edit its text, add signals, or remove it with a reason. Global steps (`GlobalStep`) need
the whole corpus (deduplication): the runner splits the pipeline at each global step into passes.

Steps register themselves by name with `@register`; the config refers to them by that name and
validates their options with the step's pydantic `Options` model, so a misspelt option fails
before any work starts.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from tamis.document import Document
from tamis.io.records import RawRecord

# Modules whose import registers steps. Adding a module with steps means adding it here.
STEP_MODULES = (
    "tamis.text",
    "tamis.filters",
    "tamis.clean",
    "tamis.dedup",
    "tamis.extract",
)


class StepOptions(BaseModel):
    """Base for step options: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Step:
    """A per-document step. Subclasses set `name` and `Options` and implement `__call__`."""

    name: ClassVar[str]
    Options: ClassVar[type[StepOptions]] = StepOptions
    # The names of the signals the step may put in `doc.signals` (floats). The run declares its
    # output schema from them before the first document (`tamis.io.schema`); a step whose
    # names depend on its options sets `self.signals` in `__init__`.
    signals: tuple[str, ...] = ()

    def __init__(self, options: StepOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def __call__(self, doc: Document) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Decision:
    """What a global step decided about one document: remove it (as a duplicate of another),
    or, when `lines` is set, cut those lines (by index in the text the step collected from)."""

    rule: str
    detail: str = ""
    duplicate_of: str | None = None
    cluster: str | None = None
    id: str | None = None  # the removed document's id, so later passes can follow chains
    lines: tuple[int, ...] = ()
    step: str | None = None  # which of fused global steps decided (see `FusedSteps`)


# The decisions a global step hands to the next pass, one row per removed document.
DECISIONS_SCHEMA = pa.schema([("shard", pa.int64()), ("index", pa.int64()),
                              ("rule", pa.string()), ("detail", pa.string()),
                              ("duplicate_of", pa.string()), ("cluster", pa.string()),
                              ("id", pa.string())])

# What `resolve` returns: per shard index, the decisions by record index (fine for small
# corpora), or Arrow tables with DECISIONS_SCHEMA in (shard, index) order, written as they come
# (so a corpus-sized list of decisions is never held in memory).
Decisions = Mapping[int, Mapping[int, Decision]] | Iterable[pa.Table]

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


class GlobalStep(Step):
    """A step that needs the whole corpus before it can judge one document.

    The runner calls `collect` on every kept document in the pass before the step and writes
    what it returns per shard; then `resolve` once over all shards' keys; then, in the next pass,
    removes the documents that `resolve` named.
    """

    # Bytes `resolve` may hold (beyond the interpreter and libraries). The config's
    # `limits.memory_mb` sets it on every global step it builds; this default is for a step
    # made directly in Python.
    memory_budget: int = 1024 * 1024**2
    # Cores `resolve` may keep busy (a step may group its work in threads); None: all of this
    # machine's, as in the local executor, whose workers are idle meanwhile. The Ray executor
    # sets it to the CPUs its resolve task reserves.
    cpus: int | None = None
    # Whether `apply` only ever removes whole documents. A step that edits text instead
    # (dedup_lines) changes what a following global step would collect, so none is fused
    # after it (`FusedSteps`).
    removes_only: ClassVar[bool] = True

    @property
    def members(self) -> list[GlobalStep]:
        """The global steps this one stands for: itself (several for `FusedSteps`)."""
        return [self]

    def __call__(self, doc: Document) -> None:  # global steps do not run per document
        raise TypeError(f"{self.name} is a global step; the runner calls collect/resolve")

    def collect(self, doc: Document) -> dict[str, Any] | None:
        """Per-document data this step needs later (a hash, a signature), or None to skip."""
        raise NotImplementedError

    def resolve(self, key_files: list[Path], work_dir: Path) -> Decisions:
        """Read every shard's keys and return the decisions (see `Decisions`).

        `key_files[i]` holds shard i's keys (Parquet with columns `index`, `id` and what
        `collect` returned), or does not exist when the shard had no kept documents. `work_dir`
        is this pass's work folder, for scratch files.
        """
        raise NotImplementedError

    def apply(self, doc: Document, decision: Decision) -> None:
        """Carry out a decision in the next pass: by default, remove the duplicate."""
        doc.remove(self.name, decision.rule, decision.detail)
        doc.duplicate_of = decision.duplicate_of
        doc.cluster = decision.cluster


_REGISTRY: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step available to configs under `cls.name`."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two steps are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type[Step]]:
    """All known steps by name."""
    for module in STEP_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def build_step(name: str, options: dict[str, Any] | None) -> Step:
    """Create a step from its config entry. The config has validated name and options."""
    cls = registry()[name]
    return cls(cls.Options(**(options or {})))


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
