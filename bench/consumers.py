"""Consumers: a larger mixed run's output loaded as it is by Hugging Face `datasets`, Polars,
DuckDB and pyarrow, from kept/ and removed/, in JSON lines and in Parquet.

Inputs (read from ../shared/data beside the checkout, never copied into the repository):
every development set as JSONL with its own fields (`neardup` with cluster labels, `linelabels`
pages with a `url` and a language, `seedlike` articles), Dolma cc_net JSONL (URL inside a nested
`metadata`), the real Common Crawl WARC files, and a folder of `.txt` pages, listed first so that
the first parts hold no URL at all. For each format, each folder and each consumer the script
reports rows, columns, how many of the WARC documents' URLs came back, and the load time.
`removed/` as JSON lines is also tried as it is in `datasets` and Polars, and then with the
declared schema from `schema.json` (docs/output.md says why it may need it).

    PYTHONPATH=src python bench/consumers.py [--work /tmp/consumers] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
WARCS = ("raw/cc-raw-samples/resiliparse/CC-MAIN-2020-34-excerpt.warc.gz",
         "raw/cc-raw-samples/whirlwind/whirlwind.warc.gz")


def inputs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA / "derived/dev/linelabels.jsonl.gz", "rt") as lines:
        pages = [json.loads(line) for line in lines]
    txt = folder / "txt"
    txt.mkdir(exist_ok=True)
    for number, page in enumerate(pages[:100]):
        (txt / f"page{number:03d}.txt").write_text("\n".join(page["lines"]), "utf-8")
    with open(folder / "linelabels.jsonl", "w", encoding="utf-8") as out:
        for page in pages[100:]:
            out.write(json.dumps({"id": page["id"], "text": "\n".join(page["lines"]),
                                  "url": page["url"], "lang": page["lang"],
                                  "source": page["source"]}) + "\n")
    with gzip.open(DATA / "derived/dev/seedlike.jsonl.gz", "rt") as lines, \
            open(folder / "seedlike.jsonl", "w", encoding="utf-8") as out:
        for line in lines:
            record = json.loads(line)
            out.write(json.dumps({"id": record["id"], "text": "\n".join(record["lines"]),
                                  "lang": record.get("lang"), "parts": record.get("parts")})
                      + "\n")
    return [str(txt), str(folder / "linelabels.jsonl"), str(folder / "seedlike.jsonl"),
            str(DATA / "derived/dev/neardup.jsonl.gz"),
            *(str(path) for path in sorted((DATA / "raw/cc-raw-samples/dolma-ccnet").glob("*"))),
            *(str(DATA / path) for path in WARCS)]


def warc_urls() -> set[str]:
    from tamis.io.warc import read_warc

    urls: set[str] = set()
    for path in WARCS:
        with open(DATA / path, "rb") as stream:
            urls.update(item.metadata["url"] for item in read_warc(stream, file=path)
                        if getattr(item, "metadata", None))
    return urls


def load(consumer: str, fmt: str, files: list[str], schema: Any) -> tuple[int, list[str], list]:
    """(rows, columns, urls) as the consumer reads them; `schema` None means as it is."""
    if consumer == "datasets":
        import datasets

        builder = "json" if fmt == "jsonl" else "parquet"
        features = None if schema is None else datasets.Features.from_arrow_schema(schema)
        table = datasets.load_dataset(builder, data_files=files, split="train",
                                      features=features)
        stream = datasets.load_dataset(builder, data_files=files, split="train",
                                       streaming=True, features=features)
        streamed = sum(1 for _ in stream)
        assert streamed == len(table), (streamed, len(table))
        return len(table), table.column_names, table["url"]
    if consumer == "polars":
        import polars as pl

        if fmt == "jsonl":
            frame = pl.read_ndjson(files, schema=None if schema is None
                                   else pl.from_arrow(schema.empty_table()).schema)
        else:
            frame = pl.scan_parquet(files).collect()
        return frame.height, frame.columns, frame["url"].to_list()
    if consumer == "duckdb":
        import duckdb

        reader = "read_json_auto" if fmt == "jsonl" else "read_parquet"
        table = duckdb.sql(f"select * from {reader}({files!r})").fetch_arrow_table()
        return table.num_rows, table.column_names, table.column("url").to_pylist()
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.json as pajson

    if fmt == "jsonl":  # pyarrow's dataset API does not decompress .zst JSON: one part at a time
        table = pa.concat_tables([pajson.read_json(pa.input_stream(path, compression="zstd"))
                                  for path in files], promote_options="permissive")
    else:
        table = ds.dataset(files, format="parquet").to_table()
    return table.num_rows, table.column_names, table.column("url").to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="/tmp/tamis-consumers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true",
                        help="load the outputs an earlier call left in --work, without a run")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    import tamis
    from tamis.io.schema import read_schema

    work = Path(args.work)
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
    sources = inputs(work / "in")
    expected = warc_urls()
    print("| format | folder | consumer | read as | rows | columns | WARC URLs back | seconds |")
    print("|---|---|---|---|---:|---|---:|---:|")
    for fmt in ("jsonl", "parquet"):
        out = work / f"out-{fmt}"
        started = time.perf_counter()
        result = tamis.run(sources, out, workers=args.workers,
                           config=tamis.load_config(overrides={"output": {"format": fmt}}))
        if not result.resumed:
            print(f"<!-- {fmt} run: {result.counts} in {time.perf_counter() - started:.1f} s -->")
        described = json.loads((out / "schema.json").read_text())
        urls_in_output: set[str] = set()
        for kind in ("kept", "removed"):
            names = read_schema(described, kind).names
            files = sorted(str(path) for path in (out / kind).glob("part-*"))
            for consumer in ("datasets", "polars", "duckdb", "pyarrow"):
                attempts = [("as it is", None)]
                if fmt == "jsonl" and kind == "removed" and consumer in ("datasets", "polars"):
                    attempts.append(("schema.json", read_schema(described, kind)))
                for label, schema in attempts:
                    started = time.perf_counter()
                    try:
                        rows, columns, urls = load(consumer, fmt, files, schema)
                    except Exception as error:  # what a user would meet
                        print(f"| {fmt} | {kind} | {consumer} | {label} | error: "
                              f"{type(error).__name__} | | | |")
                        continue
                    seconds = time.perf_counter() - started
                    back = set(urls) & expected
                    urls_in_output |= back
                    same = "same as declared" if list(columns) == names else f"{columns}"
                    print(f"| {fmt} | {kind} | {consumer} | {label} | {rows:,} | {same} | "
                          f"{len(back)} | {seconds:.2f} |")
        print(f"<!-- {fmt}: {len(urls_in_output)} of {len(expected)} WARC URLs in the output -->")


if __name__ == "__main__":
    main()
