"""One document at a time: what `tamis clean` and `tamis.clean` do.

The same steps as a run of the chosen preset (default `clean`), applied in memory to one document
through the same per-document loop as a run's shards (`run_steps`: the limits, the time limit,
a failing step), so what you see here is what a run would write. Global steps (deduplication)
need a corpus and are left out.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tamis.config import Config, load_config
from tamis.document import Document
from tamis.io.inputs import discover, plan_shards
from tamis.io.readers import read_shard
from tamis.io.records import ReadError, Skipped
from tamis.runner.passes import make_document, run_steps
from tamis.step import GlobalStep, Step


class CleanError(ValueError):
    """The document could not be cleaned: the file holds no readable document, or a step
    failed on it (what a run would write as an error record)."""


def _per_document_steps(config: Config) -> list[Step]:
    return [step for step in config.build_steps() if not isinstance(step, GlobalStep)]


def clean(text: str, *, preset: str = "clean", config: Config | None = None,
          id: str = "document") -> Document:
    """Run the preset's per-document steps on `text`; the result carries edits and signals."""
    config = config or load_config(preset)
    return _apply(Document(id, text), _per_document_steps(config), config)


def clean_file(path: str | Path, *, preset: str = "clean",
               config: Config | None = None) -> Document:
    """Read the first document of a `.txt`, `.html`, JSONL or Parquet file and clean it."""
    config = config or load_config(preset)
    files, _ = discover([str(path)], config.input)
    shard = plan_shards(files, config.input)[0]
    steps = _per_document_steps(config)
    for item in read_shard(shard, config.input):
        if isinstance(item, Skipped):
            continue
        if isinstance(item, ReadError):
            raise CleanError(f"{path}: {item.error}")
        doc = make_document(item, steps, Counter())
        if isinstance(doc, ReadError):
            raise CleanError(f"{path}: {doc.error}")
        return _apply(doc, steps, config)
    raise CleanError(f"{path} holds no document")


def _apply(doc: Document, steps: list[Step], config: Config) -> Document:
    result = run_steps(doc, steps, Counter(), config.limits)
    if isinstance(result, ReadError):
        raise CleanError(f"{doc.id}: {result.error}")
    return result
