"""Hostile input at full size, and kill -9 at ten points of a run: nothing lost, memory bounded.

The fast versions of these cases run in the test suite (tests/hostile/); this script runs the
sizes the issue names, each `tamis run` in its own process with one worker so the peak RSS
measured is the worker's, and prints a table: case, outcome, peak memory, records lost.

    python bench/hostile.py [--skip-kills] [--skip-sizes] [--skip-runs] [--repeats 20]

Kill points: the run is started, watched through its completion markers, and killed with
SIGKILL (the whole process group) at a point; then the same command is rerun and its records
are compared byte for byte with an uninterrupted run's.

Run cases: two runs started into one folder at once (repeated), `--overwrite` while a run
writes, SIGTERM and SIGKILL to the main process alone and two Ctrl-C to the process group: the
exit codes, child processes left behind (from /proc), and the output after a rerun compared
with an undisturbed run's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "derived" / "dev" / "neardup.jsonl.gz"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def tamis(*args: str) -> tuple[int, float, str]:
    """Run tamis in a child; exit code, peak RSS in MB, the end of stderr."""
    process = subprocess.Popen([sys.executable, "-m", "tamis", *args], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, stderr[-300:]


def records(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes()
            for kind in ("kept", "removed", "errors") for path in sorted((out / kind).glob("*"))}


def lost(out: Path, expected: int) -> int:
    counted = 0
    for kind in ("kept", "removed", "errors"):
        for path in (out / kind).glob("*.jsonl.zst"):
            with open(path, "rb") as raw:
                counted += zstandard.ZstdDecompressor().stream_reader(raw).read().count(b"\n")
    return expected - counted


def size_cases(work: Path) -> list[tuple[str, str, float, int]]:
    rows = []
    # A 200 MB document on a single line.
    big = work / "line.jsonl"
    with open(big, "w") as out:
        out.write(json.dumps({"id": "big", "text": "word " * 40_000_000}) + "\n")
        out.write(json.dumps({"id": "after", "text": "a normal document"}) + "\n")
    limit = work / "limit.yaml"
    limit.write_text("input:\n  max_record_size: 512MB\n")
    code, peak, err = tamis("run", str(big), "-o", str(work / "o1"), "--config", str(limit),
                            "--workers", "1", "--quiet")
    counts = (json.loads((work / "o1" / "manifest.json").read_text())["counts"]
              if code == 0 else {})
    rows.append(("200 MB single-line document",
                 f"exit {code}, {counts.get('kept')} kept, {counts.get('removed')} removed "
                 f"(too long)" if code == 0 else err, peak, lost(work / "o1", 2)))
    # A gzip bomb: 1 GB of zeros in about 1 MB.
    bomb = work / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        block = b"\0" * (1 << 20)
        for _ in range(1024):
            out.write(block)
    code, peak, err = tamis("run", str(bomb), "-o", str(work / "o2"), "--workers", "1",
                            "--quiet")
    manifest = json.loads((work / "o2" / "manifest.json").read_text()) if code == 0 else {}
    outcome = (f"exit {code}, {manifest.get('counts', {}).get('errors')} error record(s) "
               f"({bomb.stat().st_size / 1e6:.1f} MB file)")
    rows.append(("gzip bomb, 1 GB of zeros", outcome, peak,
                 lost(work / "o2", manifest.get("counts", {}).get("read", 0))))
    # A million tiny documents.
    tiny = work / "tiny.jsonl"
    with open(tiny, "w") as out:
        for number in range(1_000_000):
            out.write(f'{{"id": "t{number}", "text": "tiny document {number % 1000}"}}\n')
    started = time.perf_counter()
    code, peak, err = tamis("run", str(tiny), "-o", str(work / "o3"), "--workers", "1",
                            "--quiet")
    seconds = time.perf_counter() - started
    rows.append(("1M tiny documents", f"exit {code}, {seconds:.0f} s", peak,
                 lost(work / "o3", 1_000_000)))
    return rows


def kill_cases(work: Path) -> list[tuple[str, str, float, int]]:
    with gzip.open(DATA, "rb") as lines:
        data = b"".join(lines)
    corpus = work / "pages.jsonl"
    corpus.write_bytes(data)
    expected = data.count(b"\n")
    config = work / "shards.yaml"
    config.write_text("input:\n  shard_size: 400KB\n")
    args = ["run", str(corpus), "--config", str(config), "--workers", "2", "--quiet"]
    tamis(*args, "-o", str(work / "reference"))
    reference = records(work / "reference")
    plan = len(json.loads((work / "reference" / "manifest.json").read_text())["shards"])

    def markers(out: Path, pass_index: int) -> int:
        return len(list((out / "_tamis" / "done" / f"pass-{pass_index}").glob("0*.json")))

    points = [
        ("while reading, before any shard is done", lambda out: (out / "_tamis").exists()),
        ("after the first shard of pass 1", lambda out: markers(out, 0) >= 1),
        ("mid pass 1 (a third of the shards)", lambda out: markers(out, 0) >= plan // 3),
        ("late in pass 1 (two thirds)", lambda out: markers(out, 0) >= 2 * plan // 3),
        ("pass 1 done, resolving duplicates",
         lambda out: markers(out, 0) == plan),
        ("after the resolve", lambda out: (out / "_tamis/done/pass-0/resolved.json").exists()),
        ("after the first shard of pass 2", lambda out: markers(out, 1) >= 1),
        ("mid pass 2", lambda out: markers(out, 1) >= plan // 2),
        ("pass 2 almost done", lambda out: markers(out, 1) >= plan - 1),
        ("writing part files (first kept part in place)",
         lambda out: any((out / "kept").glob("part-*"))),
    ]
    rows = []
    for number, (label, ready) in enumerate(points):
        out = work / f"killed-{number}"
        process = subprocess.Popen([sys.executable, "-m", "tamis", *args, "-o", str(out)],
                                   env=ENV, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None and not ready(out):
            time.sleep(0.005)
        finished_first = process.poll() is not None
        if not finished_first:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        code, peak, _ = tamis(*args, "-o", str(out))
        same = records(out) == reference
        outcome = ("run had finished before the kill point; " if finished_first else "") + (
            f"resumed, exit {code}, output {'identical' if same else 'DIFFERENT'}")
        rows.append((f"kill -9 {label}", outcome, peak, lost(out, expected)))
        shutil.rmtree(out, ignore_errors=True)
    return rows


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int], seconds: float = 15.0) -> set[int]:
    """Which of `pids` still run (not zombies) after waiting up to `seconds` for them to end."""
    deadline = time.monotonic() + seconds
    while True:
        living = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                living.add(pid)
        if not living or time.monotonic() > deadline:
            return living


def run_cases(work: Path, repeats: int) -> list[tuple[str, str, float, int]]:
    """Runs against runs and signals: two runs on one folder (repeated), --overwrite during a
    run, SIGTERM and SIGKILL to the main process alone, two Ctrl-C to the process group."""
    with gzip.open(DATA, "rb") as lines:
        data = b"".join(line for _, line in zip(range(600), lines, strict=False))
    corpus = work / "runs"
    corpus.mkdir()
    (corpus / "pages.jsonl").write_bytes(data)
    html = REPO.parent / "shared" / "data" / "raw" / "trafilatura-eval" / "html" / "cache"
    for page in sorted(html.iterdir())[:20]:  # HTML, so extraction helpers run too
        shutil.copy(page, corpus / page.name)
    expected = data.count(b"\n") + 20
    config = work / "runs.yaml"
    config.write_text("input:\n  shard_size: 100KB\n")
    args = ["run", str(corpus), "--config", str(config), "--workers", "2", "--quiet"]
    tamis(*args, "-o", str(work / "runs-reference"))
    reference = records(work / "runs-reference")
    rows = []

    def start(out: Path, *extra: str) -> subprocess.Popen[bytes]:
        # As from a terminal: Ctrl-C's default action (a background shell ignores SIGINT, and
        # children inherit that).
        return subprocess.Popen([sys.executable, "-m", "tamis", *args, "-o", str(out), *extra],
                                env=ENV, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=_default_sigint)

    def started(out: Path, process: subprocess.Popen[bytes]) -> set[int]:
        """Wait for a shard marker and an extraction helper; the processes below the run."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            below = descendants(process.pid)
            helper = any(b"tamis.extract" in _command(pid) for pid in below)
            if helper and any((out / "_tamis" / "done").rglob("0*.json")):
                return below
            time.sleep(0.02)
        return set()

    # Two runs into one folder at once (the second with --overwrite every other time).
    outcomes: dict[tuple[int, int], int] = {}
    identical = lost_total = 0
    peak = 0.0
    for number in range(repeats):
        out = work / f"twice-{number}"
        extra = ["--overwrite"] if number % 2 else []
        first, second = start(out), start(out, *extra)
        codes = []
        for process in (first, second):
            _, status, usage = os.wait4(process.pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
            peak = max(peak, usage.ru_maxrss / 1024)
        outcomes[tuple(sorted(codes))] = outcomes.get(tuple(sorted(codes)), 0) + 1
        identical += records(out) == reference
        lost_total += lost(out, expected)
        shutil.rmtree(out, ignore_errors=True)
    if repeats:
        shown = ", ".join(f"exits {a} and {b}: {count}"
                          for (a, b), count in sorted(outcomes.items()))
        rows.append((f"two runs into one folder at once, x{repeats}",
                     f"{shown}; output identical {identical}/{repeats}", peak, lost_total))

    # --overwrite while a run writes the folder.
    out = work / "overwrite-during"
    running = start(out)
    started(out, running)
    code, peak, err = tamis(*args, "-o", str(out), "--overwrite")
    first_code = running.wait()
    rows.append(("--overwrite during a run",
                 f"refused with exit {code} ({'names pid and host' if 'on host' in err else err}"
                 f"); the run exits {first_code}, output "
                 f"{'identical' if records(out) == reference else 'DIFFERENT'}", peak,
                 lost(out, expected)))

    # The main process stopped: SIGTERM or SIGKILL to it alone, or two Ctrl-C to the group.
    for label, stop in (
            ("SIGTERM to the main process", lambda p: os.kill(p.pid, signal.SIGTERM)),
            ("SIGKILL to the main process", lambda p: os.kill(p.pid, signal.SIGKILL)),
            ("two Ctrl-C 0.3 s apart (process group)", lambda p: (
                os.killpg(p.pid, signal.SIGINT), time.sleep(0.3),
                os.killpg(p.pid, signal.SIGINT)))):
        out = work / "stopped"
        process = start(out)
        below = started(out, process)
        stop(process)
        code = process.wait(120)
        stderr = process.stderr.read().decode() if process.stderr else ""
        orphans = alive(below)
        rerun, peak, _ = tamis(*args, "-o", str(out))
        same = records(out) == reference
        traceback = "a traceback" if "Traceback" in stderr else "no traceback"
        rows.append((label, f"exit {code}, {len(below)} child processes, {len(orphans)} left "
                            f"after 15 s, {traceback}; rerun exit {rerun}, output "
                            f"{'identical' if same else 'DIFFERENT'}", peak,
                     lost(out, expected)))
        shutil.rmtree(out, ignore_errors=True)
    return rows


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-kills", action="store_true")
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument("--repeats", type=int, default=20,
                        help="times two runs are started into one folder at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        rows = []
        if not args.skip_sizes:
            rows += size_cases(Path(work))
        if not args.skip_kills:
            rows += kill_cases(Path(work))
        if not args.skip_runs:
            rows += run_cases(Path(work), args.repeats)
    print(f"| {'case':52} | {'outcome':60} | peak RSS MB | records lost |")
    print(f"|{'-' * 54}|{'-' * 62}|------------:|-------------:|")
    for case, outcome, peak, missing in rows:
        print(f"| {case:52} | {outcome:60} | {peak:11.0f} | {missing:12d} |")


if __name__ == "__main__":
    main()
