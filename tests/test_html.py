"""Standalone HTML files: one record per page, extracted, ids as the contract says."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

from conftest import DATA, assert_conserved, need_shared, read_output, tamis_command
from resiliparse.extract.html2text import extract_plain_text

from tamis.extract import Extract, ExtractOptions
from tamis.io.html import read_html_file

PAGES = DATA / "raw" / "readability-testpages" / "pages"
REAL = ["guardian-1", "lwn-1", "wikipedia", "heise", "rtl-1"]


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def test_an_html_file_is_one_record_with_its_bytes_untouched() -> None:
    data = (need_shared(PAGES) / "heise" / "source.html").read_bytes()
    record = read_html_file(data, id="heise/source.html", file="heise/source.html")
    assert record.id == "heise/source.html"
    assert record.source == {"file": "heise/source.html"}
    assert record.html == data and record.text is None


def test_pages_extract_to_their_expected_text() -> None:
    step = Extract(ExtractOptions(engine="trafilatura"))
    for name in REAL:
        folder = need_shared(PAGES) / name
        record = read_html_file((folder / "source.html").read_bytes(), id=name, file=name)
        assert record.html is not None
        text = step.extract(record.html)
        expected = extract_plain_text((folder / "expected.html").read_text("utf-8"))
        wanted = _words(expected)
        recall = sum((wanted & _words(text)).values()) / sum(wanted.values())
        assert recall > 0.75, (name, recall)  # measured: 0.81 to 1.0 on these five pages


def test_a_run_on_html_files(tmp_path: Path) -> None:
    need_shared(PAGES)
    pages = tmp_path / "pages"
    for name in REAL:  # the folders also hold expected.html and JSON: give the runner pages only
        (pages / name).mkdir(parents=True)
        (pages / name / "source.html").write_bytes((PAGES / name / "source.html").read_bytes())
    config = tmp_path / "run.yaml"  # extraction alone: what later steps cut is not tested here
    config.write_text("pipeline: [extract, drop_empty]\n")
    out = tmp_path / "out"
    result = tamis_command("run", str(pages), "-o", str(out), "--config", str(config),
                           "--workers", "1")
    assert result.returncode == 0, result.stderr
    manifest = assert_conserved(out)
    assert manifest["counts"]["read"] == len(REAL)
    kept = {record["id"]: record for record in read_output(out, "kept")}
    assert set(kept) == {f"{name}/source.html" for name in REAL}
    lwn = kept["lwn-1/source.html"]["text"]
    assert "A trademark battle in the Arduino community" in lwn
    assert "The Arduino has been one of the biggest success stories" in lwn


def test_html_inside_jsonl_is_extracted(tmp_path: Path) -> None:
    aeb = need_shared(DATA / "raw" / "scrapinghub-aeb")
    gold = json.loads((aeb / "ground-truth.json").read_text("utf-8"))
    paths = sorted((aeb / "html").glob("*.html.gz"))[:3]
    rows = [{"id": path.name.removesuffix(".html.gz"),
             "html": gzip.decompress(path.read_bytes()).decode("utf-8")} for path in paths]
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    config = tmp_path / "run.yaml"
    config.write_text("input: {html_field: html}\npipeline: [extract, drop_empty]\n")
    out = tmp_path / "out"
    result = tamis_command("run", str(source), "-o", str(out), "--config", str(config),
                           "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert_conserved(out)
    kept = {record["id"]: record["text"] for record in read_output(out, "kept")}
    assert set(kept) == {row["id"] for row in rows}
    for doc_id, text in kept.items():
        first_words = " ".join(gold[doc_id]["articleBody"].split()[:8])
        assert first_words in " ".join(text.split())
