"""Scores from a fastText classifier the user supplies (quality, educational value, topic).

Model-based quality filters (DCLM's fastText "high quality" classifier, FineWeb-Edu-style
scorers distilled into fastText) judge a document by one label's probability. The model file is
the user's: nothing is bundled or downloaded. It is loaded with the `fasttext` module of
`fasttext-predict`, as lid.176 is in `tamis.signals.language`; that module only predicts, so the
model's labels are learnt by asking it for every label's probability on a few probe texts.

As for language ID, newlines become spaces first: fastText predicts one line.
"""

from __future__ import annotations

from functools import cache
from typing import Any

LABEL_PREFIX = "__label__"
# Texts whose predictions list the model's labels (all of them, for a softmax model).
_PROBES = ("", "the", "a b c d e f g")


@cache
def load_classifier(path: str) -> Any:
    """The fastText model at `path`, loaded once per process. Raises ValueError if unreadable."""
    import fasttext

    return fasttext.load_model(path)


def model_labels(model: Any) -> list[str]:
    """The labels the model predicts, with their `__label__` prefix, sorted."""
    found: set[str] = set()
    for probe in _PROBES:
        found.update(model.predict(probe, k=-1)[0])
    return sorted(found)


def full_label(label: str) -> str:
    """`hq` and `__label__hq` both name the label `__label__hq`."""
    return label if label.startswith(LABEL_PREFIX) else LABEL_PREFIX + label


def label_probability(text: str, model: Any, label: str) -> float:
    """The probability the model gives `label` (with its prefix) for `text`."""
    labels, scores = model.predict(text.replace("\n", " "), k=-1)
    for name, value in zip(labels, scores, strict=True):
        if name == label:
            return float(value)
    return 0.0  # left out of the prediction: its probability rounds to nothing
