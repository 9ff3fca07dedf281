"""`tamis inspect` and `tamis clean --explain`: the seed's three cuts, struck through and named."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO, SEED, need_shared, read_output, tamis_command
from rich.console import Console

from tamis.report.inspect import find_record, print_record, segments_of

SEED_ID = "000_27e23ccad5cb0e77.txt"
SEED_CUTS = {  # rule -> a piece of what it cuts, from the seed's README
    "clean.title_injection": "_laser freckle removal on arms",
    "clean.link_list": "(editor:)",
    "clean.fragment": "- Debbie Owusu",
}


@pytest.fixture(scope="module")
def seed_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed run through the `clean` preset, once for the tests that only read it."""
    return _seed_run(tmp_path_factory.mktemp("seed"))


def _seed_run(tmp_path: Path, *extra: str) -> Path:
    seed = need_shared(SEED / SEED_ID)
    out = tmp_path / "out"
    result = tamis_command("run", str(seed), "-o", str(out), "--preset", "clean", "--quiet",
                           *extra, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


class _Cuts(HTMLParser):
    """The rule labels and struck-through text of an inspector page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[str] = []
        self.struck: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "del":
            self._in = "del"
            self.struck.append("")
        elif tag == "span" and ("class", "rule") in attrs:
            self._in = "rule"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("del", "span"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "del":
            self.struck[-1] += data
        elif self._in == "rule":
            self.rules.append(data)


def test_inspect_shows_the_three_cuts_of_the_seed_and_their_rules(
        seed_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = seed_out
    page = tmp_path / "seed.html"
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside the cut texts
    result = tamis_command("inspect", str(out), "--id", SEED_ID, "--html", str(page),
                           timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for rule, cut in SEED_CUTS.items():
        assert f"[{rule}]" in result.stdout  # the inline label before the struck span
        assert any(line.lstrip().startswith(rule) for line in lines)  # the edit list
        assert cut in result.stdout
    assert "verdict: kept" in result.stdout

    cuts = _Cuts()
    cuts.feed(page.read_text("utf-8"))
    assert cuts.rules == list(SEED_CUTS)  # in document order
    for struck, piece in zip(cuts.struck, SEED_CUTS.values(), strict=True):
        assert piece in struck
    kept_text = read_output(out, "kept")[0]["text"]
    assert "(editor:)" not in kept_text and "Debbie Owusu" not in kept_text


def test_the_inspected_input_is_the_seed_byte_for_byte(seed_out: Path) -> None:
    found = find_record(seed_out, SEED_ID)
    assert found is not None and found.kind == "kept"
    rebuilt = "".join(piece.get("text", piece.get("cut", "")) for piece in segments_of(
        found.record))
    assert rebuilt == (SEED / SEED_ID).read_text("utf-8")


def test_inspect_finds_records_in_parquet_output_too(tmp_path: Path) -> None:
    config = tmp_path / "parquet.yaml"
    config.write_text("output:\n  format: parquet\n")
    out = _seed_run(tmp_path, "--config", str(config))
    found = find_record(out, SEED_ID)
    assert found is not None and found.path.suffix == ".parquet"
    assert [piece["rule"] for piece in segments_of(found.record) if "cut" in piece] == list(
        SEED_CUTS)


def test_an_unknown_id_is_reported_not_crashed(seed_out: Path) -> None:
    result = tamis_command("inspect", str(seed_out), "--id", "no-such-document")
    assert result.returncode == 3
    assert "no record with id 'no-such-document'" in result.stderr


@pytest.mark.parametrize("with_page", [False, True])
def test_clean_explain_strikes_the_cuts_and_can_write_the_page(tmp_path: Path,
                                                               with_page: bool) -> None:
    seed = need_shared(SEED / SEED_ID)
    page = tmp_path / "explain.html"
    extra = ("--html", str(page)) if with_page else ()
    result = tamis_command("clean", str(seed), "--explain", *extra, timeout=60)
    assert result.returncode == 0, result.stderr
    for rule in SEED_CUTS:
        assert f"[{rule}]" in result.stdout
    assert page.exists() == with_page
    if with_page:
        cuts = _Cuts()
        cuts.feed(page.read_text("utf-8"))
        assert cuts.rules == list(SEED_CUTS)


def test_the_cuts_are_struck_through_on_a_terminal(seed_out: Path) -> None:
    found = find_record(seed_out, SEED_ID)
    assert found is not None
    console = Console(force_terminal=True, color_system="standard", width=200)
    with console.capture() as captured:
        print_record(found.kind, found.record, console)
    shown = captured.get()
    strike = "\x1b[9;31m"  # strike-through, red
    for rule in SEED_CUTS:  # each label is followed at once by struck-through text
        assert re.search(re.escape(f"[{rule}]\x1b[0m") + "\n?" + re.escape(strike), shown)
    assert f"{strike}_laser freckle removal on arms\x1b[0m" in shown
    assert f"{strike}- Debbie Owusu\x1b[0m" in shown
    assert f"{strike}At least 60" not in shown  # the article itself is not struck


def test_inspect_shows_an_error_record_with_its_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = tamis_command("run", str(REPO / "examples" / "corpus"), "-o", str(out), "--quiet",
                           "--workers", "1", timeout=120)
    assert result.returncode == 0, result.stderr
    (error,) = [record for record in read_output(out, "errors") if record.get("id") == "no-text"]
    result = tamis_command("inspect", str(out), "--id", "no-text", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "(errors, news.jsonl line 9)" in result.stdout
    assert "a record without a text field" in result.stdout  # the raw record
    assert " ".join(f"verdict: error: {error['error']}".split()) in " ".join(
        result.stdout.split())
