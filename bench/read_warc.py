"""WARC reading speed: tamis's reader against FastWARC's bare iterator, one core.

The Common Crawl excerpt (50 records, 136 kB, from ../shared/data/raw/cc-raw-samples) is repeated
into a temporary gzip WARC of a few thousand records (each record is its own gzip member, as in
Common Crawl, so repetition gives a valid file). Four readers go over it:
- FastWARC bare: `ArchiveIterator` alone, no HTTP parsing, no payload read (the floor);
- FastWARC doing tamis's job by hand: HTTP parsing, the payload of every HTML response read;
- tamis `read_warc` over the whole file (classification, metadata, truncation checks);
- tamis `read_warc` over the same file cut into 16 byte ranges (the resynchronisation cost).

records/s and MB/s are per core: per CPU-second (the machine is shared; wall time beside it).

    PYTHONPATH=src python bench/read_warc.py [--copies N] [--repeat R]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastwarc.warc import ArchiveIterator

REPO = Path(__file__).resolve().parents[1]
EXCERPT = (REPO.parent / "shared" / "data" / "raw" / "cc-raw-samples" / "resiliparse"
           / "CC-MAIN-2020-34-excerpt.warc.gz")
sys.path.insert(0, str(REPO / "src"))

from tamis.io.warc import read_warc  # noqa: E402


def fastwarc_bare(path: Path) -> int:
    """The floor: FastWARC's iterator alone, no HTTP parsing, no payload read."""
    with open(path, "rb") as stream:
        return sum(1 for _ in ArchiveIterator(stream, parse_http=False))


def fastwarc_same_job(path: Path) -> int:
    """FastWARC doing tamis's job by hand: parse HTTP, read the payloads of HTML responses."""
    count = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, parse_http=True):
            if record.http_content_type == "text/html":
                record.reader.read()
            count += 1
    return count


def tamis_whole(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in read_warc(stream, file=path.name))


def tamis_ranges(path: Path, pieces: int = 16) -> int:
    size = path.stat().st_size
    bounds = [size * index // pieces for index in range(pieces + 1)]
    count = 0
    with open(path, "rb") as stream:
        for start, end in itertools.pairwise(bounds):
            count += sum(1 for _ in read_warc(stream, file=path.name, start=start, end=end))
    return count


def measure(reader: Callable[[Path], int], path: Path, repeat: int) -> tuple[int, float, float]:
    """Records read, and the median CPU and wall seconds of `repeat` passes.

    CPU time is the per-core measure on a shared machine; wall time is shown beside it.
    """
    cpus, walls = [], []
    count = 0
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        count = reader(path)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return count, statistics.median(cpus), statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=100, help="times the excerpt is repeated")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the median is shown")
    args = parser.parse_args()
    if not EXCERPT.exists():
        sys.exit(f"evaluation data not found at {EXCERPT}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "repeated.warc.gz"
        path.write_bytes(EXCERPT.read_bytes() * args.copies)
        megabytes = path.stat().st_size / 1e6
        print(f"{path.name}: {megabytes:.1f} MB gzip, {args.copies * 50} records; "
              f"median of {args.repeat} passes, one core")
        print(f"{'reader':<34} {'records/s':>10} {'MB/s':>7} {'vs bare':>8} {'wall rec/s':>11}")
        baseline = None
        readers = {"FastWARC bare iterator": fastwarc_bare,
                   "FastWARC + HTTP + HTML payloads": fastwarc_same_job,
                   "tamis read_warc": tamis_whole,
                   "tamis read_warc, 16 byte ranges": tamis_ranges}
        for label, reader in readers.items():
            count, cpu, wall = measure(reader, path, args.repeat)
            assert count == args.copies * 50, (label, count)
            baseline = baseline or cpu
            print(f"{label:<34} {count / cpu:10.0f} {megabytes / cpu:7.1f} "
                  f"{baseline / cpu:8.2f}x {count / wall:11.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
