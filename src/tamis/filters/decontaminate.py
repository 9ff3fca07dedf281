"""Benchmark decontamination: remove documents (or cut spans) that share word n-grams with
evaluation sets, as GPT-3 and later recipes do with 13-grams.

The user names the benchmark files (JSONL of questions and answers, or plain text); nothing is
bundled or fetched. Every string of a benchmark is a passage; every run of `ngram` words of a
passage is hashed to 64 bits, and the sorted, de-duplicated hashes are the index. A document
whose own n-gram hashes hit the index is contaminated.

Words. Benchmark text and documents go through the same normalising regex: a word is a run of
letters, marks and digits (punctuation, whitespace and case are dropped; underscores are not
word characters, so "____" blanks do not count), and each character of a script written without
spaces (Han, kana, Thai...) is a word of its own, as in `tamis.text.split`. The document's
shared `split(doc).words` is not used: its spaCy-style tokens keep punctuation and case (so
"Paris." would be "Paris" + "." on one side and the benchmark's "paris" on the other) and carry
no character offsets, which the `spans` mode needs to cut.

Hashes. A word's hash is xxh3-64 of its lowercased text; an n-gram's hash is the polynomial
`sum(word[i] * M**(n-1-i))` modulo 2**64 with an odd `M`, computed for all n-grams of a document
at once with NumPy. Since `M` is odd, two n-grams that differ in one word differ by a uniformly
spread value, so a false hit needs a 64-bit collision.

The index is built once per benchmark set and cached as three `.npy` files (sorted hashes, the
benchmark file each came from, and a bitmap filter over the hashes' top bits) in a folder named
by a hash of the benchmark files' contents and the options that shape the index. The folder is
written under a temporary name and renamed into place, so concurrent builders never see half an
index; every worker then maps the same files read-only (`mmap_mode="r"`), so the index's memory
is shared by all worker processes. A lookup checks the bitmap first (one memory access rules out
almost every n-gram), then `np.searchsorted` into the sorted hashes for the few that pass.

The cache lives in `$TAMIS_CACHE_DIR`, else `$XDG_CACHE_HOME/tamis`, else `~/.cache/tamis`
(the system's temporary folder when that is not writable), under `decontaminate/`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
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
from tamis.step import Step, StepOptions, register
from tamis.text import hashing

RULE = "decontaminate"
# Bump when words, hashes or the index layout change: old cached indexes are then ignored.
INDEX_VERSION = 2

# A word: a run of letters, marks and digits (regex's Unicode `\w` without the underscore).
WORD = regex.compile(r"[\w--_]+", regex.V1)
# Scripts written without spaces (the Thai, Lao, Myanmar, Khmer, kana and Han blocks): one word
# per character, as in `tamis.text.split`. Code point ranges, not script properties: `re` finds
# them in a page six times faster, and most pages have none, so most pages take the fast path.
_RANGES = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
           "\uf900-\ufaff\U00020000-\U0003134f")
_SPACELESS = re.compile(f"[{_RANGES}]")
_PIECES = re.compile(f"[{_RANGES}]|[^{_RANGES}]+")
# What a cut takes after its last word: the punctuation stuck to it ("Paris." loses the dot).
_TRAILING = regex.compile(r"[^\s\w]*")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def words(text: str) -> list[str]:
    """The normalised words of `text`: lowercased runs of letters, marks and digits."""
    if _SPACELESS.search(text) is None:
        return list(map(str.lower, WORD.findall(text)))
    found = []
    for word in WORD.findall(text):
        found.extend(map(str.lower, _PIECES.findall(word)))
    return found


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each of `words(text)` stands in `text` (start and end offsets)."""
    spaceless = _SPACELESS.search(text) is not None
    spans = []
    for match in WORD.finditer(text):
        if not spaceless:
            spans.append(match.span())
            continue
        start = match.start()
        spans.extend((start + piece.start(), start + piece.end())
                     for piece in _PIECES.finditer(match.group()))
    return spans


# Words repeat across documents ("the", "of"): their hashes are memoised, bounded.
_HASHES: dict[str, int] = {}
_HASHES_LIMIT = 1_000_000


def word_hashes(words: list[str]) -> np.ndarray:
    """xxh3-64 of every word's UTF-8 bytes (memoised words in one C-level pass)."""
    hashes = list(map(_HASHES.get, words))
    if None in hashes:
        if len(_HASHES) >= _HASHES_LIMIT:
            _HASHES.clear()
        for index, found in enumerate(hashes):
            if found is None:
                word = words[index]
                hashes[index] = _HASHES[word] = xxhash.xxh3_64_intdigest(word.encode())
    return np.array(hashes, dtype=np.uint64)


def ngram_hashes(words: list[str], n: int) -> np.ndarray:
    """The 64-bit hash of every run of `n` consecutive words, in text order."""
    if len(words) < n:
        return np.empty(0, dtype=np.uint64)
    return hashing.ngram_hashes(word_hashes(words), n)


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

    JSONL (`.jsonl`, `.ndjson`) or JSON (`.json`: a list of records, or one): every string value
    of a record, or only those of `fields`. Any other file is plain text: one passage per line,
    or the whole file with `text_unit="file"`. `.gz` and `.zst` files are decompressed.
    """
    name = path.name.removesuffix(".gz").removesuffix(".zst")
    with _open_text(path) as stream:
        if not name.endswith(_JSON_SUFFIXES):
            yield from ([stream.read()] if text_unit == "file" else stream)
            return
        text = stream.read()
    if name.endswith(".json"):
        data = _parse(text, path, "the file")
        records = data if isinstance(data, list) else [data]
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
                          f"({error.msg}); a .jsonl file holds one JSON record per line, "
                          f"a .json file one JSON value") from None


# -- the index ------------------------------------------------------------------------------

# Bits of the index's filter per indexed n-gram (rounded up to a power of two): about one
# query in 16 or fewer gets past the filter to the binary search.
_FILTER_BITS = 16


@dataclass(frozen=True)
class Index:
    """Sorted n-gram hashes of the benchmarks, the benchmark file each came from, and a filter.

    Most document n-grams are not in the index, and a binary search into a large array is a
    cache miss per step. The filter is a bitmap over the hashes' top bits: one lookup rules out
    almost every n-gram, and only the rest is searched.
    """

    hashes: np.ndarray  # uint64, sorted, unique
    sources: np.ndarray  # uint32, index into the benchmark file list
    bits: np.ndarray  # uint8, bit b of byte i set when some hash has top bits 8 * i + b

    @classmethod
    def of(cls, hashes: np.ndarray, sources: np.ndarray) -> Index:
        """The index of sorted unique `hashes`, with its filter."""
        size = max(1 << 16, 1 << int(len(hashes) * _FILTER_BITS - 1).bit_length())
        bits = np.zeros(size // 8, dtype=np.uint8)
        slots = _slots(hashes, size)
        np.bitwise_or.at(bits, slots >> np.uint64(3), np.left_shift(1, slots & np.uint64(7))
                         .astype(np.uint8))
        return cls(hashes, sources, bits)

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(whether each hash is in the index, the source of those that are)."""
        found = np.zeros(len(hashes), dtype=bool)
        slots = _slots(hashes, len(self.bits) * 8)
        passed = (self.bits[slots >> np.uint64(3)] >> (slots & np.uint64(7)).astype(np.uint8)) & 1
        candidates = np.flatnonzero(passed)
        if not len(candidates):
            return found, np.zeros(0, dtype=np.uint32)
        wanted = hashes[candidates]
        positions = np.searchsorted(self.hashes, wanted)
        positions[positions == len(self.hashes)] = 0
        hit = self.hashes[positions] == wanted
        found[candidates[hit]] = True
        return found, self.sources[positions[hit]]


def _slots(hashes: np.ndarray, size: int) -> np.ndarray:
    """The filter bit of each hash: its top log2(size) bits."""
    return hashes >> np.uint64(65 - size.bit_length())


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
        return Index.of(np.empty(0, np.uint64), np.empty(0, np.uint32))
    hashes, first = np.unique(np.concatenate(parts), return_index=True)
    return Index.of(hashes, np.concatenate(sources)[first])


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
        # Plain arrays over the mapped files: indexing a np.memmap goes through Python code.
        return Index(*(np.asarray(np.load(folder / f"{part}.npy", mmap_mode="r"))
                       for part in _PARTS))
    return build_index(files, n, fields, text_unit)  # no writable cache: keep it in memory


_PARTS = ("hashes", "sources", "bits")


def _publish(index: Index, folder: Path) -> None:
    """Write the index beside `folder` and rename it into place (all or nothing)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for part in _PARTS:
            np.save(staging / f"{part}.npy", getattr(index, part))
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
    # Benchmark files: JSONL (.jsonl, .ndjson), JSON (.json) or plain text; .gz and .zst too.
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
        found_words = words(doc.text)
        hashes = ngram_hashes(found_words, self.options.ngram)
        found, sources = self.index.find(hashes)
        matched = len(np.unique(hashes[found]))
        if matched < self.options.min_matches:
            return
        if self.options.mode == "spans":
            self._cut(doc, found_words, found, sources)
            return
        first = int(np.flatnonzero(found)[0])
        doc.remove(self.name, RULE, self._detail(found_words, first, sources[0], matched))

    def _cut(self, doc: Document, found_words: list[str], found: np.ndarray,
             sources: np.ndarray) -> None:
        """Cut every run of words covered by matching n-grams (and punctuation stuck to it).

        Word offsets are only found here, for the few documents with a hit.
        """
        n = self.options.ngram
        spans = word_spans(doc.text)
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
            stop = _TRAILING.match(doc.text, spans[end - 1][1]).end()
            changes.append(Change(spans[first][0], stop, RULE,
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
