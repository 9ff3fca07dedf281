"""Fuzz the readers and the per-document steps for a bounded time (hypothesis).

Targets, each given `--seconds`:
- the JSONL reader on arbitrary bytes, plain, gzip and zstd (whole and cut short): it yields
  records or error records and never raises;
- every per-document step of the `default` and `clean` presets on arbitrary text (Unicode of all
  kinds, control characters, long runs): no exception, and the edits rebuild the input;
- the WARC reader on files built from generated records (tests/hostile/warcgen.py): every
  record becomes exactly the document, error or skip its shape calls for, and no document
  holds another record's bytes (`--warc` runs this one alone).

    python bench/fuzz.py [--seconds 60] [--warc]

A failure prints the smallest input hypothesis found; add it to the tests as a regression case.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tamis
from tamis.config import InputOptions
from tamis.document import Document
from tamis.io.inputs import InputFile
from tamis.io.readers import read_jsonl
from tamis.io.records import RawRecord, ReadError
from tamis.step import GlobalStep

WORK = Path(tempfile.mkdtemp(prefix="tamis-fuzz-"))
OPTIONS = InputOptions(max_record_size=1 << 20)


def _read(data: bytes, compression: str | None) -> int:
    suffix = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst", None: ".jsonl"}[compression]
    path = WORK / f"fuzz{suffix}"
    path.write_bytes(data)
    file = InputFile(str(path), path.name, "jsonl", compression, len(data))
    items = list(read_jsonl(file, OPTIONS))
    assert all(isinstance(item, RawRecord | ReadError) for item in items)
    return len(items)


json_lines = st.lists(st.one_of(
    st.binary(max_size=200),
    st.builds(lambda text, key: f'{{"{key}": {text!r}}}'.encode(),
              st.text(max_size=100), st.sampled_from(["text", "id", "x"])),
    st.just(b'{"id": "a", "text": "ok"}'),
), max_size=20).map(lambda lines: b"\n".join(lines))


@given(json_lines, st.sampled_from([None, "gzip", "zstd"]), st.floats(0.1, 1.0))
def reader_never_raises(data: bytes, compression: str | None, keep: float) -> None:
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    _read(data[: max(1, int(len(data) * keep))], compression)


STEPS = [step for preset in ("default", "clean")
         for step in tamis.load_config(preset).build_steps()
         if not isinstance(step, GlobalStep) and step.name != "extract"]

texts = st.text(st.characters(codec="utf-8"), max_size=400) | st.lists(
    st.sampled_from(["word ", "\n", "\n\n", "- item\n", "Related:\n", "...", " _ ", "\t",
                     "\u200b", "\u0301", "Ã©", "http://x.example/a?b=c ", "!!!", "a" * 50]),
    max_size=80).map("".join)


@given(texts)
def steps_never_raise_and_edits_rebuild(text: str) -> None:
    doc = Document("fuzz", text)
    for step in STEPS:
        step(doc)
        assert doc.rebuild_input() == text, step.name
        if not doc.kept:
            break


# The WARC builder and its property live with the tests; this runs them longer.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "hostile"))
from test_warc_fuzz import check  # noqa: E402
from warcgen import records  # noqa: E402


@given(records(max_size=12), st.sampled_from(["\r\n", "\n"]), st.booleans())
def warc_records_end_once_and_alone(found: list, newline: str, gzipped: bool) -> None:
    check(found, newline, gzipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warc", action="store_true", help="only the generated-WARC target")
    args = parser.parse_args()
    batch = settings(max_examples=200, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
    targets = [batch(warc_records_end_once_and_alone)]
    if not args.warc:
        targets += [batch(reader_never_raises), batch(steps_never_raise_and_edits_rebuild)]
    for target in targets:
        started = time.monotonic()
        runs = 0
        while time.monotonic() - started < args.seconds:
            target()  # each call draws fresh random examples
            runs += 200
        print(f"{target.__name__}: {runs} examples in {time.monotonic() - started:.0f} s, "
              f"no failure")
    print(f"steps fuzzed: {', '.join(step.name for step in STEPS)}")


if __name__ == "__main__":
    main()
