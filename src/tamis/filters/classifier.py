"""Score documents with the user's fastText classifier; optionally remove low scores.

The score (one label's probability) is stored as a signal in every document, so a run can keep
everything and leave the threshold to later (RedPajama-V2 style), or remove documents below
`threshold` at once (DCLM style). Not in any preset: the model is the user's.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from tamis.config import ConfigError
from tamis.document import Document
from tamis.filters.thresholds import Threshold
from tamis.signals.classifier import full_label, label_probability, load_classifier, model_labels
from tamis.step import Step, StepOptions, register


class ClassifierOptions(StepOptions):
    # A fastText supervised model file (.bin or quantized .ftz).
    model: str
    # The label whose probability is the score, with or without the `__label__` prefix
    # (e.g. `hq`). Required: a guessed label would silently turn the filter upside down.
    label: str
    # The signal the score is stored under.
    signal: str = Field(default="classifier_score", min_length=1)
    # Remove documents scoring below this (None: only store the score).
    threshold: float | None = None

    @field_validator("model")
    @classmethod
    def _model_exists(cls, path: str) -> str:
        if not Path(path).is_file():
            raise ValueError(f"model file {path} does not exist (or is not a file); give the "
                             f"path of a fastText classifier (.bin or .ftz)")
        return path


@register
class Classifier(Step):
    """Store one label's probability from a fastText classifier, and remove low scorers."""

    name = "classifier"
    Options = ClassifierOptions
    options: ClassifierOptions

    def __init__(self, options: ClassifierOptions | None = None) -> None:
        super().__init__(options)
        o = self.options
        self.signals = (o.signal,)
        try:
            self.model = load_classifier(o.model)
        except ValueError as error:
            raise ConfigError(f"classifier.model: {o.model} is not a fastText model file "
                              f"({error}); train one with fastText's train_supervised") from None
        self.label = full_label(o.label)
        labels = model_labels(self.model)
        if self.label not in labels:
            raise ConfigError(f"classifier.label: the model has no label {o.label!r}; its "
                              f"labels are: {', '.join(labels)}")
        self.threshold = Threshold("classifier", o.signal, "threshold", below=True)

    def __call__(self, doc: Document) -> None:
        doc.signals[self.options.signal] = label_probability(doc.text, self.model, self.label)
        detail = self.threshold.fails(doc.signals, self.options)
        if detail is not None:
            doc.remove(self.name, "classifier", detail)
