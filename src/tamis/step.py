"""The contracts every step and reader implements, and the registry that names them.

This module is the ground floor every step, reader and the runner stand on; it knows only the
document.
A step is one small class with one job. Per-document steps (`Step`) see one document at a time
and may edit its text, add signals, or remove it with a reason. Global steps (`GlobalStep`) need
the whole corpus (deduplication): the runner splits the pipeline at each global step into passes.

Steps register themselves by name with `@register`; the config refers to them by that name and
validates their options with the step's pydantic `Options` model, so a misspelt option fails
before any work starts. A reader (`Reader`) turns one input format into raw records; it is
registered the same way, and the input options name it by `name`. Public as `tamis.Step`,
`tamis.StepOptions`, `tamis.GlobalStep`, `tamis.Reader`, `tamis.register` (docs/extending.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from tamis.document import Document

if TYPE_CHECKING:  # the reader contract names types of the floors above, never imports them
    from tamis.config import InputOptions
    from tamis.io.inputs import InputFile
    from tamis.io.records import RawRecord, ReadError, Skipped

# The modules of tamis whose import registers its own steps.
STEP_MODULES = (
    "tamis.text",
    "tamis.filters",
    "tamis.clean",
    "tamis.dedup",
    "tamis.extract",
)
# The modules of tamis whose import registers its own readers.
READER_MODULES = ("tamis.io.readers",)
# Installed packages name here the modules whose import registers their steps and readers.
ENTRY_POINT_GROUP = "tamis.plugins"


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


class Reader:
    """Reads one input format: turns one file (or one byte range of it) into raw records.

    A reader never raises for bad input: a malformed record becomes a `ReadError` with the file
    and the line or offset, and reading goes on where it can. Discovery picks the reader of a
    file by its leading bytes (`magic`), else by the end of its name (`extensions`, after any
    .gz/.zst/.zstd), else by `input.format`. Decompression (gzip, zstd) is the opener's job
    (`tamis.io.readers.open_stream`), not the reader's.
    """

    name: ClassVar[str]
    # Name endings that mean this format, lower case, without the compression suffix.
    extensions: ClassVar[tuple[str, ...]] = ()
    # Leading bytes that mean this format whatever the file is called (b"PAR1" for Parquet).
    magic: ClassVar[tuple[bytes, ...]] = ()
    # One record per file (.txt, .html pages): small files are grouped into shards.
    one_record_per_file: ClassVar[bool] = False
    # Whether a shard cut at a byte offset needs the number of newlines before it (to keep
    # line numbers exact); counting them costs one read of the file while planning.
    counts_lines: ClassVar[bool] = False

    def splittable(self, compression: str | None) -> bool:
        """Whether a file, compressed this way (None: not at all), can be cut into byte ranges
        that `read` starts in the middle of (at the first record that begins in the range)."""
        return False

    def read(self, file: InputFile, options: InputOptions, start: int = 0,
             end: int | None = None, lines_before: int = 0
             ) -> Iterator[RawRecord | ReadError | Skipped]:
        """The records of `file`, or of its byte range `[start, end)` when it is splittable
        (`lines_before`: the newlines before `start`, when `counts_lines`)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Step]] = {}
_READERS: dict[str, type[Reader]] = {}
_Class = TypeVar("_Class", bound=type)


def register(cls: _Class) -> _Class:
    """Class decorator: make a step (or a reader) available to configs under `cls.name`.

    Two classes of one name are an error, unless they are the same class defined again (a
    notebook cell run twice): the newer one replaces the older.
    """
    if not (isinstance(cls, type) and issubclass(cls, Step | Reader)):
        raise TypeError(f"register takes a Step or Reader subclass, not {cls!r}")
    if not isinstance(getattr(cls, "name", None), str):
        raise TypeError(f"{cls.__qualname__} needs a class attribute `name` (a string)")
    known: dict[str, Any] = _READERS if issubclass(cls, Reader) else _REGISTRY
    earlier = known.get(cls.name)
    if earlier is not None and _origin(earlier) != _origin(cls):
        kind = "readers" if issubclass(cls, Reader) else "steps"
        raise ValueError(f"two {kind} are named {cls.name!r}: {_origin(earlier)} and "
                         f"{_origin(cls)}")
    known[cls.name] = cls
    return cls


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registry() -> dict[str, type[Step]]:
    """All known steps by name: tamis's own, installed plugins' and those registered since."""
    for module in STEP_MODULES:
        importlib.import_module(module)
    _load_installed()
    return dict(_REGISTRY)


def readers() -> dict[str, type[Reader]]:
    """All known readers by format name, as `registry` knows steps."""
    for module in READER_MODULES:
        importlib.import_module(module)
    _load_installed()
    return dict(_READERS)


_installed: set[str] = set()


@cache
def installed_plugins() -> tuple[metadata.EntryPoint, ...]:
    """The entry points of the `tamis.plugins` group, read once per process (reading every
    installed package's metadata takes a tenth of a second)."""
    return tuple(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _load_installed() -> None:
    """Import the modules installed packages declare in the `tamis.plugins` entry-point group
    (once per process each). A broken one stops here with its name, not later as an unknown
    step."""
    for entry in installed_plugins():
        key = f"{entry.name}={entry.value}"
        if key in _installed:
            continue
        _installed.add(key)
        try:
            entry.load()
        except Exception as error:
            package = entry.dist.name if entry.dist is not None else "an installed package"
            raise ImportError(f"the tamis plugin {entry.name!r} of {package} ({entry.value}) "
                              f"failed to load: {type(error).__name__}: {error}; fix or "
                              f"uninstall that package") from error


def build_step(name: str, options: dict[str, Any] | None) -> Step:
    """Create a step from its config entry. The config has validated name and options."""
    cls = registry()[name]
    return cls(cls.Options(**(options or {})))
