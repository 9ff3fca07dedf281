"""One document at a time: what `tamis clean` and `tamis.clean` do.

The same steps as a run of the chosen preset (default `clean`), applied in memory to one document,
so what you see here is what a run would write. Global steps (deduplication) need a corpus and
are left out.
"""

from __future__ import annotations

from pathlib import Path

from tamis.config import Config, load_config
from tamis.document import Document
from tamis.io.inputs import discover, plan_shards
from tamis.io.readers import read_shard
from tamis.io.records import ReadError, Skipped
from tamis.runner.passes import document_from
from tamis.step import GlobalStep, Step


class CleanError(ValueError):
    """The file given to `tamis clean` holds no readable document."""


def _per_document_steps(config: Config) -> list[Step]:
    return [step for step in config.build_steps() if not isinstance(step, GlobalStep)]


def clean(text: str, *, preset: str = "clean", config: Config | None = None,
          id: str = "document") -> Document:
    """Run the preset's per-document steps on `text`; the result carries edits and signals."""
    config = config or load_config(preset)
    doc = Document(id, text)
    return _apply(doc, _per_document_steps(config))


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
        return _apply(document_from(item, steps), steps)
    raise CleanError(f"{path} holds no document")


def _apply(doc: Document, steps: list[Step]) -> Document:
    for step in steps:
        step(doc)
        if not doc.kept:
            break
    return doc
