"""The step contract: what every step implements, and the registry that names steps.

This module is the ground floor every step and the runner stand on; it knows only the document.
A step is one small class with one job. Per-document steps (`Step`) see one document at a time
and may edit its text, add signals, or remove it with a reason. Global steps (`GlobalStep`) need
the whole corpus (deduplication): the runner splits the pipeline at each global step into passes.

Steps register themselves by name with `@register`; the config refers to them by that name and
validates their options with the step's pydantic `Options` model, so a misspelt option fails
before any work starts. Public as `tamis.Step`, `tamis.StepOptions`, `tamis.GlobalStep`,
`tamis.register` (see docs/extending.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from tamis.document import Document

# The modules of tamis whose import registers its own steps.
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
