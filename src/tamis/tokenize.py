"""`tamis tokenize OUT --tokenizer PATH -o DIR`: the kept documents as token-id shards a trainer
memory-maps.

One shard per part of `OUT/kept/`, in part order:

    DIR/part-00000.tokens   the token ids of every document, each followed by the EOS token,
                            little-endian uint16 when the vocabulary fits in 16 bits, else uint32
    DIR/part-00000.index    little-endian uint64: the end (in tokens, EOS included) of each
                            document, so document i is tokens[index[i-1]:index[i]] (index[-1] = 0)
    DIR/tokenize.json       the dtype, the EOS id, the tokenizer's hash, and per shard the part
                            it came from and its documents and tokens

`numpy.memmap(path, dtype=...)` opens a shard without reading it. A shard is written under a
temporary name and renamed when complete (index last), so a killed run leaves no half shard
that looks finished, and a rerun skips the shards that are there: the same input gives the same
bytes (ids are a pure function of the text and the tokenizer file). Special tokens are not
added inside documents (`add_special_tokens=False`, as the `tokens` step counts them); EOS is
put between documents, as datatrove's `DocumentTokenizer` does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import zstandard

from tamis.signals.tokens import load_tokenizer

# Tried in this order when no --eos is given.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[SEP]")
BATCH_DOCUMENTS = 1024
MANIFEST = "tokenize.json"


class TokenizeError(ValueError):
    """The run folder, the tokenizer or the target folder cannot be used as asked."""


@dataclass(frozen=True)
class TokenizeResult:
    output: Path
    shards: int
    documents: int
    tokens: int
    skipped: int  # shards a previous, interrupted run had finished


def kept_parts(out: Path) -> list[Path]:
    folder = out / "kept"
    parts = sorted(path for path in folder.glob("part-*") if not path.name.startswith("."))
    if not (out / "manifest.json").exists():
        raise TokenizeError(f"{out} holds no finished tamis run (manifest.json is written when "
                            f"a run completes)")
    return parts


def texts(part: Path) -> Iterator[str]:
    """The `text` of every record of a kept part, in order (JSON lines or Parquet)."""
    if part.name.endswith(".parquet"):
        for batch in pq.ParquetFile(part).iter_batches(columns=["text"]):
            yield from batch.column(0).to_pylist()
        return
    with open(part, "rb") as raw:
        if part.name.endswith(".zst"):
            stream: Any = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw),
                                            1 << 20)
        elif part.name.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw)
        else:
            stream = raw
        for line in stream:
            if line.strip():
                yield orjson.loads(line)["text"]


def eos_id(tokenizer: Any, eos: str | None) -> int:
    """The id of the end-of-sequence token: `eos`, or the first known name the vocabulary has."""
    names = (eos,) if eos else EOS_CANDIDATES
    for name in names:
        found = tokenizer.token_to_id(name)
        if found is not None:
            return int(found)
    if eos:
        raise TokenizeError(f"the tokenizer has no token {eos!r}; give --eos with one of its "
                            f"special tokens")
    raise TokenizeError(f"the tokenizer has none of the usual end-of-document tokens "
                        f"({', '.join(EOS_CANDIDATES)}); name one with --eos")


def tokenize_run(out: str | Path, tokenizer_path: str | Path, target: str | Path, *,
                 eos: str | None = None) -> TokenizeResult:
    """Write the token shards of a finished run's kept documents (see the module docstring)."""
    out, target = Path(out), Path(target)
    parts = kept_parts(out)
    tokenizer = load_tokenizer(str(tokenizer_path))
    eos_token = eos_id(tokenizer, eos)
    vocabulary = tokenizer.get_vocab_size(with_added_tokens=True)
    dtype = np.dtype("<u2") if vocabulary <= 1 << 16 else np.dtype("<u4")
    settings = {
        "source": str(out.resolve()),
        "run": json.loads((out / "manifest.json").read_text("utf-8")).get("fingerprint"),
        "tokenizer_sha256": hashlib.sha256(Path(tokenizer_path).read_bytes()).hexdigest(),
        "vocabulary": vocabulary, "dtype": dtype.name, "eos": eos_token,
    }
    target.mkdir(parents=True, exist_ok=True)
    started = target / ".tokenize-settings.json"
    if started.exists() and json.loads(started.read_text("utf-8")) != settings:
        raise TokenizeError(f"{target} holds shards of another run or tokenizer; use an empty "
                            f"folder")
    started.write_text(json.dumps(settings, indent=2), "utf-8")
    shards, skipped = [], 0
    for part in parts:
        stem = part.name.split(".", 1)[0]
        tokens_path, index_path = target / f"{stem}.tokens", target / f"{stem}.index"
        if not (tokens_path.exists() and index_path.exists()):
            _write_shard(part, tokenizer, eos_token, dtype, tokens_path, index_path)
        else:
            skipped += 1
        ends = np.fromfile(index_path, dtype="<u8")
        shards.append({"part": str(part.relative_to(out)), "tokens_file": tokens_path.name,
                       "index_file": index_path.name, "documents": int(ends.size),
                       "tokens": int(ends[-1]) if ends.size else 0})
    manifest = {**settings, "shards": shards,
                "documents": sum(shard["documents"] for shard in shards),
                "tokens": sum(shard["tokens"] for shard in shards)}
    temp = target / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=2), "utf-8")
    os.replace(temp, target / MANIFEST)
    return TokenizeResult(target, len(shards), manifest["documents"], manifest["tokens"],
                          skipped)


def _write_shard(part: Path, tokenizer: Any, eos: int, dtype: np.dtype[Any], tokens_path: Path,
                 index_path: Path) -> None:
    temp_tokens = tokens_path.with_name(f".{tokens_path.name}.tmp")
    temp_index = index_path.with_name(f".{index_path.name}.tmp")
    limit = np.iinfo(dtype).max
    end = 0
    with open(temp_tokens, "wb") as tokens_file, open(temp_index, "wb") as index_file:
        batch: list[str] = []
        for text in texts(part):
            batch.append(text)
            if len(batch) >= BATCH_DOCUMENTS:
                end = _write_batch(batch, tokenizer, eos, dtype, limit, end, tokens_file,
                                   index_file)
                batch = []
        if batch:
            end = _write_batch(batch, tokenizer, eos, dtype, limit, end, tokens_file, index_file)
    os.replace(temp_tokens, tokens_path)
    os.replace(temp_index, index_path)  # last: a shard with its index is complete


def _write_batch(batch: list[str], tokenizer: Any, eos: int, dtype: np.dtype[Any], limit: int,
                 end: int, tokens_file: Any, index_file: Any) -> int:
    encodings = tokenizer.encode_batch(batch, add_special_tokens=False)
    ids = [[*encoding.ids, eos] for encoding in encodings]
    lengths = np.fromiter((len(item) for item in ids), dtype=np.uint64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64,
                       count=int(lengths.sum()))
    if flat.size and int(flat.max()) > limit:  # cannot happen: dtype follows the vocabulary
        raise TokenizeError(f"token id {int(flat.max())} does not fit in {dtype.name}")
    tokens_file.write(flat.astype(dtype).tobytes())
    ends = end + np.cumsum(lengths, dtype=np.uint64)
    index_file.write(ends.astype("<u8").tobytes())
    return int(ends[-1]) if ends.size else end


def read_shard(target: str | Path, stem: str) -> tuple[np.ndarray, np.ndarray]:
    """A shard's token ids and document ends, memory-mapped (the trainer's view)."""
    target = Path(target)
    manifest = json.loads((target / MANIFEST).read_text("utf-8"))
    dtype = np.dtype(manifest["dtype"]).newbyteorder("<")
    tokens = np.memmap(target / f"{stem}.tokens", dtype=dtype, mode="r")
    ends = np.memmap(target / f"{stem}.index", dtype="<u8", mode="r")
    return tokens, ends
