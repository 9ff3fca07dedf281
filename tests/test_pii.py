"""PII redaction: each kind found in real page text, look-alikes left alone, originals withheld."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import DATA, assert_conserved, need_shared, read_output, tamis_command

import tamis
from tamis.clean.pii import find_pii
from tamis.document import WITHHELD, Document, Edit, rebuild_input
from tamis.step import build_step

# One example of each kind, written here (test numbers from the issuers' documentation, the
# IBAN from the standard's own example, a US number in a real area code).
PLANTED = {
    "email": "jane.doe@example.org",
    "phone": "+44 20 7946 0958",
    "ip": "8.8.4.4",
    "card": "4111 1111 1111 1111",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "ssn": "219-09-9990",
}
LOOKALIKES = [
    "on 2023-10-12", "at 14:30 on 12.10.2023", "for $1,299.99", "version 2.10.0.1",
    "ISBN 978-3-16-148410-0", "at 40.7128, -74.0060", "from 192.168.1.20", "via 10.0.0.1",
    "on 2001:db8::1", "card 4111 1111 1111 1112", "IBAN GB82 WEST 1234 5698 7654 33",
    "SSN 078-05-1120", "part 000-12-3456", "item 5094595382", "logo@2x.png",
    "score 26 27 28 29 30", "Steuernummer 27/027/36500",
]


def page_text() -> str:
    """A real page's text (the first page of the line-labelled set) with no PII of its own."""
    path = need_shared(DATA / "derived" / "dev" / "linelabels.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            text = "\n".join(json.loads(line)["lines"])
            if not find_pii(text):
                return text
    raise AssertionError("every page holds PII")


def test_each_kind_planted_in_a_real_page_is_replaced() -> None:
    base = page_text()
    lines = base.split("\n")
    for number, value in enumerate(PLANTED.values()):
        lines.insert(1 + 3 * number, f"For details write to {value} today.")
    doc = Document("page", "\n".join(lines))
    build_step("pii", None)(doc)
    for kind, value in PLANTED.items():
        assert value not in doc.text
        assert f"write to <{kind}> today." in doc.text
    assert sorted(edit.rule for edit in doc.edits) == sorted(f"pii.{kind}" for kind in PLANTED)
    assert doc.rebuild_input() == "\n".join(lines)


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_are_left_alone(text: str) -> None:
    assert find_pii(f"{page_text()[:400]}\nSee {text} here.") == []


def test_international_and_national_phone_formats() -> None:
    numbers = ["+1 415-555-2671", "+49 30 901820", "+33 1 42 68 53 00", "0049 30 901820",
               "+81 3-3224-9999", "(415) 555-2671", "415-555-2671", "1-415-555-2671",
               "+61 2 9374 4000", "+41415447800"]
    for number in numbers:
        found = find_pii(f"Call {number} now.")
        assert [(item.kind, item.end - item.start) for item in found] == [("phone", len(number))]
    # National formats of other countries count only where the user names the region.
    assert find_pii("Ruf 030 901820 an") == []
    assert [item.kind for item in find_pii("Ruf 030 901820 an", phone_regions=("DE",))] == [
        "phone"]


def test_originals_are_withheld_from_output_records() -> None:
    text = "Write to jane.doe@example.org or call (415) 555-2671."
    doc = Document("d", text)
    build_step("pii", None)(doc)
    record = json.dumps(doc.to_record())
    assert "jane.doe" not in record and "555-2671" not in record
    edits = [Edit.from_dict(item) for item in doc.to_record()["edits"]]
    assert [edit.withheld for edit in edits] == [True, True]
    rebuilt = rebuild_input(doc.text, edits)
    assert rebuilt == text.replace("jane.doe@example.org", WITHHELD * 20).replace(
        "(415) 555-2671", WITHHELD * 14)
    # Between passes the state keeps the input text, so the originals come back.
    assert Document.from_state(doc.to_state()).rebuild_input() == text


def test_options_choose_kinds_placeholders_and_originals() -> None:
    text = "Mail jane.doe@example.org from 8.8.4.4"
    options = {"kinds": ["email"], "placeholders": {"email": "[EMAIL]"}, "keep_original": True}
    doc = Document("d", text)
    build_step("pii", options)(doc)
    assert doc.text == "Mail [EMAIL] from 8.8.4.4"
    assert doc.to_record()["edits"][0]["original"] == "jane.doe@example.org"


def test_bad_options_name_the_key() -> None:
    with pytest.raises(tamis.ConfigError, match=r"phone_regions.*unknown phone region"):
        tamis.load_config(overrides={"pipeline": [{"pii": {"phone_regions": ["XX"]}}]})
    with pytest.raises(tamis.ConfigError, match="kinds"):
        tamis.load_config(overrides={"pipeline": [{"pii": {"kinds": ["passport"]}}]})


def test_default_run_redacts_and_counts_without_writing_the_pii(tmp_path) -> None:
    lines = page_text().split("\n")
    longest = max(range(len(lines)), key=lambda index: len(lines[index]))  # in the article
    lines[longest] += " Contact the editor at jane.doe@example.org or on +44 20 7946 0958."
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "page", "text": "\n".join(lines)}) + "\n")
    out = tmp_path / "out"
    result = tamis_command("run", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert_conserved(out)
    [kept] = read_output(out, "kept")
    assert "Contact the editor at <email> or on <phone>." in kept["text"]
    stats = json.loads((out / "stats.json").read_text())
    edits = json.dumps(stats)
    assert "pii.email" in edits and "pii.phone" in edits
    for path in out.rglob("*"):
        if path.is_file() and "_tamis" not in path.parts:
            content = path.read_bytes()
            if path.suffix == ".zst":
                import zstandard
                content = zstandard.ZstdDecompressor().decompressobj().decompress(content)
            assert b"jane.doe" not in content, path
