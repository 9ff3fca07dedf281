"""The output schema (issue 17): one declared schema per run, read as it is by the tools people
train from. A mixed run (two JSONL files with different fields, Dolma's nested metadata, real
Common Crawl WARCs and a folder of .txt files) is loaded with Hugging Face `datasets` (also
streaming), Polars and DuckDB, from kept/ and removed/, in JSON lines and in Parquet."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import DATA, SEED, need_shared, read_output

import tamis
from tamis.io.schema import read_schema
from tamis.io.warc import read_warc

WARCS = ("raw/cc-raw-samples/resiliparse/CC-MAIN-2020-34-excerpt.warc.gz",
         "raw/cc-raw-samples/whirlwind/whirlwind.warc.gz")


def mixed_inputs(folder: Path) -> list[str]:
    """A .txt folder first (no URLs at all in the first parts), then JSONL and WARC."""
    with gzip.open(need_shared(DATA / "derived/dev/linelabels.jsonl.gz"), "rt") as lines:
        pages = [json.loads(line) for line, _ in zip(lines, range(40), strict=False)]
    txt = folder / "txt"
    txt.mkdir(parents=True)
    for number, page in enumerate(pages[:5]):
        (txt / f"page{number}.txt").write_text("\n".join(page["lines"]), "utf-8")
    shutil.copy(need_shared(SEED / "000_27e23ccad5cb0e77.txt"), txt)
    with open(folder / "pages.jsonl", "w", encoding="utf-8") as out:
        for page in pages[5:]:
            out.write(json.dumps({"id": page["id"], "text": "\n".join(page["lines"]),
                                  "url": page["url"], "lang": page["lang"]}) + "\n")
    with gzip.open(DATA / "derived/dev/neardup.jsonl.gz", "rt") as lines:
        near = [line for line, _ in zip(lines, range(60), strict=False)]
    (folder / "near.jsonl").write_text("".join(near), "utf-8")
    return [str(txt), str(folder / "near.jsonl"), str(folder / "pages.jsonl"),
            str(DATA / "raw/cc-raw-samples/dolma-ccnet/cc_en_head-0091.jsonl.gz"),
            *(str(need_shared(DATA / path)) for path in WARCS)]


def warc_urls(paths: tuple[str, ...] = WARCS) -> set[str]:
    urls = set()
    for path in paths:
        with open(DATA / path, "rb") as stream:
            urls.update(item.metadata["url"] for item in read_warc(stream, file=path)
                        if getattr(item, "metadata", None))
    return urls


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mixed")
    inputs = mixed_inputs(folder / "in")
    outs = {}
    for fmt in ("jsonl", "parquet"):
        config = tamis.load_config(overrides={"output": {"format": fmt}})
        outs[fmt] = folder / f"out-{fmt}"
        tamis.run(inputs, outs[fmt], config=config, workers=2)
    return outs


def parts(out: Path, kind: str) -> list[str]:
    return sorted(str(path) for path in (out / kind).glob("part-*"))


def declared(out: Path, kind: str) -> Any:
    return read_schema(json.loads((out / "schema.json").read_text()), kind)


def test_schema_is_declared_and_every_part_has_it(runs: dict[str, Path]) -> None:
    out = runs["parquet"]
    described = json.loads((out / "schema.json").read_text())
    assert {"language_score", "gopher_word_count", "invalid_utf8_bytes"} <= set(
        described["signals"])
    for kind in ("kept", "removed"):
        schema = declared(out, kind)
        assert len(parts(out, kind)) > 1
        for path in parts(out, kind):
            assert pq.read_schema(path).remove_metadata() == schema
    # JSON lines: the same keys, in the same order, on every line of every part.
    for kind in ("kept", "removed"):
        names = declared(runs["jsonl"], kind).names
        signals = described["signals"]
        for record in read_output(runs["jsonl"], kind):
            assert list(record) == names
            assert list(record["signals"]) == signals
            assert list(record["source"]) == ["file", "offset", "line"]
            assert isinstance(record["metadata"], str)


def test_urls_are_in_one_place(runs: dict[str, Path]) -> None:
    records = read_output(runs["jsonl"], "kept") + read_output(runs["jsonl"], "removed")
    by_id = {record["id"]: record for record in records}
    assert by_id["000_27e23ccad5cb0e77.txt"]["url"] == ""
    dolma = next(record for record in records if record["source"]["file"].startswith("cc_en"))
    assert dolma["url"].startswith("http") and "url" not in json.loads(dolma["metadata"])[
        "metadata"]
    assert warc_urls() <= {record["url"] for record in records}
    warc = next(record for record in records if record["source"]["file"].endswith(".warc.gz"))
    assert warc["source"]["offset"] >= 0 and warc["source"]["line"] == -1


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_datasets_polars_and_duckdb_read_the_output_as_it_is(runs: dict[str, Path],
                                                             fmt: str) -> None:
    datasets = pytest.importorskip("datasets")
    import duckdb
    import polars as pl

    out = runs[fmt]
    builder = "json" if fmt == "jsonl" else "parquet"
    expected_urls = warc_urls()
    for kind in ("kept", "removed"):
        files = parts(out, kind)
        records = read_output(out, kind)
        names = declared(out, kind).names
        urls = {record["url"] for record in records} & expected_urls
        # removed/ as JSON lines: a signal can be null in a whole part (no removed document
        # there reached its step), and JSON has no typed null; readers that guess types from
        # the first part then need the declared schema (docs/output.md).
        typed = fmt == "parquet" or kind == "kept"
        features = (None if typed else
                    datasets.Features.from_arrow_schema(declared(out, kind)))
        loaded = datasets.load_dataset(builder, data_files=files, split="train",
                                       features=features)
        assert loaded.column_names == names and len(loaded) == len(records)
        assert {url for url in loaded["url"]} & expected_urls == urls
        stream = datasets.load_dataset(builder, data_files=files, split="train", streaming=True,
                                       features=features)
        assert {row["url"] for row in stream} & expected_urls == urls
        if fmt == "jsonl":
            schema = None if typed else pl.from_arrow(declared(out, kind).empty_table()).schema
            frame = pl.read_ndjson(files, schema=schema)
        else:
            frame = pl.scan_parquet(files).collect()
        assert frame.columns == names and frame.height == len(records)
        assert set(frame["url"].to_list()) & expected_urls == urls
        reader = "read_json_auto" if fmt == "jsonl" else "read_parquet"
        table = duckdb.sql(f"select * from {reader}({files!r})").fetch_arrow_table()
        assert table.column_names == names and table.num_rows == len(records)
        assert set(table.column("url").to_pylist()) & expected_urls == urls
    assert expected_urls <= {record["url"] for kind in ("kept", "removed")
                             for record in read_output(out, kind)}


def test_lean_output_and_other_compressions(tmp_path: Path) -> None:
    import polars as pl

    with gzip.open(DATA / "derived/dev/neardup.jsonl.gz", "rt") as lines:
        (tmp_path / "near.jsonl").write_text(
            "".join(line for line, _ in zip(lines, range(40), strict=False)), "utf-8")
    inputs = [str(need_shared(DATA / WARCS[0])), str(tmp_path / "near.jsonl")]
    outs = {}
    for compression, workers in (("gzip", 1), ("none", 1), ("gzip", 2)):
        config = tamis.load_config(overrides={
            "pipeline": ["normalize", "drop_empty", "dedup_exact"],
            "output": {"compression": compression, "fields": ["id", "text", "url"]}})
        out = tmp_path / f"{compression}-{workers}"
        result = tamis.run(inputs, out, config=config, workers=workers)
        outs[compression, workers] = out
        extension = {"gzip": ".jsonl.gz", "none": ".jsonl"}[compression]
        kept = parts(out, "kept")
        assert kept and all(path.endswith(extension) for path in kept)
        frame = pl.read_ndjson(kept)  # gzip and plain JSON lines: no zstd decoder needed
        assert frame.columns == ["id", "text", "url"] and frame.height == result.counts["kept"]
        assert warc_urls(WARCS[:1]) <= set(frame["url"].to_list())
        removed = pl.read_ndjson(parts(out, "removed"))
        assert "removed_by" in removed.columns and "edits" in removed.columns
    # The same bytes whatever the workers (gzip without a name or a timestamp).
    first, second = (parts(outs["gzip", workers], "kept") for workers in (1, 2))
    assert [Path(path).read_bytes() for path in first] == [
        Path(path).read_bytes() for path in second]


@pytest.mark.parametrize("preset", ["default", "clean", "fineweb", "gopher", "c4",
                                    "c4-datatrove"])
def test_every_preset_s_steps_declare_the_signals_they_make(preset: str) -> None:
    """A step that makes an undeclared signal would stop a run: every bundled step is run on
    real pages and its signals checked against the declaration."""
    from tamis.io.schema import schema_for
    from tamis.step import GlobalStep

    steps = [step for step in tamis.load_config(preset).build_steps()
             if not isinstance(step, GlobalStep) and step.name != "extract"]
    schema = schema_for(steps)
    with gzip.open(need_shared(DATA / "derived/dev/linelabels.jsonl.gz"), "rt") as lines:
        pages = [json.loads(line) for line, _ in zip(lines, range(20), strict=False)]
    for page in pages:
        doc = tamis.Document(page["id"], "\n".join(page["lines"]))
        for step in steps:
            before = set(doc.signals)
            step(doc)
            assert set(doc.signals) - before <= set(step.signals), step.name
            if not doc.kept:
                break
        schema.signal_row(doc)  # raises on an undeclared signal
