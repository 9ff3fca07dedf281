"""When a pipeline redacts PII, nothing the run writes holds it: not kept text, not removed
records (whichever step removed them), not the original of a span a cleaner cut, not an error
record's raw bytes, not the report's examples, not the inspector's view.

PII is planted into real pages (the seed-like evaluation documents: a title with an injected
suffix, an article, headline lists and a dangling byline) at places each step removes or each
cleaner cuts; the test first checks that those places really were removed or cut, then that no
planted item can be found in any byte of the output.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from conftest import DATA, assert_conserved, need_shared, read_output
from rich.console import Console
from stdnum import luhn

import tamis
from tamis.clean.pii import find_pii
from tamis.document import WITHHELD, Edit, rebuild_input
from tamis.report.html import write_report
from tamis.report.inspect import find_record, print_record


def card(n: int) -> str:
    body = "4" + f"{n:014d}"
    digits = body + luhn.calc_check_digit(body)
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


class Planter:
    """Hands out distinct PII items and remembers them."""

    def __init__(self) -> None:
        self.planted: list[str] = []

    def __call__(self, kind: str) -> str:
        n = len(self.planted) + 1
        item = {"email": f"ana.k{n}@mailbox{n}.org", "phone": f"+1 415-555-{2000 + n:04d}",
                "card": card(1000 + n)}[kind]
        assert [found.kind for found in find_pii(f"write {item} now")] == [kind]
        self.planted.append(item)
        return item


def planted_document(doc: dict[str, Any], plant: Planter) -> str:
    """The seed-like document's lines with PII in the title suffix, the article, each headline
    list item and the byline tail."""
    lines = list(doc["lines"])
    for index, kind in enumerate(doc["line_kinds"]):
        if kind == "title" and doc["title_suffix_start"] is not None:
            lines[index] = f"{lines[index]} {plant('email')}"
        elif kind == "body" and index == next(i for i, k in enumerate(doc["line_kinds"])
                                             if k == "body"):
            words = lines[index].split(" ")
            middle = len(words) // 2
            lines[index] = " ".join([*words[:middle], plant("phone"), *words[middle:]])
        elif kind in ("related_item", "byline_tail"):
            lines[index] = f"{lines[index]} {plant('email')}"
        elif kind == "related_marker":
            lines[index] = f"{lines[index]} {plant('card')}"
    return "\n".join(lines)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planter, dict]:
    source = need_shared(DATA / "derived" / "dev" / "seedlike.jsonl.gz")
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    english = [doc for doc in docs if doc["lang"] == "en"][:40]
    other = [doc for doc in docs if doc["lang"] in ("de", "fr", "es")][:3]
    plant = Planter()
    records = []
    inputs = {}
    for doc in english + other:
        text = planted_document(doc, plant)
        records.append({"id": doc["id"], "text": text})
        inputs[doc["id"]] = text
    base = records[0]["text"]
    extra = {
        "exact-copy": base,                                        # dedup_exact
        "near-copy": base.replace(" the ", " a ", 3) + " Thanks.",  # dedup_near
        "short": ("The harbour master wrote that the morning ferry would leave late because of "
                  "fog over the northern channel, and asked travellers to write to "
                  f"{plant('email')} for refunds."),                 # gopher_quality
        "repetitive": f"Buy cheap watches here {plant('phone')}.\n" * 40,  # gopher_repetition
        "too-long": (records[1]["text"] + "\n") * 150 + plant("card"),     # limits
    }
    assert len(extra["too-long"]) > 50_000
    for doc_id, text in extra.items():
        records.append({"id": doc_id, "text": text})
        inputs[doc_id] = text
    folder = tmp_path_factory.mktemp("pii")
    body = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    # A record that cannot be read: its raw bytes go to errors/.
    body += json.dumps({"id": "broken", "text": 5, "contact": plant("email")}).encode() + b"\n"
    (folder / "pages.jsonl").write_bytes(body)
    config = folder / "config.yaml"
    config.write_text("limits: {max_document_chars: 50000}\n"
                      "override: {language: {label_only: false, languages: [en]}}\n")
    out = folder / "out"
    tamis.run(folder / "pages.jsonl", out, config=config, workers=1)
    return out, plant, inputs


def all_output_text(out: Path) -> str:
    """Every byte the run wrote, decompressed, as one text (JSON escapes undone)."""
    parts = []
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".zst":
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        text = data.decode("utf-8", "replace")
        # JSON escapes undone (\u0040, \/), so an escaped address is still found.
        if path.suffix == ".zst":
            text += "\n".join(json.dumps(json.loads(line), ensure_ascii=False)
                              for line in text.splitlines())
        elif path.suffix == ".json":
            text += json.dumps(json.loads(text), ensure_ascii=False)
        parts.append(text)
    return "\n".join(parts)


def test_the_planted_pii_sits_where_steps_remove_and_cleaners_cut(
        planted_run: tuple[Path, Planter, dict]) -> None:
    """The places chosen really are removed and cut, so the next test means something."""
    out, plant, inputs = planted_run
    assert_conserved(out)
    removed_by = {record["removed_by"]["step"] for record in read_output(out, "removed")}
    assert {"dedup_exact", "dedup_near", "gopher_quality", "gopher_repetition", "language",
            "limits"} <= removed_by
    assert [error["id"] for error in read_output(out, "errors")] == ["broken"]
    cut_by: set[str] = set()
    for record in read_output(out, "kept"):
        text = inputs[record["id"]]
        for edit in record["edits"]:
            if edit["rule"].startswith("pii."):
                continue
            span = text[edit["start"]:edit["end"]]
            if any(item in span for item in plant.planted):
                cut_by.add(edit["rule"])
    # The title cleaner and the body cleaner each cut planted PII (clean.boilerplate too, as
    # measured on 2026-12-02; which body rule cuts a line may change as the cleaner does).
    assert "clean.title_injection" in cut_by
    assert cut_by & {"clean.fragment", "clean.boilerplate", "clean.link_list"}


def test_no_planted_pii_is_written_anywhere(planted_run: tuple[Path, Planter, dict],
                                            tmp_path: Path) -> None:
    out, plant, inputs = planted_run
    write_report(out, tmp_path / "report.html")
    written = all_output_text(out) + (tmp_path / "report.html").read_text("utf-8")
    leaked = [item for item in plant.planted if item in written]
    assert leaked == []
    # The inspector shows a removed duplicate and a kept page redacted too.
    for doc_id in ("exact-copy", next(iter(inputs))):
        found = find_record(out, doc_id)
        assert found is not None
        console = Console(file=io.StringIO(), width=200)
        print_record(found.kind, found.record, console)
        shown = console.file.getvalue()
        assert not [item for item in plant.planted if item in shown]


def test_the_redacted_input_is_rebuilt(planted_run: tuple[Path, Planter, dict]) -> None:
    """The rebuild invariant, redacted: text plus edits give the input with each character of
    the PII withheld (U+FFFD), every other character as it was."""
    out, plant, inputs = planted_run
    for kind in ("kept", "removed"):
        for record in read_output(out, kind):
            expected = inputs[record["id"]]
            rebuilt = rebuild_input(record["text"],
                                    [Edit.from_dict(edit) for edit in record["edits"]])
            assert len(rebuilt) == len(expected)
            masked = [i for i, (a, b) in enumerate(zip(rebuilt, expected, strict=True))
                      if a != b]
            assert all(rebuilt[i] == WITHHELD for i in masked)
            for item in plant.planted:
                position = expected.find(item)
                if position != -1:
                    assert rebuilt[position:position + len(item)].count(WITHHELD) >= len(item) - 2
