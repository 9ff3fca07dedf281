"""The HTML report: aggregates gathered during a run, rendered to one self-contained page.

The end-to-end test runs tamis on the evaluation data (neardup: real pages, real exact
duplicates), writes the report with the CLI, checks its numbers against manifest.json, and
opens it in headless Chromium (console errors fail the test; the screenshot is kept under
test-artifacts/).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import DATA, REPO, need_shared, read_output, tamis_command

from tamis.api import clean
from tamis.document import Change, Document
from tamis.report.aggregate import (
    SAMPLES_PER_REASON,
    ReportAggregate,
    bin_edges,
    bin_of,
    bin_position,
    marked_segments,
    merge,
)
from tamis.report.charts import histogram
from tamis.report.html import funnel_rows, render_report, thresholds_from_config
from tamis.report.inspect import segments_of
from tamis.step import Step, StepOptions, register

NEARDUP = DATA / "derived" / "dev" / "neardup.jsonl.gz"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


# -- fixed bins ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0.0, 0.004, 0.5, 0.999, 0.9995, -0.25, -0.999, 1.0, 1.3, 7.0,
                                   49.5,
                                   50.0, 100_000.0, 3e9, -1.0, -1.0001, -2.5, -1234.0])
def test_every_value_falls_inside_its_bin(value: float) -> None:
    key = bin_of(value)
    assert key is not None
    low, high = bin_edges(key)
    if value < -1:  # the negative log bins are closed at the top: (low, high]
        assert low < value <= high
    else:
        assert low <= value < high or abs(value - low) < 1e-9 * max(1.0, abs(value))
    assert key <= bin_position(value) <= key + 1


def test_bins_keep_the_order_of_values() -> None:
    values = sorted([-5e6, -3.0, -1.0, -0.5, -0.01, 0.0, 0.01, 0.3, 0.99, 1.0, 2.0, 10.0, 1e7])
    keys = [bin_of(value) for value in values]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert bin_of(float("nan")) is None and bin_of(float("inf")) is None
    # A ratio of exactly 1 (every line punctuated) stays on the linear axis of the ratios.
    ratio = histogram({"kept": {str(bin_of(0.2)): 1, str(bin_of(1.0)): 1}}, ("kept",))
    counts = histogram({"kept": {str(bin_of(0.0)): 1, str(bin_of(300.0)): 1}}, ("kept",))
    ticks = re.compile(r'font-size="10">([^<]*)<')
    assert ticks.findall(ratio)[0] == "0.2" and float(ticks.findall(ratio)[-1]) < 1
    assert ticks.findall(counts)[:3] == ["0", "2.24", "5.62"]  # [0, 1] folded, then log bins


# -- aggregation --------------------------------------------------------------------------------

def _neardup_documents(count: int) -> list[Document]:
    """Real documents through the `clean` preset's steps, every 7th removed by a fake rule."""
    path = need_shared(NEARDUP)
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            if index == count:
                break
            record = json.loads(line)
            doc = clean(record["text"], id=record["id"])
            if index % 7 == 0:
                doc.remove("test_step", "every_seventh", "removed by the test")
            docs.append(doc)
    return docs


def test_merged_aggregates_do_not_depend_on_how_the_corpus_was_cut() -> None:
    docs = _neardup_documents(150)
    whole = ReportAggregate()
    for doc in docs:
        whole.add(doc)
    parts = [ReportAggregate() for _ in range(3)]
    for index, doc in enumerate(docs):
        parts[(index * 5) % 3].add(doc)
    cut = merge(json.loads(json.dumps(part.to_dict())) for part in parts)
    together = merge([json.loads(json.dumps(whole.to_dict()))])
    assert cut == together
    removed = [doc for doc in docs if not doc.kept]
    samples = together["removed_samples"]["test_step/every_seventh"]
    assert len(samples) == SAMPLES_PER_REASON
    assert {example["id"] for example in samples} <= {doc.id for doc in removed}
    assert together["removed_bytes"]["test_step/every_seventh"] == sum(
        len(doc.input_text.encode()) for doc in removed)
    for name in ("repeated_lead_fraction", "repeated_lead_lines"):
        counted = sum(sum(bins.values()) for bins in together["histograms"][name].values())
        assert counted == sum(name in doc.signals for doc in docs)


def test_an_edit_sample_shows_the_cut_span_in_its_context() -> None:
    doc = Document("d1", "Keep this. DROP THAT. Keep the end.")
    doc.edit([Change(11, 22, "test.cut", "shouting")])
    aggregate = ReportAggregate()
    aggregate.add(doc)
    (example,) = aggregate.to_dict()["edit_samples"]["test.cut"]
    assert example["segments"] == [{"text": "Keep this. "},
                                   {"cut": "DROP THAT. ", "rule": "test.cut",
                                    "detail": "shouting"},
                                   {"text": "Keep the end."}]


def test_a_window_shows_only_the_cuts_it_overlaps() -> None:
    doc = Document("d2", "aaaa BBBB cccc DDDD")
    doc.edit([Change(5, 10, "test.b"), Change(19, 19, "test.end", replacement="!")])
    edits = doc.edits
    assert marked_segments(doc.input_text, edits, 10, 15) == [{"text": "cccc "}]
    assert marked_segments(doc.input_text, edits, 15, 19) == [
        {"text": "DDDD"}, {"cut": "", "rule": "test.end", "replacement": "!"}]
    assert [piece.get("rule") for piece in marked_segments(doc.input_text, edits)] == [
        None, "test.b", None, "test.end"]


# -- thresholds and charts ----------------------------------------------------------------------

class _Bound:
    """A threshold declaration as filter steps make them (signal, option, below)."""

    def __init__(self, signal: str, option: str, below: bool) -> None:
        self.signal, self.option, self.below, self.rule = signal, option, below, "too_" + option


class _WordOptions(StepOptions):
    min_words: int | None = 50
    max_words: int | None = None


@register
class _WordFilter(Step):
    """Test-only filter step that declares the signal its options bound."""

    name = "test_report_words"
    Options = _WordOptions
    thresholds: ClassVar[tuple[_Bound, ...]] = (_Bound("word_count", "min_words", True),
                                                 _Bound("word_count", "max_words", False))


def test_thresholds_come_from_the_config_and_the_step_declarations() -> None:
    config = {"pipeline": [{"name": "normalize", "options": {}},
                           {"name": "test_report_words", "options": {"max_words": 1000}}]}
    found = thresholds_from_config(config)
    assert [(item["option"], item["value"], item["below"]) for item in found["word_count"]] == [
        ("min_words", 50.0, True), ("max_words", 1000.0, False)]
    # A run recorded by another version, with options this version rejects: no line, no crash.
    assert thresholds_from_config(
        {"pipeline": [{"name": "test_report_words", "options": {"min_words": "many"}}]}) == {}
    chart = histogram({"kept": {str(bin_of(120.0)): 4}, "removed": {str(bin_of(12.0)): 3}},
                      ("kept", "removed"), [])
    assert 'data-total="7"' in chart and chart.count('class="bar"') == 2


# -- end to end: a run on the evaluation data, the page, Chromium ------------------------------

# Cleaning, language labels, the published filters and exact dedup: every part of the report.
FULL_PIPELINE = """
pipeline:
  - normalize
  - clean_body
  - clean_title
  - repeated_lead
  - language: {label_only: true}
  - gopher_repetition
  - gopher_quality
  - fineweb_quality
  - drop_empty
  - dedup_exact
"""


@pytest.fixture(scope="module")
def neardup_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = need_shared(NEARDUP)
    folder = tmp_path_factory.mktemp("report")
    (folder / "full.yaml").write_text(FULL_PIPELINE)
    out = folder / "out"
    result = tamis_command("run", str(path), "-o", str(out), "--config", str(folder / "full.yaml"),
                           "--limit", "500", "--quiet", "--workers", "2", timeout=300)
    assert result.returncode == 0, result.stderr
    result = tamis_command("report", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    return out


class _Page(HTMLParser):
    """Collects what the tests look at: funnel rows, charts and bars, outside references."""

    def __init__(self) -> None:
        super().__init__()
        self.funnel: dict[str, int] = {}
        self.charts: list[dict[str, Any]] = []
        self.references: list[str] = []
        self.tags: set[str] = set()
        self.thresholds = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and values.get("data-stage") and values.get("data-docs"):
            self.funnel[values["data-stage"] or ""] = int(values["data-docs"] or 0)
        if tag == "svg":
            self.charts.append({"kind": values.get("data-kind"),
                                "total": int(values.get("data-total") or 0), "bars": 0})
        if tag == "line" and values.get("class") == "threshold":
            self.thresholds += 1
        drawn = float(values.get("height") or 0) > 0 and float(values.get("width") or 0) > 0
        if tag == "rect" and values.get("class") == "bar" and self.charts and drawn:
            self.charts[-1]["bars"] += 1
        for name in ("src", "href"):
            if values.get(name) and not (values[name] or "").startswith("#"):
                self.references.append(values[name] or "")


def test_report_numbers_match_the_manifest_and_every_chart_has_data(neardup_run: Path) -> None:
    manifest = json.loads((neardup_run / "manifest.json").read_text())
    stats = json.loads((neardup_run / "stats.json").read_text())
    page = _Page()
    page.feed((neardup_run / "report.html").read_text("utf-8"))
    counts = manifest["counts"]
    assert page.funnel["read"] == counts["read"] == 500
    assert page.funnel["kept"] == counts["kept"]
    removed = {stage: docs for stage, docs in page.funnel.items()
               if stage not in ("read", "kept", "errors")}
    assert sum(removed.values()) == counts["removed"] > 0  # the run found exact duplicates
    assert page.funnel.get("errors", 0) == counts["errors"]
    assert removed == {f"{step}/{rule}": docs for step, rules in stats["removed_by"].items()
                       for rule, docs in rules.items()}
    # Self-contained: no script, stylesheet link, image or any reference outside the page.
    assert page.references == [] and not page.tags & {"script", "link", "img", "iframe"}
    kinds = [chart["kind"] for chart in page.charts]
    assert kinds.count("histogram") == len(stats["histograms"]) >= 1
    assert {"bars", "histogram"} <= set(kinds)
    for chart in page.charts:
        assert chart["total"] > 0 and chart["bars"] > 0, chart
    # Languages were labelled, duplicates clustered, and the filters' thresholds drawn.
    assert kinds.count("bars") == 4  # funnel, edit rules, languages, cluster sizes
    assert sum(stats["languages"]["kept"].values()) == counts["kept"]
    assert stats["clusters"]["clusters"] > 0
    assert page.thresholds >= len(thresholds_from_config(manifest["config"])) > 5
    # The funnel's bytes: input text of the kept documents, rebuilt from their edits.
    kept_inputs = [segments_of(record) for record in read_output(neardup_run, "kept")]
    assert stats["kept_bytes_in"] == sum(
        len(piece.get("text", piece.get("cut", "")).encode()) for pieces in kept_inputs
        for piece in pieces)
    # In each filter reason's examples, the signal of the rule that fired is the highlighted one.
    html = (neardup_run / "report.html").read_text("utf-8")
    limits = thresholds_from_config(manifest["config"])
    signal_of = {(limit["step"], limit["rule"]): signal
                 for signal, items in limits.items() for limit in items}
    checked = 0
    for reason in stats["removed_samples"]:
        signal = signal_of.get(tuple(reason.split("/", 1)))  # type: ignore[arg-type]
        if signal is not None:
            assert f"<tr class=cause><td>{signal}</td>" in html, reason
            checked += 1
    assert checked >= 3
    rows = {row["stage"]: row["bytes"] for row in funnel_rows(manifest, stats)}
    assert rows["read"] == sum(size for stage, size in rows.items()
                               if stage != "read" and size is not None)
    assert rows["kept"] == stats["bytes_kept"]


def _chromium(page: Path, *extra: str, profile: Path) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get)")
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           "--enable-logging=stderr", "--v=0", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    """The console check below can fail: a page with a script error is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>notDefined();</script></body></html>")
    result = _chromium(broken, "--dump-dom", profile=tmp_path / "profile")
    assert any("notDefined" in line for line in _console_messages(result.stderr))


def test_report_opens_in_headless_chromium(neardup_run: Path, tmp_path: Path) -> None:
    report = neardup_run / "report.html"
    dom = _chromium(report, "--dump-dom", profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_messages(dom.stderr) == []
    manifest = json.loads((neardup_run / "manifest.json").read_text())
    assert re.search(rf'data-stage="kept" data-docs="{manifest["counts"]["kept"]}"', dom.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium(report, f"--screenshot={screenshot}", "--window-size=1100,3000",
                     profile=tmp_path / "profile")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert _console_messages(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_funnel_follows_the_pipeline_order() -> None:
    manifest = {"counts": {"read": 10, "kept": 4, "removed": 5, "errors": 1},
                "config": {"pipeline": [{"name": "b_step"}, {"name": "a_step"}]}}
    stats = {"removed_by": {"a_step": {"x": 2}, "b_step": {"y": 3}}, "bytes_in": 100,
             "bytes_kept": 30, "kept_bytes_in": 40}
    rows = funnel_rows(manifest, stats)
    stages = [row["stage"] for row in rows]
    assert stages == ["read", "errors", "b_step/y", "a_step/x", "edits", "kept"]
    assert "10 documents read, 4 kept, 5 removed, 1 errors" in render_report(manifest, stats)


def test_report_of_a_folder_without_a_finished_run_is_an_input_error(tmp_path: Path) -> None:
    result = tamis_command("report", str(tmp_path))
    assert result.returncode == 3
    assert "no finished tamis run" in result.stderr


def test_inspect_names_the_cluster_of_a_sampled_duplicate(neardup_run: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stats = json.loads((neardup_run / "stats.json").read_text())
    (example, *_) = stats["removed_samples"]["dedup_exact/exact_duplicate"]
    monkeypatch.setenv("COLUMNS", "400")
    result = tamis_command("inspect", str(neardup_run), "--id", example["id"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert "verdict: removed by dedup_exact (exact_duplicate)" in result.stdout
    assert f"{example['cluster']} (duplicate of {example['duplicate_of']})" in result.stdout


def test_report_of_the_bundled_example_counts_its_error_records(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = tamis_command("run", str(REPO / "examples" / "corpus"), "-o", str(out), "--quiet",
                           "--workers", "1", timeout=120)
    assert result.returncode == 0, result.stderr
    page = tmp_path / "elsewhere.html"
    result = tamis_command("report", str(out), "--to", str(page), timeout=60)
    assert result.returncode == 0, result.stderr
    assert not (out / "report.html").exists()
    parsed = _Page()
    parsed.feed(page.read_text("utf-8"))
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["errors"] > 0  # the example has two broken records
    assert parsed.funnel["errors"] == counts["errors"]
    assert parsed.funnel["read"] - counts["errors"] - sum(
        docs for stage, docs in parsed.funnel.items()
        if stage not in ("read", "kept", "errors")) == parsed.funnel["kept"] == counts["kept"]


REPORT_KEYS = ("histograms", "languages", "removed_bytes", "kept_bytes_in", "removed_samples",
               "edit_samples", "clusters", "edits", "removed_by")


def test_report_stats_do_not_depend_on_shards_or_workers(tmp_path: Path) -> None:
    """The same documents in one file or cut into four files (four shards), with one worker or
    two, give the same histograms, samples, languages and byte counts. (No dedup here: which
    copy of a duplicate is kept depends on input order, so it would change the outcome.)"""
    path = need_shared(NEARDUP)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        records = [next(lines) for _ in range(160)]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()
    (whole / "all.jsonl").write_text("".join(records))
    for index in range(4):
        (parts / f"part-{index}.jsonl").write_text("".join(records[index::4]))
    config = tmp_path / "no-dedup.yaml"
    config.write_text(FULL_PIPELINE.replace("  - dedup_exact\n", ""))
    stats = []
    for name, inputs, workers in (("one", whole, "1"), ("four", parts, "1"),
                                  ("four-2", parts, "2")):
        out = tmp_path / name
        result = tamis_command("run", str(inputs), "-o", str(out), "--config", str(config),
                               "--quiet", "--workers", workers, timeout=300)
        assert result.returncode == 0, result.stderr
        stats.append(json.loads((out / "stats.json").read_text()))
    assert len(json.loads((tmp_path / "four" / "manifest.json").read_text())["shards"]) == 4
    first = {key: stats[0][key] for key in REPORT_KEYS}
    assert first["removed_samples"] and first["edit_samples"] and first["languages"]["kept"]
    for other in stats[1:]:
        assert {key: other[key] for key in REPORT_KEYS} == first
