"""The `tokens` step: store each document's token count under the user's tokenizer.

It removes nothing. Place it where the count should be taken: last, it counts the text that is
written; documents removed before it have no count (null in `signals.token_count`), and the
totals in `stats.json` say how many documents were counted.
"""

from __future__ import annotations

from pydantic import Field

from tamis.config import ConfigError
from tamis.document import Document
from tamis.signals.tokens import TokenizerError, load_tokenizer, token_count
from tamis.step import Step, StepOptions, register


class TokensOptions(StepOptions):
    tokenizer: str = Field(description="path to a Hugging Face tokenizers JSON file")


@register
class Tokens(Step):
    """Count the document's tokens (signal `token_count`)."""

    name = "tokens"
    signals = ("token_count",)
    Options = TokensOptions
    options: TokensOptions

    def __init__(self, options: TokensOptions | None = None) -> None:
        super().__init__(options)
        try:
            self.tokenizer = load_tokenizer(self.options.tokenizer)
        except TokenizerError as error:
            raise ConfigError(f"tokens.tokenizer: {error}") from None

    def __call__(self, doc: Document) -> None:
        doc.signals["token_count"] = float(token_count(doc.text, self.tokenizer))
