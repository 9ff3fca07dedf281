"""Filters every pipeline needs whatever its recipe: empty documents."""

from __future__ import annotations

from tamis.document import Document
from tamis.step import Step, register


@register
class DropEmpty(Step):
    """Remove a document with no text left (nothing but whitespace)."""

    name = "drop_empty"

    def __call__(self, doc: Document) -> None:
        if not doc.text.strip():
            doc.remove(self.name, "empty", "no text left")
