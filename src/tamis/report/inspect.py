"""`tamis inspect OUT --id ID` and `tamis clean FILE --explain`: one document, every cut shown.

The output records carry each edit's `original` text and input offsets, so the input can be
rebuilt and drawn with each removed span struck through and labelled with the rule that cut
it, followed by the document's signals, its verdict and its duplicate cluster. The same view
is drawn in the terminal with rich, or written as a self-contained HTML page.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import zstandard
from rich.console import Console
from rich.text import Text

from tamis.document import Edit, rebuild_input
from tamis.report.aggregate import marked_segments
from tamis.report.charts import number
from tamis.report.html import STYLE, segments_html, signals_table

KINDS = ("kept", "removed", "errors")


@dataclass(frozen=True)
class Found:
    """A record found in a run's output, and which folder it was in."""

    kind: str
    record: dict[str, Any]
    path: Path


def find_record(out: str | Path, doc_id: str) -> Found | None:
    """The first record with this id in kept/, removed/ or errors/ (a scan over the parts).

    A JSON line is parsed only when it contains the id as JSON would write it, so the scan
    costs about as much as decompressing the parts.
    """
    root = Path(out)
    needle = orjson.dumps(doc_id)
    for kind in KINDS:
        for path in sorted((root / kind).glob("part-*")):
            if path.name.endswith(".parquet"):
                table = pq.read_table(path, filters=[("id", "=", doc_id)])
                if table.num_rows:
                    return Found(kind, _from_parquet(table.to_pylist()[0]), path)
                continue
            for line in _lines(path):
                if needle in line:
                    record = orjson.loads(line)
                    if record.get("id") == doc_id:
                        return Found(kind, normalised(record), path)
    return None


def _lines(path: Path) -> Iterator[bytes]:
    """The lines of a JSON lines part, whichever `output.compression` wrote it."""
    with open(path, "rb") as raw:
        if path.name.endswith(".zst"):
            stream: Any = zstandard.ZstdDecompressor().stream_reader(raw)
        elif path.name.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw)
        else:
            stream = raw
        buffer = b""
        while chunk := stream.read(1 << 20):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            yield from lines
        if buffer:
            yield buffer


def _from_parquet(row: dict[str, Any]) -> dict[str, Any]:
    return normalised(row)


def normalised(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the views use it, from whichever writer: metadata parsed back from its JSON
    string, and the nulls of the declared schema (signals a step never computed, fields an
    edit or a source does not have) left out."""
    row = dict(record)
    if isinstance(row.get("metadata"), str):
        row["metadata"] = json.loads(row["metadata"])
    if isinstance(row.get("signals"), list):  # Parquet written before the declared schema
        row["signals"] = dict(row["signals"])
    if isinstance(row.get("signals"), dict):
        row["signals"] = {name: value for name, value in row["signals"].items()
                          if value is not None}
    if isinstance(row.get("source"), dict):
        row["source"] = {key: value for key, value in row["source"].items() if value is not None}
    row["edits"] = [{key: value for key, value in edit.items() if value is not None}
                    for edit in row.get("edits") or []]
    return {key: value for key, value in row.items() if value is not None}


def facts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The URL, date and language of a record, where it has them."""
    metadata = record.get("metadata") or {}
    found = []
    url = record.get("url") or metadata.get("url")
    if url:
        found.append(("url", str(url)))
    for key in ("date", "language"):
        if metadata.get(key):
            found.append((key, str(metadata[key])))
    return found


def segments_of(record: dict[str, Any]) -> list[dict[str, str]]:
    """The record's input text as plain and cut pieces (the input rebuilt from its edits)."""
    edits = [Edit.from_dict(item) for item in record.get("edits") or []]
    return marked_segments(rebuild_input(record.get("text") or "", edits), edits)


def verdict_of(kind: str, record: dict[str, Any]) -> str:
    if kind == "errors":
        return f"error: {record.get('error', '')}"
    removal = record.get("removed_by")
    if not removal:
        return "kept"
    return f"removed by {removal['step']} ({removal['rule']}): {removal.get('detail', '')}"


def print_record(kind: str, record: dict[str, Any], console: Console) -> None:
    """The document with struck-through cuts, then its edits, signals, verdict and cluster."""
    console.print(Text.assemble((str(record.get("id", "?")), "bold"),
                                f"  ({kind}, {_where(record)})"))
    for label, value in facts(record):
        console.print(Text.assemble((label, "bold"), f": {value}"))
    if kind == "errors":
        console.print(Text(record.get("raw", "")))
        console.print(Text.assemble(("verdict", "bold"), f": {verdict_of(kind, record)}"))
        return
    text = Text()
    for segment in segments_of(record):
        if "cut" not in segment:
            text.append(segment["text"])
            continue
        text.append(f"[{segment['rule']}]", style="bold white on red")
        text.append(segment["cut"], style="strike red")
        if segment.get("replacement"):
            text.append(segment["replacement"], style="bold green")
    console.print(text)
    console.rule()
    edits = record.get("edits") or []
    console.print(Text(f"edits ({len(edits)})", style="bold"))
    for edit in edits:
        replaced = f" -> {edit['replacement']!r}" if edit.get("replacement") else ""
        console.print(Text.assemble("  ", (edit["rule"], "cyan"),
                                    f" [{edit['start']}:{edit['end']}] {edit.get('detail', '')}"
                                    f"{replaced}"))
    signals = record.get("signals") or {}
    if signals:
        console.print(Text("signals", style="bold"))
        for name, value in signals.items():
            shown = value if isinstance(value, str) else f"{value:g}"
            console.print(Text(f"  {name} = {shown}"))
    console.print(Text.assemble(("verdict", "bold"), f": {verdict_of(kind, record)}"))
    if record.get("duplicate_of"):
        console.print(Text.assemble(("cluster", "bold"), f": {record.get('cluster')} "
                                    f"(duplicate of {record['duplicate_of']})"))


def record_html(kind: str, record: dict[str, Any]) -> str:
    """The same view as `print_record`, as a self-contained page."""
    doc_id = escape(str(record.get("id", "?")))
    if kind == "errors":
        body = f'<div class=doc>{escape(record.get("raw", ""))}</div>'
    else:
        rows = "".join(f'<tr><td>{escape(edit["rule"])}</td><td class=n>{edit["start"]:,}</td>'
                       f'<td class=n>{edit["end"]:,}</td><td>{escape(edit.get("detail", ""))}'
                       f"</td></tr>" for edit in record.get("edits") or [])
        body = (f"<div class=doc>{segments_html(segments_of(record))}</div>"
                f"<h2>Edits</h2><table><tr><th>rule</th><th class=n>start</th>"
                f"<th class=n>end</th><th>detail</th></tr>{rows}</table>"
                f"<h2>Signals</h2>{signals_table(record.get('signals') or {})}")
    cluster = (f"<p><b>cluster</b>: <code>{escape(str(record.get('cluster')))}</code> "
               f"(duplicate of <code>{escape(record['duplicate_of'])}</code>)</p>"
               if record.get("duplicate_of") else "")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{doc_id}'
            f"</title><style>{STYLE}</style></head><body><h1><code>{doc_id}</code></h1>"
            f"<p class=muted>{escape(kind)}, {escape(_where(record))}</p>"
            + "".join(f"<p><b>{escape(label)}</b>: {escape(value)}</p>"
                      for label, value in facts(record)) +
            f"<p><b>verdict</b>: {escape(verdict_of(kind, record))}</p>{cluster}{body}"
            f"</body></html>")


def _where(record: dict[str, Any]) -> str:
    source = record.get("source") or {}
    place = next((f"{key} {number(source[key])}" for key in ("line", "offset") if key in source),
                 "")
    return " ".join(part for part in (str(source.get("file", "")), place) if part)
