"""Filter steps: verdicts with rule codes and details, thresholds as options, C4 line edits."""

from __future__ import annotations

from tamis.document import Document
from tamis.step import build_step
from tests.test_signals import C4_TEXT

PROSE = ("The history of the town goes back to the twelfth century, when a small abbey was built "
         "beside the river. Over the following centuries the abbey grew, and with it the market "
         "that gave the town its name. Today the old market square is still the centre of life, "
         "with cafes and shops that have been run by the same families for generations, and the "
         "abbey church is open to visitors every day of the week.")


def run(step: str, text: str, **options: object) -> Document:
    doc = Document("d", text)
    build_step(step, options)(doc)
    return doc


def test_gopher_quality_keeps_prose_and_names_the_rule() -> None:
    assert run("gopher_quality", PROSE).kept
    short = run("gopher_quality", "Too short to be a document.")
    assert short.removed_by.rule == "gopher_short_doc"
    assert short.removed_by.detail == "gopher_word_count 6 < 50"
    assert run("gopher_quality", "Too short to be a document.", min_doc_words=None,
               min_stop_words=None).kept


def test_gopher_repetition_removes_repeated_lines() -> None:
    assert run("gopher_repetition", PROSE).kept
    doc = run("gopher_repetition", "\n".join(["Buy now and save!"] * 5 + [PROSE]))
    assert doc.removed_by.step == "gopher_repetition"
    assert doc.removed_by.rule == "dup_line_frac"  # 4 of 6 lines repeat an earlier one
    assert doc.signals["gopher_dup_line_frac"] == 4 / 6


def test_fineweb_quality_rules() -> None:
    assert run("fineweb_quality", PROSE).kept
    listing = "\n".join(f"Item number {i}" for i in range(20))
    assert run("fineweb_quality", listing).removed_by.rule == "line_punct_ratio"
    assert run("fineweb_quality", listing, line_punct_thr=None).removed_by.rule == \
        "short_line_ratio"
    assert run("fineweb_quality", "\n \n").removed_by.rule == "empty"


def test_c4_drops_lines_as_explained_edits() -> None:
    doc = run("c4", C4_TEXT, min_num_sentences=4)
    assert doc.kept
    assert doc.text == ("This is a good sentence. And another one here.\n"
                        "A cited claim is here. More text follows here!")
    rules = [edit.rule for edit in doc.edits]
    assert rules == ["c4.no_terminal_punct", "c4.lines", "c4.citation"]
    assert doc.edits[1].detail == ("dropped 3 line(s): too_few_words 1, javascript 1, policy 1")
    assert doc.rebuild_input() == C4_TEXT


def test_c4_removes_pages_with_a_reason() -> None:
    doc = run("c4", C4_TEXT)
    assert doc.removed_by.rule == "too_few_sentences"
    assert doc.removed_by.detail == "4 sentences < 5"
    assert doc.text == C4_TEXT  # a removed page keeps its text as it was


def test_c4_output_joins_kept_lines_like_the_reference() -> None:
    # \r\n separators and padded lines: each kept line is stripped *before* its citations go,
    # the lines are joined with \n and only the whole is stripped, so a citation at the start of
    # a later line leaves its space, as in datatrove
    text = "[1] One two three four five.  \r\n\r\nSix seven eight nine ten.\r\n[2] Eleven twelve!"
    doc = run("c4", text, min_num_sentences=1)
    assert doc.text == "One two three four five.\nSix seven eight nine ten.\n Eleven twelve!"
    assert doc.rebuild_input() == text


def test_language_step() -> None:
    english = run("language", PROSE, languages=["en"])
    assert english.kept and english.metadata["language"] == "en"
    assert english.signals["language_score"] > 0.65
    french = run("language", "Ceci est une phrase en français sur le temps qu'il fait.",
                 languages=["en"])
    assert french.removed_by.rule == "language"
    labelled = run("language", "Ceci est une phrase en français.", label_only=True)
    assert labelled.kept and labelled.metadata["language"] == "fr"
