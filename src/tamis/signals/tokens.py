"""Token counts with the user's Hugging Face `tokenizers` file (corpora are budgeted in tokens).

The tokenizer is the one the user will train with, given as a `tokenizer.json` path: nothing
is downloaded, and no tokenizer is assumed. A count leaves out the special tokens the
tokenizer would add around one sequence (BOS, EOS...), so counts add up over documents.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from tamis.environment import require


class TokenizerError(ValueError):
    """The tokenizer file is missing or is not a `tokenizers` JSON file."""


@cache
def load_tokenizer(path: str) -> Any:
    """The `tokenizers.Tokenizer` saved at `path`, loaded once per process."""
    tokenizers = require("tokenizers", extra="tokens", purpose="counting tokens")
    if not Path(path).is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist; give the path of a Hugging "
                             f"Face tokenizers JSON file (tokenizer.json)")
    try:
        return tokenizers.Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a malformed file
        raise TokenizerError(f"{path} is not a Hugging Face tokenizers JSON file: "
                             f"{error}") from None


def token_ids(text: str, tokenizer: Any) -> list[int]:
    """The token ids of `text`, without the special tokens added around a sequence."""
    return tokenizer.encode(text, add_special_tokens=False).ids


def token_count(text: str, tokenizer: Any) -> int:
    return len(token_ids(text, tokenizer))
