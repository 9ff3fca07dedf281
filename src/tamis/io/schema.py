"""The output schema of a run: declared before the first document, the same in every part.

A run knows its steps, and every step declares the signals it makes (`Step.signals`), so the
columns of `kept/`, `removed/` and `errors/` are known before anything is read. Every record is
built against that declaration: the same keys in the same order in every JSON line, the same
Arrow schema in every Parquet part, null where a value does not apply. That is what lets
Hugging Face `datasets`, Polars and DuckDB read a run's output as it is (issue 17: each input
format used to give its own record shape, and readers that take the shape of the first part
lost or refused the rest).

Choices (docs/output.md says the same for users):
- `metadata` is a JSON string. Input fields differ from file to file and are only known once
  read, so no struct declared before the first document could hold them all; a string is one
  type in every part, and nothing the input carried is dropped.
- `url` is a top-level column: the WARC target URI, or a JSONL/Parquet `url` field (or Dolma's
  `metadata.url`). It leaves `metadata` when it moves up, so it is in one place only.
- No column whose type a reader must guess is null in a whole part: readers that infer JSON
  types from the first part they open (`datasets` reads the first 10 MB, Polars the first file)
  then refuse the parts where the value appears. So "none" has a typed value where a
  neutral one exists: `url` is "" for a document without one, `source.offset` and
  `source.line` are -1 where the input format has no such position (a WARC record has an
  offset, a JSONL record a line and an offset), `duplicate_of` and `cluster` are "" for a
  document removed for another reason, and `invalid_utf8_bytes` is 0 when every byte decoded.
- `signals` is a struct with one float field per declared signal, null where a document left
  the pipeline before the step that makes it (a number would lie).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from tamis.document import Document, Edit
from tamis.io.records import ReadError
from tamis.io.writers import json_default

# Signals the readers make themselves, before any step (invalid UTF-8 bytes replaced).
READER_SIGNALS = ("invalid_utf8_bytes",)

SOURCE = pa.struct([("file", pa.string()), ("offset", pa.int64()), ("line", pa.int64())])
EDIT = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("rule", pa.string()),
                  ("detail", pa.string()), ("replacement", pa.string()),
                  ("original", pa.string()), ("withheld", pa.bool_())])
REMOVAL = pa.struct([("step", pa.string()), ("rule", pa.string()), ("detail", pa.string())])

# Columns a lean output (`output.fields`) may choose from, in the order they are written.
DOCUMENT_COLUMNS = ("id", "text", "url", "metadata", "source", "signals", "edits")
REMOVED_COLUMNS = ("removed_by", "duplicate_of", "cluster")
ERROR_COLUMNS = ("id", "source", "error", "raw")
KINDS = ("kept", "removed", "errors")


class UndeclaredSignal(RuntimeError):
    """A step made a signal it did not declare in `signals`: a bug in that step."""


@dataclass(frozen=True)
class OutputSchema:
    """The columns of one run's records, and how a document becomes a row of them."""

    signals: tuple[str, ...]
    # The columns of kept/ (a lean training output chooses fewer); removed/ always has all.
    kept_columns: tuple[str, ...] = DOCUMENT_COLUMNS

    def columns(self, kind: str) -> tuple[str, ...]:
        if kind == "kept":
            return self.kept_columns
        if kind == "removed":
            return (*DOCUMENT_COLUMNS, *REMOVED_COLUMNS)
        if kind == "errors":
            return ERROR_COLUMNS
        raise ValueError(f"no records of kind {kind!r}; expected one of {', '.join(KINDS)}")

    def arrow(self, kind: str) -> pa.Schema:
        """The Arrow schema of one kind of record: what Parquet parts hold, and JSON lines too."""
        types = {
            "id": pa.string(), "text": pa.string(), "url": pa.string(),
            "metadata": pa.string(), "source": SOURCE,
            "signals": pa.struct([(name, pa.float64()) for name in self.signals]),
            "edits": pa.list_(EDIT), "removed_by": REMOVAL, "duplicate_of": pa.string(),
            "cluster": pa.string(), "error": pa.string(), "raw": pa.string(),
        }
        return pa.schema([(name, types[name]) for name in self.columns(kind)])

    def row(self, doc: Document) -> dict[str, Any]:
        """The record of a final document (kept or removed), every declared column present."""
        kind = "kept" if doc.kept else "removed"
        columns = self.columns(kind)
        metadata = doc.metadata
        url, metadata = split_url(metadata)
        full: dict[str, Any] = {}
        for name in columns:
            if name == "id":
                full["id"] = doc.id
            elif name == "text":
                full["text"] = doc.text
            elif name == "url":
                full["url"] = url
            elif name == "metadata":
                full["metadata"] = dumps_metadata(metadata)
            elif name == "source":
                full["source"] = source_row(doc.source)
            elif name == "signals":
                full["signals"] = self.signal_row(doc)
            elif name == "edits":
                full["edits"] = [edit_row(edit) for edit in doc.edits]
            elif name == "removed_by":
                full["removed_by"] = doc.removed_by.to_dict() if doc.removed_by else None
            elif name == "duplicate_of":
                full["duplicate_of"] = doc.duplicate_of or ""
            elif name == "cluster":
                full["cluster"] = doc.cluster or ""
        return full

    def signal_row(self, doc: Document) -> dict[str, float | None]:
        values = doc.signals
        undeclared = [name for name in values if name not in self._declared]
        if undeclared:
            raise UndeclaredSignal(
                f"document {doc.id!r} has signal(s) {', '.join(sorted(undeclared))} that no step "
                f"of this run declares; a step lists the signals it makes in its `signals` "
                f"attribute, so that the output schema is known before the first document")
        row = {name: _number(values.get(name)) for name in self.signals}
        row["invalid_utf8_bytes"] = row["invalid_utf8_bytes"] or 0.0  # every record is decoded
        return row

    @property
    def _declared(self) -> frozenset[str]:
        cached = self.__dict__.get("_declared_set")
        if cached is None:
            cached = frozenset(self.signals)
            object.__setattr__(self, "_declared_set", cached)
        return cached

    def describe(self) -> dict[str, Any]:
        """`OUT/schema.json`: each kind's columns with their Arrow types, and the signals."""
        return {
            "version": 1,
            "signals": list(self.signals),
            "kinds": {kind: [_describe_field(field) for field in self.arrow(kind)]
                      for kind in KINDS},
        }


def schema_for(steps: Iterable[Any], kept_fields: Sequence[str] | None = None) -> OutputSchema:
    """The schema a pipeline's records have: the readers' signals, then each step's, in order."""
    names: dict[str, None] = dict.fromkeys(READER_SIGNALS)
    for step in steps:
        for member in getattr(step, "members", [step]):
            names.update(dict.fromkeys(getattr(member, "signals", ())))
    kept = DOCUMENT_COLUMNS
    if kept_fields:
        kept = tuple(name for name in DOCUMENT_COLUMNS if name in set(kept_fields))
    return OutputSchema(tuple(names), kept)


def error_row(error: ReadError) -> dict[str, Any]:
    """The record of a read error (or a document a step failed on)."""
    return {"id": error.id, "source": source_row(error.source), "error": error.error,
            "raw": error.raw}


def source_row(source: dict[str, Any]) -> dict[str, Any]:
    """Where a record came from: -1 for a position the input format does not have."""
    offset, line = source.get("offset"), source.get("line")
    return {"file": source.get("file") or "", "offset": -1 if offset is None else offset,
            "line": -1 if line is None else line}


def split_url(metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The document's URL ("" if none) and the metadata without it.

    The URL is a `url` field (WARC target URI, a JSONL/Parquet field) or, as Dolma writes it,
    a `url` inside a `metadata` field; it is moved, not copied.
    """
    url = metadata.get("url")
    if isinstance(url, str) and url:
        return url, {key: value for key, value in metadata.items() if key != "url"}
    nested = metadata.get("metadata")
    if isinstance(nested, dict) and isinstance(nested.get("url"), str) and nested["url"]:
        inner = {key: value for key, value in nested.items() if key != "url"}
        return nested["url"], {**metadata, "metadata": inner}
    return "", metadata


def edit_row(edit: Edit) -> dict[str, Any]:
    """An edit with every field present: `original` is null where it was withheld (PII)."""
    return {"start": edit.start, "end": edit.end, "rule": edit.rule, "detail": edit.detail,
            "replacement": edit.replacement, "original": None if edit.withheld else edit.shown,
            "withheld": edit.withheld}


def dumps_metadata(metadata: dict[str, Any]) -> str:
    """Input fields as one JSON string (keys sorted, so the same input writes the same bytes)."""
    return orjson.dumps(metadata, default=json_default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS).decode()


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return float(value)
    raise UndeclaredSignal(f"signal value {value!r} is not a number")


def _describe_field(field: pa.Field) -> dict[str, Any]:
    described: dict[str, Any] = {"name": field.name, "type": str(field.type)}
    if pa.types.is_struct(field.type):
        described["fields"] = [_describe_field(field.type.field(index))
                               for index in range(field.type.num_fields)]
    elif pa.types.is_list(field.type):
        described["items"] = _describe_field(field.type.value_field)
    return described


def read_schema(described: dict[str, Any], kind: str) -> pa.Schema:
    """The Arrow schema of one kind back from `schema.json` (for readers that want it)."""
    return pa.schema([(item["name"], _type_of(item)) for item in described["kinds"][kind]])


def _type_of(item: dict[str, Any]) -> pa.DataType:
    if "fields" in item:
        return pa.struct([(field["name"], _type_of(field)) for field in item["fields"]])
    if "items" in item:
        return pa.list_(_type_of(item["items"]))
    return pa.type_for_alias(item["type"])
