"""Thresholds over signals: the first rule a document fails gives its removal code and detail.

A published filter is an ordered list of `Threshold`s; the order matters because a document is
reported under the first rule it breaks, as the references report it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

# An option that is a share of something (lines, words, characters): outside [0, 1] it would
# keep or remove every document, so the config refuses it.
Fraction = Annotated[float, Field(ge=0, le=1)]
# A count or a non-negative measure.
NonNegative = Annotated[float, Field(ge=0)]


@dataclass(frozen=True)
class Threshold:
    """Remove when `signal` is below (or above) the limit held by the option `option`."""

    rule: str
    signal: str
    option: str
    below: bool

    def fails(self, signals: dict[str, float], options: BaseModel) -> str | None:
        """The detail of the failure, or None when the document passes (or the rule is off)."""
        limit = getattr(options, self.option)
        if limit is None:
            return None
        value = signals[self.signal]
        if value < limit if self.below else value > limit:
            return f"{self.signal} {value:.4g} {'<' if self.below else '>'} {limit}"
        return None


def first_failure(signals: dict[str, float], thresholds: tuple[Threshold, ...],
                  options: BaseModel) -> tuple[str, str] | None:
    """(rule, detail) of the first threshold the signals break, in order."""
    for threshold in thresholds:
        detail = threshold.fails(signals, options)
        if detail is not None:
            return threshold.rule, detail
    return None
