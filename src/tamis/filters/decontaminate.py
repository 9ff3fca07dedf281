"""Benchmark decontamination: remove documents (or cut spans) that share word n-grams with
evaluation sets, as GPT-3 and later recipes do with 13-grams.

The user names the benchmark files (JSONL of questions and answers, or plain text); nothing is
bundled or fetched. Every string of a benchmark is a passage; every run of `ngram` words of a
passage is hashed to 64 bits, and the sorted, de-duplicated hashes are the index. A document
whose own n-gram hashes hit the index is contaminated.

Words. Benchmark text and documents go through the same normalising regex: a word is a run of
letters, marks and digits (punctuation, whitespace and case are dropped), and each character of
a script written without spaces (Han, kana, Thai...) is a word of its own, as in
`tamis.text.split`. The document's shared `split(doc).words` is not used: its spaCy-style tokens
keep punctuation and case (so "Paris." would be "Paris" + "." on one side and the benchmark's
"paris" on the other) and carry no character offsets, which the `spans` mode needs to cut.

Hashes. A word's hash is xxh3-64 of its lowercased text; an n-gram's hash is the polynomial
`sum(word[i] * M**(n-1-i))` modulo 2**64 with an odd `M`, computed for all n-grams of a document
at once with NumPy. Since `M` is odd, two n-grams that differ in one word differ by a uniformly
spread value, so a false hit needs a 64-bit collision.

The index is built once per benchmark set and cached as two `.npy` files (sorted hashes and the
benchmark file each came from) in a folder named by a hash of the benchmark files' contents and
the options that shape the index. The folder is written under a temporary name and renamed into
place, so concurrent builders never see half an index; every worker then maps the same files
read-only (`mmap_mode="r"`), so the index's memory is shared by all worker processes. Lookups are
`np.searchsorted` into the sorted hashes.

The cache lives in `$TAMIS_CACHE_DIR`, else `$XDG_CACHE_HOME/tamis`, else `~/.cache/tamis`
(the system's temporary folder when that is not writable), under `decontaminate/`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import regex
import xxhash
import zstandard
from pydantic import Field, field_validator

from tamis.config import ConfigError
from tamis.document import Change, Document
from tamis.pipeline import Step, StepOptions, register

RULE = "decontaminate"
# Bump when words, hashes or the index layout change: old cached indexes are then ignored.
INDEX_VERSION = 1

_SPACELESS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
WORD = regex.compile(rf"[{_SPACELESS}]|[[\p{{L}}\p{{M}}\p{{N}}]--[{_SPACELESS}]]+", regex.V1)
# What a cut takes after its last word: the punctuation stuck to it ("Paris." loses the dot).
_TRAILING = regex.compile(r"[^\s\p{L}\p{M}\p{N}]*")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so multiplying by it is a bijection
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def words(text: str) -> list[str]:
    """The normalised words of `text`: lowercased runs of letters, marks and digits."""
    return [word.lower() for word in WORD.findall(text)]


def ngram_hashes(words: list[str], n: int) -> np.ndarray:
    """The 64-bit hash of every run of `n` consecutive words, in text order."""
    count = len(words) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    hash_word = xxhash.xxh3_64_intdigest
    word_hashes = np.fromiter((hash_word(word.encode()) for word in words), dtype=np.uint64,
                              count=len(words))
    hashes = word_hashes[:count].copy()
    for offset in range(1, n):
        hashes *= _MULTIPLIER
        hashes += word_hashes[offset:offset + count]
    return hashes


# -- benchmark files ------------------------------------------------------------------------

def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    if path.suffix == ".zst":
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (lists and mappings are searched all the way down)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def passages(path: Path, fields: list[str] | None = None,
             text_unit: Literal["line", "file"] = "line") -> Iterator[str]:
    """The passages of one benchmark file, each to be cut into n-grams on its own.

    JSONL (`.jsonl`, `.ndjson`; `.json` may also hold one list of records): every string value
    of a record, or only those of `fields`. Any other file is plain text: one passage per line,
    or the whole file with `text_unit="file"`. `.gz` and `.zst` files are decompressed.
    """
    name = path.name.removesuffix(".gz").removesuffix(".zst")
    with _open_text(path) as stream:
        if not name.endswith(_JSON_SUFFIXES):
            yield from ([stream.read()] if text_unit == "file" else stream)
            return
        text = stream.read()
    if name.endswith(".json") and text.lstrip().startswith("["):
        records = _parse(text, path, "the file")
    else:
        records = (_parse(line, path, f"line {number}")
                   for number, line in enumerate(text.splitlines(), 1) if line.strip())
    for record in records:
        if fields is not None:
            record = [record.get(key) for key in fields] if isinstance(record, dict) else []
        yield from _strings(record)


def _parse(text: str, path: Path, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"decontaminate.benchmarks: {path}: {where} is not valid JSON "
                          f"({error.msg}); JSONL holds one JSON object per line") from None


# -- the index ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Index:
    """Sorted n-gram hashes of the benchmarks, and for each the benchmark file it came from."""

    hashes: np.ndarray  # uint64, sorted, unique
    sources: np.ndarray  # uint32, index into the benchmark file list

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(whether each hash is in the index, the source of those that are)."""
        if not len(hashes):
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.uint32)
        positions = np.searchsorted(self.hashes, hashes)
        positions[positions == len(self.hashes)] = 0
        found = self.hashes[positions] == hashes
        return found, self.sources[positions[found]]


def build_index(files: list[Path], n: int, fields: list[str] | None,
                text_unit: Literal["line", "file"]) -> Index:
    """Hash every n-gram of every passage of `files` (duplicates keep their first file)."""
    parts: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    for number, path in enumerate(files):
        for passage in passages(path, fields, text_unit):
            hashes = ngram_hashes(words(passage), n)
            parts.append(hashes)
            sources.append(np.full(len(hashes), number, dtype=np.uint32))
    if not parts:
        return Index(np.empty(0, np.uint64), np.empty(0, np.uint32))
    hashes, first = np.unique(np.concatenate(parts), return_index=True)
    return Index(hashes, np.concatenate(sources)[first])


def cache_root() -> Path:
    """Where built indexes are kept (see the module docstring)."""
    if os.environ.get("TAMIS_CACHE_DIR"):
        return Path(os.environ["TAMIS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tamis"


def index_key(files: list[Path], n: int, fields: list[str] | None, text_unit: str) -> str:
    """A name for the index of these files' contents built with these options."""
    digest = hashlib.sha256(json.dumps([INDEX_VERSION, n, fields, text_unit]).encode())
    for path in files:
        content = xxhash.xxh3_128()
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                content.update(chunk)
        digest.update(content.digest())
    return digest.hexdigest()[:24]


def load_index(files: list[Path], n: int, fields: list[str] | None,
               text_unit: Literal["line", "file"]) -> Index:
    """The cached index of `files`, built and cached first if no process has built it yet."""
    key = index_key(files, n, fields, text_unit)
    for root in (cache_root(), Path(tempfile.gettempdir()) / "tamis-cache"):
        folder = root / "decontaminate" / key
        if not (folder / "hashes.npy").exists():
            index = build_index(files, n, fields, text_unit)
            if not len(index.hashes):
                return index  # nothing to cache: the step reports it
            try:
                _publish(index, folder)
            except OSError:
                continue  # not writable: try the next place
        return Index(np.load(folder / "hashes.npy", mmap_mode="r"),
                     np.load(folder / "sources.npy", mmap_mode="r"))
    return build_index(files, n, fields, text_unit)  # no writable cache: keep it in memory


def _publish(index: Index, folder: Path) -> None:
    """Write the index beside `folder` and rename it into place (all or nothing)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        np.save(staging / "sources.npy", index.sources)
        np.save(staging / "hashes.npy", index.hashes)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "hashes.npy").exists():
                raise
            # another process published the same index first: use theirs
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# -- the step -------------------------------------------------------------------------------

class DecontaminateOptions(StepOptions):
    # Benchmark files: JSONL (.jsonl, .ndjson, .json) or plain text; .gz and .zst are read too.
    benchmarks: list[str] = Field(min_length=1)
    # Which JSONL fields hold benchmark text (None: every string value of a record).
    fields: list[str] | None = None
    # Plain-text benchmarks: one passage per line, or the whole file as one passage.
    text_unit: Literal["line", "file"] = "line"
    # Words per n-gram: 13 as in GPT-3; passages shorter than this add nothing to the index.
    ngram: int = Field(default=13, ge=1)
    # Remove the whole document, or cut only the matching spans and keep the rest.
    mode: Literal["document", "spans"] = "document"
    # Act only when at least this many distinct benchmark n-grams occur in the document.
    min_matches: int = Field(default=1, ge=1)

    @field_validator("benchmarks")
    @classmethod
    def _files_exist(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not Path(path).is_file():
                raise ValueError(f"benchmark file {path} does not exist (or is not a file); "
                                 f"give the path of a JSONL or text file of benchmark items")
        return paths


@register
class Decontaminate(Step):
    """Remove documents, or cut spans, that share `ngram`-word n-grams with a benchmark."""

    name = "decontaminate"
    Options = DecontaminateOptions
    options: DecontaminateOptions

    def __init__(self, options: DecontaminateOptions | None = None) -> None:
        super().__init__(options)
        o = self.options
        self.index = load_index([Path(path) for path in o.benchmarks], o.ngram, o.fields,
                                o.text_unit)
        if not len(self.index.hashes):
            which = f"fields {o.fields} of " if o.fields is not None else ""
            raise ConfigError(
                f"decontaminate.benchmarks: no passage of {which}{', '.join(o.benchmarks)} has "
                f"{o.ngram} words, so there is nothing to look for; check the files (and "
                f"`fields`), or lower `ngram`")

    def __call__(self, doc: Document) -> None:
        if self.options.mode == "spans":
            self._cut(doc)
            return
        found_words = words(doc.text)
        hashes = ngram_hashes(found_words, self.options.ngram)
        found, sources = self.index.find(hashes)
        matched = len(np.unique(hashes[found]))
        if matched < self.options.min_matches:
            return
        first = int(np.flatnonzero(found)[0])
        doc.remove(self.name, RULE, self._detail(found_words, first, sources[0], matched))

    def _cut(self, doc: Document) -> None:
        """Cut every run of words covered by matching n-grams (and punctuation stuck to it)."""
        n = self.options.ngram
        matches = list(WORD.finditer(doc.text))
        found_words = [match.group().lower() for match in matches]
        hashes = ngram_hashes(found_words, n)
        found, sources = self.index.find(hashes)
        if len(np.unique(hashes[found])) < self.options.min_matches:
            return
        starts = np.flatnonzero(found)
        # A word is covered when some matching n-gram spans it; runs of covered words are cut.
        depth = np.zeros(len(found_words) + 1, dtype=np.int64)
        np.add.at(depth, starts, 1)
        np.add.at(depth, starts + n, -1)
        covered = np.concatenate([[False], np.cumsum(depth[:-1]) > 0, [False]])
        edges = np.flatnonzero(np.diff(covered.astype(np.int8)))
        changes = []
        for first, end in zip(edges[::2], edges[1::2], strict=True):
            source = sources[np.searchsorted(starts, first)]
            stop = _TRAILING.match(doc.text, matches[end - 1].end()).end()
            changes.append(Change(matches[first].start(), stop, RULE,
                                  self._detail(found_words, int(first), source)))
        doc.edit(changes)
        if not WORD.search(doc.text):
            doc.remove(self.name, RULE, f"no words left after cutting {len(changes)} "
                                        f"benchmark spans")

    def _detail(self, found_words: list[str], first: int, source: int,
                count: int | None = None) -> str:
        """The benchmark file and the (first) matched n-gram, as normalised words."""
        ngram = " ".join(found_words[first:first + self.options.ngram])
        counted = f"{count} matching {self.options.ngram}-grams, first " if count else ""
        return f"{self.options.benchmarks[int(source)]}: {counted}'{ngram}'"
