"""A per-document time limit for the pipeline's steps.

A document built to make a rule spin (catastrophic regex backtracking, a pathological
repetition) must cost one error record, not a stuck worker. The limit is a real-time timer
(SIGALRM) armed around each document's steps: it interrupts Python code, including the `regex`
module's matching loops. It can only be armed in a process's main thread, which is where every
executor runs shards; elsewhere (a caller's own thread) documents run without the limit.
Extraction, which spends its time in C code that a signal cannot interrupt, has its own hard
limit in its step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StepTimeout(Exception):
    """A document's steps ran past `limits.step_timeout`."""


def _on_alarm(signum: int, frame: object) -> None:
    raise StepTimeout


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `StepTimeout` inside the block if it runs longer than `seconds` (0: no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
