"""Read + write throughput: tamis with every step off, against a bare orjson + zstandard loop.

The floor is the least any JSONL.zst -> JSONL.zst tool must do: decompress, parse each line with
orjson, serialise it again, compress. tamis does that plus ids, sources, shard bookkeeping,
atomic writes and completion markers. Both run on one core, in fresh processes, on the same
file, in one run; the figures are medians over `--repeat` runs.

    python bench/read.py [--mb 200] [--repeat 3]

The corpus is real web text: the evaluation set's near-duplicate documents
(../shared/data/derived/dev/neardup.jsonl.gz), cycled until the file reaches --mb megabytes of
uncompressed JSONL, each copy given a distinct id.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"

FLOOR = """
import sys, orjson, zstandard
source, target = sys.argv[1], sys.argv[2]
with open(source, "rb") as raw, open(target, "wb") as out:
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    writer = zstandard.ZstdCompressor(level=3).stream_writer(out)
    buffer = b""
    while chunk := reader.read(1 << 20):
        buffer += chunk
        *lines, buffer = buffer.split(b"\\n")
        writer.write(b"".join(orjson.dumps(orjson.loads(line)) + b"\\n" for line in lines if line))
    writer.close()
"""


def make_corpus(path: Path, megabytes: int) -> tuple[int, int]:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        documents = [json.loads(line) for line in lines]
    target = megabytes * 1_000_000
    written = count = 0
    compressor = zstandard.ZstdCompressor(level=3)
    with open(path, "wb") as raw, compressor.stream_writer(raw) as out:
        while written < target:
            for doc in documents:
                line = json.dumps({"id": f"{doc['id']}#{count}", "text": doc["text"],
                                   "url": doc.get("page")}).encode() + b"\n"
                out.write(line)
                written += len(line)
                count += 1
                if written >= target:
                    break
    return written, count


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="uncompressed corpus size")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"evaluation data not found at {DATA}")

    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        corpus = work_dir / "corpus.jsonl.zst"
        size, count = make_corpus(corpus, args.mb)
        config = work_dir / "nothing.yaml"
        config.write_text("pipeline: []\n")
        env_python = sys.executable
        tamis_times, floor_times, tamis_rss, floor_rss = [], [], [], []
        for round_number in range(args.repeat):
            out = work_dir / f"out-{round_number}"
            seconds, rss = timed([env_python, "-m", "tamis", "run", str(corpus), "-o", str(out),
                                  "--config", str(config), "--workers", "1", "--quiet"])
            tamis_times.append(seconds)
            tamis_rss.append(rss)
            seconds, rss = timed([env_python, "-c", FLOOR, str(corpus),
                                  str(work_dir / "floor.jsonl.zst")])
            floor_times.append(seconds)
            floor_rss.append(rss)
        kept = json.loads((work_dir / "out-0" / "manifest.json").read_text())["counts"]
        assert kept["read"] == count, kept

    tamis_s, floor_s = statistics.median(tamis_times), statistics.median(floor_times)
    mb = size / 1e6
    print(f"corpus: {count:,} documents, {mb:,.0f} MB uncompressed JSONL (zstd), one core, "
          f"median of {args.repeat}")
    print(f"{'':8} {'seconds':>8} {'MB/s':>8} {'docs/s':>9} {'peak RSS MB':>12}")
    for name, seconds, rss in (("tamis", tamis_s, max(tamis_rss)),
                               ("floor", floor_s, max(floor_rss))):
        print(f"{name:8} {seconds:8.2f} {mb / seconds:8.1f} {count / seconds:9,.0f} {rss:12.0f}")
    print(f"ratio tamis/floor time: {tamis_s / floor_s:.2f}x (goal <= 1.5x)")
    print(f"all runs (s): tamis {[round(t, 2) for t in tamis_times]}, "
          f"floor {[round(t, 2) for t in floor_times]}")


if __name__ == "__main__":
    main()
