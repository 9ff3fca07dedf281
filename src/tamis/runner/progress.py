"""Progress: workers add to shared counters; the main process shows them.

On a terminal a live bar shows documents, MB, docs/s, kept % and the ETA; elsewhere (CI, logs)
a plain line every few seconds; nothing with `quiet`. Workers touch the shared counters a few
times a second, not per document, so reporting costs nothing measurable.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

DOCS, KEPT, BYTES = 0, 1, 2
FLUSH_SECONDS = 0.25
LOG_SECONDS = 10.0
TICK_SECONDS = 0.5  # how often the display is refreshed while shards run in this process

_shared: SynchronizedArray[Any] | list[int] | None = None


def attach(counters: SynchronizedArray[Any] | list[int] | None) -> None:
    """Point this process's reporters at the counters (a worker initializer calls this)."""
    global _shared
    _shared = counters


class Reporter:
    """Counts one shard's documents and adds them to the shared counters now and then."""

    def __init__(self) -> None:
        self.pending = [0, 0, 0]
        self.last = time.monotonic()

    def tick(self, item: Any) -> None:
        pending = self.pending
        pending[DOCS] += 1
        text = getattr(item, "input_text", None)
        if text is not None:
            pending[BYTES] += len(text)
            if item.kept:
                pending[KEPT] += 1
        if pending[DOCS] % 64 == 0 and time.monotonic() - self.last > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if _shared is None or not any(self.pending):
            return
        lock = getattr(_shared, "get_lock", None)
        if lock is not None:
            with lock():
                for position, value in enumerate(self.pending):
                    _shared[position] += value
        else:
            for position, value in enumerate(self.pending):
                _shared[position] += value
        self.pending = [0, 0, 0]


@contextmanager
def ticking(display: Display, shards_done: Callable[[], int]) -> Iterator[None]:
    """Refresh `display` every TICK_SECONDS from a thread while shards run in this process
    (one worker, or `--limit`), so that it moves within a shard, not only when one ends."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_SECONDS):
            display.update(shards_done())

    thread = threading.Thread(target=tick, name="tamis-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class Display:
    """The main process's view of a run's progress."""

    def __init__(self, counters: Any, quiet: bool) -> None:
        self.counters = counters
        self.quiet = quiet
        self.live = not quiet and sys.stderr.isatty()
        self.console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._last_log = 0.0
        self._started = time.monotonic()
        self._label = ""
        self._total = 0

    def start_phase(self, label: str, total_shards: int) -> None:
        self._label = label
        self._total = total_shards
        self._started = time.monotonic()
        for position in range(3):
            self.counters[position] = 0
        if self.live:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total} shards"),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=self.console, transient=False)
                self._progress.start()
            self._task = self._progress.add_task(label, total=total_shards, detail="")
        elif not self.quiet:
            self.console.print(f"{label}: {total_shards} shards", highlight=False)

    def update(self, shards_done: int) -> None:
        docs, kept, chars = (int(self.counters[i]) for i in range(3))
        elapsed = max(time.monotonic() - self._started, 1e-9)
        kept_share = f"{100 * kept / docs:.1f}% kept" if docs else ""
        detail = (f"{docs:,} docs  {chars / 1e6:,.1f} MB  {docs / elapsed:,.0f} docs/s  "
                  f"{kept_share}")
        if self._progress is not None:
            self._progress.update(self._task, completed=shards_done, detail=detail)
        elif not self.quiet and (time.monotonic() - self._last_log > LOG_SECONDS
                                 or shards_done == self._total):
            self._last_log = time.monotonic()
            self.console.print(f"{self._label}: {shards_done}/{self._total} shards  {detail}",
                               highlight=False)

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
